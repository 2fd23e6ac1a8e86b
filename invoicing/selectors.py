"""Reads: what each user may see, in as few queries as the page needs."""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.core.paginator import Paginator
from django.db.models import (
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from core.paging import open_page
from core.selectors import account_ids, accounts_for
from directory.models import Buyer
from invoicing.models import Invoice, InvoiceEvent, InvoiceStateTotal, TaxReport


def invoice_list(*, user) -> QuerySet[Invoice]:
    return (
        Invoice.objects.filter(account_id__in=account_ids(user))
        .select_related("buyer", "service", "account")
        .order_by("-created_at", "-id")
    )


def tax_reports_shown(invoice_ids: list[int]) -> dict[int, TaxReport]:
    """The latest declaration to the tax administration of each of these invoices (one query):
    what a list row says of it."""
    latest: dict[int, TaxReport] = {}
    if not invoice_ids:
        return latest
    for report in TaxReport.objects.filter(invoice_id__in=invoice_ids).order_by("pk"):
        latest[report.invoice_id] = report
    return latest


def buyers_for(*, user) -> QuerySet[Buyer]:
    return Buyer.objects.filter(account__in=accounts_for(user)).order_by("name", "pk")


def search_buyers(*, user, query: str) -> list[int]:
    """The user's buyers whose name or SIRET (spaces ignored) holds `query`: a few ids."""
    digits = query.strip().replace(" ", "")
    return list(Buyer.objects.filter(account_id__in=account_ids(user)).filter(
        Q(name__icontains=query.strip()) | Q(siret__icontains=digits))
        .values_list("pk", flat=True)[:200])


def invoice_search(*, user, filters: dict, sort: tuple[str, ...] = ("-created_at", "-id"),
                   buyers: list[int] | None = None, search: str = "all") -> QuerySet[Invoice]:
    """The user's invoices matching `filters` (keys of `forms.InvoiceFilterForm`), sorted.

    Every filter is a plain indexed condition on the invoice row. The search (`q`) matches the
    number or PO (trigram indexes on PostgreSQL, migration 0017) or the buyer, by the ids of
    `search_buyers` (read here unless given in `buyers`); `search` keeps only one side of it:
    "text" (number or PO) or "buyers", each answered from its own index.
    """
    invoices = Invoice.objects.filter(account_id__in=account_ids(user))
    if filters.get("mistyped"):
        invoices = invoices.none()
    query = (filters.get("q") or "").strip()
    if query:
        if buyers is None:
            buyers = search_buyers(user=user, query=query)
        text = Q(number__icontains=query) | Q(po_number__icontains=query)
        by_buyer = Q(buyer_id__in=buyers)
        invoices = invoices.filter({"text": text, "buyers": by_buyer}.get(search, text | by_buyer))
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


# Sorts no index serves (the buyer's name is in another table; a state holds most invoices):
# offered while the list holds at most MATCHES_COUNTED invoices, then the newest first.
UNINDEXED_SORTS = {"buyer", "state"}


@dataclass(frozen=True)
class ListPage:
    page: object  # a Django Page (with its total) or a core.paging.OpenPage (without)
    summary: list  # StateSummary per state; empty when `many`
    count: int | None  # invoices listed (in the chosen state); None when `many`
    many: bool  # more than MATCHES_COUNTED match the filters: no counts, no totals
    sort_key: str  # the sort applied (the default one when the asked one was dropped)
    sort_dropped: bool


def invoice_list_page(*, user, filters: dict, sort_key: str, sorts: dict, page, page_size: int,
                      default_sort: str = "-created") -> ListPage:
    """One page of the invoice list and its counts per state, each query bounded whatever the
    number of invoices. Unfiltered, the counts and totals per state come from the totals the
    database keeps; filtered or searched, from the matches themselves, read once (at most
    MATCHES_COUNTED of them: the page is then sorted among those ids). Beyond that many the list
    says "more than", pages without a total, and sorts only along an index."""
    other_filters = {k: v for k, v in filters.items() if k != "state" and v not in (None, "")}
    query = (filters.get("q") or "").strip()
    buyers = search_buyers(user=user, query=query) if query else None
    matches = (invoice_matches(user=user, filters=other_filters, buyers=buyers)
               if other_filters else None)
    many = bool(other_filters) and matches is None
    if many:
        summary = []
    elif matches is not None:
        summary = matches_summary(matches)
    else:
        summary = invoice_state_totals(user=user)
    count = None if many else sum(
        s.count for s in summary if not filters.get("state") or s.state == filters["state"])
    dropped = sort_key.lstrip("-") in UNINDEXED_SORTS and (many or count > MATCHES_COUNTED)
    if dropped:
        sort_key = default_sort
    if matches is not None:  # the page among the matches already read, by their ids
        invoices = invoice_search(user=user, filters={"state": filters.get("state")},
                                  sort=sorts[sort_key]).filter(pk__in=[row[0] for row in matches])
    else:
        invoices = invoice_search(user=user, filters=filters, sort=sorts[sort_key], buyers=buyers)
    if many:
        shown = open_page(invoices, page, page_size)
    else:
        paginator = Paginator(invoices, page_size)
        paginator.count = count  # known from the summary: no COUNT(*) query
        shown = paginator.get_page(page)
    return ListPage(page=shown, summary=summary, count=count, many=many, sort_key=sort_key,
                    sort_dropped=dropped)


def replaced_marked(invoices: list[Invoice]) -> list[Invoice]:
    """Sets `is_replaced` on each of a page's invoices (a new invoice replaces it), in one query
    on the page's ids: as a subquery of the list, PostgreSQL would hash every invoice's
    `replaces` to answer it, a cost that grows with the data."""
    if invoices:
        replaced = set(Invoice.objects.filter(replaces_id__in=[i.pk for i in invoices])
                       .values_list("replaces_id", flat=True))
        for invoice in invoices:
            invoice.is_replaced = invoice.pk in replaced
    return invoices


# A filtered list or a search counts and totals its matches itself up to this many; beyond, it
# says "more than" and pages without a total: work bounded whatever the number of invoices.
MATCHES_COUNTED = 1000


def invoice_matches(*, user, filters: dict, buyers: list[int] | None = None
                    ) -> list[tuple] | None:
    """(id, state, kind, total) of every invoice matching `filters`, in no order; None when more
    than MATCHES_COUNTED match. Each query stops after MATCHES_COUNTED + 1 rows; a search asks
    its two sides apart (number or PO, then the buyers), so that each walks its own index
    rather than the whole table, and merges them."""
    columns = ("id", "state", "kind", "total")
    bound = MATCHES_COUNTED + 1
    if not (filters.get("q") or "").strip():
        rows = list(invoice_search(user=user, filters=filters).order_by()
                    .values_list(*columns)[:bound])
        return None if len(rows) > MATCHES_COUNTED else rows
    merged = {row[0]: row for row in _text_matches(user, filters, buyers, columns, bound)}
    if buyers and len(merged) <= MATCHES_COUNTED:
        for row in (invoice_search(user=user, filters=filters, buyers=buyers, search="buyers")
                    .order_by().values_list(*columns)[:bound]):
            merged[row[0]] = row
    return None if len(merged) > MATCHES_COUNTED else list(merged.values())


# A run of digits in the search: the part of an invoice or PO number that tells it apart.
DIGITS = re.compile(r"\d{3,}")
CANDIDATES = 5000


def _text_matches(user, filters: dict, buyers, columns: tuple, bound: int) -> list[tuple]:
    """The invoices whose number or PO holds the search, at most `bound` of them.

    A trigram index answers in proportion to how common the search's trigrams are: in
    "F2026-0000500" the year's ("F20", "202", "026") are in every number of the year, and
    asking for them all reads most of the index. So the longest run of digits ("0000500") is
    asked first, whose trigrams are rare, and the whole search is checked on those candidates
    here: the same matches, since whatever holds the search holds that run. Only when the run is
    common (more than CANDIDATES candidates) is the whole search asked of the index.
    """
    query = filters["q"].strip()
    runs = sorted(DIGITS.findall(query), key=len, reverse=True)
    if runs and runs[0] != query:
        candidates = list(
            invoice_search(user=user, filters={**filters, "q": runs[0]}, buyers=buyers,
                           search="text")
            .order_by().values_list(*columns, "number", "po_number")[:CANDIDATES + 1])
        if len(candidates) <= CANDIDATES:
            wanted = query.upper()
            held = [row[:len(columns)] for row in candidates
                    if wanted in row[-2].upper() or wanted in row[-1].upper()]
            return held[:bound]
    return list(invoice_search(user=user, filters=filters, buyers=buyers, search="text")
                .order_by().values_list(*columns)[:bound])


def matches_summary(rows: list[tuple]) -> list["StateSummary"]:
    """Count and net total (credit notes subtracted) per state of the rows `invoice_matches`
    returned, with no query."""
    labels = dict(Invoice.State.choices)
    counts: dict[str, list] = {}
    for _pk, state, kind, total in rows:
        entry = counts.setdefault(state, [0, Decimal("0.00"), 0])
        entry[0] += 1
        credit = kind == Invoice.Kind.CREDIT_NOTE
        entry[1] += -total if credit else total
        entry[2] += 1 if credit else 0
    order = list(labels)
    return [StateSummary(state=state, label=labels.get(state, state), count=count, total=total,
                         credit_count=credits)
            for state, (count, total, credits)
            in sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)]


@dataclass(frozen=True)
class StateSummary:
    state: str
    label: str
    count: int  # invoices and credit notes
    total: Decimal  # net: credit notes subtracted
    credit_count: int = 0  # of which credit notes


def invoice_state_totals(*, user) -> list[StateSummary]:
    """Count and net total per state of all the user's invoices, read from the counts
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

    Walks the history from its newest end (the created_at index since a visit, else the
    primary key) and stops at the `limit`-th change of the user's; never further back than the
    `window`-th newest event, found first in the same query by the same index: constant work
    however long the history and however busy the day, nothing sent back and forth.
    """
    key = "created_at" if since else "id"
    events = InvoiceEvent.objects.filter(created_at__gt=since) if since else InvoiceEvent.objects.all()
    floor = events.order_by(f"-{key}").values(key)[window - 1:window]  # None: fewer events
    return (events.filter(kind=InvoiceEvent.Kind.STATE, invoice__account_id__in=account_ids(user),
                          **{f"{key}__gte": Coalesce(Subquery(floor), Value(since or 0))})
            .select_related("invoice", "invoice__buyer").order_by(f"-{key}")[:limit])
