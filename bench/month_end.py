"""Month-end: many worker processes share one B2Brouter rate limit.

    .venv/bin/python bench/month_end.py [--invoices 10000] [--processes 4] [--concurrency 8]
                                        [--latency-ms 100] [--rate-limit 20] [--json]

The sandbox answers every call after `--latency-ms` and allows `--rate-limit` calls a second
for the API key, answering 429 with Retry-After beyond it (`--rate-limit N/s`, as B2Brouter
limits an account as a whole). `--processes` Celery worker processes of `--concurrency` threads
send the batch, every call taking its turn from the deployment-wide limit (core/ratelimit.py:
Redis when REDIS_URL is set, a file on this machine otherwise) configured at the same rate.
Then the same batch size again with one worker process, for comparison.

`--companies` (0.5 by default) of the invoices go to French companies (the account activated
for the reform): after each phase the sandbox deposits and registers every invoice, and the
polling task (`tax_reports_follow`) follows every declaration to its end through the same
limit; printed: declarations followed, registered, calls and time.

Printed for each: the calls the workers sent a second (on average, and in the busiest second,
429s included: what the client's limiter let through), the calls answered a second against the
limit (target >= 0.9 of it), the share of calls
answered 429 (target <= 1 %), invoices sent twice (target 0), wall time. The issue's figure is
`--invoices 10000` (about 500 s per phase at 20/s).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import os  # noqa: E402
import time  # noqa: E402

from bench import common  # noqa: E402


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--invoices", type=int, default=10_000, help="invoices per phase")
    p.add_argument("--processes", type=int, default=4, help="worker processes (first phase)")
    p.add_argument("--concurrency", type=int, default=8, help="threads per worker process")
    p.add_argument("--latency-ms", type=int, default=100, help="sandbox latency per API call")
    p.add_argument("--rate-limit", type=float, default=20.0, help="calls/s per API key")
    p.add_argument("--buyers", type=int, default=5)
    p.add_argument("--companies", type=float, default=0.5,
                   help="share of the invoices that go to French companies")
    p.add_argument("--timeout", type=float, default=3600)
    args = p.parse_args()
    common.main_guard(lambda: run(args))


def _follow_declarations(sandbox, ids, reform, TaxReport, args) -> dict:
    """The sandbox deposits then registers every invoice; the polling task follows every
    declaration of the batch to its end, its calls through the deployment-wide limit."""
    import datetime

    sandbox.control("POST", "/_sandbox/advance")  # sending -> sent (deposited)
    sandbox.control("POST", "/_sandbox/advance")  # sent -> registered (declarations too)
    reform.FOLLOW_AFTER = datetime.timedelta(0)
    reform.FOLLOW_BATCH = 1000
    sandbox.control("DELETE", "/_sandbox/stats")
    reports = TaxReport.objects.filter(invoice__in=ids)
    started = time.monotonic()
    while reports.exclude(state__in=TaxReport.TERMINAL).exists():
        if time.monotonic() - started > args.timeout:
            break
        reform.tax_reports_follow()
    seconds = time.monotonic() - started
    stats = sandbox.control("GET", "/_sandbox/stats")
    return {"declarations": reports.count(),
            "registered": reports.filter(state=TaxReport.State.REGISTERED).count(),
            "not at their end": reports.exclude(state__in=TaxReport.TERMINAL).count(),
            "follow calls": stats["total"], "follow 429": stats.get("rate_limited", 0),
            "follow seconds": seconds}


def run(args) -> None:
    port = common.free_port()
    # The workers inherit these: the deployment-wide limit at the sandbox's rate.
    os.environ["B2BROUTER_RATE_LIMIT"] = str(args.rate_limit)
    os.environ["B2BROUTER_RATE_BURST"] = "2"
    common.setup("month_end", sandbox_port=port)
    common.progress(args, "migrating the benchmark database")
    common.database()

    from invoicing.models import Invoice
    from invoicing.models import InvoiceState as S
    from invoicing.services.submission import invoice_request_send

    sandbox = common.start_sandbox(port=port, latency_ms=args.latency_ms, send_delay=3600,
                                   rate_limit=f"{args.rate_limit:g}/s")
    account = common.account_create(register=True)
    buyers = common.buyers_register(account, args.buyers)
    companies = []
    if args.companies > 0:
        common.account_activate(account)
        companies = common.companies_register(account, 3)

    from invoicing.models import TaxReport
    from invoicing.services import reform

    rows, figures = [], {}
    for label, processes in ((f"{args.processes} processes", args.processes), ("1 process", 1)):
        prefix = f"M{processes}-"
        common.progress(args, f"{label}: creating {args.invoices} drafts")
        to_companies = int(args.invoices * args.companies) if companies else 0
        ids = common.invoice_drafts(account, buyers, args.invoices - to_companies, prefix=prefix)
        if to_companies:
            ids += common.company_drafts(account, companies, to_companies, prefix=prefix + "C")
        workers = common.start_workers(processes, args.concurrency)
        time.sleep(1.0)  # the sandbox's bucket refills from set-up
        sandbox.control("DELETE", "/_sandbox/stats")
        common.progress(args, f"{label}: sending {len(ids)} invoices")
        started = time.monotonic()
        for pk in ids:
            invoice_request_send(invoice_id=pk)

        def pending(batch=ids):
            return Invoice.objects.filter(pk__in=batch,
                                          state__in=[S.QUEUED, S.SUBMITTING]).count()

        finished = common.wait_until(lambda: pending() == 0, timeout=args.timeout,
                                     what=label, interval=0.5)
        elapsed = finished - started
        stats = sandbox.control("GET", "/_sandbox/stats")
        for worker in workers:
            worker.stop()
        numbers = []
        offset = 0
        while True:
            page = sandbox.control(
                "GET", f"/accounts/{account.remote_id}/invoices?offset={offset}&limit=500")
            numbers += [i["number"] for i in page["invoices"] if i["number"].startswith(prefix)]
            offset += len(page["invoices"])
            if not page["invoices"] or offset >= page["meta"]["total_count"]:
                break
        duplicated = len(numbers) - len(set(numbers))
        calls, refused = stats["total"], stats.get("rate_limited", 0)
        rate = (calls - refused) / elapsed if elapsed else float("nan")
        row = {"phase": label, "invoices": len(ids), "seconds": elapsed,
               "calls/s sent": calls / elapsed if elapsed else float("nan"),
               "busiest second": stats["busiest_second"],
               "calls/s answered": rate, "limit/s": args.rate_limit,
               "ratio": rate / args.rate_limit, "429 share": refused / calls if calls else 0.0,
               "duplicated": duplicated, "lost": len(ids) - len(set(numbers))}
        if to_companies:
            row.update(_follow_declarations(sandbox, ids, reform, TaxReport, args))
        rows.append(row)
        figures[label] = row

    common.report(
        "Month-end: one rate limit for every worker (bench/month_end.py)",
        args=args,
        settings={"database": common.database_label(), "broker": common.broker_label(),
                  "limiter": "Redis (GCRA, Lua)" if os.environ.get("REDIS_URL")
                  else "file on this machine (GCRA under flock)",
                  "sandbox": f"{args.latency_ms} ms per call, {args.rate_limit:g} calls/s per key",
                  "workers": f"{args.processes} x {args.concurrency} threads, then 1 x "
                             f"{args.concurrency}"},
        sections=[("Outcome", rows)],
        notes=["targets: ratio >= 0.95, 429 share <= 1 %, busiest second <= limit + burst, "
               "duplicated 0, lost 0"],
        figures=figures,
    )
    common.purge_queue()


if __name__ == "__main__":
    main()
