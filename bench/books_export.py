"""A month's accounting entries (FEC) of a busy account: time, rate and memory by volume.

    .venv/bin/python bench/books_export.py [--sizes 1000,100000,1000000] [--days 30] [--json]

Reuses the databases `bench/pages.py` filled (`bench_pages_<size>`; filled here when missing),
where the month's volume grows with the size (the generator's business grows: at 1 000 000
invoices the last 30 days hold some 40 000). For each, the finance user downloads the last
`--days` days' FEC (`finance:books`, a StreamingHttpResponse) through Django's test client,
reading the stream line by line as a browser would, under tracemalloc.

Printed per size: invoices and payments in the period, lines written, seconds, lines per
second, the SQL queries, and the tracemalloc peak: the peak must not grow with the month's
volume (the export is streamed in chunks of 500 invoices, never held whole).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import time  # noqa: E402

from bench import common  # noqa: E402


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=common.int_list, default=[1000, 100_000, 1_000_000],
                   help="invoice counts, comma-separated (the databases of bench/pages.py)")
    p.add_argument("--days", type=int, default=30, help="the period exported, up to today")
    args = p.parse_args()
    common.main_guard(lambda: run(args))


def run(args) -> None:
    import datetime
    import tracemalloc

    common.setup("pages")
    from bench.generate import Generator
    from core.models import Account
    from finance.models import Payment
    from invoicing.models import Invoice

    rows = []
    for size in sorted(set(args.sizes)):
        common.progress(args, f"the database of {size:,} invoices")
        common.database(keep=True, suffix=str(size))
        account = Account.objects.order_by("pk").first() or common.account_create()
        users = common.users_create(account)
        Generator(account, users["staff"]).fill(size)
        client = common.client_for(users["finance"])
        today = datetime.date.today()
        start = today - datetime.timedelta(days=args.days)
        invoices = Invoice.objects.filter(account=account, issue_date__gte=start,
                                          issue_date__lte=today).exclude(number="").count()
        payments = Payment.objects.filter(account=account, received_on__gte=start,
                                          received_on__lte=today).count()
        tracemalloc.start()
        with common.QueryCounter() as queries:
            started = time.perf_counter()
            response = client.get("/finance/books/", {
                "account": account.pk, "start": start.isoformat(), "end": today.isoformat(),
                "download": "1"})
            lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
            seconds = time.perf_counter() - started
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append({"invoices": size, "in the period": invoices, "payments": payments,
                     "lines": lines, "seconds": seconds, "lines/s": lines / seconds,
                     "queries": queries.count, "peak MB (tracemalloc)": peak / 1e6})
    common.report("A month's FEC against its volume (bench/books_export.py)", args=args,
                  settings={"period": f"the last {args.days} days", "method":
                            "Django test client, the stream read whole; tracemalloc peak"},
                  sections=[("By size", rows)], figures={"rows": rows})


if __name__ == "__main__":
    main()
