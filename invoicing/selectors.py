"""Reads: what each user may see, in as few queries as the page needs."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    When,
)

from core.selectors import account_ids, accounts_for
from directory.models import Buyer
from invoicing.models import Invoice, InvoiceEvent, InvoiceStateTotal


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
    if filters.get("mistyped"):
        invoices = invoices.none()
    query = (filters.get("q") or "").strip()
    if query:
        # Number, PO, or the buyer by name or SIRET: each an indexed condition on the invoice
        # row (trigram indexes on PostgreSQL, migration 0017), the buyers found first (few).
        digits = query.replace(" ", "")
        buyers = list(Buyer.objects.filter(account_id__in=account_ids(user)).filter(
            Q(name__icontains=query) | Q(siret__icontains=digits)).values_list("pk", flat=True)[:200])
        invoices = invoices.filter(Q(number__icontains=query) | Q(po_number__icontains=query)
                                   | Q(buyer_id__in=buyers))
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
    replaced = Exists(Invoice.objects.filter(replaces=OuterRef("pk")))
    return invoices.select_related("buyer").annotate(is_replaced=replaced).order_by(*sort)


@dataclass(frozen=True)
class StateSummary:
    state: str
    label: str
    count: int  # invoices and credit notes
    total: Decimal  # net: credit notes subtracted
    credit_count: int = 0  # of which credit notes


# An invoice's total, negative for a credit note: what it adds to a sum of amounts.
SIGNED_TOTAL = Case(When(kind=Invoice.Kind.CREDIT_NOTE, then=-F("total")), default=F("total"),
                    output_field=DecimalField(max_digits=18, decimal_places=2))


def invoice_state_summary(invoices: QuerySet[Invoice]) -> list[StateSummary]:
    """Count and net sum of totals per state of `invoices`, in one GROUP BY query."""
    labels = dict(Invoice.State.choices)
    rows = (
        invoices.order_by().values("state")
        .annotate(count=Count("id"), amount=Sum(SIGNED_TOTAL),
                  credits=Count("id", filter=Q(kind=Invoice.Kind.CREDIT_NOTE)))
        .order_by("state")
    )
    summary = [StateSummary(state=row["state"], label=labels.get(row["state"], row["state"]),
                            count=row["count"], total=row["amount"] or Decimal("0.00"),
                            credit_count=row["credits"])
               for row in rows]
    order = list(labels)
    return sorted(summary, key=lambda s: order.index(s.state) if s.state in order else 99)


def invoice_state_totals(*, user) -> list[StateSummary]:
    """The same as `invoice_state_summary` over all the user's invoices, read from the counts
    the database keeps (InvoiceStateTotal): one small query whatever the number of invoices."""
    labels = dict(Invoice.State.choices)
    rows = (
        InvoiceStateTotal.objects.filter(account_id__in=account_ids(user), count__gt=0)
        .values("state").annotate(count=Sum("count"), amount=Sum("total"),
                                  credits=Sum("credit_count")).order_by("state")
    )
    order = list(labels)
    summary = [StateSummary(state=row["state"], label=labels.get(row["state"], row["state"]),
                            count=row["count"], total=row["amount"] or Decimal("0.00"),
                            credit_count=row["credits"] or 0)
               for row in rows]
    return sorted(summary, key=lambda s: order.index(s.state) if s.state in order else 99)


def changes_since(*, user, since, limit: int = 20, window: int = 2000):
    """State changes of the user's invoices since their last visit, newest first.

    Reads at most the `window` newest state changes (by id: no sort of the whole history), then
    keeps the user's: constant work however long the history.
    """
    candidates = InvoiceEvent.objects.filter(kind=InvoiceEvent.Kind.STATE)
    if since:  # a range of the created_at index
        candidates = candidates.filter(created_at__gt=since).order_by("-created_at")
    else:  # the primary key, walked backwards
        candidates = candidates.order_by("-id")
    newest = list(candidates.values_list("id", flat=True)[:window])
    if not newest:
        return []
    return (InvoiceEvent.objects.filter(id__in=newest, invoice__account_id__in=account_ids(user))
            .select_related("invoice").order_by("-id")[:limit])
