"""Finance's pages: the archive of legal XML (one file, or a period as a streamed ZIP), the
worklist of invoices Chorus Pro turned down, and the ageing of invoices with no news."""

import datetime
import uuid

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import roles
from core.paging import OpenPage, open_page
from core.views import export_offer
from finance import archive, books, selectors
from finance.forms import (
    ArchiveFilterForm,
    BalanceFilterForm,
    BooksForm,
    PaymentForm,
    PaymentReverseForm,
    ReminderForm,
)
from finance.models import Payment
from finance.services import payments, reminders
from invoicing.selectors import invoice_list
from invoicing.views.common import invoice_or_404
from invoicing.views.invoices import pdf_response

FINANCE = (roles.FINANCE, roles.ADMINS)
PAGE_SIZE = 50


def _page(queryset, request: HttpRequest, size: int = PAGE_SIZE) -> OpenPage:
    return open_page(queryset, request.GET.get("page"), size)


def _archive_page(request: HttpRequest, form: ArchiveFilterForm, *, status: int = 200
                  ) -> HttpResponse:
    filters = form.filters()
    documents = selectors.legal_documents(user=request.user, filters=filters)
    period = bool(filters.get("date_from") or filters.get("date_to"))
    return render(request, "finance/archive.html", {
        "form": form, "page": _page(documents, request), "query": request.GET.urlencode(),
        "totals": selectors.archive_totals(documents) if period else None,
    }, status=status)


@require_GET
@roles.role_required(*FINANCE)
def archive_list(request: HttpRequest) -> HttpResponse:
    return _archive_page(request, ArchiveFilterForm(request.GET or None, user=request.user))


@require_GET
@roles.role_required(*FINANCE)
def archive_download(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(selectors.legal_documents(user=request.user, filters={}), pk=pk)
    response = HttpResponse(bytes(document.content), content_type="application/xml")
    name = archive.file_name(document.invoice.number, document.submission_round)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-SHA256"] = document.sha256
    return response


@require_GET
@roles.role_required(*FINANCE)
def archive_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The PDF beside an archived legal XML (same invoice, same round)."""
    document = get_object_or_404(selectors.legal_documents(user=request.user, filters={}), pk=pk)
    pdf = get_object_or_404(selectors.pdf_of(document.invoice_id, document.submission_round))
    return pdf_response(bytes(pdf.content),
                        archive.file_name(document.invoice.number, document.submission_round,
                                          ".pdf"),
                        pdf.sha256, download=True)


@require_GET
@roles.role_required(*FINANCE)
def archive_zip(request: HttpRequest) -> HttpResponse:
    form = ArchiveFilterForm(request.GET or None, user=request.user)
    if form.is_bound and not form.is_valid():  # never the whole archive for a period mistyped
        return _archive_page(request, form, status=400)
    documents = selectors.legal_documents(user=request.user, filters=form.filters())
    if not documents.exists():  # an empty ZIP would say nothing: the page says it
        messages.info(request, _("Aucun document archivé pour ces critères : il n'y a rien à "
                                 "télécharger."))
        return _archive_page(request, form)
    limit = settings.EXPORT_IMMEDIATE_FILES
    if documents[:limit + 1].count() > limit:  # made in the background (core.exports)
        return export_offer(request, kind="archive.zip", count=limit, unit=_("fichiers"))
    response = StreamingHttpResponse(archive.archive_zip(documents, with_pdf=form.pdf_wanted()),
                                     content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{archive.zip_file_name()}"'
    return response


@require_GET
@roles.role_required(roles.STAFF, *FINANCE)
def worklist(request: HttpRequest) -> HttpResponse:
    page = _page(selectors.worklist(user=request.user), request)
    return render(request, "finance/worklist.html", {
        "page": page, "invoices": page,
        "tax_reports": selectors.tax_reports_to_handle(user=request.user)[:PAGE_SIZE]})


@require_GET
@roles.role_required(roles.STAFF, *FINANCE)
def ageing(request: HttpRequest) -> HttpResponse:
    try:
        days = max(1, min(365, int(request.GET.get("days", 30))))
    except ValueError:
        days = 30
    since = timezone.now() - datetime.timedelta(days=days)
    invoices, silent = selectors.ageing(user=request.user, no_news_since=since)
    page = _page(invoices, request)
    return render(request, "finance/ageing.html", {
        "page": page, "invoices": page, "silent_buyers": silent[:PAGE_SIZE], "days": days,
        "query": f"days={days}",
    })




@require_http_methods(["GET", "POST"])
@roles.role_required(roles.STAFF, *FINANCE)
def invoice_payments(request: HttpRequest, pk: int) -> HttpResponse:
    """`/finance/invoices/<pk>/payments/`: what the invoice asks, what was credited, received
    and remains; the payments with who recorded them; finance records one (POST)."""
    invoice = invoice_or_404(request, pk)
    can_record = roles.has_role(request.user, *FINANCE)
    form = PaymentForm(initial={"received_on": timezone.localdate(), "means": "transfer",
                                "request_key": uuid.uuid4().hex})
    status = 200
    if request.method == "POST":
        if not can_record:
            raise PermissionDenied(_("Votre rôle ne permet pas d'enregistrer un paiement."))
        form = PaymentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                payments.payment_record(
                    invoice_id=invoice.pk, received_on=data["received_on"], amount=data["amount"],
                    means=data["means"], reference=data["reference"], user=request.user,
                    request_key=data["request_key"])
            except payments.PaymentRefused as exc:
                for field, messages_ in exc.problems.items():
                    for message in messages_:
                        form.add_error(field if field in form.fields else None, message)
            else:
                messages.success(request, _("Paiement enregistré."))
                return redirect("finance:invoice_payments", pk=invoice.pk)
        status = 422
    due = payments.balance(invoice)
    return render(request, "finance/invoice_payments.html", {
        "invoice": invoice, "balance": due, "form": form,
        "platform_paid": payments.platform_says_paid(invoice),
        "overdue": reminders.overdue_today(invoice),
        "reminders_sent": invoice.reminders.count(),
        "difference": payments.payment_difference(invoice, due),
        "payments": invoice.payments.select_related("recorded_by", "reverses")
        .prefetch_related("reversed_by"),
        "can_record": can_record, "report": getattr(invoice, "payment_report", None),
        "why_not": payments.cannot_receive(invoice, due),
    }, status=status)


@require_POST
@roles.role_required(*FINANCE)
def payment_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(Payment.objects.filter(
        invoice__in=invoice_list(user=request.user)), pk=pk)
    form = PaymentReverseForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        payments.payment_reverse(payment_id=payment.pk, user=request.user, note=note)
    except payments.PaymentRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Paiement annulé par une contre-passation."))
    return redirect("finance:invoice_payments", pk=payment.invoice_id)


BALANCE_COLUMNS = ("not_due", "d1_30", "d31_60", "d61_90", "d90_plus", "total")


@require_GET
@roles.role_required(roles.STAFF, *FINANCE)
def balance(request: HttpRequest) -> HttpResponse:
    """`/finance/balance/`: the ageing balance. What each buyer owes (invoiced, less credit
    notes, less payments received), not yet due and by how late, with totals; `?format=csv`
    downloads the same rows."""
    form = BalanceFilterForm(request.GET or None, user=request.user)
    today = timezone.localdate()
    rows, totals = selectors.ageing_balance(user=request.user, today=today, **form.filters())
    if request.GET.get("format") == "csv":
        return _balance_csv(rows, totals, today)
    query = request.GET.copy()
    query.pop("format", None)
    return render(request, "finance/balance.html", {
        "form": form, "rows": rows, "totals": totals, "today": today,
        "csv_query": query.urlencode(),
    }, status=200 if not form.errors else 422)


@require_GET
@roles.role_required(roles.STAFF, *FINANCE)
def buyer_figures(request: HttpRequest) -> HttpResponse:
    """`/finance/buyers/?buyer=<id>`: how money is doing with one buyer: the dashboard's
    figures and chart for it, its open invoices by due date (finance records one transfer for
    several of them there), its last payments."""
    from finance.forms import BuyerPickForm

    form = BuyerPickForm(request.GET or None, user=request.user)
    context = {"form": form, "buyer": None}
    if form.is_bound and form.is_valid():
        context.update(_buyer_context(request, form.cleaned_data["buyer"]))
    status = 422 if form.is_bound and form.errors else 200
    return render(request, "finance/buyer_figures.html", context, status=status)


@require_POST
@roles.role_required(*FINANCE)
def buyer_transfer(request: HttpRequest, pk: int) -> HttpResponse:
    """`/finance/buyers/<pk>/transfer/`: one transfer for several of the buyer's invoices, each
    share typed beside its invoice, recorded all or none."""
    from finance.forms import BuyerPickForm, TransferForm

    picked = BuyerPickForm({"buyer": pk}, user=request.user)
    if not picked.is_valid():
        raise Http404
    buyer = picked.cleaned_data["buyer"]
    context = _buyer_context(request, buyer)
    transfer = TransferForm(request.POST)
    shares = {}
    for name, value in request.POST.items():
        number = name.removeprefix("amount-")
        if name.startswith("amount-") and number.isdigit() and value.strip() and len(number) < 19:
            shares[int(number)] = value.strip()
    for row in context["open"]:
        row["typed"] = shares.get(row["pk"], "")[:30]
    # Only the buyer's invoices the person may see (a settled one too: a form sent twice).
    mine = set(invoice_list(user=request.user).filter(buyer=buyer, pk__in=list(shares))
               .values_list("pk", flat=True))
    if transfer.is_valid():
        data = transfer.cleaned_data
        try:
            recorded = payments.payments_record_many(
                allocations=[(pk, amount) for pk, amount in shares.items() if pk in mine],
                received_on=data["received_on"], total=data["total"], means=data["means"],
                reference=data["reference"], user=request.user,
                request_key=data["request_key"])
        except payments.PaymentRefused as exc:
            for field, texts in exc.problems.items():
                if field.startswith("amount-"):
                    row = next((r for r in context["open"] if f"amount-{r['pk']}" == field), None)
                    if row is not None:
                        row["errors"] = texts
                        continue
                for text in texts:
                    transfer.add_error(field if field in transfer.fields else None, text)
        else:
            messages.success(request, ngettext(
                "%(count)s paiement enregistré sous la référence « %(reference)s ».",
                "%(count)s paiements enregistrés sous la référence « %(reference)s ».",
                len(recorded)) % {"count": len(recorded),
                                  "reference": data["reference"] or "—"})
            return redirect(f"{reverse('finance:buyer_figures')}?buyer={buyer.pk}")
    context.update({"form": BuyerPickForm(initial={"buyer": buyer.pk}, user=request.user),
                    "transfer": transfer})
    return render(request, "finance/buyer_figures.html", context, status=422)


def _buyer_context(request, buyer) -> dict:
    from finance.forms import TransferForm

    today = timezone.localdate()
    can_record = roles.has_role(request.user, *FINANCE)
    return {
        **selectors.money_panel(user=request.user, today=today, buyer=buyer),
        "buyer": buyer, "today": today,
        "open": list(selectors.open_invoices(user=request.user, buyer=buyer)
                     .order_by("due_date", "pk")
                     .values("pk", "number", "issue_date", "due_date", "remaining")[:100]),
        "payments": list(Payment.objects.filter(
            invoice__buyer=buyer, account_id__in=selectors.account_ids(request.user))
            .select_related("invoice").order_by("-received_on", "-pk")[:20]),
        "can_record": can_record,
        "transfer": TransferForm(initial={"received_on": today, "means": "transfer",
                                          "request_key": uuid.uuid4().hex})
        if can_record else None,
    }


def _balance_csv(rows, totals, today) -> HttpResponse:
    """The balance as a spreadsheet reads it in the reader's language (the invoice list's CSV
    conventions: `invoicing.exports`)."""
    import io

    from core.text import csv_text
    from invoicing.exports import amount_text, spreadsheet_writer

    out = io.StringIO()
    writer = spreadsheet_writer(out)
    writer.writerow([_("Acheteur"), _("Type"), _("Factures"), _("Non échu"), _("1 à 30 jours"),
                     _("31 à 60 jours"), _("61 à 90 jours"), _("Plus de 90 jours"),
                     _("Total dû")])
    for row in [*rows, {**totals, "name": _("Total"), "public": None}]:
        kind = "" if row["public"] is None else (
            _("entité publique") if row["public"] else _("entreprise"))
        writer.writerow([csv_text(row["name"]), kind, row["invoices"],
                         *[amount_text(row[c]) for c in BALANCE_COLUMNS]])
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="balance-agee-{today}.csv"'
    return response


@require_GET
@roles.role_required(*FINANCE)
def books_export(request: HttpRequest) -> HttpResponse:
    """`/finance/books/`: a period's sales and receipts as accounting entries (FEC), for the
    accountant's software; `?download=1` streams the file."""
    today = timezone.localdate()
    last_month_end = today.replace(day=1) - datetime.timedelta(days=1)
    initial = {"start": last_month_end.replace(day=1), "end": last_month_end}
    bound = bool(request.GET.get("start") or request.GET.get("end"))
    form = BooksForm(request.GET if bound else None, user=request.user, initial=initial)
    if form.is_bound and form.is_valid() and request.GET.get("vat"):
        data = form.cleaned_data
        text = books.vat_summary_csv(data["account"], data["start"], data["end"])
        response = HttpResponse(text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="tva-{data["start"]:%Y%m%d}-{data["end"]:%Y%m%d}.csv"')
        return response
    if form.is_bound and form.is_valid() and request.GET.get("download"):
        data = form.cleaned_data
        response = StreamingHttpResponse(
            (text.encode("utf-8") for text in books.fec_text(data["account"], data["start"],
                                                              data["end"])),
            content_type="text/plain; charset=utf-8")
        name = books.file_name(data["account"], data["end"])
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    if form.is_bound and not form.is_valid():
        return render(request, "finance/books.html", {"form": form}, status=422)
    return render(request, "finance/books.html", {"form": form})


@require_http_methods(["GET", "POST"])
@roles.role_required(roles.STAFF, *FINANCE)
def invoice_reminder(request: HttpRequest, pk: int) -> HttpResponse:
    """`/finance/invoices/<pk>/reminder/`: the reminder for a late invoice, from the template in
    French or English (`?language=`), editable, then sent (POST) once."""
    invoice = invoice_or_404(request, pk)
    language = request.POST.get("language") or request.GET.get("language") or "fr"
    language = language if language in ("fr", "en") else "fr"
    try:
        draft = reminders.reminder_draft(invoice, language=language)
    except payments.PaymentRefused as exc:
        messages.warning(request, str(exc))
        return redirect("finance:invoice_payments", pk=invoice.pk)
    form = ReminderForm(initial={"language": language, "subject": draft.subject,
                                 "body": draft.body, "request_key": uuid.uuid4().hex})
    status = 200
    if request.method == "POST":
        form = ReminderForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                sent = reminders.reminder_send(
                    invoice_id=invoice.pk, subject=data["subject"], body=data["body"],
                    language=data["language"], user=request.user,
                    request_key=data["request_key"])
            except payments.PaymentRefused as exc:
                for field, texts in exc.problems.items():
                    for text in texts:
                        form.add_error(field if field in form.fields else None, text)
            else:
                messages.success(request, _("Relance n° %(rank)s envoyée à %(to)s.")
                                 % {"rank": sent.rank, "to": sent.to})
                return redirect("finance:invoice_payments", pk=invoice.pk)
        status = 422
    return render(request, "finance/reminder.html", {
        "invoice": invoice, "draft": draft, "form": form,
        "sent": invoice.reminders.select_related("sent_by")}, status=status)


@require_http_methods(["GET", "POST"])
@roles.role_required(*FINANCE)
def statements(request: HttpRequest) -> HttpResponse:
    """`/finance/statements/`: drop the bank's statement, camt.053 or its CSV (its columns said
    once per account); each credit is matched to open invoices by number, else by amount, and
    proposed; the proposals a person ticks are recorded (each once, whatever how often the
    statement is dropped)."""
    from core.selectors import accounts_for

    accounts = list(accounts_for(request.user).order_by("name"))
    context = {"proposals": None, "error": "", "done": None, "columns": None,
               "accounts": accounts}
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "confirm":
        context["done"] = _statement_confirm(request)
    elif action == "columns":
        _statement_columns(request, context, accounts)
    elif request.method == "POST":
        _statement_read(request, context, accounts)
    status = 422 if context["error"] or (context["columns"] is not None
                                         and context["columns"].errors) else 200
    return render(request, "finance/statements.html", context, status=status)


def _statement_account(request, accounts):
    wanted = request.POST.get("account", "")
    return next((a for a in accounts if str(a.pk) == wanted), accounts[0] if accounts else None)


def _statement_read(request, context, accounts) -> None:
    """A statement dropped: camt.053 proposed at once; a CSV proposed with the account's
    columns when they fit, else its columns asked."""
    from finance import bank_csv
    from finance import statements as bank

    upload = request.FILES.get("statement")
    if upload is None:
        context["error"] = _("Choisissez le relevé (camt.053 en XML, ou le CSV de la banque).")
        return
    if upload.size > 5 * 1024 * 1024:
        context["error"] = _("Ce relevé dépasse 5 Mo : découpez-le par période.")
        return
    data = upload.read()
    if data.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"<"):
        try:
            credits = bank.read_camt053(data)
        except bank.UnreadableStatement:
            context["error"] = _("Ce fichier n'est pas un relevé camt.053 lisible : "
                                 "demandez à votre banque l'export ISO 20022 (camt.053).")
            return
        _statement_proposed(request, context, credits)
        return
    if len(data) > bank_csv.MAX_BYTES:
        context["error"] = _("Ce relevé CSV dépasse 1,5 Mo : exportez une période plus courte.")
        return
    try:
        table = bank_csv.read_table(data)
    except bank.UnreadableStatement:
        context["error"] = _("Ce fichier n'est ni un relevé camt.053 ni un CSV lisible : "
                             "exportez le relevé de votre banque au format CSV ou camt.053.")
        return
    account = _statement_account(request, accounts)
    kept = bank_csv.layout_of(account)
    signed = signing.dumps(bank_csv.decode(data), salt=STATEMENT_SALT, compress=True)
    if bank_csv.layout_fits(table, kept):
        try:
            credits = bank_csv.credits_of(table, kept)
        except bank_csv.LayoutProblems:
            pass  # the bank changed its format: the columns are asked again
        else:
            _statement_proposed(request, context, credits)
            context["columns"] = _columns_form(table, account, signed, kept, bound=False)
            context["columns_kept"] = True
            return
    context["columns"] = _columns_form(table, account, signed,
                                       kept or bank_csv.guess_layout(table), bound=False)
    context["table"] = table


STATEMENT_SALT = "finance.statement"


def _columns_form(table, account, signed, layout, *, bound, data=None):
    from finance.forms import StatementColumnsForm

    if bound:
        return StatementColumnsForm(data, header=table.header)
    initial = {**layout, "file": signed, "account": account.pk}
    return StatementColumnsForm(initial=initial, header=table.header)


def _statement_columns(request, context, accounts) -> None:
    """The columns said: the file read with them, kept for the account, proposed."""
    from finance import bank_csv
    from finance import statements as bank

    try:
        text = signing.loads(request.POST.get("file", ""), salt=STATEMENT_SALT,
                             max_age=24 * 3600)
        table = bank_csv.read_table(text.encode())
    except (signing.BadSignature, bank.UnreadableStatement):
        context["error"] = _("Le relevé n'est plus disponible : déposez-le à nouveau.")
        return
    form = _columns_form(table, None, None, None, bound=True, data=request.POST)
    context["columns"], context["table"] = form, table
    if not form.is_valid():
        return
    account = _statement_account(request, accounts)
    layout = form.layout()
    try:
        credits = bank_csv.credits_of(table, layout)
    except bank_csv.LayoutProblems as exc:
        for field, texts in exc.problems.items():
            for text in texts:
                form.add_error(field if field in form.fields else None, text)
        return
    bank_csv.layout_save(account=account, layout=layout, user=request.user)
    context["columns_kept"] = True
    _statement_proposed(request, context, credits)


def _statement_proposed(request, context, credits) -> None:
    from finance import statements as bank

    context["proposals"] = bank.propose(credits, user=request.user)
    if not credits:
        context["error"] = _("Aucun crédit en euros dans ce relevé.")


def _statement_confirm(request) -> dict:
    """The ticked proposals recorded, each once (the bank's reference and the invoice)."""
    return payments.statement_lines_record(user=request.user,
                                           lines=request.POST.getlist("confirm")[:500])
