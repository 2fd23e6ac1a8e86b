"""Invoice actions: create, send, submit to B2Brouter, apply its states, archive and acknowledge.

Every write goes through here; views and tasks only call these functions. No transaction is held
open across an HTTP call: a row is locked and marked in one short transaction, B2Brouter is called
outside, and the outcome is recorded in another short transaction.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

import b2brouter
from b2brouter import payloads
from config.logging import log_context
from directory.services import buyer_ensure_registered, service_ensure_registered
from invoicing import archive, states, totals
from invoicing.gateway import b2brouter_client
from invoicing.models import Account, Invoice, InvoiceEvent, InvoiceLine, LegalDocument
from invoicing.models import InvoiceState as S

logger = logging.getLogger(__name__)


class InvoiceActionError(Exception):
    """The invoice's state does not allow the action asked for."""


def invoice_log_context(invoice: Invoice):
    """Log lines written inside (the B2Brouter client's too) name the invoice and its remote id."""
    return log_context(invoice=invoice.number, remote_id=invoice.remote_id)


def _log(level: int, invoice: Invoice, message: str, *args) -> None:
    with invoice_log_context(invoice):
        logger.log(level, message, *args)


# --- Totals ------------------------------------------------------------------------------------

def line_inputs(lines) -> list[totals.LineInput]:
    return [
        totals.LineInput(
            quantity=line.quantity,
            unit_price=line.unit_price,
            vat_category=line.vat_category,
            vat_rate=line.vat_rate,
            exemption_reason=line.exemption_reason,
        )
        for line in lines
    ]


def invoice_recompute_totals(*, invoice: Invoice) -> totals.Totals:
    """Stores each line's total and the invoice's totals, computed by `invoicing.totals`."""
    lines = list(invoice.lines.all())
    result = totals.compute(
        line_inputs(lines), already_paid=invoice.billing_framework == Invoice.BillingFramework.A2
    )
    for line, amount in zip(lines, result.line_totals, strict=True):
        if line.line_total != amount:
            line.line_total = amount
            line.save(update_fields=["line_total"])
    invoice.subtotal = result.subtotal
    invoice.tax_amount = result.tax_amount
    invoice.total = result.total
    invoice.payable_amount = result.payable_amount
    invoice.save(update_fields=["subtotal", "tax_amount", "total", "payable_amount", "updated_at"])
    return result


# --- History -----------------------------------------------------------------------------------

def _record_state(invoice: Invoice, *, from_state: str, source: str, actor=None, **fields) -> None:
    InvoiceEvent.objects.create(
        invoice=invoice,
        kind=InvoiceEvent.Kind.STATE,
        source=source,
        actor=actor,
        from_state=from_state,
        to_state=invoice.state,
        **fields,
    )


def _record_exchange(invoice: Invoice, *, method: str, path: str, status: int | None,
                     request_body=None, response_body=None, message: str = "") -> None:
    InvoiceEvent.objects.create(
        invoice=invoice,
        kind=InvoiceEvent.Kind.EXCHANGE,
        source=InvoiceEvent.Source.WORKER,
        http_method=method,
        http_path=path,
        http_status=status,
        request_body=_jsonable(request_body),
        response_body=_jsonable(response_body),
        message=message,
    )


def _jsonable(value):
    """JSON fields store Decimals as strings: the history keeps the exact figures."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# --- Creating ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LineData:
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    vat_category: str = InvoiceLine.VatCategory.STANDARD
    unit: int = 1
    exemption_reason: str = ""
    article_code: str = ""


@transaction.atomic
def invoice_create(*, account: Account, number: str, buyer, lines: list[LineData], service=None,
                   issue_date=None, due_date=None, po_number: str = "", contract_reference: str = "",
                   billing_framework: str = Invoice.BillingFramework.A1, iban: str | None = None,
                   notes: str = "", user=None, kind: str = Invoice.Kind.INVOICE,
                   credited_invoice: Invoice | None = None) -> Invoice:
    """Creates a draft invoice with its lines and totals, all or nothing.

    Raises django's ValidationError (field errors) and saves nothing when a value is invalid.
    """
    invoice = Invoice(
        account=account,
        number=number,
        kind=kind,
        credited_invoice=credited_invoice,
        buyer=buyer,
        service=service,
        buyer_reference=service.code if service else "",
        issue_date=issue_date,
        due_date=due_date,
        po_number=po_number,
        contract_reference=contract_reference,
        billing_framework=billing_framework,
        iban=account.iban if iban is None else iban,
        notes=notes,
        created_by=user,
    )
    invoice.full_clean()
    invoice.save()
    for position, data in enumerate(lines, start=1):
        line = InvoiceLine(invoice=invoice, position=position, **data.__dict__)
        line.full_clean(exclude=["invoice"])
        line.save()
    invoice_recompute_totals(invoice=invoice)
    _record_state(invoice, from_state="", source=InvoiceEvent.Source.USER, actor=user,
                  message="Créée")
    return invoice


# --- Sending -----------------------------------------------------------------------------------

def invoice_request_send(*, invoice_id: int, user=None) -> Invoice:
    """Queues an invoice for submission; the task is enqueued once the transaction commits.

    Idempotent: an invoice already queued or further along is left as it is. A new submission
    round starts, under the same number, for a routing return (refused, fixed) and for a failed
    deposit (error, corrected: its document at B2Brouter is deleted and created again).
    Raises InvoiceActionError when the state does not allow sending.
    """
    from invoicing.tasks import invoice_submit_task

    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        resend = states.can_resend(invoice.state, invoice.chorus_status,
                                   invoice.chorus_status_reason)
        if invoice.state in (S.QUEUED, S.SUBMITTING) or (
            invoice.state in states.REMOTE_STATES and not resend
        ):
            return invoice
        if not invoice.lines.exists():
            raise InvoiceActionError(f"Invoice {invoice.number} has no line.")
        previous = invoice.state
        if resend:
            invoice.submission_round += 1
            invoice.download_legal_url = ""  # the new deposit will have its own
        if previous == S.ERROR and invoice.remote_id:
            # Terminal at B2Brouter (its French guide): delete it there, create it again.
            invoice.remote_id_to_delete = invoice.remote_id
            invoice.remote_id = None
        invoice.state = S.QUEUED
        invoice.last_error = ""
        invoice.remote_field_errors = {}
        invoice.save(update_fields=["state", "submission_round", "download_legal_url", "last_error",
                                    "remote_field_errors", "remote_id", "remote_id_to_delete",
                                    "updated_at"])
        _record_state(invoice, from_state=previous, source=InvoiceEvent.Source.USER, actor=user,
                      message="Envoi demandé")
        transaction.on_commit(lambda: invoice_submit_task.delay(invoice.pk))
    _log(logging.INFO, invoice, "queued for submission")
    return invoice


def _claim_for_submission(invoice_id: int, stale_after: int) -> Invoice | None:
    """Marks the invoice `submitting` and returns it, or None when there is nothing to do
    (already at B2Brouter, or another worker holds a fresh claim)."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("account", "buyer", "service").get(
            pk=invoice_id
        )
        if invoice.state == S.SUBMITTING:
            started = invoice.submit_started_at
            if started and (timezone.now() - started).total_seconds() < stale_after:
                return None
        elif invoice.state != S.QUEUED:
            return None
        invoice.state = S.SUBMITTING
        invoice.submit_attempts += 1
        invoice.submit_started_at = timezone.now()
        invoice.save(update_fields=["state", "submit_attempts", "submit_started_at", "updated_at"])
        return invoice


def invoice_body(invoice: Invoice) -> dict:
    """The JSON body B2Brouter receives for this invoice (the guide's shape)."""
    lines = [
        payloads.InvoiceLineData(
            description=line.description,
            quantity=line.quantity,
            price=line.unit_price,
            unit=line.unit,
            position=line.position,
            article_code=line.article_code,
            taxes=[payloads.TaxData(category=line.vat_category, percent=line.vat_rate,
                                    comment=line.exemption_reason)],
        )
        for line in invoice.lines.all()
    ]
    data = payloads.InvoiceData(
        number=invoice.number,
        date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        contact_id=invoice.service.remote_contact_id if invoice.service_id else invoice.buyer.remote_contact_id,
        bank_account=payloads.BankAccount(iban=invoice.iban),
        ponumber=invoice.po_number,
        buyer_reference=invoice.buyer_reference,
        contract_reference=invoice.contract_reference,
        billing_framework=invoice.billing_framework,
        notes=invoice.notes,
        lines=lines,
        is_credit_note=invoice.kind == Invoice.Kind.CREDIT_NOTE,
        amended_number=invoice.credited_invoice.number if invoice.credited_invoice_id else "",
        amended_date=invoice.credited_invoice.issue_date if invoice.credited_invoice_id else None,
    )
    return payloads.invoice_body(data, send_after_import=True)


def invoice_submit(*, invoice_id: int, stale_after: int = 300) -> Invoice | None:
    """Gets a queued invoice to B2Brouter exactly once.

    Safe to run twice, concurrently or after a crash: the claim is taken under a row lock, and
    after an ambiguous failure (timeout, lost answer, 5xx) the next attempt looks the invoice up by
    number before creating it again, so B2Brouter never holds two invoices for one of ours.
    Raises b2brouter.TransientError for the caller to retry later (the invoice goes back to
    `queued`); a rejection by B2Brouter is recorded on the invoice (`failed`) and not raised.
    """
    invoice = _claim_for_submission(invoice_id, stale_after)
    if invoice is None:
        return None
    with invoice_log_context(invoice):
        return _submit(invoice)


def _submit(invoice: Invoice) -> Invoice:
    client = b2brouter_client()
    account_id = invoice.account.remote_id
    body = None
    try:
        buyer_ensure_registered(buyer=invoice.buyer)
        if invoice.service_id:
            service_ensure_registered(service=invoice.service)
        body = invoice_body(invoice)
        if invoice.remote_id:
            # A routing return fixed by the user: same invoice, same number, sent again.
            remote, path = _resend(client, invoice, body)
        else:
            if invoice.remote_id_to_delete:
                _delete_failed_deposit(client, invoice)
            remote = None
            if invoice.submit_attempts > 1:
                remote = _find_ours(client, invoice, account_id, body)
            path = f"/accounts/{account_id}/invoices"
            if remote is None:
                remote = _create_or_adopt(client, invoice, account_id, body)
            else:
                _log(logging.WARNING, invoice, "found at B2Brouter after an ambiguous attempt")
    except b2brouter.RejectedError as exc:
        if invoice.remote_id:
            _resend_refused(invoice, exc, body)
        else:
            _submission_rejected(invoice, exc, body)
        return invoice
    except b2brouter.TransientError as exc:
        _submission_interrupted(invoice, exc, body)
        raise
    if not isinstance(remote, dict) or remote.get("id") is None or remote.get("number") not in (
            None, invoice.number):
        # Not the invoice we sent: taken for an answer lost, settled by number next time.
        exc = b2brouter.ResponseLost("the answer is not the invoice sent", path=path)
        _submission_interrupted(invoice, exc, body)
        raise exc
    _submission_accepted(invoice, remote, body, path)
    return invoice


def _resend(client, invoice: Invoice, body: dict) -> tuple[dict, str]:
    """PUT the corrected invoice, then send it. The answer to a send need not hold the invoice
    (documented shapes vary): it is read again when it does not."""
    client.update_invoice(invoice.remote_id, {"invoice": body["invoice"]})
    remote = client.send_invoice(invoice.remote_id)
    if remote is None or "state" not in remote:
        remote = client.get_invoice(invoice.remote_id)
    return remote, f"/invoices/send_invoice/{invoice.remote_id}"


def _delete_failed_deposit(client, invoice: Invoice) -> None:
    """Deletes the document whose deposit failed before the corrected invoice is created again
    under its number. Idempotent: already gone (404) is done."""
    try:
        client.delete_invoice(invoice.remote_id_to_delete)
        status, message = 200, "Document en erreur supprimé chez B2Brouter avant renvoi"
    except b2brouter.NotFound:
        status, message = 404, "Document en erreur déjà supprimé chez B2Brouter"
    _record_exchange(invoice, method="DELETE", path=f"/invoices/{invoice.remote_id_to_delete}",
                     status=status, message=message)


def _remote_contact_id(remote: dict):
    contact = remote.get("contact") if isinstance(remote.get("contact"), dict) else {}
    return remote.get("contact_id", contact.get("id"))


def _is_ours(remote: dict | None, invoice: Invoice, body: dict) -> bool:
    """True when an invoice B2Brouter listed under our number is the one we sent: not the
    document we deleted, and addressed to our contact (when the answer says)."""
    if remote is None or remote.get("number") != invoice.number:
        return False
    if invoice.remote_id_to_delete and remote.get("id") == invoice.remote_id_to_delete:
        return False
    contact_id = _remote_contact_id(remote)
    return contact_id is None or str(contact_id) == str(body["invoice"]["contact_id"])


def _find_ours(client, invoice: Invoice, account_id: int, body: dict) -> dict | None:
    remote = client.find_invoice_by_number(account_id, invoice.number)
    return remote if _is_ours(remote, invoice, body) else None


def _create_or_adopt(client, invoice: Invoice, account_id: int, body: dict) -> dict:
    """Creates the invoice at B2Brouter. When an earlier, ambiguous attempt is still landing (a
    slow answer the client gave up on stores the invoice after the lookup by number found
    nothing), B2Brouter refuses the number as taken (documented: 422 `parameter_taken`, with no
    field named): the invoice it holds under our number is adopted if it is ours."""
    try:
        return client.create_invoice(account_id, body)
    except b2brouter.ValidationError as exc:
        if invoice.submit_attempts > 1 and exc.code == "parameter_taken":
            remote = _find_ours(client, invoice, account_id, body)
            if remote is not None:
                _log(logging.WARNING, invoice, "adopted at B2Brouter: an earlier attempt stored it")
                return remote
        raise


def _submission_accepted(invoice: Invoice, remote: dict, body: dict, path: str) -> None:
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        locked.remote_id = remote["id"]
        locked.remote_id_to_delete = None
        locked.last_error = "; ".join(_error_texts(remote.get("errors")))
        locked.save(update_fields=["remote_id", "remote_id_to_delete", "last_error", "updated_at"])
        _record_exchange(locked, method="POST", path=path, status=201, request_body=body,
                         response_body=remote)
        _apply(locked, remote, source=InvoiceEvent.Source.WORKER)
    invoice.refresh_from_db()
    _log(logging.INFO, invoice, "submitted, state=%s", invoice.state)


def _resend_refused(invoice: Invoice, exc: "b2brouter.RejectedError", body) -> None:
    """B2Brouter would not take the correction of a refused invoice (the update or the send of a
    deposited invoice is not documented): it stays refused, as deposited, and staff are told to
    treat it as a rejection or to correct it on the Chorus Pro portal."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        previous = locked.state
        last = locked.legal_documents.order_by("-submission_round").first()
        locked.state = S.REFUSED
        locked.submission_round = last.submission_round if last else max(
            1, locked.submission_round - 1)
        locked.download_legal_url = last.source_url if last else ""
        locked.last_error = (
            "B2Brouter n'accepte pas de renvoyer cette facture corrigée "
            f"({exc.status or ''} {exc.message}). Émettez un avoir et une nouvelle facture, ou "
            "corrigez-la sur le portail Chorus Pro.")
        locked.save(update_fields=["state", "submission_round", "download_legal_url",
                                   "last_error", "updated_at"])
        _record_exchange(locked, method="PUT", path=f"/invoices/{locked.remote_id}",
                         status=exc.status, request_body=body,
                         response_body=getattr(exc, "body", None), message=str(exc))
        _record_state(locked, from_state=previous, source=InvoiceEvent.Source.WORKER,
                      reason=locked.last_error)
    _log(logging.WARNING, invoice, "resend refused by B2Brouter: %s", exc)


def _submission_interrupted(invoice: Invoice, exc: Exception, body) -> None:
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.state == S.SUBMITTING:
            locked.state = S.QUEUED
            locked.last_error = str(exc)
            locked.save(update_fields=["state", "last_error", "updated_at"])
        _record_exchange(locked, method="POST", path="", status=getattr(exc, "status", None),
                         request_body=body, message=f"{type(exc).__name__}: {exc}")
    _log(logging.WARNING, invoice, "submission interrupted (%s), will retry", type(exc).__name__)


def _submission_rejected(invoice: Invoice, exc: "b2brouter.RejectedError", body) -> None:
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        previous = locked.state
        locked.state = S.FAILED
        locked.state_updated_at = timezone.now()
        locked.last_error = str(exc)
        locked.remote_field_errors = getattr(exc, "field_errors", {}) or {}
        locked.save(update_fields=["state", "state_updated_at", "last_error", "remote_field_errors",
                                   "updated_at"])
        _record_exchange(locked, method="POST", path="", status=getattr(exc, "status", None),
                         request_body=body, response_body=getattr(exc, "body", None),
                         message=str(exc))
        _record_state(locked, from_state=previous, source=InvoiceEvent.Source.WORKER,
                      reason=str(exc))
    _log(logging.WARNING, invoice, "rejected by B2Brouter: %s", exc)


def _error_texts(errors) -> list[str]:
    texts = []
    for error in errors or []:
        texts.append(error.get("error", str(error)) if isinstance(error, dict) else str(error))
    return texts


# --- Applying B2Brouter's states ----------------------------------------------------------------

def parse_timestamp(value) -> datetime | None:
    if not value or isinstance(value, datetime):
        return value
    return parse_datetime(str(value).replace("Z", "+00:00"))


def _reason(remote: dict) -> str:
    """Why B2Brouter refused or failed the invoice: its documented `refuse_reason`, a webhook's
    `notes`, or Chorus Pro's reason when B2Brouter adds it."""
    return str(remote.get("refuse_reason") or remote.get("notes")
               or remote.get("chorus_status_reason") or "")


def _note_unknown_state(invoice: Invoice, remote: dict, *, source: str, remote_ts) -> bool:
    """Records, once, that B2Brouter reported a state this product does not know. The invoice
    keeps its state: nothing is dropped silently, nothing is guessed."""
    message = f"État B2Brouter inconnu : « {remote.get('state')} » (l'état de la facture ne change pas)"
    if invoice.events.filter(kind=InvoiceEvent.Kind.NOTE, message=message,
                             remote_state_updated_at=remote_ts).exists():
        return False
    InvoiceEvent.objects.create(invoice=invoice, kind=InvoiceEvent.Kind.NOTE, source=source,
                                message=message, remote_state_updated_at=remote_ts,
                                response_body=_jsonable(remote))
    _log(logging.WARNING, invoice, "unknown B2Brouter state %r recorded", remote.get("state"))
    return True


def _apply(invoice: Invoice, remote: dict, *, source: str, remote_event_id: int | None = None,
           whole_seconds: bool = False) -> bool:
    """Applies a B2Brouter invoice resource to the locked `invoice`. Returns True on a change.

    Only documented fields are needed (`state`, `state_updated_at`, `refuse_reason`, `errors`,
    `download_legal_url`); `chorus_status` is used when B2Brouter gives it, never required.
    `whole_seconds`: the update's timestamp has no sub-second part (a webhook's `triggered_at`),
    so it is compared with ours truncated to the second.
    """
    if invoice.state in (S.QUEUED, S.SUBMITTING) and source != InvoiceEvent.Source.WORKER:
        # Being (re)submitted: only the submission's own answer may set the state, so a late
        # notice about the previous round cannot overwrite the new one.
        return False
    new_state = remote.get("state")
    remote_ts = parse_timestamp(remote.get("state_updated_at"))
    if new_state and not states.is_known(new_state):
        return _note_unknown_state(invoice, remote, source=source, remote_ts=remote_ts)
    learned_url = bool(remote.get("download_legal_url")) and (
        remote["download_legal_url"] != invoice.download_legal_url)
    if learned_url and not invoice.download_legal_url:
        invoice.download_legal_url = remote["download_legal_url"]
        invoice.save(update_fields=["download_legal_url", "updated_at"])
    ours = invoice.state_updated_at
    if ours and whole_seconds:
        ours = ours.replace(microsecond=0)
    if remote_ts and ours and remote_ts < ours:
        return False
    chorus_status = remote.get("chorus_status") or ""
    reason = _reason(remote)
    if new_state == invoice.state:
        return _same_state_news(invoice, chorus_status, reason, source=source)
    if not states.is_forward(invoice.state, new_state):
        return False
    if remote.get("download_legal_url"):
        invoice.download_legal_url = remote["download_legal_url"]
    previous = invoice.state
    newly_deposited = new_state in states.DEPOSITED_STATES and (
        previous not in states.DEPOSITED_STATES or learned_url)
    invoice.state = new_state
    invoice.state_updated_at = remote_ts or timezone.now()
    invoice.chorus_status = chorus_status
    invoice.chorus_status_reason = reason if new_state in (S.REFUSED, S.ERROR) or chorus_status else ""
    if new_state == S.ERROR:
        invoice.last_error = ("; ".join(_error_texts(remote.get("errors"))) or reason
                              or invoice.last_error)
    invoice.save(update_fields=["state", "state_updated_at", "chorus_status", "chorus_status_reason",
                                "download_legal_url", "last_error", "updated_at"])
    _record_state(
        invoice,
        from_state=previous,
        source=source,
        chorus_status=invoice.chorus_status,
        reason=invoice.chorus_status_reason,
        remote_event_id=remote_event_id,
        remote_state_updated_at=remote_ts,
        response_body=_jsonable(remote),
    )
    from invoicing.tasks import invoice_fetch_legal_task, invoice_notify_task

    pk = invoice.pk
    if newly_deposited:
        # Once per deposit: later changes (registered, accepted...) need no second fetch.
        transaction.on_commit(lambda: invoice_fetch_legal_task.delay(pk))
    if new_state in (S.REFUSED, S.ERROR):
        transaction.on_commit(lambda: invoice_notify_task.delay(pk))
    return True


def _same_state_news(invoice: Invoice, chorus_status: str, reason: str, *, source: str) -> bool:
    """What an update in the invoice's own state may still tell: Chorus Pro's status (when
    B2Brouter gives it) or, for a refusal or an error, a reason we did not have."""
    changed = []
    if chorus_status and chorus_status != invoice.chorus_status:
        invoice.chorus_status = chorus_status
        changed.append("chorus_status")
    if reason and reason != invoice.chorus_status_reason and (
            invoice.state in (S.REFUSED, S.ERROR) or "chorus_status" in changed):
        invoice.chorus_status_reason = reason
        changed.append("chorus_status_reason")
    if not changed:
        return False
    invoice.save(update_fields=[*changed, "updated_at"])
    InvoiceEvent.objects.create(
        invoice=invoice, kind=InvoiceEvent.Kind.NOTE, source=source,
        chorus_status=invoice.chorus_status, reason=invoice.chorus_status_reason,
        message="Statut ou motif communiqué par B2Brouter")
    return True


def invoice_apply_remote(*, remote: dict, source: str, remote_event_id: int | None = None,
                         whole_seconds: bool = False) -> bool:
    """Applies B2Brouter's view of one invoice (from a GET, a list page or a webhook) to ours.

    Idempotent and order-proof: a repeated or older update changes nothing, and no update moves
    an invoice backwards. Unknown invoices (another system's) are ignored. Returns True on a change.
    """
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().filter(remote_id=remote["id"]).first()
        if invoice is None:
            return False
        changed = _apply(invoice, remote, source=source, remote_event_id=remote_event_id,
                         whole_seconds=whole_seconds)
    if changed:
        _log(logging.INFO, invoice, "state %s (%s)", invoice.state, source)
    return changed


def invoice_read_remote(*, remote_id: int) -> dict | None:
    """B2Brouter's current view of one of our invoices, or None when it cannot be read now
    (unknown to us, or B2Brouter unreachable: the caller goes on with what it has)."""
    invoice = Invoice.objects.filter(remote_id=remote_id).first()
    if invoice is None:
        return None
    try:
        with invoice_log_context(invoice):
            return b2brouter_client().get_invoice(remote_id)
    except b2brouter.B2BrouterError as exc:
        _log(logging.WARNING, invoice, "could not read the invoice from B2Brouter: %s", exc)
        return None


def invoice_refresh(*, invoice_id: int) -> Invoice:
    """Reads the invoice from B2Brouter and applies its state (the polling path for one invoice)."""
    invoice = Invoice.objects.get(pk=invoice_id)
    if invoice.remote_id is None:
        return invoice
    with invoice_log_context(invoice):
        remote = b2brouter_client().get_invoice(invoice.remote_id)
    invoice_apply_remote(remote=remote, source=InvoiceEvent.Source.POLL)
    invoice.refresh_from_db()
    return invoice


# --- Legal XML and acknowledgement --------------------------------------------------------------

def invoice_fetch_legal(*, invoice_id: int) -> LegalDocument | None:
    """Fetches and stores the exact legal XML of the invoice's current round, once.

    The bytes are stored as received with their SHA-256, and never changed afterwards. The
    acknowledgement is enqueued only after the row is committed. Idempotent.
    """
    from invoicing.tasks import invoice_acknowledge_task

    invoice = Invoice.objects.get(pk=invoice_id)
    existing = invoice.legal_documents.filter(submission_round=invoice.submission_round).first()
    if existing is None:
        if invoice.state not in states.DEPOSITED_STATES:
            return None
        if not invoice.download_legal_url:
            invoice = invoice_refresh(invoice_id=invoice_id)
            if not invoice.download_legal_url:
                return None
        with invoice_log_context(invoice):
            content, content_type = b2brouter_client().download_legal(invoice.download_legal_url)
        try:
            with transaction.atomic():
                existing = LegalDocument.objects.create(
                    invoice=invoice,
                    submission_round=invoice.submission_round,
                    content=content,
                    sha256=hashlib.sha256(content).hexdigest(),
                    size=len(content),
                    content_type=content_type,
                    source_url=invoice.download_legal_url,
                )
                _record_exchange(invoice, method="GET", path=invoice.download_legal_url, status=200,
                                 message=f"XML légal archivé, sha256={existing.sha256}")
        except IntegrityError:
            # Another worker stored it first; theirs is the archive.
            existing = invoice.legal_documents.get(submission_round=invoice.submission_round)
        _log(logging.INFO, invoice, "legal XML stored sha256=%s", existing.sha256)
        archive.invoice_check_legal_xml(document=existing)
    if existing.acknowledged_at is None:
        transaction.on_commit(lambda: invoice_acknowledge_task.delay(invoice.pk))
    return existing


def invoice_acknowledge(*, invoice_id: int) -> bool:
    """Tells B2Brouter (ack) that the invoice's legal XML is safely stored. Never before: without
    a stored document for the current round this does nothing. Returns True when acknowledged."""
    invoice = Invoice.objects.get(pk=invoice_id)
    document = invoice.legal_documents.filter(submission_round=invoice.submission_round).first()
    if document is None or invoice.remote_id is None:
        return False
    if document.acknowledged_at is not None:
        return True
    with invoice_log_context(invoice):
        remote = b2brouter_client().ack_invoice(invoice.remote_id) or {}
    # The answer need not hold the invoice (documented shapes vary): then it is acked now.
    acked_at = parse_timestamp(remote.get("ack_at")) or timezone.now()
    with transaction.atomic():
        LegalDocument.objects.filter(pk=document.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=acked_at
        )
        _record_exchange(invoice, method="POST", path=f"/invoices/{invoice.remote_id}/ack",
                         status=200, response_body={"ack_at": remote.get("ack_at")},
                         message="Acquittée")
    _log(logging.INFO, invoice, "acknowledged")
    return True


# --- The account -------------------------------------------------------------------------------

def account_from_remote(*, remote_id: int) -> Account:
    """Retrieves a B2Brouter account by id and stores (or refreshes) it locally."""
    remote = b2brouter_client().get_account(remote_id)
    account, _created = Account.objects.update_or_create(
        remote_id=remote["id"],
        defaults={
            "name": remote.get("name") or "",
            "vat_number": remote.get("tin_value") or "",
            "siret": remote.get("cin_value") or "",
            "address": remote.get("address") or "",
            "city": remote.get("city") or "",
            "postalcode": remote.get("postalcode") or "",
            "province": remote.get("province") or "",
            "country": (remote.get("country") or "fr").lower(),
            "email": remote.get("email") or "",
            "rounding_method": remote.get("rounding_method") or "half_up",
        },
    )
    return account


def account_register(*, account: Account) -> Account:
    """Gives a local account its B2Brouter id: the existing account with the same VAT number, or a
    new one (as the guide creates it). Idempotent."""
    if account.remote_id:
        return account
    client = b2brouter_client()
    remote = next((a for a in client.iter_accounts() if a.get("tin_value") == account.vat_number), None)
    if remote is None:
        remote = client.create_account(payloads.account_body(payloads.AccountData(
            name=account.name,
            tin_value=account.vat_number,
            # the SIRET under its scheme, so that the legal XML names the seller by its SIRET
            cin_value=account.siret,
            cin_scheme="0009" if account.siret else "",
            address=account.address,
            city=account.city,
            postalcode=account.postalcode,
            province=account.province,
            country=account.country,
            email=account.email,
            rounding_method=account.rounding_method,
        )))
    Account.objects.filter(pk=account.pk).update(remote_id=remote["id"])
    account.remote_id = remote["id"]
    return account


# --- Notifications -----------------------------------------------------------------------------

def invoice_notify_rejection(*, invoice_id: int) -> int:
    """E-mails the invoice's author and its account's staff that Chorus Pro (or B2Brouter) turned
    the invoice down, with the reason and what to do. Returns the number of messages sent."""
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail

    from invoicing import roles

    invoice = Invoice.objects.select_related("buyer", "created_by").get(pk=invoice_id)
    users = get_user_model().objects.filter(accounts=invoice.account_id, is_active=True,
                                            groups__name__in=[roles.STAFF, roles.ADMINS])
    recipients = sorted({u.email for u in users if u.email}
                        | ({invoice.created_by.email} if invoice.created_by and invoice.created_by.email
                           else set()))
    if not recipients:
        return 0
    kind = invoice.refusal_kind
    if invoice.state == S.ERROR:
        what, fix = "n'a pas pu être déposée", "Corrigez-la et renvoyez-la sous le même numéro."
    elif kind == states.ROUTING:
        what, fix = "a été retournée (à recycler)", "Corrigez le code service ou le n° d'engagement et renvoyez-la sous le même numéro."
    elif kind == states.SUSPENSION:
        what, fix = "a été suspendue", "Complétez les pièces justificatives sur le portail Chorus Pro."
    elif kind == states.REJECTION:
        what, fix = "a été rejetée", "Émettez un avoir puis une nouvelle facture sous un nouveau numéro."
    else:
        what, fix = "a été refusée", ("Lisez le motif : s'il porte sur le routage (code service, n° "
                                      "d'engagement), corrigez-la et renvoyez-la sous le même numéro ; "
                                      "sinon émettez un avoir puis une nouvelle facture.")
    subject = f"Facture {invoice.number} {what} par Chorus Pro"
    body = (
        f"La facture {invoice.number} à {invoice.buyer.name if invoice.buyer_id else '?'} "
        f"({invoice.total} {invoice.currency}) {what}.\n"
        f"Statut : {invoice.chorus_status or invoice.get_state_display()}\n"
        f"Motif : {invoice.chorus_status_reason or invoice.last_error or 'non précisé'}\n\n{fix}\n"
    )
    return send_mail(subject, body, None, recipients)


# --- The dashboard -----------------------------------------------------------------------------

def user_dashboard_visit(*, user) -> dict:
    """What changed on the user's invoices since their last visit; marks this visit as seen.

    Returns {"since": datetime | None, "events": [...]} (the latest changes, newest first).
    """
    from invoicing.finance_selectors import changes_since
    from invoicing.models import UserActivity

    with transaction.atomic():
        activity, _ = UserActivity.objects.select_for_update().get_or_create(user=user)
        since = activity.dashboard_seen_at
        activity.dashboard_seen_at = timezone.now()
        activity.save(update_fields=["dashboard_seen_at"])
    return {"since": since, "events": list(changes_since(user=user, since=since))}
