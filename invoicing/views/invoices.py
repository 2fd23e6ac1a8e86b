"""The invoices: list and dashboard, detail and its live progress, printable view, legal XML,
sending (one or a selection), the corrective actions, attachments.

Thin function views: each checks the role, reads through `selectors` (scoped to the user's
accounts, so another account's invoice is a 404), calls one service and renders the page or, for
htmx, the partial of the same template. Every action also works as a plain form post.
"""

import datetime
import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from core.roles import ALL, role_required
from core.views import export_offer
from invoicing import channels, checks, exports, legal_xml, notes, selectors, states, totals
from invoicing.forms import (
    SORTS,
    CreditNoteForm,
    InvoiceFilterForm,
    RoutingFixForm,
    attach_field_problems,
)
from invoicing.models import Invoice, InvoiceAttachment, InvoiceEvent
from invoicing.models import InvoiceState as S
from invoicing.services import crediting, dashboard, drafts, submission
from invoicing.services.errors import InvoiceActionError, InvoiceCheckFailed
from invoicing.views.common import EDITORS, action_refused, can_edit, invoice_or_404, safe_next

PAGE_SIZE = 50
# States the page follows closely (on its way to Chorus Pro), then more calmly once deposited.
IN_TRANSIT = frozenset({S.QUEUED, S.SUBMITTING, S.NEW, S.SENDING})


def _sendable(invoice: Invoice) -> bool:
    return invoice.is_editable or states.can_fix_routing(
        invoice.state, invoice.chorus_status, invoice.chorus_status_reason,
        final=invoice.refusal_is_final)


# What a refusal asks of the supplier, as the pages name it.
_FIX_OF_REFUSAL = {states.ROUTING: "fix", states.REJECTION: "replace",
                   states.SUSPENSION: "suspended", states.UNKNOWN: "choose"}


def _fix_for(invoice: Invoice) -> str:
    """The fix that applies to an invoice sent back or refused: "fix" (routing return, same
    number), "replace" (rejection: credit note + new invoice), "choose" (a refusal B2Brouter does
    not qualify: the user reads the reason and takes one of the two), "suspended" (documents
    missing), "edit" (refused by B2Brouter before deposit, or a failed deposit), "replaced" (a
    rejection whose credit note and new invoice are prepared), for a credit note "renew" (a
    rejection: a new credit note on its invoice) or "choose_credit" (fix, or a new one), or ""."""
    if invoice.state in (S.FAILED, S.ERROR):
        return "edit"
    fix = _FIX_OF_REFUSAL.get(invoice.refusal_kind, "")
    if invoice.kind == Invoice.Kind.CREDIT_NOTE and fix in ("replace", "choose"):
        # A credit note rejected credits nothing any more: a new one is made on its invoice
        # ("renew"), or, the reason being the routing, it is corrected ("choose_credit").
        return "renew" if fix == "replace" else "choose_credit"
    if fix in ("replace", "choose") and _replaced(invoice):
        return "replaced"  # its credit note and new invoice are prepared: nothing more to offer
    return fix


def _replaced(invoice: Invoice) -> bool:
    replaced = getattr(invoice, "is_replaced", None)  # annotated by the list
    return invoice.replacements.exists() if replaced is None else replaced


@require_GET
@role_required(*ALL)
def invoice_list(request: HttpRequest, news: dict | None = None) -> HttpResponse:
    """Filters, search, sorting and pagination in a constant number of queries, each bounded
    whatever the number of invoices (`selectors.invoice_list_page`)."""
    form = InvoiceFilterForm(request.GET or None, buyers=selectors.buyers_for(user=request.user))
    filters = form.filters()
    sort_key = request.GET.get("sort") if request.GET.get("sort") in SORTS else "-created"
    listed = selectors.invoice_list_page(user=request.user, filters=filters, sort_key=sort_key,
                                         sorts=SORTS, page=request.GET.get("page"),
                                         page_size=PAGE_SIZE)
    page, summary, count, many, sort_key = (listed.page, listed.summary, listed.count, listed.many,
                                            listed.sort_key)
    invoices = selectors.replaced_marked(list(page.object_list))
    # Only invoices to companies have declarations: no query for a page without any.
    reports = selectors.tax_reports_shown([
        invoice.pk for invoice in invoices if channels.of_invoice(invoice).reports_to_tax_office])
    rows = [(invoice, _fix_for(invoice), _sendable(invoice), reports.get(invoice.pk))
            for invoice in invoices]
    context = {
        "form": form, "page": page, "rows": rows, "summary": summary, "sort": sort_key,
        "count": count, "many": many,
        "counted": number_format(selectors.MATCHES_COUNTED, force_grouping=True),  # "1 000"
        "sort_dropped": listed.sort_dropped, "can_edit": can_edit(request.user),
        "summary_total": sum((s.total for s in summary), start=Decimal("0.00")),
        "news": news,
    }
    if request.htmx and request.htmx.target == "invoice-table":
        return render(request, "invoicing/invoice_list.html#invoice-table", context)
    return render(request, "invoicing/invoice_list.html", context)


@require_GET
@role_required(*ALL)
def invoice_export(request: HttpRequest, file_format: str) -> HttpResponse:
    """The list as filtered on the page (state, buyer, dates, amounts, search), whole, as CSV
    (streamed) or XLSX, sorted as on the page. More than EXPORT_IMMEDIATE_ROWS invoices are
    offered as an export made in the background (`core.exports`)."""
    invoices = exports.listed_invoices(user=request.user, query=request.GET)
    limit = settings.EXPORT_IMMEDIATE_ROWS
    if invoices[:limit + 1].count() > limit:
        return export_offer(request, kind=f"invoices.{file_format}", count=limit,
                            unit=_("factures"))
    if file_format == "xlsx":
        response = HttpResponse(
            exports.invoices_xlsx(invoices),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    else:
        response = StreamingHttpResponse(exports.invoices_csv(invoices),
                                         content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = \
        f'attachment; filename="{exports.file_name("." + file_format)}"'
    return response


@require_GET
@role_required(*ALL)
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard: the invoice list, headed by what changed since the user's last visit."""
    news = None if request.htmx else dashboard.user_dashboard_visit(user=request.user,
                                                                    session=request.session)
    return invoice_list(request, news=news)


@require_POST
@role_required(*ALL)
def news_read(request: HttpRequest) -> HttpResponse:
    """The dashboard's news is marked read: from now on it shows only what comes next."""
    dashboard.user_news_read(user=request.user, session=request.session)
    return redirect("home")


def send_one(request: HttpRequest, invoice: Invoice) -> HttpResponse:
    """Queues the invoice; the sending service runs the pre-send checks, and their problems send
    the user back to the fields that need fixing."""
    if not _sendable(invoice):
        messages.info(request, _("%(invoice)s est déjà envoyée.") % {"invoice": _named(invoice)})
        return redirect("invoicing:detail", pk=invoice.pk)
    try:
        invoice = submission.invoice_request_send(invoice_id=invoice.pk, user=request.user)
    except InvoiceCheckFailed as exc:
        count = len(exc.messages)
        messages.error(request, ngettext(
            "Envoi refusé : %(count)d problème à corriger.",
            "Envoi refusé : %(count)d problèmes à corriger.", count) % {"count": count})
        if _fix_for(invoice) in ("fix", "choose"):
            return redirect("invoicing:fix", pk=invoice.pk)
        return redirect(reverse("invoicing:edit", args=[invoice.pk]) + "?check=1")
    except InvoiceActionError as exc:
        return action_refused(request, exc, invoice.pk)
    else:
        what = _("Avoir") if invoice.kind == Invoice.Kind.CREDIT_NOTE else _("Facture")
        messages.success(request, channels.of_invoice(invoice).queued
                         % {"what": what, "number": invoice.number})
    return redirect("invoicing:detail", pk=invoice.pk)


def _named(invoice: Invoice) -> str:
    """How a message names it: "Facture F2026-00042", "Avoir F2026-00043", "Brouillon n° 7"."""
    if not invoice.number:
        return str(invoice).capitalize()
    if invoice.kind == Invoice.Kind.CREDIT_NOTE:
        return _("Avoir %(number)s") % {"number": invoice.number}
    return _("Facture %(number)s") % {"number": invoice.number}


@require_POST
@role_required(*EDITORS)
def invoice_send(request: HttpRequest, pk: int) -> HttpResponse:
    return send_one(request, invoice_or_404(request, pk))


@require_POST
@role_required(*EDITORS)
def invoice_bulk_send(request: HttpRequest) -> HttpResponse:
    """Queues the selected invoices that pass the pre-send checks; the others are named with
    their first problem. The tasks are enqueued once everything is committed."""
    # ASCII digits that fit a primary key ("²".isdigit() is true; int() refuses it).
    ids = [int(value) for value in request.POST.getlist("ids")
           if value.isascii() and value.isdigit() and len(value) <= 18]
    invoices = selectors.invoice_list(user=request.user).filter(pk__in=ids).order_by("number")
    queued, refused, skipped = [], [], []
    with transaction.atomic():
        for invoice in invoices:
            if not _sendable(invoice):
                skipped.append(str(invoice))
                continue
            try:
                sent = submission.invoice_request_send(invoice_id=invoice.pk, user=request.user)
            except InvoiceCheckFailed as exc:
                refused.append(f"{invoice} ({exc.messages[0]})")
                continue
            except InvoiceActionError as exc:
                refused.append(f"{invoice} ({exc})")
                continue
            queued.append(sent.number)
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
    return redirect(safe_next(request, reverse("invoicing:list")))


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


def _steps(invoice: Invoice, came_from: str | None = None) -> list[tuple[str, str]]:
    """The life cycle as a progress bar: ("done" | "current" | "trouble" | "todo", label). A
    refusal shows at the step where it happened: the one after the state it came from (a
    routing return of a deposited invoice at "mise à disposition", not at "service fait")."""
    current = STEP_OF.get(invoice.state, 0)
    if invoice.state == S.REFUSED and came_from in STEP_OF:
        current = min(STEP_OF[came_from] + 1, STEP_OF[S.REFUSED])
    steps = []
    labels = [*(label for _rank, label in STEPS[:3]), *channels.of_invoice(invoice).steps]
    for rank, label in enumerate(labels):
        if rank < current:
            status = "done"
        elif rank == current:
            status = "trouble" if invoice.state in TROUBLE else "current"
        else:
            status = "todo"
        steps.append((status, label))
    return steps


def _related_corrections(invoice: Invoice) -> dict:
    """What links a correction to the rest: the invoice a new one replaces and the credit note
    that cancelled it; the new invoice that replaces what a credit note cancelled; and for a
    rejected credit note, where its new one is made (its invoice, if it has anything left)."""
    related = {"replaced": None, "cancelled_by": None, "replaced_by": None, "renew_on": None}
    if invoice.replaces_id:
        related["replaced"] = invoice.replaces
        related["cancelled_by"] = invoice.replaces.credit_notes.filter(
            kind=Invoice.Kind.CREDIT_NOTE).order_by("pk").first()
    if invoice.kind == Invoice.Kind.CREDIT_NOTE and invoice.credited_invoice_id:
        credited = invoice.credited_invoice
        related["replaced_by"] = credited.replacements.order_by("pk").first()
        if (credited.state in states.DEPOSITED_STATES
                and not crediting.credit_status(credited).fully_credited):
            related["renew_on"] = credited
    return related


# How long after its last change a deposited invoice's page keeps waiting for its files.
FILES_AWAITED_FOR = datetime.timedelta(minutes=15)


def _still_moving(invoice: Invoice, legal_documents: list, pdf) -> bool:
    """Whether the page should keep asking: the invoice is on its way, or it is deposited and
    its legal XML or PDF (fetched once B2Brouter has made them) has not arrived yet, lately."""
    if invoice.state == S.DRAFT:
        return False
    if invoice.state not in states.FINAL_STATES:
        return True
    awaiting = invoice.state in states.DEPOSITED_STATES and (
        pdf is None or not any(d.submission_round == invoice.submission_round
                               for d in legal_documents))
    recent = timezone.now() - (invoice.state_updated_at or invoice.updated_at) < FILES_AWAITED_FOR
    return awaiting and recent


def _detail_context(request: HttpRequest, invoice: Invoice) -> dict:
    lines = list(invoice.lines.all())
    fix = _fix_for(invoice)
    editor = can_edit(request.user)
    legal_documents = list(
        invoice.legal_documents.defer("content").order_by("-submission_round"))
    pdf = invoice.pdfs.defer("content").filter(submission_round=invoice.submission_round).first()
    credit = crediting.credit_status(invoice) if invoice.kind == Invoice.Kind.INVOICE else None
    context = {
        "invoice": invoice,
        "lines": lines,
        "events": invoice.events.select_related("actor"),
        "legal_documents": legal_documents,
        "pdf": pdf,
        "attachments": invoice.attachments.all(),
        "credit": credit,
        "replacement": invoice.replacements.order_by("pk").first(),
        **_related_corrections(invoice),
        "breakdown": totals.compute(lines).breakdown,
        "fix": fix,
        "can_edit": editor,
        "polling": _still_moving(invoice, legal_documents, pdf),
        "poll_every": "2s" if invoice.state in IN_TRANSIT else "5s",
        "can_credit": editor and credit is not None and invoice.state in states.DEPOSITED_STATES
        and not credit.fully_credited,
        "problems": {},
        "steps": _steps(invoice, invoice.events.filter(
            kind=InvoiceEvent.Kind.STATE, to_state=invoice.state).order_by("-pk").values_list(
            "from_state", flat=True).first() if invoice.state == S.REFUSED else None),
        "can_copy": editor and invoice.kind == Invoice.Kind.INVOICE,
        "copy_key": uuid.uuid4().hex,
        "channel": channels.of_invoice(invoice),
        "tax_reports": list(invoice.tax_reports.order_by("-submission_round", "-pk")),
    }
    if invoice.is_editable:
        context["problems"] = submission.invoice_send_problems(invoice, lines)
    return context


@require_GET
@role_required(*ALL)
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = invoice_or_404(request, pk)
    return render(request, "invoicing/invoice_detail.html", _detail_context(request, invoice))


@require_GET
@role_required(*ALL)
def invoice_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx polling: the state, the actions and the history; stops (286) once nothing more is
    expected without the user (a final state, or a draft)."""
    invoice = invoice_or_404(request, pk)
    if not request.htmx:
        return redirect("invoicing:detail", pk=invoice.pk)
    context = _detail_context(request, invoice)
    response = render(request, "invoicing/invoice_detail.html#invoice-progress", context)
    if not context["polling"]:
        return HttpResponseStopPolling(response.content)
    return response




@require_GET
@role_required(*ALL)
def invoice_print(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = invoice_or_404(request, pk)
    lines = list(invoice.lines.all())
    result = totals.compute(lines,
                            already_paid=invoice.billing_framework == Invoice.BillingFramework.A2)
    return render(request, "invoicing/invoice_print.html", {
        "invoice": invoice, "account": invoice.account, "lines": lines,
        "breakdown": result.breakdown, "channel": channels.of_invoice(invoice),
        "notes": [mention["text"] for mention in notes.mentions(invoice.notes)],
    })


@require_GET
@role_required(*ALL)
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The invoice's PDF as B2Brouter made it (latest round, or `?round=`): shown in the browser,
    or downloaded with `?download=1`."""
    invoice = invoice_or_404(request, pk)
    pdfs = invoice.pdfs.order_by("-submission_round")
    wanted = request.GET.get("round")
    if wanted and wanted.isascii() and wanted.isdigit() and len(wanted) <= 9:
        pdfs = pdfs.filter(submission_round=int(wanted))
    document = pdfs.first()
    if document is None:
        return HttpResponse(_("Pas encore de PDF pour cette facture : B2Brouter le prépare."),
                            status=404, content_type="text/plain; charset=utf-8")
    return pdf_response(bytes(document.content), f"{invoice.number}.pdf", document.sha256,
                        download=bool(request.GET.get("download")))


def pdf_response(content: bytes, filename: str, sha256: str, *, download: bool) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    disposition = "attachment" if download else "inline"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename)
    response["Content-Disposition"] = f'{disposition}; filename="{safe}"'
    response["X-Content-SHA256"] = sha256
    return response


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
    invoice = invoice_or_404(request, pk)
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
    invoice = invoice_or_404(request, pk)
    document = _legal_document(invoice, request)
    shown = legal_xml.display_html(bytes(document.content)) if document else ""
    return render(request, "invoicing/legal_xml.html", {
        "invoice": invoice, "document": document, "shown": shown,
        "rounds": invoice.legal_documents.defer("content").order_by("submission_round"),
    }, status=200 if document else 404)


@require_http_methods(["GET", "POST"])
@role_required(*EDITORS)
def invoice_fix(request: HttpRequest, pk: int) -> HttpResponse:
    """A routing return (A_RECYCLER): correct the service / commitment and resend, same number."""
    invoice = invoice_or_404(request, pk)
    if _fix_for(invoice) not in ("fix", "choose", "choose_credit"):
        if invoice.state in (S.QUEUED, S.SUBMITTING) or invoice.state in IN_TRANSIT:
            messages.info(request, _("%(invoice)s est déjà renvoyée.") % {"invoice": _named(invoice)})
        else:
            messages.warning(request, _("Cette facture n'est pas un retour pour correction."))
        return redirect("invoicing:detail", pk=invoice.pk)
    form = RoutingFixForm(request.POST or None, invoice=invoice)
    general = []
    if request.method == "POST" and form.is_valid():
        try:
            resent = submission.invoice_fix_and_resend(
                invoice_id=invoice.pk, service=form.cleaned_data["service"],
                po_number=form.cleaned_data["po_number"].strip(),
                contract_reference=form.cleaned_data["contract_reference"].strip(),
                user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        except InvoiceCheckFailed as exc:  # nothing was changed: said beside each field
            general = attach_field_problems(exc.problems, form)
            messages.error(request, ngettext(
                "Correction refusée : %(count)d problème à corriger ; rien n'a été modifié.",
                "Correction refusée : %(count)d problèmes à corriger ; rien n'a été modifié.",
                len(exc.messages)) % {"count": len(exc.messages)})
        except InvoiceActionError as exc:
            return action_refused(request, exc, invoice.pk)
        else:
            messages.success(request, _("%(invoice)s corrigée et renvoyée sous le même numéro.")
                             % {"invoice": _named(resent)})
            return redirect("invoicing:detail", pk=invoice.pk)
    elif request.method == "GET":
        general = attach_field_problems(checks.invoice_problems(invoice, list(invoice.lines.all())), form)
    return render(request, "invoicing/invoice_fix.html",
                  {"invoice": invoice, "form": form, "general_problems": general},
                  status=422 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@role_required(*EDITORS)
def invoice_credit_note(request: HttpRequest, pk: int) -> HttpResponse:
    """A credit note on a deposited invoice: the page lists each line with what is left to
    credit; what is typed (quantities, amounts per line, or an amount on the whole invoice)
    prepares the draft credit note. A double click prepares one (the form's one-time key)."""
    invoice = invoice_or_404(request, pk)
    status = crediting.credit_status(invoice)
    form = CreditNoteForm(request.POST or None, status=status)
    if request.method == "POST" and form.is_valid():
        try:
            credit_note = crediting.credit_note_create(
                invoice_id=invoice.pk, credit=form.credit(), user=request.user,
                request_key=form.cleaned_data["request_key"])
        except crediting.CreditRefused as exc:
            form.refused(exc.problems)
        except InvoiceActionError as exc:
            return action_refused(request, exc, invoice.pk)
        else:
            messages.success(request, _("Avoir préparé : vérifiez-le puis envoyez-le ; il "
                                        "reçoit son numéro à l'envoi."))
            return redirect("invoicing:detail", pk=credit_note.pk)
    if request.method == "GET" and (invoice.kind != Invoice.Kind.INVOICE
                                    or invoice.state not in states.DEPOSITED_STATES):
        messages.warning(request, _("Un avoir se fait sur une facture déposée chez Chorus Pro."))
        return redirect("invoicing:detail", pk=invoice.pk)
    return render(request, "invoicing/credit_note_form.html",
                  {"invoice": invoice, "status": status, "form": form, "credit_note": None},
                  status=422 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@role_required(*EDITORS)
def credit_note_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A draft credit note: only what it credits changes (its buyer, service, references and
    prices are its invoice's)."""
    credit_note = invoice_or_404(request, pk)
    if credit_note.kind != Invoice.Kind.CREDIT_NOTE or not credit_note.credited_invoice_id:
        return redirect("invoicing:edit", pk=credit_note.pk)
    if not credit_note.is_editable or credit_note.number:
        messages.warning(request, _("L'avoir %(number)s est émis : il ne se modifie plus.")
                         % {"number": credit_note.number})
        return redirect("invoicing:detail", pk=credit_note.pk)
    invoice = credit_note.credited_invoice
    status = crediting.credit_status(invoice, exclude_pk=credit_note.pk)
    form = CreditNoteForm(request.POST or None, status=status,
                          credit=crediting.credit_of(credit_note))
    if request.method == "POST" and form.is_valid():
        try:
            crediting.credit_note_update(credit_note_id=credit_note.pk, credit=form.credit(),
                                         user=request.user)
        except crediting.CreditRefused as exc:
            form.refused(exc.problems)
        except InvoiceActionError as exc:
            return action_refused(request, exc, credit_note.pk)
        else:
            messages.success(request, _("Avoir enregistré."))
            return redirect("invoicing:detail", pk=credit_note.pk)
    return render(request, "invoicing/credit_note_form.html",
                  {"invoice": invoice, "status": status, "form": form,
                   "credit_note": credit_note},
                  status=422 if request.method == "POST" else 200)


@require_POST
@role_required(*EDITORS)
def invoice_copy(request: HttpRequest, pk: int) -> HttpResponse:
    """A new draft from this invoice (once per click: the page's one-time key)."""
    invoice = invoice_or_404(request, pk)
    try:
        draft = drafts.draft_copy(invoice_id=invoice.pk, user=request.user,
                                  request_key=request.POST.get("request_key", "")[:64])
    except (InvoiceActionError, ValidationError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("invoicing:detail", pk=invoice.pk)
    messages.success(request, _("Nouveau brouillon copié de %(invoice)s : vérifiez les dates, "
                                "le n° d'engagement et les lignes avant de l'envoyer.")
                     % {"invoice": _named(invoice)})
    return redirect("invoicing:edit", pk=draft.pk)


@require_POST
@role_required(*EDITORS)
def invoice_replace(request: HttpRequest, pk: int) -> HttpResponse:
    """A rejection (REJETEE): the credit note and the new invoice, prepared in one click (once,
    however often it is clicked)."""
    invoice = invoice_or_404(request, pk)
    try:
        credit_note, replacement = crediting.rejection_replace(invoice_id=invoice.pk,
                                                               user=request.user)
    except InvoiceActionError as exc:
        messages.error(request, str(exc))
        return redirect("invoicing:detail", pk=invoice.pk)
    messages.success(request, _("Avoir et nouvelle facture préparés : vérifiez-les puis "
                                "envoyez-les (l'avoir d'abord) ; chacun reçoit son numéro à "
                                "l'envoi."))
    return redirect("invoicing:edit", pk=replacement.pk)


@require_GET
@role_required(*ALL)
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    invoice = invoice_or_404(request, pk)
    attachment: InvoiceAttachment = get_object_or_404(invoice.attachments, pk=attachment_pk)
    return FileResponse(attachment.file.open("rb"), as_attachment=True,
                        filename=attachment.original_name,
                        content_type=attachment.content_type or "application/octet-stream")
