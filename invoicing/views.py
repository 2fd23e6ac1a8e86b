"""The staff back office: list, fill in, check, send and follow invoices.

Thin function views: each checks the role (`roles.role_required`), reads through `selectors`
(scoped to the user's accounts, so another account's invoice is a 404), calls one service
(`drafts` for drafts, `services.invoice_request_send` to send) and renders the page or, for htmx,
the partial of the same template. Every action also works as a plain form post.
"""

import re
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from invoicing import checks, drafts, selectors, services, states, totals
from invoicing.forms import (
    SORTS,
    AttachmentForm,
    InvoiceFilterForm,
    InvoiceForm,
    LineForm,
    LineFormSet,
    RoutingFixForm,
    attach_field_problems,
    attach_problems,
    invoice_initial,
    line_initial,
)
from invoicing.models import Account, Invoice, InvoiceAttachment
from invoicing.models import InvoiceState as S
from invoicing.roles import ADMINS, ALL, STAFF, has_role, role_required

EDITORS = (STAFF, ADMINS)
PAGE_SIZE = 50
# States the page follows closely (on its way to Chorus Pro), then more calmly once deposited.
IN_TRANSIT = frozenset({S.QUEUED, S.SUBMITTING, S.NEW, S.SENDING})


def _invoice(request: HttpRequest, pk: int) -> Invoice:
    return get_object_or_404(selectors.invoice_list(user=request.user)
                             .select_related("credited_invoice"), pk=pk)


def _can_edit(user) -> bool:
    return has_role(user, *EDITORS)


def _sendable(invoice: Invoice) -> bool:
    return invoice.is_editable or states.can_fix_routing(
        invoice.state, invoice.chorus_status, invoice.chorus_status_reason)


# What a refusal asks of the supplier, as the pages name it.
_FIX_OF_REFUSAL = {states.ROUTING: "fix", states.REJECTION: "replace",
                   states.SUSPENSION: "suspended", states.UNKNOWN: "choose"}


def _fix_for(invoice: Invoice) -> str:
    """The fix that applies to an invoice sent back or refused: "fix" (routing return, same
    number), "replace" (rejection: credit note + new invoice), "choose" (a refusal B2Brouter does
    not qualify: the user reads the reason and takes one of the two), "suspended" (documents
    missing), "edit" (refused by B2Brouter before deposit, or a failed deposit), or ""."""
    if invoice.state in (S.FAILED, S.ERROR):
        return "edit"
    return _FIX_OF_REFUSAL.get(invoice.refusal_kind, "")


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    # A path of ours only: `redirect()` would try anything else as a URL name.
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return default


# --- List --------------------------------------------------------------------------------------

@require_GET
@role_required(*ALL)
def invoice_list(request: HttpRequest, news: dict | None = None) -> HttpResponse:
    """Filters, search, sorting and pagination in a constant number of queries: one GROUP BY for
    the counts and totals per state (which also gives the paginator its count) and one for the
    page, whatever the number of invoices."""
    form = InvoiceFilterForm(request.GET or None, buyers=selectors.buyers_for(user=request.user))
    filters = form.filters()
    sort_key = request.GET.get("sort") if request.GET.get("sort") in SORTS else "-created"
    invoices = selectors.invoice_search(user=request.user, filters=filters, sort=SORTS[sort_key])
    other_filters = {k: v for k, v in filters.items() if k != "state" and v not in (None, "")}
    if other_filters:
        summary = selectors.invoice_state_summary(
            selectors.invoice_search(user=request.user, filters=other_filters))
    else:
        summary = selectors.invoice_state_totals(user=request.user)
    count = sum(s.count for s in summary if not filters.get("state") or s.state == filters["state"])
    paginator = Paginator(invoices, PAGE_SIZE)
    paginator.count = count  # known from the summary: no COUNT(*) query
    page = paginator.get_page(request.GET.get("page"))
    rows = [(invoice, _fix_for(invoice), _sendable(invoice)) for invoice in page.object_list]
    context = {
        "form": form, "page": page, "rows": rows, "summary": summary, "sort": sort_key,
        "count": count, "can_edit": _can_edit(request.user),
        "summary_total": sum((s.total for s in summary), start=Decimal("0.00")),
        "news": news,
    }
    if request.htmx and request.htmx.target == "invoice-table":
        return render(request, "invoicing/invoice_list.html#invoice-table", context)
    return render(request, "invoicing/invoice_list.html", context)


@require_GET
@role_required(*ALL)
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard: the invoice list, headed by what changed since the user's last visit."""
    news = None if request.htmx else services.user_dashboard_visit(user=request.user)
    return invoice_list(request, news=news)


# --- The invoice form --------------------------------------------------------------------------

def _account_for(request: HttpRequest) -> Account:
    accounts = selectors.accounts_for(request.user)
    wanted = request.POST.get("account") or request.GET.get("account")
    if wanted:
        try:
            return get_object_or_404(accounts, pk=int(wanted))
        except ValueError as exc:
            raise Http404 from exc
    account = accounts.order_by("name", "pk").first()
    if account is None:
        raise Http404(_("Aucun compte ne vous est attribué."))
    return account


def _form_context(request, *, account, form, formset, invoice=None, general_problems=None,
                  checked=False) -> dict:
    attachments = list(invoice.attachments.all()) if invoice else []
    live = _live_totals(formset, form)
    return {
        "account": account, "accounts": selectors.accounts_for(request.user),
        "form": form, "formset": formset, "invoice": invoice,
        "general_problems": general_problems or [], "checked": checked,
        "attachments": attachments,
        "attachment_form": AttachmentForm() if invoice else None,
        "totals": live,
        "line_rows": [(line_form, amount) for line_form, (_prefix, amount)
                      in zip(formset.forms, live["line_totals"], strict=True)],
    }


def _save_draft(request, *, account, form, formset, invoice) -> Invoice | None:
    """Creates or updates the draft; on a validation error, puts it on the form and returns None."""
    try:
        if invoice is None:
            return drafts.draft_create(account=account, data=form.draft_data(),
                                       lines=formset.lines(), user=request.user,
                                       from_sequence=form.from_sequence)
        return drafts.draft_update(invoice_id=invoice.pk, data=form.draft_data(),
                                   lines=formset.lines(), user=request.user)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for name, errors in exc.error_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            form.add_error(None, exc)
        return None


def _invoice_form(request: HttpRequest, *, account: Account, invoice: Invoice | None
                  ) -> HttpResponse:
    if request.method == "POST":
        form = InvoiceForm(request.POST, account=account, invoice=invoice)
        formset = LineFormSet(request.POST, prefix="lines")
        if form.is_valid() and formset.is_valid():
            is_new = invoice is None
            saved = _save_draft(request, account=account, form=form, formset=formset,
                                invoice=invoice)
            if saved is not None:
                action = request.POST.get("action", "save")
                if action == "send":
                    return _send_one(request, saved)
                if action == "check":
                    return redirect(reverse("invoicing:edit", args=[saved.pk]) + "?check=1")
                if is_new and saved.number != form.cleaned_data.get("proposed_number") and \
                        form.from_sequence:
                    messages.info(request, _("Le numéro proposé venait d'être pris : la facture "
                                             "porte le numéro %(number)s.") % {"number": saved.number})
                messages.success(request, _("Brouillon %(number)s enregistré.")
                                 % {"number": saved.number})
                return redirect("invoicing:edit", pk=saved.pk)
        context = _form_context(request, account=account, form=form, formset=formset,
                                invoice=invoice)
        return render(request, "invoicing/invoice_form.html", context, status=422)

    if invoice is None:
        initial = drafts.invoice_defaults(account=account)
        initial["proposed_number"] = initial["number"]
        form = InvoiceForm(account=account, initial=initial)
        formset = LineFormSet(prefix="lines")
    else:
        form = InvoiceForm(account=account, invoice=invoice, initial=invoice_initial(invoice))
        formset = LineFormSet(prefix="lines", initial=line_initial(invoice))
    general, checked = [], False
    if invoice is not None and request.GET.get("check"):
        checked = True
        general = attach_problems(checks.invoice_problems(invoice), form, formset)
    return render(request, "invoicing/invoice_form.html", _form_context(
        request, account=account, form=form, formset=formset, invoice=invoice,
        general_problems=general, checked=checked))


@require_http_methods(["GET", "POST"])
@role_required(*EDITORS)
def invoice_create(request: HttpRequest) -> HttpResponse:
    return _invoice_form(request, account=_account_for(request), invoice=None)


@require_http_methods(["GET", "POST"])
@role_required(*EDITORS)
def invoice_edit(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    if not invoice.is_editable:
        messages.warning(request, _("La facture %(number)s a été envoyée : elle ne se modifie "
                                    "plus.") % {"number": invoice.number})
        return redirect("invoicing:detail", pk=invoice.pk)
    return _invoice_form(request, account=invoice.account, invoice=invoice)


def _live_totals(formset, form) -> dict:
    """The figures of the lines as typed, by `totals.compute` (the code of the stored totals)."""
    rows = []
    inputs = []
    for line_form in formset.forms:
        values = line_form.partial_values() if line_form.has_changed() or not formset.is_bound \
            else None
        if values is None:
            rows.append((line_form.prefix, None))
            continue
        inputs.append(totals.LineInput(**values))
        rows.append((line_form.prefix, len(inputs) - 1))
    framework = form["billing_framework"].value()
    result = totals.compute(inputs, already_paid=framework == Invoice.BillingFramework.A2)
    line_totals = [(prefix, None if index is None else result.line_totals[index])
                   for prefix, index in rows]
    return {"result": result, "line_totals": line_totals,
            "currency": "EUR", "already_paid": framework == Invoice.BillingFramework.A2}


@require_POST
@role_required(*EDITORS)
def invoice_form_totals(request: HttpRequest) -> HttpResponse:
    """htmx: each line's total, the VAT breakdown and the invoice totals of the form as typed."""
    account = _account_for(request)
    form = InvoiceForm(request.POST, account=account)
    formset = LineFormSet(request.POST, prefix="lines")
    return render(request, "invoicing/invoice_form.html#invoice-totals",
                  {"totals": _live_totals(formset, form), "oob": True})


@require_GET
@role_required(*EDITORS)
def invoice_form_line(request: HttpRequest) -> HttpResponse:
    """htmx: one more empty line row, and the formset's new TOTAL_FORMS (out of band)."""
    try:
        index = int(request.GET.get("lines-TOTAL_FORMS", "0"))
    except ValueError:
        index = 0
    index = max(0, min(index, LineFormSet.absolute_max - 1))
    line_form = LineForm(prefix=f"lines-{index}", use_required_attribute=False)
    return render(request, "invoicing/invoice_form.html#line-row",
                  {"line_form": line_form, "new_total_forms": index + 1})


@require_GET
@role_required(*EDITORS)
def invoice_form_routing(request: HttpRequest) -> HttpResponse:
    """htmx: the buyer's services and what it demands (service code, commitment), as soon as the
    buyer or the service changes."""
    account = _account_for(request)
    initial = {name: request.GET.get(name, "") for name in ("buyer", "service")}
    form = InvoiceForm(account=account, initial=initial)
    return render(request, "invoicing/invoice_form.html#routing", {"form": form, "oob": True})


# --- Sending -----------------------------------------------------------------------------------

def _problems_of(invoice: Invoice) -> dict:
    return checks.invoice_problems(invoice, list(invoice.lines.all()))


def _send_one(request: HttpRequest, invoice: Invoice) -> HttpResponse:
    """Checks, then queues. Problems send the user back to the fields that need fixing."""
    invoice = Invoice.objects.select_related("buyer", "service").get(pk=invoice.pk)
    if not _sendable(invoice):
        messages.info(request, _("La facture %(number)s est déjà envoyée.")
                      % {"number": invoice.number})
        return redirect("invoicing:detail", pk=invoice.pk)
    problems = _problems_of(invoice)
    if problems:
        count = sum(len(v) for v in problems.values())
        messages.error(request, ngettext(
            "Envoi refusé : %(count)d problème à corriger.",
            "Envoi refusé : %(count)d problèmes à corriger.", count) % {"count": count})
        if _fix_for(invoice) in ("fix", "choose"):
            return redirect("invoicing:fix", pk=invoice.pk)
        return redirect(reverse("invoicing:edit", args=[invoice.pk]) + "?check=1")
    try:
        services.invoice_request_send(invoice_id=invoice.pk, user=request.user)
    except services.InvoiceActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Facture %(number)s mise en file d'envoi.")
                         % {"number": invoice.number})
    return redirect("invoicing:detail", pk=invoice.pk)


@require_POST
@role_required(*EDITORS)
def invoice_send(request: HttpRequest, pk: int) -> HttpResponse:
    return _send_one(request, _invoice(request, pk))


@require_POST
@role_required(*EDITORS)
def invoice_bulk_send(request: HttpRequest) -> HttpResponse:
    """Queues the selected invoices that pass the pre-send checks; the others are named with
    their first problem. The tasks are enqueued once everything is committed."""
    # ASCII digits that fit a primary key ("²".isdigit() is true; int() refuses it).
    ids = [int(value) for value in request.POST.getlist("ids")
           if value.isascii() and value.isdigit() and len(value) <= 18]
    invoices = (selectors.invoice_list(user=request.user).filter(pk__in=ids)
                .prefetch_related("lines").order_by("number"))
    queued, refused, skipped = [], [], []
    with transaction.atomic():
        for invoice in invoices:
            if not _sendable(invoice):
                skipped.append(invoice.number)
                continue
            problems = checks.invoice_problems(invoice, list(invoice.lines.all()))
            if problems:
                first = next(iter(problems.values()))[0]
                refused.append(f"{invoice.number} ({first})")
                continue
            services.invoice_request_send(invoice_id=invoice.pk, user=request.user)
            queued.append(invoice.number)
    if queued:
        messages.success(request, ngettext(
            "%(count)d facture mise en file d'envoi.",
            "%(count)d factures mises en file d'envoi.", len(queued)) % {"count": len(queued)})
    if refused:
        messages.error(request, _("Non envoyées, à corriger : %(list)s")
                       % {"list": "; ".join(refused)})
    if skipped:
        messages.info(request, _("Déjà envoyées : %(list)s") % {"list": ", ".join(skipped)})
    if not ids:
        messages.warning(request, _("Cochez les factures à envoyer."))
    return redirect(_safe_next(request, reverse("invoicing:list")))


# --- Detail, progress, printable view, legal XML ------------------------------------------------

STEPS = [
    (0, gettext_lazy("brouillon")), (1, gettext_lazy("en file d'envoi")), (2, gettext_lazy("transmise à B2Brouter")),
    (3, gettext_lazy("déposée chez Chorus Pro")), (4, gettext_lazy("mise à disposition")),
    (5, gettext_lazy("service fait")), (6, gettext_lazy("mise en paiement")),
]
STEP_OF = {S.DRAFT: 0, S.FAILED: 2, S.QUEUED: 1, S.SUBMITTING: 2, S.NEW: 2, S.SENDING: 2,
           S.SENT: 3, S.ERROR: 3, S.REGISTERED: 4, S.ACCEPTED: 5, S.REFUSED: 5,
           S.ALLEGEDLY_PAID: 6, S.PAID: 6, S.CLOSED: 6, S.CANCELLED: 3, S.ANNULLED: 3,
           S.DISCARDED: 3}
TROUBLE = frozenset({S.FAILED, S.ERROR, S.REFUSED, S.CANCELLED, S.ANNULLED, S.DISCARDED})


def _steps(invoice: Invoice) -> list[tuple[str, str]]:
    """The life cycle as a progress bar: ("done" | "current" | "trouble" | "todo", label)."""
    current = STEP_OF.get(invoice.state, 0)
    steps = []
    for rank, label in STEPS:
        if rank < current:
            status = "done"
        elif rank == current:
            status = "trouble" if invoice.state in TROUBLE else "current"
        else:
            status = "todo"
        steps.append((status, label))
    return steps


def _detail_context(request: HttpRequest, invoice: Invoice) -> dict:
    lines = list(invoice.lines.all())
    fix = _fix_for(invoice)
    can_edit = _can_edit(request.user)
    context = {
        "invoice": invoice,
        "lines": lines,
        "events": invoice.events.select_related("actor"),
        "legal_documents": invoice.legal_documents.defer("content").order_by("-submission_round"),
        "attachments": invoice.attachments.all(),
        "credit_notes": invoice.credit_notes.all(),
        "breakdown": totals.compute(services.line_inputs(lines)).breakdown,
        "fix": fix,
        "can_edit": can_edit,
        "polling": invoice.state not in states.FINAL_STATES and invoice.state != S.DRAFT,
        "poll_every": "2s" if invoice.state in IN_TRANSIT else "5s",
        "can_credit": can_edit and invoice.kind == Invoice.Kind.INVOICE
        and invoice.state in states.DEPOSITED_STATES,
        "problems": {},
        "steps": _steps(invoice),
    }
    if invoice.is_editable:
        context["problems"] = checks.invoice_problems(invoice, lines)
    return context


@require_GET
@role_required(*ALL)
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    return render(request, "invoicing/invoice_detail.html", _detail_context(request, invoice))


@require_GET
@role_required(*ALL)
def invoice_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx polling: the state, the actions and the history; stops (286) once nothing more is
    expected without the user (a final state, or a draft)."""
    invoice = _invoice(request, pk)
    if not request.htmx:
        return redirect("invoicing:detail", pk=invoice.pk)
    context = _detail_context(request, invoice)
    response = render(request, "invoicing/invoice_detail.html#invoice-progress", context)
    if not context["polling"]:
        return HttpResponseStopPolling(response.content)
    return response


_NOTE_CODE = re.compile(r"^#[A-Z]{3}#")


@require_GET
@role_required(*ALL)
def invoice_print(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    lines = list(invoice.lines.all())
    result = totals.compute(services.line_inputs(lines),
                            already_paid=invoice.billing_framework == Invoice.BillingFramework.A2)
    return render(request, "invoicing/invoice_print.html", {
        "invoice": invoice, "account": invoice.account, "lines": lines,
        "breakdown": result.breakdown,
        "notes": [_NOTE_CODE.sub("", line) for line in invoice.notes.splitlines() if line.strip()],
    })


def _legal_document(invoice: Invoice, request: HttpRequest):
    documents = invoice.legal_documents.order_by("-submission_round")
    wanted = request.GET.get("round")
    if wanted and wanted.isascii() and wanted.isdigit() and len(wanted) <= 9:
        documents = documents.filter(submission_round=int(wanted))
    return documents.first()


@require_GET
@role_required(*ALL)
def invoice_legal_xml(request: HttpRequest, pk: int) -> HttpResponse:
    """The exact bytes deposited at Chorus Pro (latest round, or `?round=`), as a download."""
    invoice = _invoice(request, pk)
    document = _legal_document(invoice, request)
    if document is None:
        return HttpResponse(_("Pas encore de XML légal pour cette facture."), status=404,
                            content_type="text/plain; charset=utf-8")
    response = HttpResponse(bytes(document.content), content_type="application/xml")
    suffix = f"-{document.submission_round}" if document.submission_round > 1 else ""
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}{suffix}.xml"'
    return response


@require_GET
@role_required(*ALL)
def invoice_legal_view(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    document = _legal_document(invoice, request)
    text = bytes(document.content).decode("utf-8", errors="replace") if document else ""
    return render(request, "invoicing/legal_xml.html", {
        "invoice": invoice, "document": document, "text": text,
        "rounds": invoice.legal_documents.defer("content").order_by("submission_round"),
    }, status=200 if document else 404)


# --- Returns and credit notes ------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@role_required(*EDITORS)
def invoice_fix(request: HttpRequest, pk: int) -> HttpResponse:
    """A routing return (A_RECYCLER): correct the service / commitment and resend, same number."""
    invoice = _invoice(request, pk)
    if _fix_for(invoice) not in ("fix", "choose"):
        messages.warning(request, _("Cette facture n'est pas un retour pour correction."))
        return redirect("invoicing:detail", pk=invoice.pk)
    form = RoutingFixForm(request.POST or None, invoice=invoice)
    general = []
    if request.method == "POST" and form.is_valid():
        try:
            invoice = drafts.invoice_fix_routing(
                invoice_id=invoice.pk, service=form.cleaned_data["service"],
                po_number=form.cleaned_data["po_number"].strip(),
                contract_reference=form.cleaned_data["contract_reference"].strip(),
                user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _send_one(request, invoice)
    elif request.method == "GET":
        general = attach_field_problems(_problems_of(invoice), form)
    return render(request, "invoicing/invoice_fix.html",
                  {"invoice": invoice, "form": form, "general_problems": general})


@require_POST
@role_required(*EDITORS)
def invoice_credit_note(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    try:
        credit_note = drafts.credit_note_create(invoice_id=invoice.pk, user=request.user)
    except services.InvoiceActionError as exc:
        messages.error(request, str(exc))
        return redirect("invoicing:detail", pk=invoice.pk)
    messages.success(request, _("Avoir %(number)s préparé : vérifiez-le puis envoyez-le.")
                     % {"number": credit_note.number})
    return redirect("invoicing:edit", pk=credit_note.pk)


@require_POST
@role_required(*EDITORS)
def invoice_replace(request: HttpRequest, pk: int) -> HttpResponse:
    """A rejection (REJETEE): the credit note and the new invoice, prepared in one click."""
    invoice = _invoice(request, pk)
    try:
        credit_note, replacement = drafts.rejection_replace(invoice_id=invoice.pk,
                                                            user=request.user)
    except services.InvoiceActionError as exc:
        messages.error(request, str(exc))
        return redirect("invoicing:detail", pk=invoice.pk)
    messages.success(request, _("Avoir %(credit)s et nouvelle facture %(number)s préparés : "
                                "vérifiez-les puis envoyez-les.")
                     % {"credit": credit_note.number, "number": replacement.number})
    return redirect("invoicing:edit", pk=replacement.pk)


# --- Attachments -------------------------------------------------------------------------------

@require_POST
@role_required(*EDITORS)
def attachment_add(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    already = sum(a.size for a in invoice.attachments.all())
    form = AttachmentForm(request.POST, request.FILES, already_attached=already)
    if form.is_valid():
        try:
            drafts.attachment_add(invoice=invoice, upload=form.cleaned_data["file"],
                                  user=request.user)
        except services.InvoiceActionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Pièce jointe ajoutée."))
    else:
        for error in form.errors.get("file", []):
            messages.error(request, error)
    target = "invoicing:edit" if invoice.is_editable else "invoicing:detail"
    return redirect(reverse(target, args=[invoice.pk]) + "#attachments")


@require_POST
@role_required(*EDITORS)
def attachment_delete(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    attachment = get_object_or_404(invoice.attachments, pk=attachment_pk)
    try:
        drafts.attachment_remove(attachment=attachment, user=request.user)
    except services.InvoiceActionError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("invoicing:edit", args=[invoice.pk]) + "#attachments")


@require_GET
@role_required(*ALL)
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    attachment: InvoiceAttachment = get_object_or_404(invoice.attachments, pk=attachment_pk)
    return FileResponse(attachment.file.open("rb"), as_attachment=True,
                        filename=attachment.original_name,
                        content_type=attachment.content_type or "application/octet-stream")

