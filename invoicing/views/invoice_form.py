"""The invoice form: create and edit a draft, with its lines, live totals and the buyer's rules
shown at once (htmx partials of the same template); saving goes through `services.drafts`,
sending through `invoices.send_one`."""

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.models import Account
from core.roles import role_required
from core.selectors import accounts_for
from invoicing import totals
from invoicing.forms import (
    AttachmentForm,
    InvoiceForm,
    LineForm,
    LineFormSet,
    attach_problems,
    invoice_initial,
    line_initial,
)
from invoicing.models import Invoice
from invoicing.services import drafts, numbering, submission
from invoicing.services.errors import InvoiceActionError
from invoicing.views.common import EDITORS, account_for, action_refused, invoice_or_404
from invoicing.views.invoices import send_one


def _form_context(request, *, account, form, formset, invoice=None, general_problems=None,
                  checked=False, attachment_form=None) -> dict:
    attachments = list(invoice.attachments.all()) if invoice else []
    live = _live_totals(formset, form)
    return {
        "account": account, "accounts": accounts_for(request.user),
        "next_number": numbering.number_next(account=account),
        "request_key": request.POST.get("request_key") or uuid.uuid4().hex,
        "form": form, "formset": formset, "invoice": invoice,
        "general_problems": general_problems or [], "checked": checked,
        "attachments": attachments,
        "attachment_form": attachment_form or (AttachmentForm() if invoice else None),
        "totals": live,
        "line_rows": [(line_form, amount) for line_form, (_prefix, amount)
                      in zip(formset.forms, live["line_totals"], strict=True)],
    }


def _request_key(request) -> str:
    """The new-invoice form's one-time key (the same form sent twice makes one draft)."""
    key = request.POST.get("request_key", "")
    return key if len(key) == 32 and key.isalnum() else ""


def _unsaved_problems(account, form, formset) -> list[str] | None:
    """For "check and send" on a new invoice: its problems before anything is saved (None when
    it may go). Nothing half-done is kept: the user fixes the form, or saves the draft."""
    data, lines = form.draft_data(), formset.lines()
    unsaved = Invoice(account=account, buyer=data.buyer, service=data.service,
                      issue_date=data.issue_date, due_date=data.due_date, po_number=data.po_number,
                      contract_reference=data.contract_reference,
                      billing_framework=data.billing_framework, iban=data.iban, notes=data.notes,
                      operation_category=data.operation_category,
                      delivery_address=data.delivery_address, vat_on_debits=data.vat_on_debits)
    problems = submission.invoice_send_problems(unsaved, lines)
    if not problems:
        return None
    return attach_problems(problems, form, formset)


def _save_draft(request, *, account, form, formset, invoice) -> Invoice | None:
    """Creates or updates the draft; on a validation error, puts it on the form and returns None."""
    try:
        if invoice is None:
            return drafts.draft_create(account=account, data=form.draft_data(),
                                       lines=formset.lines(), user=request.user,
                                       request_key=_request_key(request))
        return drafts.draft_update(invoice_id=invoice.pk, data=form.draft_data(),
                                   lines=formset.lines(), user=request.user)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for name, errors in exc.error_dict.items():
                if name.startswith("lines-"):  # beside its line
                    for message in attach_problems({name: [m for e in errors for m in e]},
                                                   form, formset):
                        form.add_error(None, message)
                    continue
                form.add_error(name if name in form.fields else None, errors)
        else:
            form.add_error(None, exc)
        return None


def _invoice_form(request: HttpRequest, *, account: Account, invoice: Invoice | None
                  ) -> HttpResponse:
    if request.method == "POST":
        form = InvoiceForm(request.POST, account=account, invoice=invoice)
        formset = LineFormSet(request.POST, prefix="lines")
        action = request.POST.get("action", "save")
        if form.is_valid() and formset.is_valid():
            if invoice is None and action == "send":
                general = _unsaved_problems(account, form, formset)
                if general is not None:
                    messages.error(request, _("Envoi refusé : rien n'a été enregistré. Corrigez "
                                              "les champs signalés, ou enregistrez le brouillon."))
                    return render(request, "invoicing/invoice_form.html", _form_context(
                        request, account=account, form=form, formset=formset,
                        general_problems=general, checked=True), status=422)
            try:
                saved = _save_draft(request, account=account, form=form, formset=formset,
                                    invoice=invoice)
            except InvoiceActionError as exc:  # sent or deleted meanwhile: nothing was saved
                return action_refused(request, exc, invoice.pk)
            if saved is not None:
                if action == "send":
                    return send_one(request, saved)
                if action == "check":
                    return redirect(reverse("invoicing:edit", args=[saved.pk]) + "?check=1")
                messages.success(request, _("Brouillon enregistré.") if not saved.number
                                 else _("%(number)s enregistrée.") % {"number": saved.number})
                return redirect("invoicing:edit", pk=saved.pk)
        context = _form_context(request, account=account, form=form, formset=formset,
                                invoice=invoice)
        return render(request, "invoicing/invoice_form.html", context, status=422)

    if invoice is not None:
        return _edit_page(request, invoice, check=bool(request.GET.get("check")))
    initial = drafts.invoice_defaults(account=account)
    if request.GET.get("buyer", "").isdigit():  # "Facturer cet acheteur", from its page
        initial["buyer"] = int(request.GET["buyer"])
    form = InvoiceForm(account=account, initial=initial)
    formset = LineFormSet(prefix="lines")
    return render(request, "invoicing/invoice_form.html", _form_context(
        request, account=account, form=form, formset=formset))


def _edit_page(request: HttpRequest, invoice: Invoice, *, check: bool = False,
               attachment_form: AttachmentForm | None = None, status: int = 200) -> HttpResponse:
    """The saved draft's form (its problems shown with `check`)."""
    form = InvoiceForm(account=invoice.account, invoice=invoice, initial=invoice_initial(invoice))
    formset = LineFormSet(prefix="lines", initial=line_initial(invoice))
    general = attach_problems(submission.invoice_send_problems(invoice), form, formset) \
        if check else []
    return render(request, "invoicing/invoice_form.html", _form_context(
        request, account=invoice.account, form=form, formset=formset, invoice=invoice,
        general_problems=general, checked=check, attachment_form=attachment_form),
        status=status)


@require_http_methods(["GET", "POST"])
@role_required(*EDITORS)
def invoice_create(request: HttpRequest) -> HttpResponse:
    return _invoice_form(request, account=account_for(request), invoice=None)


@require_http_methods(["GET", "POST"])
@role_required(*EDITORS)
def invoice_edit(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = invoice_or_404(request, pk)
    if invoice.kind == Invoice.Kind.CREDIT_NOTE and invoice.credited_invoice_id:
        # A credit note changes only in what it credits: its own page.
        return redirect("invoicing:credit_note_edit", pk=invoice.pk)
    if not invoice.is_editable:
        messages.warning(request, _("La facture %(number)s a été envoyée : elle ne se modifie "
                                    "plus.") % {"number": invoice.number})
        return redirect("invoicing:detail", pk=invoice.pk)
    return _invoice_form(request, account=invoice.account, invoice=invoice)


@require_POST
@role_required(*EDITORS)
def draft_discard(request: HttpRequest, pk: int) -> HttpResponse:
    """Deletes a draft never issued (no number: the sequence loses nothing)."""
    invoice = invoice_or_404(request, pk)
    try:
        name = drafts.draft_discard(invoice_id=invoice.pk, user=request.user)
    except InvoiceActionError as exc:
        return action_refused(request, exc, invoice.pk)
    messages.success(request, _("%(name)s supprimé.") % {"name": name.capitalize()})
    return redirect("invoicing:list")


@require_POST
@role_required(*EDITORS)
def attachment_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Joins a file to the draft; a file Chorus Pro would refuse is turned down beside the field,
    on the same page, with the reason."""
    invoice = invoice_or_404(request, pk)
    if not invoice.is_editable:
        messages.error(request, _("La facture a été envoyée : ses pièces jointes ne changent plus."))
        return redirect("invoicing:detail", pk=invoice.pk)
    form = AttachmentForm(request.POST, request.FILES, existing=invoice.attachments.all())
    if not form.is_valid():
        return _edit_page(request, invoice, attachment_form=form, status=422)
    try:
        drafts.attachment_add(invoice=invoice, upload=form.cleaned_data["file"], user=request.user,
                              use_as_pdf_view=form.cleaned_data["use_as_pdf_view"])
    except InvoiceActionError as exc:
        return action_refused(request, exc, invoice.pk)
    messages.success(request, _("Pièce jointe ajoutée : %(name)s.")
                     % {"name": form.cleaned_data["file"].name})
    return redirect(reverse("invoicing:edit", args=[invoice.pk]) + "#attachments")


@require_POST
@role_required(*EDITORS)
def attachment_delete(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    invoice = invoice_or_404(request, pk)
    attachment = get_object_or_404(invoice.attachments, pk=attachment_pk)
    try:
        drafts.attachment_remove(attachment=attachment, user=request.user)
    except InvoiceActionError as exc:
        return action_refused(request, exc, invoice.pk)
    messages.success(request, _("Pièce jointe retirée : %(name)s.") % {"name": attachment.original_name})
    return redirect(reverse("invoicing:edit", args=[invoice.pk]) + "#attachments")


def _live_totals(formset, form) -> dict:
    """The figures of the lines as typed, by `totals.compute` (the code of the stored totals)."""
    rows = []
    inputs = []
    for line_form in formset.forms:
        line = line_form.partial_line() if line_form.has_changed() or not formset.is_bound \
            else None
        if line is None:
            rows.append((line_form.prefix, None))
            continue
        inputs.append(line)
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
    account = account_for(request)
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
    account = account_for(request)
    initial = {name: request.GET.get(name, "") for name in ("buyer", "service")}
    form = InvoiceForm(account=account, initial=initial)
    return render(request, "invoicing/invoice_form.html#routing",
                  {"form": form, "oob": True, "account": account})
