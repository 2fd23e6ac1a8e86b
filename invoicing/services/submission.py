"""Sending: asking to send (the pre-send checks run here, whatever asks), and getting a queued
invoice to B2Brouter exactly once.

No transaction is held open across an HTTP call: the row is locked and claimed in one short
transaction, B2Brouter is called outside, the outcome is recorded in another short transaction.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, F
from django.db.models.expressions import RawSQL
from django.utils import timezone

import b2brouter
from b2brouter import payloads
from core import bulk
from core.gateway import b2brouter_client
from directory.services import buyer_ensure_registered, service_ensure_registered
from invoicing import channels, checks, history, states
from invoicing.models import Invoice, InvoiceAttachment, InvoiceEvent
from invoicing.models import InvoiceState as S
from invoicing.services import crediting, drafts, enqueue, events, numbering
from invoicing.services.errors import InvoiceActionError, InvoiceCheckFailed, locked_invoice
from invoicing.services.logs import invoice_log_context, log
from invoicing.services.remote import apply_remote_locked

__all__ = ["InvoiceActionError", "InvoiceCheckFailed", "invoice_body", "invoice_request_send",
           "invoice_send_problems", "invoice_submit"]

def invoice_request_send(*, invoice_id: int, user=None) -> Invoice:
    """Queues an invoice for submission; the task is enqueued once the transaction commits.

    The pre-send checks run here, whatever asks (the form, a bulk send, a command, a task): an
    invoice they refuse raises InvoiceCheckFailed with their messages and stays as it was. A
    credit note is checked against what its invoice has left to credit. A draft is issued here:
    it gets its number from the account's sequence, in this transaction (`numbering`).
    Idempotent: an invoice already queued or further along is left as it is. A new submission
    round starts, under the same number, for a routing return (refused, fixed) and for a failed
    deposit (error, corrected: its document at B2Brouter is deleted and created again).
    Raises InvoiceActionError when the state does not allow sending.
    """
    with transaction.atomic():
        invoice = locked_invoice(Invoice.objects.select_for_update(of=("self",))
                                 .select_related("account", "buyer", "service"), invoice_id)
        resend = states.can_resend(invoice.state, invoice.chorus_status,
                                   invoice.chorus_status_reason,
                                   final=invoice.refusal_is_final)
        if invoice.state in (S.QUEUED, S.SUBMITTING) or (
            invoice.state in states.REMOTE_STATES and not resend
        ):
            return invoice
        if invoice.kind == Invoice.Kind.CREDIT_NOTE and invoice.credited_invoice_id:
            # Under the credited invoice's lock: two credit notes issued at once are counted
            # one after the other.
            Invoice.objects.select_for_update().filter(pk=invoice.credited_invoice_id).first()
        problems = invoice_send_problems(invoice)
        if problems:
            raise InvoiceCheckFailed(str(invoice), problems)
        issued, date_problems = numbering.issue_fields(invoice)
        if date_problems:
            raise InvoiceCheckFailed(str(invoice), date_problems)
        fields = {"last_error": "", "remote_field_errors": {}, **issued}
        if resend:
            # the new deposit will have its own legal XML, and Chorus Pro's word on it
            fields.update(submission_round=invoice.submission_round + 1, download_legal_url="",
                          legal_url_refused=None, chorus_status="", chorus_status_reason="")
        if invoice.state == S.ERROR and invoice.remote_id:
            # Terminal at B2Brouter (its French guide): delete it there, create it again.
            fields.update(remote_id_to_delete=invoice.remote_id, remote_id=None)
        said = ({"code": "issued", "params": {"number": issued["number"]}} if issued
                else {"code": "send_asked"})
        states.invoice_transition(invoice=invoice, to=S.QUEUED, source=InvoiceEvent.Source.USER,
                                  actor=user, history=said, **fields)
        enqueue.submit_later(invoice.pk)
    log(logging.INFO, invoice, "queued for submission")
    return invoice


def invoice_send_problems(invoice: Invoice, lines=None) -> dict[str, list[str]]:
    """Everything that stops this invoice from being sent, by field ({} when it may go): the
    pre-send checks, what its credited invoice has left for a credit note, and the date the
    sequence's order asks for (a draft)."""
    lines = list(invoice.lines.all()) if lines is None else lines
    problems = checks.invoice_problems(invoice, lines)
    if invoice.account.remote_id is None:
        _merge(problems, {"__all__": [account_not_registered(invoice.account)]})
    if invoice.kind == Invoice.Kind.CREDIT_NOTE and invoice.credited_invoice_id:
        _merge(problems, crediting.credit_problems(invoice, lines))
    if not invoice.number and "issue_date" not in problems:
        _merge(problems, numbering.date_problems(invoice))
    return problems


def invoice_fix_and_resend(*, invoice_id: int, service, po_number: str,
                           contract_reference: str, user=None) -> Invoice:
    """A routing return corrected and queued again under its number, in one transaction: a
    correction refused (by the routing checks or by the pre-send checks) changes nothing and
    sends nothing. Raises InvoiceCheckFailed / InvoiceActionError."""
    with transaction.atomic():
        drafts.invoice_fix_routing(invoice_id=invoice_id, service=service, po_number=po_number,
                                   contract_reference=contract_reference, user=user)
        return invoice_request_send(invoice_id=invoice_id, user=user)


def account_not_registered(account) -> str:
    return str(history.TEXTS["account_not_registered"]) % {"account": account.name}


def _merge(problems: dict, more: dict) -> None:
    for key, messages in more.items():
        problems.setdefault(key, []).extend(messages)


# Whether the invoice has supporting documents, read with the claim (most have none: no query
# for them then). As SQL: the ORM's Exists() costs more to compile than the query it saves.
_ATTACHMENT, _INVOICE = InvoiceAttachment._meta.db_table, Invoice._meta.db_table
_HAS_ATTACHMENTS = RawSQL(  # noqa: S611 - table names from the models, no parameter
    f'EXISTS (SELECT 1 FROM "{_ATTACHMENT}" WHERE "{_ATTACHMENT}"."invoice_id" = "{_INVOICE}"."id")',  # noqa: S608
    (), output_field=BooleanField())

# The claim reads the invoice (its body is built from it) and, through joins, the three ids that
# sending to a registered buyer needs: the account's at B2Brouter and the contacts of its buyer
# and service (`_register_parties` reads a buyer or a service whole only to register it).
# Built once: each claim only adds its id.
_CLAIMABLE = (
    Invoice.objects.select_for_update(of=("self",))
    .annotate(has_attachments=_HAS_ATTACHMENTS, account_remote_id=F("account__remote_id"),
              buyer_contact_id=F("buyer__remote_contact_id"),
              buyer_public_sector=F("buyer__public_sector"),
              service_contact_id=F("service__remote_contact_id")))


def _claim_for_submission(invoice_id: int, stale_after: int) -> Invoice | None:
    """Marks the invoice `submitting` and returns it, or None when there is nothing to do
    (already at B2Brouter, or another worker holds a fresh claim)."""
    with transaction.atomic():
        invoice = _CLAIMABLE.get(pk=invoice_id)
        if invoice.state == S.SUBMITTING:
            started = invoice.submit_started_at
            if started and (timezone.now() - started).total_seconds() < stale_after:
                return None
        elif invoice.state != S.QUEUED:
            return None
        with states.transitions_batched():
            states.invoice_transition(
                invoice=invoice, to=S.SUBMITTING, source=InvoiceEvent.Source.WORKER,
                history={"code": "submitting",
                         "params": {"attempt": invoice.submit_attempts + 1}},
                submit_attempts=invoice.submit_attempts + 1, submit_started_at=timezone.now())
        return invoice


def _register_parties(invoice: Invoice) -> None:
    """The invoice's buyer and service known to B2Brouter, registered now if they are not yet
    (each read whole for it, once). Their contact ids are kept on the invoice for its body."""
    if not invoice.buyer_contact_id:
        invoice.buyer_contact_id = buyer_ensure_registered(buyer=invoice.buyer)
    if invoice.service_id and not invoice.service_contact_id:
        service = invoice.service
        if service.buyer_id == invoice.buyer_id:
            service.buyer = invoice.buyer  # read once
        invoice.service_contact_id = service_ensure_registered(service=service)


def _contact_id(invoice: Invoice):
    """The B2Brouter contact the invoice goes to: its service's (a sub-contact of the buyer's),
    else its buyer's; as the claim read them when it did."""
    if invoice.service_id:
        return getattr(invoice, "service_contact_id", None) or invoice.service.remote_contact_id
    return getattr(invoice, "buyer_contact_id", None) or invoice.buyer.remote_contact_id


def invoice_body(invoice: Invoice, *, send_after_import: bool = True) -> dict:
    """The JSON body B2Brouter receives for this invoice (the guide's shape). An invoice with
    supporting documents is created without sending: they are joined first."""
    lines = [
        payloads.InvoiceLineData(
            description=line.description,
            quantity=line.quantity,
            price=line.unit_price,
            unit=line.unit,
            position=line.position,
            article_code=line.article_code,
            # The exemption's VATEX code, as B2Brouter's French guide reads `comment`.
            taxes=[payloads.TaxData(category=line.vat_category, percent=line.vat_rate,
                                    comment=line.exemption_code or line.exemption_reason)],
        )
        for line in invoice.lines.all()
    ]
    data = payloads.InvoiceData(
        number=invoice.number,
        date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        contact_id=_contact_id(invoice),
        bank_account=payloads.BankAccount(iban=invoice.iban),
        ponumber=invoice.po_number,
        buyer_reference=invoice.buyer_reference,
        contract_reference=invoice.contract_reference,
        billing_framework=invoice.billing_framework,
        lines=lines,
        **channels.of_invoice(invoice).body_fields(invoice),
        is_credit_note=invoice.kind == Invoice.Kind.CREDIT_NOTE,
        amended_number=invoice.credited_invoice.number if invoice.credited_invoice_id else "",
        amended_date=invoice.credited_invoice.issue_date if invoice.credited_invoice_id else None,
    )
    return payloads.invoice_body(data, send_after_import=send_after_import)


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
    client = b2brouter_client()
    previous = client.on_response
    client.on_response = _still_working(invoice, previous, stale_after)
    try:
        with invoice_log_context(invoice):
            return _submit(invoice)
    finally:
        client.on_response = previous


def _submit(invoice: Invoice) -> Invoice:
    """One attempt. Without supporting documents, one call creates and sends the invoice. With
    them: created without sending, each document joined, then sent; an attempt that finds the
    invoice already at B2Brouter (an earlier one's answer was lost) reads what B2Brouter holds
    (its state, its attachments) and goes on from there, so nothing is created, joined or sent
    twice."""
    client = b2brouter_client()
    account_id = invoice.account_remote_id  # read with the claim (`_CLAIMABLE`)
    if account_id is None and not invoice.remote_id:
        # Queued before the pre-send check refused it: failed, with the way out, not retried.
        _submission_impossible(invoice, "account_not_registered",
                               {"account": invoice.account.name})
        return invoice
    attachments = list(invoice.attachments.all()) if invoice.has_attachments else []
    body, resending = None, False
    try:
        _register_parties(invoice)
        body = invoice_body(invoice, send_after_import=not attachments)
        if invoice.remote_id:
            looked_at = timezone.now()
            current = client.get_invoice(invoice.remote_id)
            if current.get("state") == S.NEW:
                remote, step = _attach_and_send(client, invoice, current, attachments,
                                                looked_at=looked_at)
            elif current.get("state") == S.REFUSED:
                # A routing return fixed by the user: same invoice, same number, sent again.
                resending = True
                remote, step = _resend(client, invoice, body)
            else:  # sent already: the answer to the send was lost
                remote, step = current, Step(
                    "GET", f"/invoices/{invoice.remote_id}", 200, "already_sent")
        else:
            if invoice.remote_id_to_delete:
                _delete_failed_deposit(client, invoice)
            remote = None
            if invoice.submit_attempts > 1:
                remote = _find_ours(client, invoice, account_id, body)
            if remote is None:
                remote, step = _create_or_adopt(client, invoice, account_id, body)
            else:
                log(logging.WARNING, invoice, "found at B2Brouter after an ambiguous attempt")
                step = Step("GET", f"/accounts/{account_id}/invoices?number={invoice.number}",
                            200, "found_after_interruption")
            if attachments and _checked(remote, invoice).get("state") == S.NEW:
                _remember_remote(invoice, remote, body, step)
                # Nothing can have been joined to an invoice whose id we did not know.
                remote, step = _attach_and_send(client, invoice, remote, attachments,
                                                looked_at=None)
        remote = _checked(remote, invoice)
    except b2brouter.RejectedError as exc:
        if resending:
            _resend_refused(invoice, exc, body)
        else:
            _submission_rejected(invoice, exc, body)
        return invoice
    except b2brouter.TransientError as exc:
        _submission_interrupted(invoice, exc, body)
        raise
    _submission_accepted(invoice, remote, body, step)
    return invoice


@dataclass(frozen=True)
class Step:
    """The call that got the invoice where it is, as the history tells it: the create when it
    was made now, the lookup when an earlier, interrupted attempt had made it."""
    method: str
    path: str
    status: int
    code: str = "created_remotely"  # what the history says of it (`invoicing.history`)


def _still_working(invoice: Invoice, then, stale_after: float):
    """A heartbeat: after an answer from B2Brouter the claim is renewed, so that the reconciler
    tells a live submission (however many calls it makes) from one whose worker died, within
    `stale_after` of its last call. Renewed once a third of that window has passed since the
    claim or the last renewal, not after every answer: a submission of one call (most) writes
    nothing more. Exactly once never depends on it (a second claim finds the invoice by number,
    and an upload that may still land is waited for); only how fast a dead worker's invoice
    moves on does."""
    renewed = [invoice.submit_started_at or timezone.now()]

    def beat(record):
        now = timezone.now()
        if (now - renewed[0]).total_seconds() >= stale_after / 3:
            Invoice.objects.filter(pk=invoice.pk, state=S.SUBMITTING).update(
                submit_started_at=now)
            renewed[0] = now
        if then is not None:
            then(record)
    return beat


def _checked(remote, invoice: Invoice) -> dict:
    """The answer, if it is the invoice we sent; else a lost answer (settled by number next
    time: never adopt an answer for another invoice)."""
    if not isinstance(remote, dict) or remote.get("id") is None or remote.get("number") not in (
            None, invoice.number):
        raise b2brouter.ResponseLost("the answer is not the invoice sent")
    return remote


def _remember_remote(invoice: Invoice, remote: dict, body: dict, step: Step) -> None:
    """The invoice exists at B2Brouter (not sent yet): its id is kept at once, so that every
    later attempt goes on with that very invoice."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        locked.remote_id = remote["id"]
        locked.remote_id_to_delete = None
        locked.save(update_fields=["remote_id", "remote_id_to_delete", "updated_at"])
        events.exchange_event(
            invoice=locked, method=step.method, path=step.path, status=step.status,
            request_body=body if step.method == "POST" else None, response_body=remote,
            code=step.code if step.code != "created_remotely" else "created_remotely_unsent")
    invoice.remote_id = remote["id"]


def _remote_attachment_names(remote: dict) -> list[str]:
    """What B2Brouter says it holds for an invoice, one entry per attachment: the file name its
    `attachments[].link` (documented) ends with, as far as the link shows one."""
    names = []
    for item in remote.get("attachments") or []:
        if isinstance(item, dict):
            link = str(item.get("link") or "")
            names.append(str(item.get("filename") or unquote(link.rsplit("/", 1)[-1])))
    return names


def _already_held(invoice: Invoice, remote: dict, attachments) -> set[int]:
    """The ids of the attachments B2Brouter holds already. By name where its links show them;
    the entries whose name does not match any of ours (a link that ends with an id) are counted:
    uploads go one at a time, in order, so those held beyond the ones we know we joined are the
    first of the rest."""
    held = _remote_attachment_names(remote)
    ours = {attachment.original_name for attachment in attachments}
    by_name = {name for name in held if name in ours}
    unnamed = sum(1 for name in held if name not in ours)
    confirmed = [a for a in attachments if a.remote_invoice_id == invoice.remote_id]
    unnamed -= sum(1 for a in confirmed if a.original_name not in by_name)
    found = set()
    for attachment in attachments:
        if attachment.remote_invoice_id == invoice.remote_id:
            continue
        if attachment.original_name in by_name:
            found.add(attachment.pk)
        elif unnamed > 0:
            found.add(attachment.pk)
            unnamed -= 1
    return found


class UploadUnsettled(b2brouter.TransientError):
    """An earlier upload of this document got no answer and may still land at B2Brouter: the
    invoice is looked at again once it would have, before the document is joined again."""


def upload_settle_seconds() -> float:
    """How long an upload whose answer was lost may still land: the client's read timeout (the
    server had the whole file by then) with a margin for its processing."""
    return float(getattr(settings, "ATTACHMENT_SETTLE_AFTER", 0) or
                 max(2 * settings.B2BROUTER_TIMEOUT, settings.B2BROUTER_TIMEOUT + 10))


def _attach_and_send(client, invoice: Invoice, remote: dict, attachments, *,
                     looked_at) -> tuple[dict, Step]:
    """Joins each supporting document B2Brouter does not hold yet (what its invoice's
    `attachments` shows, as read at `looked_at`), one at a time in order, then sends the
    invoice. A document an interrupted attempt was uploading is joined again only if B2Brouter
    still does not hold it once that upload can no longer land."""
    held = _already_held(invoice, remote, attachments)
    settle = timedelta(seconds=upload_settle_seconds())
    for attachment in attachments:
        if attachment.remote_invoice_id == invoice.remote_id:
            continue
        method, path, status = "POST", f"/invoices/{invoice.remote_id}/add_attachment", 204
        if attachment.pk in held:  # seen on the invoice just read, not uploaded now
            method, path, status = "GET", f"/invoices/{invoice.remote_id}", 200
            code = "attachment_already_there"
        else:
            started = attachment.upload_started_at
            if started and looked_at is not None and looked_at < started + settle:
                raise UploadUnsettled(
                    f"La pièce jointe {attachment.original_name}, envoyée lors d'un essai "
                    "interrompu, peut encore arriver chez B2Brouter : nouvel essai dans "
                    "quelques secondes")
            InvoiceAttachment.objects.filter(pk=attachment.pk).update(
                upload_started_at=timezone.now())
            with attachment.file.open("rb") as upload:
                content = upload.read()
            client.add_attachment(invoice.remote_id, attachment.original_name, content,
                                  use_as_pdf_view=attachment.use_as_pdf_view)
            code = "attachment_sent"
        with transaction.atomic():
            InvoiceAttachment.objects.filter(pk=attachment.pk).update(
                remote_invoice_id=invoice.remote_id, uploaded_at=timezone.now())
            events.exchange_event(invoice=invoice, method=method, path=path, status=status,
                                  code=code, params={"name": attachment.original_name})
    answer = client.send_invoice(invoice.remote_id)
    if answer is None or "state" not in answer:
        answer = client.get_invoice(invoice.remote_id)
    return answer, Step("POST", f"/invoices/send_invoice/{invoice.remote_id}", 200,
                        "sent_with_attachments")


def _resend(client, invoice: Invoice, body: dict) -> tuple[dict, Step]:
    """PUT the corrected invoice, then send it. The answer to a send need not hold the invoice
    (documented shapes vary): it is read again when it does not."""
    client.update_invoice(invoice.remote_id, {"invoice": body["invoice"]})
    remote = client.send_invoice(invoice.remote_id)
    if remote is None or "state" not in remote:
        remote = client.get_invoice(invoice.remote_id)
    return remote, Step("POST", f"/invoices/send_invoice/{invoice.remote_id}", 200, "resent")


def _delete_failed_deposit(client, invoice: Invoice) -> None:
    """Deletes the document whose deposit failed before the corrected invoice is created again
    under its number. Idempotent: already gone (404) is done."""
    try:
        client.delete_invoice(invoice.remote_id_to_delete)
        status, code = 200, "failed_deposit_deleted"
    except b2brouter.NotFound:
        status, code = 404, "failed_deposit_already_deleted"
    events.exchange_event(invoice=invoice, method="DELETE",
                          path=f"/invoices/{invoice.remote_id_to_delete}", status=status,
                          code=code)


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


def _create_or_adopt(client, invoice: Invoice, account_id: int, body: dict) -> tuple[dict, Step]:
    """Creates the invoice at B2Brouter. When an earlier, ambiguous attempt is still landing (a
    slow answer the client gave up on stores the invoice after the lookup by number found
    nothing), B2Brouter refuses the number as taken (documented: 422 `parameter_taken`, with no
    field named): the invoice it holds under our number is adopted if it is ours."""
    path = f"/accounts/{account_id}/invoices"
    try:
        return client.create_invoice(account_id, body), Step("POST", path, 201)
    except b2brouter.ValidationError as exc:
        # Attempts counted afresh: another worker may have taken this invoice over meanwhile.
        attempts = Invoice.objects.values_list("submit_attempts", flat=True).get(pk=invoice.pk)
        if max(attempts, invoice.submit_attempts) > 1 and exc.code == "parameter_taken":
            remote = _find_ours(client, invoice, account_id, body)
            if remote is not None:
                log(logging.WARNING, invoice, "adopted at B2Brouter: an earlier attempt stored it")
                return remote, Step("GET", f"{path}?number={invoice.number}", 200,
                                    "adopted_duplicate")
        raise


def _submission_accepted(invoice: Invoice, remote: dict, body: dict, step: Step) -> None:
    """B2Brouter holds the invoice: its id, the exchange and the state it reports are written
    in one transaction, the row in one UPDATE and the history rows in one INSERT (the state
    setter's batch)."""
    with transaction.atomic():
        locked = _locked_again(invoice)
        with states.transitions_batched() as batch:
            batch.events.append(events.exchange_event(
                invoice=locked, method=step.method, path=step.path, status=step.status,
                request_body=body if step.method == "POST" else None, response_body=remote,
                code=step.code, save=False))
            locked.remote_id = remote["id"]
            locked.remote_id_to_delete = None
            locked.last_error = "; ".join(_error_texts(remote.get("errors")))
            batch.add(locked, ["remote_id", "remote_id_to_delete", "last_error"])
            apply_remote_locked(locked, remote, source=InvoiceEvent.Source.WORKER)
    if locked is not invoice:
        for field in Invoice._meta.concrete_fields:  # the caller's copy, as written
            setattr(invoice, field.attname, getattr(locked, field.attname))
    log(logging.INFO, invoice, "submitted, state=%s", invoice.state)


# A claimed invoice changes under someone else's hand only with these: a reconciler putting a
# stale claim back in the queue, another worker's claim (each writes updated_at, through the
# state setter or save). The rest is frozen by its issue or written by this submission alone.
_CLAIM_VERSION = ["updated_at", "state", "submit_attempts"]


def _locked_again(invoice: Invoice) -> Invoice:
    """The claimed invoice, its row locked again: the claim's own copy when the row is still as
    the claim wrote it (one short query), else the row read afresh."""
    seen = bulk.locked_values(Invoice, invoice.pk, _CLAIM_VERSION)
    if seen == tuple(getattr(invoice, name) for name in _CLAIM_VERSION):
        return invoice
    return Invoice.objects.select_for_update().get(pk=invoice.pk)


def _resend_refused(invoice: Invoice, exc: "b2brouter.RejectedError", body) -> None:
    """B2Brouter would not take the correction of a refused invoice (the update or the send of a
    deposited invoice is not documented): it stays refused, as deposited, and staff are told to
    treat it as a rejection or to correct it on the Chorus Pro portal."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        last = locked.legal_documents.order_by("-submission_round").first()
        error = f"{exc.status or ''} {exc.message}".strip()
        message = str(history.TEXTS["resend_refused"]) % {"error": error}
        events.exchange_event(invoice=locked, method="PUT", path=f"/invoices/{locked.remote_id}",
                              status=exc.status, request_body=body,
                              response_body=getattr(exc, "body", None), message=str(exc))
        refused = locked.events.filter(kind=InvoiceEvent.Kind.STATE, to_state=S.REFUSED).exclude(
            chorus_status="").order_by("-pk").first()  # the return it still is
        states.invoice_transition(
            invoice=locked, to=S.REFUSED, source=InvoiceEvent.Source.WORKER,
            history={"code": "resend_refused", "params": {"error": error}},
            chorus_status=refused.chorus_status if refused else locked.chorus_status,
            submission_round=last.submission_round if last else max(
                1, locked.submission_round - 1),
            download_legal_url=last.source_url if last else "", last_error=message)
    log(logging.WARNING, invoice, "resend refused by B2Brouter: %s", exc)


def _submission_interrupted(invoice: Invoice, exc: Exception, body) -> None:
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.state == S.SUBMITTING:
            states.invoice_transition(invoice=locked, to=S.QUEUED,
                                      source=InvoiceEvent.Source.WORKER,
                                      history={"reason": str(exc)}, last_error=str(exc))
        if not isinstance(exc, UploadUnsettled):  # no call was made: nothing to record
            # The call that failed, as the client names it (the create, an upload, the send).
            events.exchange_event(invoice=locked, method=exc.method or "POST",
                                  path=exc.path or "", status=getattr(exc, "status", None),
                                  request_body=body if (exc.method or "POST") == "POST" else None,
                                  code="exchange_interrupted",
                                  params={"error": f"{type(exc).__name__}: {exc}"})
    log(logging.WARNING, invoice, "submission interrupted (%s), will retry", type(exc).__name__)


def _submission_impossible(invoice: Invoice, code: str, params: dict) -> None:
    """Nothing can be sent (no call made): failed, with the reason and the way out (a code of
    `invoicing.history`)."""
    reason = str(history.TEXTS[code]) % params
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.state != S.SUBMITTING:
            return
        states.invoice_transition(
            invoice=locked, to=S.FAILED, source=InvoiceEvent.Source.WORKER,
            history={"code": code, "params": params}, state_updated_at=timezone.now(),
            last_error=reason)
    log(logging.WARNING, invoice, "not sent: %s", code)


def _submission_rejected(invoice: Invoice, exc: "b2brouter.RejectedError", body) -> None:
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        events.exchange_event(invoice=locked, method="POST", path="",
                              status=getattr(exc, "status", None), request_body=body,
                              response_body=getattr(exc, "body", None), message=str(exc))
        if locked.state != S.SUBMITTING:  # another worker's attempt has settled it meanwhile
            return
        states.invoice_transition(
            invoice=locked, to=S.FAILED, source=InvoiceEvent.Source.WORKER,
            history={"reason": str(exc)}, state_updated_at=timezone.now(), last_error=str(exc),
            remote_field_errors=getattr(exc, "field_errors", {}) or {})
    log(logging.WARNING, invoice, "rejected by B2Brouter: %s", exc)


def _error_texts(errors) -> list[str]:
    texts = []
    for error in errors or []:
        texts.append(error.get("error", str(error)) if isinstance(error, dict) else str(error))
    return texts
