"""What B2Brouter says about our invoices, applied through the one state machine: one invoice
(a GET, a webhook, the submission's answer), every change since the last poll, and the reconciler
that leaves nothing stuck.

Idempotent and order-proof: a repeated or older update changes nothing, no update moves an
invoice backwards, and the HTTP calls are made outside any transaction.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

import b2brouter
from core.gateway import b2brouter_client
from core.models import Account
from invoicing import states
from invoicing.models import (
    Invoice,
    InvoiceEvent,
    InvoicePdf,
    LegalDocument,
    SyncCursor,
    WebhookEvent,
)
from invoicing.models import InvoiceState as S
from invoicing.services import enqueue, events
from invoicing.services.logs import invoice_log_context, log

logger = logging.getLogger(__name__)


def parse_timestamp(value) -> datetime | None:
    """A moment as B2Brouter writes it (ISO 8601), or None when there is none or it is no real
    moment ("2026-13-45..."): the update is then applied without it, never failed for it."""
    if not value or isinstance(value, datetime):
        return value or None
    try:
        return parse_datetime(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None


def _error_texts(errors) -> list[str]:
    texts = []
    for error in errors or []:
        texts.append(error.get("error", str(error)) if isinstance(error, dict) else str(error))
    return texts


def _reason(remote: dict) -> str:
    """Why B2Brouter refused or failed the invoice: its documented `refuse_reason`, a webhook's
    `notes`, or Chorus Pro's reason when B2Brouter adds it."""
    return str(remote.get("refuse_reason") or remote.get("notes")
               or remote.get("chorus_status_reason") or "")


def _legal_url(invoice: Invoice, remote: dict, *, trusted_url: bool) -> tuple[str, bool]:
    """The legal XML's address to keep, and whether B2Brouter gave one we did not have.

    Kept only when B2Brouter gave it in an answer to our own call (a GET, a list page, the
    submission) and it is on B2Brouter's host. A notice's address (a webhook, whose payload
    anyone holding the secret could shape) is never kept: one that differs from ours clears it,
    and the fetch asks `GET /invoices/{id}` for the address of that very invoice."""
    url = str(remote.get("download_legal_url") or "")
    if not url or url in (invoice.download_legal_url, invoice.legal_url_refused):
        return invoice.download_legal_url, False  # nothing new (or a file found not ours)
    if not trusted_url:
        return "", True
    if not legal_url_on_host(url):
        events.legal_url_refused_event(invoice=invoice, url=url)
        log(logging.WARNING, invoice, "legal XML address not on B2Brouter's host: not kept")
        return invoice.download_legal_url, False
    return url, True


def legal_url_on_host(url: str) -> bool:
    try:
        b2brouter_client().own_path(url)
    except ValueError:
        return False
    return True


def apply_remote_locked(invoice: Invoice, remote: dict, *, source: str,
                        remote_event_id: int | None = None, whole_seconds: bool = False,
                        trusted_url: bool = True) -> bool:
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
    if remote.get("tax_report_ids"):
        from invoicing.services import reform
        reform.tax_reports_seen(invoice, remote.get("tax_report_ids"))
    new_state = remote.get("state")
    remote_ts = parse_timestamp(remote.get("state_updated_at"))
    if new_state and not states.is_known(new_state):
        recorded = events.unknown_state_event(invoice=invoice, source=source, state=new_state,
                                              remote_state_updated_at=remote_ts, remote=remote)
        if recorded:
            log(logging.WARNING, invoice, "unknown B2Brouter state %r recorded", new_state)
        return recorded is not None
    legal_url, learned_url = _legal_url(invoice, remote, trusted_url=trusted_url)

    def keep_url() -> None:
        """No transition follows: an address learned (none held) or cleared is saved alone."""
        if legal_url != invoice.download_legal_url and (
                not invoice.download_legal_url or not legal_url):
            invoice.download_legal_url = legal_url
            invoice.save(update_fields=["download_legal_url", "updated_at"])

    ours = invoice.state_updated_at
    if ours and whole_seconds:
        ours = ours.replace(microsecond=0)
    if remote_ts and ours and remote_ts < ours:
        keep_url()
        return False
    chorus_status = remote.get("chorus_status") or ""
    reason = _reason(remote)
    if new_state == invoice.state:
        keep_url()
        return _same_state_news(invoice, chorus_status, reason, source=source)
    if not states.is_forward(invoice.state, new_state):
        keep_url()
        return False
    previous = invoice.state
    newly_deposited = new_state in states.DEPOSITED_STATES and (
        previous not in states.DEPOSITED_STATES or learned_url)
    reason = reason if new_state in (S.REFUSED, S.ERROR) or chorus_status else ""
    fields = {"state_updated_at": remote_ts or timezone.now(), "chorus_status": chorus_status,
              "chorus_status_reason": reason}
    if learned_url:
        fields["download_legal_url"] = legal_url
    if new_state == S.ERROR:
        fields["last_error"] = ("; ".join(_error_texts(remote.get("errors"))) or reason
                                or invoice.last_error)
    states.invoice_transition(
        invoice=invoice, to=new_state, source=source,
        history={"chorus_status": chorus_status, "reason": reason,
                 "remote_event_id": remote_event_id, "remote_state_updated_at": remote_ts,
                 "response_body": remote},
        **fields)
    if newly_deposited:
        # Once per deposit: later changes (registered, accepted...) need no second fetch.
        enqueue.fetch_legal_later(invoice.pk)
        enqueue.fetch_pdf_later(invoice.pk)
    if new_state in (S.REFUSED, S.ERROR):
        enqueue.notify_later(invoice.pk)
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
    events.remote_news_event(invoice=invoice, source=source)
    return True


def invoice_apply_remote(*, remote: dict, source: str, remote_event_id: int | None = None,
                         whole_seconds: bool = False, trusted_url: bool = True) -> bool:
    """Applies B2Brouter's view of one invoice (from a GET, a list page or a webhook) to ours.

    Idempotent and order-proof: a repeated or older update changes nothing, and no update moves
    an invoice backwards. Unknown invoices (another system's) are ignored. Returns True on a change.
    """
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().filter(remote_id=remote["id"]).first()
        if invoice is None:
            return False
        changed = apply_remote_locked(invoice, remote, source=source,
                                      remote_event_id=remote_event_id,
                                      whole_seconds=whole_seconds, trusted_url=trusted_url)
    if changed:
        log(logging.INFO, invoice, "state %s (%s)", invoice.state, source)
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
        log(logging.WARNING, invoice, "could not read the invoice from B2Brouter: %s", exc)
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
        moment = parse_timestamp(item.get("state_updated_at"))
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
    todo = [(remote_id, item) for remote_id, (_moment, item)
            in sorted(changes.items(), key=lambda kv: kv[1][0] or _EPOCH)
            if remote_id in held  # not one of ours: another system's invoice in the account
            and not _nothing_new(held[remote_id], item)]
    applied = 0
    for start in range(0, len(todo), SYNC_BATCH):
        applied += _apply_batch(account, todo[start:start + SYNC_BATCH])
    return applied


# Changes applied per transaction: one lock query, one UPDATE per set of changed fields and one
# write of the history rows for the lot (COPY), instead of four or five queries per change.
SYNC_BATCH = 200


def _apply_batch(account: Account, todo: list) -> int:
    with transaction.atomic():
        locked = {invoice.remote_id: invoice for invoice in Invoice.objects.select_for_update()
                  .filter(account=account, remote_id__in=[remote_id for remote_id, _ in todo])
                  .order_by("pk")}
        applied = 0
        # One UPDATE per set of fields and one INSERT of history for the lot; the fetches the
        # deposits need go as one message on commit, that a worker fans out.
        with enqueue.batched(), states.transitions_batched():
            for remote_id, item in todo:
                invoice = locked.get(remote_id)
                if invoice is not None and apply_remote_locked(
                        invoice, item, source=InvoiceEvent.Source.POLL):
                    applied += 1
    return applied


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PDF_RETRY_AFTER = timedelta(hours=1)


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
    task it enqueues is idempotent.

    Submissions first, each at most once a `stale_after` window. Then housekeeping (legal XML,
    PDFs, acknowledgements, webhooks that were not applied), in its own queue, each at most once
    a `HOUSEKEEPING_RETRY_AFTER` window and at most `HOUSEKEEPING_BATCH` of each kind per run,
    the oldest first: a backlog of thousands drains over a few runs and never floods the
    workers. A notice whose processing keeps failing is given up after `MAX_WEBHOOK_ATTEMPTS`
    runs."""
    now = timezone.now()
    stale = now - timedelta(seconds=stale_after)
    window = now - timedelta(seconds=settings.HOUSEKEEPING_RETRY_AFTER)
    batch = settings.HOUSEKEEPING_BATCH
    counts = {"submit": 0, "fetch_legal": 0, "ack": 0, "webhook": 0, "pdf": 0, "abandoned": 0}
    # A submission whose heartbeat stopped (its worker died), and a queued invoice whose task
    # has not run for a while (lost with a worker, or held by a broker that will not hand it
    # on). Each is re-enqueued at most once per window: its `updated_at` is moved on.
    stuck = list((Invoice.objects.filter(state=S.SUBMITTING, submit_started_at__lt=stale)
                  | Invoice.objects.filter(state=S.QUEUED, updated_at__lt=stale))
                 .values_list("pk", flat=True))
    Invoice.objects.filter(pk__in=stuck).update(updated_at=now)
    for pk in stuck:
        enqueue.again(enqueue.SUBMIT, pk)
        counts["submit"] += 1

    def due(field: str, first_after) -> Q:
        """Never asked and older than `first_after`, or last asked before the window."""
        return Q(**{f"{field}__isnull": True, **first_after}) | Q(**{f"{field}__lt": window})

    current_doc = LegalDocument.objects.filter(invoice=OuterRef("pk"),
                                               submission_round=OuterRef("submission_round"))
    missing = Invoice.objects.filter(state__in=states.DEPOSITED_STATES).exclude(
        Exists(current_doc)).filter(due("legal_attempted_at", {"state_updated_at__lt": stale}))
    counts["fetch_legal"] = _again(enqueue.FETCH_LEGAL, missing, "legal_attempted_at",
                                   batch=batch, now=now)
    unacked = LegalDocument.objects.filter(
        acknowledged_at__isnull=True, submission_round=F("invoice__submission_round")).filter(
        due("ack_attempted_at", {"fetched_at__lt": stale}))
    counts["ack"] = _again(enqueue.ACKNOWLEDGE, unacked, "ack_attempted_at", batch=batch,
                           now=now, arg="invoice_id")
    # A PDF not made in time by B2Brouter (its task gave up) is asked for again, once an hour.
    current_pdf = InvoicePdf.objects.filter(invoice=OuterRef("pk"),
                                            submission_round=OuterRef("submission_round"))
    pdf_missing = Invoice.objects.filter(state__in=states.DEPOSITED_STATES).exclude(
        Exists(current_pdf)).filter(
        Q(pdf_attempted_at__isnull=True, state_updated_at__lt=stale)
        | Q(pdf_attempted_at__lt=min(now - PDF_RETRY_AFTER, window)))
    counts["pdf"] = _again(enqueue.FETCH_PDF, pdf_missing, "pdf_attempted_at", batch=batch,
                           now=now)
    pending = WebhookEvent.objects.filter(processed_at__isnull=True, received_at__lt=stale)
    counts["abandoned"] = pending.filter(attempts__gte=MAX_WEBHOOK_ATTEMPTS).update(
        processed_at=now, outcome="abandoned")
    if counts["abandoned"]:
        logger.error("%s B2Brouter notices given up after %s failed runs (outcome 'abandoned')",
                     counts["abandoned"], MAX_WEBHOOK_ATTEMPTS)
    counts["webhook"] = _again(enqueue.WEBHOOK_PROCESS, pending.filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=window)), "enqueued_at", batch=batch,
        now=now)
    if any(counts.values()):
        logger.warning("reconcile re-enqueued %s", counts)
    return counts


# A notice whose processing failed this many times (a bug, a field no code can read) is
# recorded as abandoned instead of being run again for ever.
MAX_WEBHOOK_ATTEMPTS = 5


def _again(name: str, queryset, field: str, *, batch: int, now, arg: str = "pk") -> int:
    """Enqueues `name` (in the housekeeping queue) for at most `batch` rows of `queryset`, the
    least recently asked first, and marks each as asked now (`field`): once per window."""
    rows = list(queryset.order_by(F(field).asc(nulls_first=True), "pk")
                .values_list("pk", arg)[:batch])
    if not rows:
        return 0
    queryset.model.objects.filter(pk__in=[pk for pk, _arg in rows]).update(**{field: now})
    for _pk, value in rows:
        enqueue.again(name, value, housekeeping=True)
    return len(rows)
