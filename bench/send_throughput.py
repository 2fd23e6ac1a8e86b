"""How fast a batch of invoices reaches B2Brouter through the Celery workers.

    .venv/bin/python bench/send_throughput.py [--invoices 200] [--workers 1] [--concurrency 8]
                                              [--latency-ms 100] [--json]

N draft invoices are sent (`invoice_request_send`, as the "send" button does) and submitted by
real Celery worker processes (`--pool threads`) against the sandbox answering every API call
after `--latency-ms`. Buyers and their services are registered at B2Brouter beforehand and the
workers warmed up with one round of invoices, so what is timed is the send path alone: from the
first send request to the last invoice accepted by B2Brouter.

Printed: invoices per second, the bound the latency sets (task slots / (calls per send x
latency)) with the calls per send measured from the sandbox's request counters, and the ratio of
the two (target >= 0.8 with 8 or more slots).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import time  # noqa: E402

from bench import common  # noqa: E402


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--invoices", type=int, default=200, help="invoices sent in the timed batch")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--concurrency", type=int, default=8, help="threads per worker process")
    p.add_argument("--latency-ms", type=int, default=100, help="sandbox latency per API call")
    p.add_argument("--buyers", type=int, default=5, help="distinct buyers the invoices go to")
    p.add_argument("--warmup", type=int, default=None,
                   help="invoices sent first, untimed (default: one per task slot)")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the batch")
    args = p.parse_args()
    common.main_guard(lambda: run(args))


def run(args) -> None:
    port = common.free_port()
    common.setup("send_throughput", sandbox_port=port)
    common.progress(args, "migrating the benchmark database")
    common.database()

    from django.db.models import Count

    from invoicing.models import Invoice
    from invoicing.models import InvoiceState as S
    from invoicing.services.submission import invoice_request_send

    slots = args.workers * args.concurrency
    warmup = slots if args.warmup is None else args.warmup
    # Deposits are left to a later time (--send-delay): the sandbox's own work (legal XML)
    # would otherwise compete with the workers for the machine's cores.
    sandbox = common.start_sandbox(port=port, latency_ms=args.latency_ms, send_delay=3600)
    common.progress(args, f"sandbox on {sandbox.url} (latency {args.latency_ms} ms)")
    account = common.account_create(register=True)
    buyers = common.buyers_register(account, args.buyers)
    common.progress(args, f"creating {warmup + args.invoices} draft invoices")
    warm_ids = common.invoice_drafts(account, buyers, warmup, prefix="W")
    ids = common.invoice_drafts(account, buyers, args.invoices, prefix="B")

    common.progress(args, f"starting {args.workers} worker(s) x {args.concurrency} threads")
    workers = common.start_workers(args.workers, args.concurrency)

    def pending(batch):
        return Invoice.objects.filter(pk__in=batch, state__in=[S.QUEUED, S.SUBMITTING]).count()

    if warm_ids:
        common.progress(args, f"warm-up: {len(warm_ids)} invoices")
        for pk in warm_ids:
            invoice_request_send(invoice_id=pk)
        common.wait_until(lambda: pending(warm_ids) == 0, timeout=args.timeout, what="warm-up")

    sandbox.control("DELETE", "/_sandbox/stats")
    common.progress(args, f"timed batch: {len(ids)} invoices")
    cpu_before = sum(common.cpu_seconds(worker) for worker in workers)
    started = time.monotonic()
    for pk in ids:
        invoice_request_send(invoice_id=pk)
    enqueued = time.monotonic()
    finished = common.wait_until(lambda: pending(ids) == 0, timeout=args.timeout, what="the batch",
                                 interval=0.02)
    stats = sandbox.control("GET", "/_sandbox/stats")
    cpu_ms = (sum(common.cpu_seconds(worker) for worker in workers) - cpu_before) * 1000 / len(ids)
    loop_ms = common.reference_ms()  # the machine's speed now, beside the figure it scales

    elapsed = finished - started
    states = dict(Invoice.objects.filter(pk__in=ids).order_by().values_list("state")
                  .annotate(n=Count("id")))
    attempts = sum(Invoice.objects.filter(pk__in=ids).values_list("submit_attempts", flat=True))
    calls = stats["total"]
    calls_per_send = calls / len(ids) if ids else float("nan")
    rate = len(ids) / elapsed if elapsed else float("nan")
    latency = args.latency_ms / 1000
    bound = slots / (calls_per_send * latency) if calls_per_send and latency else float("nan")
    ratio = rate / bound if bound == bound and bound else float("nan")

    routes = [{"route": route, "calls": n, "per invoice": n / len(ids)}
              for route, n in sorted(stats["requests"].items())]
    figures = {
        "invoices": len(ids), "seconds": elapsed, "invoices_per_second": rate,
        "calls_per_send": calls_per_send, "bound_per_second": bound, "ratio": ratio,
        "enqueue_seconds": enqueued - started, "submit_attempts": attempts, "states": states,
        "worker_cpu_ms_per_invoice": cpu_ms, "python_loop_ms": loop_ms,
        "worker_cpu_in_loops": cpu_ms / loop_ms,
    }
    common.report(
        "Sending throughput (bench/send_throughput.py)",
        args=args,
        settings={
            "database": common.database_label(),
            "broker": common.broker_label(),
            "workers": f"{args.workers} process(es) x {args.concurrency} threads = {slots} slots"
                       " (--pool threads)",
            "sandbox latency": f"{args.latency_ms} ms per API call",
            "batch": f"{len(ids)} invoices after {len(warm_ids)} warm-up ones, to {len(buyers)} "
                     "pre-registered buyers",
        },
        sections=[
            ("Throughput", [{
                "invoices": len(ids), "seconds": elapsed, "invoices/s": rate,
                "calls/send": calls_per_send, "bound/s": bound, "ratio": ratio,
                "target": ">= 0.8", "worker CPU ms/invoice": cpu_ms,
            }]),
            ("B2Brouter calls during the batch (sandbox /_sandbox/stats)", routes),
            ("Outcome", [{"state": k, "invoices": v} for k, v in sorted(states.items())]
             + [{"state": "(submit attempts)", "invoices": attempts}]),
        ],
        notes=[
            f"bound = slots / (calls per send x latency) = {slots} / ({calls_per_send:.2f} x "
            f"{latency:.3f} s) = {bound:.1f} invoices/s",
            f"worker CPU per invoice = {cpu_ms / loop_ms:.3f} x the machine's python loop "
            f"({loop_ms:.0f} CPU ms, measured just after the batch): the figure to compare "
            "between machines, or moments of a shared one",
            f"enqueueing the {len(ids)} sends took {enqueued - started:.2f} s of the "
            f"{elapsed:.2f} s (the timed window includes it)",
            "contact registration is done before timing; its calls would be amortised over "
            "each buyer's invoices (2 calls per new buyer: look up, create)",
            *(["the embedded broker is polled (kombu SQLAlchemy transport): it may cap the "
               "rate; set REDIS_URL to measure with Redis"]
              if "SQLite" in common.broker_label() else []),
        ],
        figures=figures,
    )
    common.purge_queue()


if __name__ == "__main__":
    main()
