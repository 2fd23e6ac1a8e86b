"""Polling, the fallback when webhooks are lost, and the reconciler that leaves nothing stuck."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Exists, Min, OuterRef
from django.utils import timezone

from invoicing import services, states
from invoicing.gateway import b2brouter_client
from invoicing.models import Account, Invoice, InvoiceEvent, LegalDocument, SyncCursor, WebhookEvent
from invoicing.models import InvoiceState as S

logger = logging.getLogger(__name__)


@dataclass
class SyncResult:
    pages: int = 0
    seen: int = 0
    applied: int = 0


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def account_sync_states(*, account: Account, page_size: int = 100) -> SyncResult:
    """Applies every state change B2Brouter reports since the last successful sync.

    Pages through `state_updated_at_from` in B2Brouter's (ascending) order, moving the cursor
    after each page, so a crash resumes where it stopped and re-reads at most one page; changes
    made while it runs are not skipped (no offset drift, as the cursor is a timestamp). Applying is
    idempotent, so overlaps cost nothing. Costs one call per page of changes, not per invoice.
    """
    result = SyncResult()
    if account.remote_id is None:
        return result
    cursor, _ = SyncCursor.objects.get_or_create(account=account)
    since = cursor.state_updated_at_from
    if since is None:
        first = account.invoices.filter(remote_id__isnull=False).aggregate(first=Min("created_at"))
        if first["first"] is None:
            return result
        since = first["first"] - timedelta(minutes=5)
    client = b2brouter_client()
    offset = 0
    while True:
        page = client.list_invoices(account.remote_id, offset=offset, limit=page_size,
                                    state_updated_at_from=_iso(since))
        result.pages += 1
        for item in page.items:
            result.seen += 1
            if services.invoice_apply_remote(remote=item, source=InvoiceEvent.Source.POLL):
                result.applied += 1
        if not page.items:
            break
        newest = services.parse_timestamp(page.items[-1]["state_updated_at"])
        at_newest = sum(1 for i in page.items if services.parse_timestamp(i["state_updated_at"]) == newest)
        if newest == since:
            offset += len(page.items)
        else:
            since, offset = newest, at_newest
        SyncCursor.objects.filter(pk=cursor.pk).update(state_updated_at_from=since)
        if len(page.items) < page_size:
            break
    SyncCursor.objects.filter(pk=cursor.pk).update(state_updated_at_from=since,
                                                    last_success_at=timezone.now())
    logger.info("account=%s sync pages=%s seen=%s applied=%s", account.remote_id, result.pages,
                result.seen, result.applied)
    return result


def sync_all_accounts() -> None:
    for account in Account.objects.filter(remote_id__isnull=False):
        account_sync_states(account=account)


def reconcile(*, stale_after: int) -> dict[str, int]:
    """Re-enqueues whatever a lost task or a dead worker left behind. Safe at any time: every
    task it enqueues is idempotent."""
    from invoicing.tasks import (
        invoice_acknowledge_task,
        invoice_fetch_legal_task,
        invoice_submit_task,
        webhook_process_task,
    )

    stale = timezone.now() - timedelta(seconds=stale_after)
    counts = {"submit": 0, "fetch_legal": 0, "ack": 0, "webhook": 0}
    stuck = Invoice.objects.filter(state=S.SUBMITTING, submit_started_at__lt=stale) | Invoice.objects.filter(
        state=S.QUEUED, updated_at__lt=stale
    )
    for pk in stuck.values_list("pk", flat=True):
        invoice_submit_task.delay(pk)
        counts["submit"] += 1
    current_doc = LegalDocument.objects.filter(invoice=OuterRef("pk"),
                                               submission_round=OuterRef("submission_round"))
    missing = Invoice.objects.filter(state__in=states.DEPOSITED_STATES).exclude(Exists(current_doc))
    for pk in missing.values_list("pk", flat=True):
        invoice_fetch_legal_task.delay(pk)
        counts["fetch_legal"] += 1
    unacked = Invoice.objects.filter(Exists(current_doc.filter(acknowledged_at__isnull=True,
                                                               fetched_at__lt=stale)))
    for pk in unacked.values_list("pk", flat=True):
        invoice_acknowledge_task.delay(pk)
        counts["ack"] += 1
    pending = WebhookEvent.objects.filter(processed_at__isnull=True, received_at__lt=stale)
    for pk in pending.values_list("pk", flat=True):
        webhook_process_task.delay(pk)
        counts["webhook"] += 1
    if any(counts.values()):
        logger.warning("reconcile re-enqueued %s", counts)
    return counts
