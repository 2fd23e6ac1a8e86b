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


# B2Brouter's day may not be ours: a date filter is read from the cursor moved back this much,
# so that it starts no later than the cursor in any time zone (UTC-12 to UTC+14).
DAY_SAFETY = timedelta(hours=14)


def _latest_per_invoice(items) -> dict:
    """One change per invoice, the latest by `state_updated_at`: the answer is in no documented
    order and may hold an invoice twice (it changed while the pages were read)."""
    latest: dict = {}
    for item in items:
        if not isinstance(item, dict) or item.get("id") is None:
            continue
        moment = services.parse_timestamp(item.get("state_updated_at"))
        kept = latest.get(item["id"])
        if kept is None or (moment and (kept[0] is None or moment >= kept[0])):
            latest[item["id"]] = (moment, item)
    return latest


def account_sync_states(*, account: Account, page_size: int = 100) -> SyncResult:
    """Applies every state change B2Brouter reports since the last successful sync.

    `state_updated_at_from` is sent in its documented form, a date: every change since the start
    of the cursor's day (in any time zone) is listed, in no promised order. Every page is read
    (offset by offset), the changes are reduced to the latest per invoice, an invoice whose
    state we already have is skipped without a write, and the rest go through the one state
    machine. The cursor moves to the latest change seen only once a pass is complete: a crash
    re-reads from the same day, and changes sharing a day overlap instead of being missed.
    Applying is idempotent, so overlaps cost reads, never a wrong state.
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
    newest = since
    changes: dict = {}
    for page in client.iter_invoices(account.remote_id, page_size=page_size,
                                     state_updated_at_from=(since - DAY_SAFETY).date()):
        result.pages += 1
        result.seen += len(page.items)
        for remote_id, (moment, item) in _latest_per_invoice(page.items).items():
            kept = changes.get(remote_id)
            if kept is None or (moment and (kept[0] is None or moment >= kept[0])):
                changes[remote_id] = (moment, item)
            if moment and moment > newest:
                newest = moment
    result.applied = _apply_changes(account, changes)
    SyncCursor.objects.filter(pk=cursor.pk).update(state_updated_at_from=newest,
                                                    last_success_at=timezone.now())
    logger.info("account=%s sync pages=%s seen=%s applied=%s", account.remote_id, result.pages,
                result.seen, result.applied)
    return result


def _apply_changes(account: Account, changes: dict) -> int:
    """Applies the changes whose state, Chorus status or reason we do not already hold; one
    read for the whole set, then one short transaction per invoice that changes."""
    if not changes:
        return 0
    held = {
        remote_id: (state, chorus_status, reason)
        for remote_id, state, chorus_status, reason in Invoice.objects.filter(
            account=account, remote_id__in=list(changes)).values_list(
            "remote_id", "state", "chorus_status", "chorus_status_reason")
    }
    applied = 0
    for remote_id, (_moment, item) in sorted(changes.items(), key=lambda kv: kv[1][0] or _EPOCH):
        mine = held.get(remote_id)
        if mine is None:
            continue  # not one of ours (another system's invoice in the same account)
        if _nothing_new(mine, item):
            continue
        if services.invoice_apply_remote(remote=item, source=InvoiceEvent.Source.POLL):
            applied += 1
    return applied


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _nothing_new(mine: tuple, item: dict) -> bool:
    state, chorus_status, reason = mine
    if item.get("state") != state:
        return False
    if item.get("chorus_status") and item["chorus_status"] != chorus_status:
        return False
    theirs = item.get("refuse_reason") or item.get("chorus_status_reason") or ""
    return not theirs or theirs == reason


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
