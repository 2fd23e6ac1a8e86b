"""Reads of the directory app, always scoped to the accounts a user works for."""

from django.db.models import Prefetch, Q, QuerySet

from core.selectors import accounts_for
from directory.models import Buyer, Service


def buyer_list(*, user, query: str = "") -> QuerySet[Buyer]:
    """The buyers of the user's accounts; `query` matches the SIRET (spaces ignored) or the name."""
    buyers = (
        Buyer.objects.filter(account__in=accounts_for(user))
        .select_related("account")
        .prefetch_related(Prefetch("services", queryset=Service.objects.order_by("code")))
        .order_by("name", "pk")
    )
    query = (query or "").strip()
    if query:
        digits = "".join(query.split())
        condition = Q(name__icontains=query)
        if digits.isdigit():
            condition |= Q(siret__startswith=digits)
        buyers = buyers.filter(condition)
    return buyers


def buyers_with_siret(*, user, siret: str) -> QuerySet[Buyer]:
    return buyer_list(user=user).filter(siret=siret)
