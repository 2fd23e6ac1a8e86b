"""B2Brouter's webhooks: verified, stored once, then applied by a worker through the one state
machine. The receiving side does as little as it can, so that it answers fast."""

import hashlib
import json
import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from b2brouter.webhooks import InvalidSignature, verify_signature
from invoicing import services
from invoicing.models import InvoiceEvent, WebhookEvent

logger = logging.getLogger(__name__)

INVOICE_STATE_CHANGE = "issued_invoice.state_change"


class WebhookRejected(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


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
    if b"\\u0000" in body or b"\x00" in body:
        # No B2Brouter field holds a NUL, and PostgreSQL cannot store one.
        raise WebhookRejected("malformed body")
    try:
        payload = json.loads(body)
        code = payload["code"]
        data = payload.get("data") or {}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookRejected("malformed body") from exc
    if not isinstance(data, dict) or (
        code == INVOICE_STATE_CHANGE and _int_or_none(data.get("invoice_id")) is None
    ):
        raise WebhookRejected("malformed body")
    if code != INVOICE_STATE_CHANGE:
        return None
    event_id = _int_or_none(data.get("event_id"))
    key = str(event_id) if event_id is not None else "sha256:" + hashlib.sha256(body).hexdigest()
    triggered = payload.get("triggered_at")
    from invoicing.tasks import webhook_process_task

    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                dedupe_key=key,
                code=code,
                remote_invoice_id=_int_or_none(data.get("invoice_id")),
                state=str(data.get("state") or "")[:20],
                triggered_at=_moment(triggered),
                payload=payload,
            )
            transaction.on_commit(lambda: webhook_process_task.delay(event.pk))
    except IntegrityError:
        return None
    except (TypeError, ValueError, OverflowError) as exc:
        raise WebhookRejected("malformed body") from exc
    return event


def _moment(value) -> datetime | None:
    """`triggered_at` (unix seconds) as a datetime; None when absent. Raises ValueError for
    anything else, including seconds no calendar date matches."""
    if value in (None, ""):
        return None
    seconds = _int_or_none(value)
    if seconds is None or seconds > 253402300799:  # 9999-12-31T23:59:59Z
        raise ValueError(f"bad triggered_at {value!r}")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _int_or_none(value):
    """An id as B2Brouter sends them (a positive integer that fits a bigint), else None."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 < number < 2**63 else None


def _remote_from(event: WebhookEvent) -> dict:
    """The invoice as a notification describes it. Documented: `invoice_id`, `event_id`,
    `state`, `notes`; used when present (sandbox extras): `chorus_status`, `state_updated_at`
    (else `triggered_at`, whole seconds) and `download_legal_url` (else a GET when needed)."""
    data = event.payload.get("data") or {}
    remote = {
        "id": event.remote_invoice_id,
        "state": data.get("state"),
        "chorus_status": data.get("chorus_status") or "",
        "notes": data.get("notes") or "",
        "state_updated_at": data.get("state_updated_at") or (
            event.triggered_at.isoformat() if event.triggered_at else None),
        "download_legal_url": data.get("download_legal_url") or None,
    }
    if data.get("state") == "error":
        remote["errors"] = [{"error": data.get("notes") or ""}]
    return remote


def webhook_process(*, event_pk: int) -> str:
    """Applies a stored notification once. Idempotent; returns its outcome.

    A refusal or an error notified without `notes` is read from B2Brouter first (outside any
    transaction), so that its documented `refuse_reason` reaches the invoice and its worklist.
    """
    event = WebhookEvent.objects.get(pk=event_pk)
    if event.processed_at is not None:
        return event.outcome
    data = event.payload.get("data") or {}
    remote, whole_seconds = _remote_from(event), not data.get("state_updated_at")
    if remote["state"] in ("refused", "error") and not remote["notes"]:
        read = services.invoice_read_remote(remote_id=event.remote_invoice_id)
        if read is not None:
            remote, whole_seconds = read, False
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_pk)
        if event.processed_at is not None:
            return event.outcome
        changed = services.invoice_apply_remote(
            remote=remote,
            source=InvoiceEvent.Source.WEBHOOK,
            remote_event_id=_int_or_none(data.get("event_id")),
            whole_seconds=whole_seconds,
        )
        event.outcome = "applied" if changed else "ignored"
        event.processed_at = timezone.now()
        event.save(update_fields=["outcome", "processed_at"])
    return event.outcome


@csrf_exempt  # B2Brouter signs its requests (X-B2Brouter-Signature) instead
@require_POST
def b2brouter_webhook(request: HttpRequest) -> JsonResponse:
    """Answers fast: verify, store, enqueue; the worker applies the change."""
    try:
        webhook_receive(body=request.body, signature=request.headers.get("X-B2Brouter-Signature", ""))
    except WebhookRejected as exc:
        return JsonResponse({"error": str(exc)}, status=exc.status)
    return JsonResponse({"status": "ok"})
