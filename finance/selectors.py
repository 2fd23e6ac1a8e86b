"""Reads for finance's pages: the archive, the worklist, the ageing ("Sans nouvelles"), the
aged balance and the money figures (the dashboard's and one buyer's)."""

import heapq

from django.db.models import (
    Case,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from core.selectors import account_ids
from directory.models import Buyer
from invoicing.models import (
    AWAITING_STATES,
    LEFT_TO_PAY,
    NOT_OWED,
    REMAINING,
    WORKLIST_STATES,
    ZERO,
    Invoice,
    InvoicePdf,
    LegalDocument,
    MonthTotal,
    OpenAmount,
    OpenMonth,
    TaxReport,
)
from invoicing.models import InvoiceState as S
from invoicing.selectors import invoice_list


def legal_documents(*, user, filters: dict):
    """Archived legal XML the user may see, filtered by issue-date period, buyer and state.
    The XML bytes are deferred: lists never load them."""
    documents = LegalDocument.objects.filter(account_id__in=account_ids(user))
    if filters.get("mistyped"):
        documents = documents.none()
    if filters.get("date_from"):
        documents = documents.filter(invoice__issue_date__gte=filters["date_from"])
    if filters.get("date_to"):
        documents = documents.filter(invoice__issue_date__lte=filters["date_to"])
    if filters.get("buyer"):
        documents = documents.filter(invoice__buyer=filters["buyer"])
    if filters.get("state"):
        documents = documents.filter(invoice__state=filters["state"])
    # In the order of the numbers, the latest first (a resend's document beside its first).
    return (documents.select_related("invoice", "invoice__buyer").defer("content")
            .annotate(pdf_sha256=Subquery(pdf_of(OuterRef("invoice"), OuterRef("submission_round"))
                                          .values("sha256")[:1]))
            .order_by("-number", "-submission_round", "-pk"))


def archive_totals(documents) -> dict:
    """What a period of the archive adds up to, credit notes counting negatively, each invoice
    once (its latest round): how many, excluding VAT, VAT, including VAT."""
    invoices = Invoice.objects.filter(pk__in=documents.order_by().values("invoice_id"))
    sign = Case(When(kind=Invoice.Kind.CREDIT_NOTE, then=Value(-1)), default=Value(1))
    return invoices.aggregate(
        count=Count("pk"), subtotal=Coalesce(Sum(F("subtotal") * sign), Value(ZERO)),
        tax_amount=Coalesce(Sum(F("tax_amount") * sign), Value(ZERO)),
        total=Coalesce(Sum(F("total") * sign), Value(ZERO)))


def pdf_of(invoice, submission_round):
    """The invoice's PDF of that round (the PDF beside a legal XML)."""
    return InvoicePdf.objects.filter(invoice=invoice, submission_round=submission_round)


class MergedByState:
    """The rows of one query per state, merged in order: each walks the (account, state,
    state_updated_at, id) index and stops after the rows the page needs, so a page costs the
    same whatever the number of invoices (one query per state, a fixed handful).

    Sliced like a queryset (`merged[start:stop]`), as the finance pages' pager does.
    """

    def __init__(self, base, states, *, newest_first: bool, undated_last: bool = False):
        self.base, self.states, self.newest_first = base, states, newest_first
        self.undated_last = undated_last

    def __getitem__(self, window: slice) -> list:
        """Each state's run is read as keys only (time, id), merged, and the window's rows are
        then read whole in one query: the rows a page loads stay the page's, whatever the
        number of states and of invoices in each."""
        stop = window.stop
        order = ("-state_updated_at", "-id") if self.newest_first else ("state_updated_at", "id")
        dated = self.base.filter(state_updated_at__isnull=False)
        runs = [list(dated.filter(state=state).order_by(*order)
                     .values_list("state_updated_at", "id")[:stop]) for state in self.states]
        merged = [pk for _at, pk in heapq.merge(*runs, reverse=self.newest_first)]
        if self.undated_last:
            # Rows never dated (none should be) come last rather than not at all; one state at a
            # time, so that each query stays a range of the (account, state, ...) index.
            undated = self.base.filter(state_updated_at__isnull=True).order_by()
            for state in self.states:
                merged += list(undated.filter(state=state).values_list("id", flat=True)[:stop])
        chosen = merged[window]
        rows = self.base.filter(id__in=chosen).in_bulk() if chosen else {}
        return [rows[pk] for pk in chosen if pk in rows]


# What the worklist and the ageing show of an invoice (and of its buyer, its name): only these
# columns are read, not the invoice, its buyer, service and account whole.
SHOWN = ("number", "state", "state_updated_at", "buyer__name", "buyer__public_sector", "kind")
WORKLIST_SHOWN = (*SHOWN, "chorus_status", "chorus_status_reason", "last_error")


def _shown(invoices, fields):
    return invoices.select_related(None).select_related("buyer").only(*fields)


def tax_reports_to_handle(*, user) -> QuerySet[TaxReport]:
    """Declarations the tax administration refused, or that failed: the worklist's."""
    return (TaxReport.objects.filter(invoice__account_id__in=account_ids(user),
                                     state__in=(TaxReport.State.REFUSED, TaxReport.State.ERROR))
            .select_related("invoice", "invoice__buyer").order_by("-state_changed_at", "-pk"))


def worklist(*, user):
    """Invoices waiting on us: refused (routing return, suspended or rejected), deposit errors,
    and invoices B2Brouter refused to take; the most recent first."""
    return MergedByState(_shown(invoice_list(user=user), WORKLIST_SHOWN), WORKLIST_STATES,
                         newest_first=True, undated_last=True)


def ageing(*, user, no_news_since):
    """Invoices at Chorus Pro with no news since `no_news_since`, oldest first; and apart, those
    whose buyer never reports payment (accepted is as far as they will go)."""
    waiting = _shown(invoice_list(user=user), SHOWN).filter(state_updated_at__lt=no_news_since)
    silent = Q(state=S.ACCEPTED, buyer__payment_status_not_reported=True)
    return (MergedByState(waiting.exclude(silent), AWAITING_STATES, newest_first=False),
            waiting.filter(silent).order_by("state_updated_at", "id"))


# -- the ageing balance: what each buyer owes, by how late --------------------------------------
AGEING_BUCKETS = ("not_due", "d1_30", "d31_60", "d61_90", "d90_plus")


def _buckets(today, amount=REMAINING) -> dict:
    """Each column of the ageing as a sum of `amount`, by days past the due date."""
    import datetime

    def days_ago(days):
        return today - datetime.timedelta(days=days)

    def part(condition):
        return Coalesce(Sum(Case(When(condition, then=amount), default=Value(ZERO))),
                        Value(ZERO))

    return {
        "not_due": part(Q(due_date__isnull=True) | Q(due_date__gte=today)),
        "d1_30": part(Q(due_date__lt=today, due_date__gte=days_ago(30))),
        "d31_60": part(Q(due_date__lt=days_ago(30), due_date__gte=days_ago(60))),
        "d61_90": part(Q(due_date__lt=days_ago(60), due_date__gte=days_ago(90))),
        "d90_plus": part(Q(due_date__lt=days_ago(90))),
    }


def _open_by_due_date(model=None, *, user, kind: str = "", buyer=None):
    """What is left to pay per buyer and due date (`OpenAmount`), or per due month
    (`OpenMonth`), kept by the database."""
    rows = (model or OpenAmount).objects.filter(account_id__in=account_ids(user),
                                                invoices__gt=0)
    if kind in ("public", "company"):
        rows = rows.filter(buyer__public_sector=kind == "public")
    if buyer is not None:
        rows = rows.filter(buyer=buyer)
    return rows


def _owed_by_buyer(*, user, today, kind: str = "", buyer=None) -> dict[int, dict]:
    """Per buyer, the ageing's columns, total and invoices, from what the database keeps: the
    exact due dates from the month where "over 90 days" begins, and one row per buyer and month
    for the months wholly before it (all over 90 days late). A few thousand rows at most,
    however many invoices and however old the unpaid ones."""
    import datetime

    split = (today - datetime.timedelta(days=90)).replace(day=1)
    amount = F("amount")
    rows: dict[int, dict] = {}
    recent = (_open_by_due_date(user=user, kind=kind, buyer=buyer)
              .filter(due_date__gte=split).order_by().values("buyer_id")
              .annotate(**_buckets(today, amount), total=Sum(amount),
                        invoices=Sum("invoices")))
    for row in recent:
        rows[row["buyer_id"]] = row
    older = (_open_by_due_date(OpenMonth, user=user, kind=kind, buyer=buyer)
             .filter(due_month__lt=split).order_by().values("buyer_id")
             .annotate(total=Sum(amount), invoices=Sum("invoices")))
    for row in older:
        kept = rows.setdefault(row["buyer_id"], {"buyer_id": row["buyer_id"], "total": ZERO,
                                                 "invoices": 0,
                                                 **{name: ZERO for name in AGEING_BUCKETS}})
        kept["d90_plus"] += row["total"]
        kept["total"] += row["total"]
        kept["invoices"] += row["invoices"]
    return rows


def open_amounts(*, user, kind: str = "", buyer=None, issued_from=None, issued_to=None,
                 fields=("buyer_id", "due_date", "remaining")):
    """(buyer id, due date, remaining) of each invoice with something still owed, read in
    chunks (see `open_invoices`)."""
    invoices = open_invoices(user=user, kind=kind, buyer=buyer, issued_from=issued_from,
                             issued_to=issued_to)
    return invoices.values_list(*fields).iterator(chunk_size=2000)


def open_invoices(*, user, kind: str = "", buyer=None, issued_from=None, issued_to=None):
    """The invoices with something still owed, each annotated with `remaining`: what it asks
    (net à payer), less what its issued credit notes take off (a refused one excepted), less
    the payments received; both kept on the invoice as they change, so that only the open
    invoices are read (the `invoice_open` index), however many are settled."""
    invoices = (Invoice.objects.filter(account_id__in=account_ids(user),
                                       kind=Invoice.Kind.INVOICE)
                .filter(LEFT_TO_PAY).exclude(state__in=NOT_OWED).exclude(number=""))
    if kind in ("public", "company"):
        invoices = invoices.filter(buyer__public_sector=kind == "public")
    if buyer is not None:
        invoices = invoices.filter(buyer=buyer)
    if issued_from:
        invoices = invoices.filter(issue_date__gte=issued_from)
    if issued_to:
        invoices = invoices.filter(issue_date__lte=issued_to)
    return invoices.annotate(remaining=REMAINING)


def ageing_balance(*, user, today, **filters) -> tuple[list[dict], dict]:
    """Per buyer: the amounts not yet due, and overdue 1-30, 31-60, 61-90 and over 90 days past
    their due date, with the total; and the totals of every column. Buyers by amount owed.
    Read from what the database keeps per due date (a few rows per buyer, however many
    invoices); a period of issue is added up from the open invoices themselves."""
    if filters.get("issued_from") or filters.get("issued_to"):
        rows = list(open_invoices(user=user, **filters).order_by().values("buyer_id")
                    .annotate(**_buckets(today), total=Sum(REMAINING), invoices=Count("pk")))
    else:
        rows = list(_owed_by_buyer(user=user, today=today, kind=filters.get("kind", ""),
                                   buyer=filters.get("buyer")).values())
    names = dict(Buyer.objects.filter(pk__in=[r["buyer_id"] for r in rows])
                 .values_list("pk", "name"))
    public = dict(Buyer.objects.filter(pk__in=[r["buyer_id"] for r in rows])
                  .values_list("pk", "public_sector"))
    for row in rows:
        buyer_id = row["buyer_id"]
        row["name"], row["public"] = names.get(buyer_id, "—"), public.get(buyer_id, True)
    ordered = sorted(rows, key=lambda r: (-r["total"], r["name"]))
    totals = {name: sum((r[name] for r in ordered), ZERO) for name in (*AGEING_BUCKETS, "total")}
    totals["invoices"] = sum(r["invoices"] for r in ordered)
    return ordered, totals


# -- the dashboard's money figures --------------------------------------------------------------
def money_figures(*, user, today, buyer=None) -> dict:
    """How money is doing on the user's accounts (or with one buyer): invoiced (credit notes
    subtracted) and received this month and this year, outstanding and overdue now, the
    average days from issue to full payment over the last 12 months, and the last 12 months
    invoiced / received. Read from what the database keeps per month and per due date
    (`MonthTotal`, `ReceivedMonth`, `OpenAmount`): a few rows, however many invoices."""
    from finance.models import ReceivedMonth

    accounts = account_ids(user)
    year_start = today.replace(month=1, day=1)
    month_start = today.replace(day=1)
    back = month_start.month - 11  # the 12 months up to this one
    first_month = (month_start.replace(month=back) if back > 0
                   else month_start.replace(year=month_start.year - 1, month=back + 12))
    period = {"account_id__in": accounts, "month__gte": first_month, "month__lte": month_start}
    if buyer is not None:
        period["buyer"] = buyer
    totals = {row["month"]: row for row in MonthTotal.objects.filter(**period).order_by()
              .values("month").annotate(invoiced=Sum("invoiced"), settled=Sum("settled"),
                                        days=Sum("settled_days"))}
    received = dict(ReceivedMonth.objects.filter(**period).order_by().values("month")
                    .annotate(sum=Sum("received")).values_list("month", "sum"))
    months = []
    cursor = first_month
    while cursor <= month_start:
        months.append({"month": cursor,
                       "invoiced": (totals.get(cursor) or {}).get("invoiced") or ZERO,
                       "received": received.get(cursor) or ZERO})
        cursor = (cursor.replace(year=cursor.year + 1, month=1) if cursor.month == 12
                  else cursor.replace(month=cursor.month + 1))
    owed = _owed_by_buyer(user=user, today=today, buyer=buyer).values()
    outstanding = sum((row["total"] for row in owed), ZERO)
    overdue = outstanding - sum((row["not_due"] for row in owed), ZERO)
    settled = sum(row["settled"] or 0 for row in totals.values())
    days = sum(row["days"] or 0 for row in totals.values())
    return {
        "invoiced_month": months[-1]["invoiced"],
        "invoiced_year": sum((m["invoiced"] for m in months if m["month"] >= year_start), ZERO),
        "received_month": months[-1]["received"],
        "received_year": sum((m["received"] for m in months if m["month"] >= year_start),
                             ZERO),
        "outstanding": outstanding, "overdue": overdue,
        "days_to_payment": round(days / settled) if settled else None,
        "months": months,
    }


def money_panel(*, user, today, buyer=None) -> dict:
    """What `finance/_figures.html` shows: the figures, their chart's bars and width, and
    whether the 12 months hold anything (the dashboard's, or one buyer's)."""
    figures = money_figures(user=user, today=today, buyer=buyer)
    bars = chart_bars(figures["months"])
    return {"figures": figures, "bars": bars, "chart_width": len(bars) * 56,
            "has_activity": any(bar["invoiced"] or bar["received"] for bar in bars)}


def chart_bars(months: list[dict], *, height: int = 80, width: int = 24) -> list[dict]:
    """Each month's two bars (invoiced, received) scaled to `height`, for a server-drawn SVG."""
    top = max([m["invoiced"] for m in months] + [m["received"] for m in months] + [ZERO])
    bars = []
    for index, month in enumerate(months):
        x = index * (width * 2 + 8)

        def scaled(value):
            return int(height * max(value, ZERO) / top) if top > 0 else 0

        invoiced, received = scaled(month["invoiced"]), scaled(month["received"])
        bars.append({**month, "x": x, "x2": x + width, "w": width,
                     "h1": invoiced, "y1": height - invoiced,
                     "h2": received, "y2": height - received})
    return bars
