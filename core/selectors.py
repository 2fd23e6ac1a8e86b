"""Reads every app shares: which accounts a user works for."""

from django.db.models import QuerySet

from core.models import Account


def accounts_for(user) -> QuerySet[Account]:
    """The accounts a user works for; superusers see every account."""
    if user.is_superuser:
        return Account.objects.all()
    return Account.objects.filter(users=user)


def account_ids(user) -> list[int]:
    """The ids of `accounts_for(user)`, read once per request (kept on the user object).

    Filtering on a list of ids rather than a subquery lets the database walk the
    (account, created_at) index in order instead of sorting every invoice of the account.
    """
    ids = getattr(user, "_account_ids", None)
    if ids is None:
        ids = list(accounts_for(user).values_list("pk", flat=True))
        user._account_ids = ids
    return ids
