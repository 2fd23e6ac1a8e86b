"""Reads: what each user may see, in as few queries as the page needs."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from directory.models import Buyer
from invoicing.models import Account, Invoice, InvoiceStateTotal


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


def invoice_list(*, user) -> QuerySet[Invoice]:
    return (
        Invoice.objects.filter(account_id__in=account_ids(user))
        .select_related("buyer", "service", "account")
        .order_by("-created_at", "-id")
    )


def buyers_for(*, user) -> QuerySet[Buyer]:
    return Buyer.objects.filter(account__in=accounts_for(user)).order_by("name", "pk")


def invoice_search(*, user, filters: dict, sort: tuple[str, ...] = ("-created_at", "-id")
                   ) -> QuerySet[Invoice]:
    """The user's invoices matching `filters` (keys of `forms.InvoiceFilterForm`), sorted.

    Every filter is a plain indexed condition on the invoice row (the buyer by id), so the count
    and the page stay single queries whatever the number of invoices.
    """
    invoices = Invoice.objects.filter(account_id__in=account_ids(user))
    query = (filters.get("q") or "").strip()
    if query:
        invoices = invoices.filter(Q(number__icontains=query) | Q(po_number__icontains=query))
    if filters.get("state"):
        invoices = invoices.filter(state=filters["state"])
    if filters.get("buyer"):
        invoices = invoices.filter(buyer=filters["buyer"])
    if filters.get("date_from"):
        invoices = invoices.filter(issue_date__gte=filters["date_from"])
    if filters.get("date_to"):
        invoices = invoices.filter(issue_date__lte=filters["date_to"])
    if filters.get("amount_min") is not None:
        invoices = invoices.filter(total__gte=filters["amount_min"])
    if filters.get("amount_max") is not None:
        invoices = invoices.filter(total__lte=filters["amount_max"])
    return invoices.select_related("buyer").order_by(*sort)


@dataclass(frozen=True)
class StateSummary:
    state: str
    label: str
    count: int
    total: Decimal


def invoice_state_summary(invoices: QuerySet[Invoice]) -> list[StateSummary]:
    """Count and sum of totals per state of `invoices`, in one GROUP BY query."""
    labels = dict(Invoice.State.choices)
    rows = (
        invoices.order_by().values("state")
        .annotate(count=Count("id"), amount=Sum("total"))
        .order_by("state")
    )
    summary = [StateSummary(state=row["state"], label=labels.get(row["state"], row["state"]),
                            count=row["count"], total=row["amount"] or Decimal("0.00"))
               for row in rows]
    order = list(labels)
    return sorted(summary, key=lambda s: order.index(s.state) if s.state in order else 99)


def invoice_state_totals(*, user) -> list[StateSummary]:
    """The same as `invoice_state_summary` over all the user's invoices, read from the counts
    the database keeps (InvoiceStateTotal): one small query whatever the number of invoices."""
    labels = dict(Invoice.State.choices)
    rows = (
        InvoiceStateTotal.objects.filter(account_id__in=account_ids(user), count__gt=0)
        .values("state").annotate(count=Sum("count"), amount=Sum("total")).order_by("state")
    )
    order = list(labels)
    summary = [StateSummary(state=row["state"], label=labels.get(row["state"], row["state"]),
                            count=row["count"], total=row["amount"] or Decimal("0.00"))
               for row in rows]
    return sorted(summary, key=lambda s: order.index(s.state) if s.state in order else 99)
