"""B2Brouter's webhooks: verified, stored once, then applied by a worker through the one state
machine. The receiving side does as little as it can, so that it answers fast."""

import hashlib
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from b2brouter.webhooks import (
    INVOICE_STATE_CHANGE,
    TAX_REPORT_STATE_CHANGE,
    InvalidPayload,
    InvalidSignature,
    InvoiceStateChange,
    WebhookPayload,
    parse_webhook,
    verify_signature,
)
from invoicing.models import InvoiceEvent, WebhookEvent
from invoicing.services import enqueue
from invoicing.services.remote import invoice_apply_remote, invoice_read_remote

logger = logging.getLogger(__name__)


class WebhookRejected(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@sensitive_variables("secret", "signature")
def webhook_receive(*, body: bytes, signature: str) -> WebhookEvent | None:
    """Verifies and stores one notification; the processing task is enqueued on commit.

    Returns the new event, or None for a repeat (already stored) or an event we do not handle.
    Raises WebhookRejected for a bad signature, a stale or replayed timestamp, or a bad body.
    """
    secret = settings.B2BROUTER_WEBHOOK_SECRET
    if not secret:
        raise WebhookRejected("webhooks are not configured", status=503)
    try:
        verify_signature(secret, signature or "", body)
    except InvalidSignature as exc:
        raise WebhookRejected(f"invalid signature: {exc}", status=401) from exc
    try:
        payload = parse_webhook(body)
        if payload.code == TAX_REPORT_STATE_CHANGE:
            change = payload.tax_report_state_change()
            prefix = "tax_report:"
        elif payload.code == INVOICE_STATE_CHANGE:
            change = payload.invoice_state_change()
            prefix = ""
        else:
            return None
    except InvalidPayload as exc:
        raise WebhookRejected("malformed body") from exc
    key = prefix + (str(change.event_id) if change.event_id is not None
                    else "sha256:" + hashlib.sha256(body).hexdigest())
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                dedupe_key=key, code=payload.code, remote_invoice_id=change.invoice_id,
                state=change.state[:20], triggered_at=change.triggered_at, payload=payload.raw)
            enqueue.webhook_process_later(event.pk)
    except IntegrityError:
        return None
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise WebhookRejected("malformed body") from exc
    return event


def webhook_process(*, event_pk: int) -> str:
    """Applies a stored notification once. Idempotent; returns its outcome.

    A refusal or an error notified without `notes` is read from B2Brouter first (outside any
    transaction), so that its documented `refuse_reason` reaches the invoice and its worklist.
    A notice that cannot be read (stored before a check refused such bodies) is recorded as
    `unreadable`, once. Each run is counted: the reconciler gives up a notice that keeps failing
    (`remote.MAX_WEBHOOK_ATTEMPTS`) instead of running it for ever.
    """
    if not WebhookEvent.objects.filter(pk=event_pk, processed_at__isnull=True).update(
            attempts=F("attempts") + 1):
        return WebhookEvent.objects.get(pk=event_pk).outcome
    event = WebhookEvent.objects.get(pk=event_pk)
    if event.code == TAX_REPORT_STATE_CHANGE:
        return _tax_report_process(event)
    try:
        change = InvoiceStateChange.from_payload(WebhookPayload.from_dict(event.payload))
    except InvalidPayload:
        logger.error("B2Brouter notice %s cannot be read: recorded as unreadable", event.pk)
        WebhookEvent.objects.filter(pk=event_pk, processed_at__isnull=True).update(
            outcome="unreadable", processed_at=timezone.now())
        return "unreadable"
    remote, whole_seconds = change.as_invoice(), not change.state_updated_at
    trusted_url = False  # a notice's legal XML address is never kept (see remote._legal_url)
    if change.state in ("refused", "error") and not change.notes:
        read = invoice_read_remote(remote_id=change.invoice_id)
        if read is not None:
            remote, whole_seconds, trusted_url = read, False, True
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_pk)
        if event.processed_at is not None:
            return event.outcome
        changed = invoice_apply_remote(remote=remote, source=InvoiceEvent.Source.WEBHOOK,
                                       remote_event_id=change.event_id,
                                       whole_seconds=whole_seconds, trusted_url=trusted_url)
        event.outcome = "applied" if changed else "ignored"
        event.processed_at = timezone.now()
        event.save(update_fields=["outcome", "processed_at"])
    return event.outcome


def _tax_report_process(event: WebhookEvent) -> str:
    """A tax report reached an end: it is read at B2Brouter (outside any transaction) and what
    B2Brouter says of it is recorded; the notice itself is only the signal to read it."""
    from invoicing.services import reform

    try:
        change = WebhookPayload.from_dict(event.payload).tax_report_state_change()
    except InvalidPayload:
        outcome = "unreadable"
    else:
        outcome = reform.tax_report_refresh(remote_id=change.tax_report_id,
                                            source=InvoiceEvent.Source.WEBHOOK)
    WebhookEvent.objects.filter(pk=event.pk, processed_at__isnull=True).update(
        outcome=outcome[:20], processed_at=timezone.now())
    return outcome
