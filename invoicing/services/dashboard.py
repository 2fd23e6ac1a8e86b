"""The dashboard's news: what changed on a user's invoices since their last visit."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from invoicing.models import UserActivity
from invoicing.selectors import changes_since

SESSION_KEY = "news_since"


def user_dashboard_visit(*, user, session) -> dict:
    """What changed on the user's invoices since their last visit, one line per invoice (its
    latest change, with how many there were), newest first.

    The reference is the visit before this session began: the news stays on the dashboard
    while the user works, until they mark it read (`user_news_read`) or sign in again.
    Returns {"since": datetime | None, "items": [...]}.
    """
    kept = session.get(SESSION_KEY)
    if kept is not None:
        since = datetime.fromisoformat(kept) if kept else None
    else:
        with transaction.atomic():
            activity, _ = UserActivity.objects.select_for_update().get_or_create(user=user)
            since = activity.dashboard_seen_at
            activity.dashboard_seen_at = timezone.now()
            activity.save(update_fields=["dashboard_seen_at"])
        session[SESSION_KEY] = since.isoformat() if since else ""
    return {"since": since, "items": _per_invoice(changes_since(user=user, since=since))}


def user_news_read(*, user, session) -> None:
    """The news seen so far is read: the dashboard shows only what comes after."""
    now = timezone.now()
    UserActivity.objects.update_or_create(user=user, defaults={"dashboard_seen_at": now})
    session[SESSION_KEY] = now.isoformat()


def _per_invoice(events) -> list[dict]:
    items: dict[int, dict] = {}
    for event in events:  # newest first
        item = items.setdefault(event.invoice_id, {"event": event, "changes": 0})
        item["changes"] += 1
    return list(items.values())
