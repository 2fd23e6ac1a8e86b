"""The dashboard's news: what changed on a user's invoices since their last visit."""

from django.db import transaction
from django.utils import timezone

from invoicing.models import UserActivity
from invoicing.selectors import changes_since


def user_dashboard_visit(*, user) -> dict:
    """What changed on the user's invoices since their last visit; marks this visit as seen.

    Returns {"since": datetime | None, "events": [...]} (the latest changes, newest first).
    """
    with transaction.atomic():
        activity, _ = UserActivity.objects.select_for_update().get_or_create(user=user)
        since = activity.dashboard_seen_at
        activity.dashboard_seen_at = timezone.now()
        activity.save(update_fields=["dashboard_seen_at"])
    return {"since": since, "events": list(changes_since(user=user, since=since))}
