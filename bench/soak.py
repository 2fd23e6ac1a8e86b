"""Soak: hundreds of invoices through real Celery workers while B2Brouter misbehaves.

    .venv/bin/python bench/soak.py [--invoices 300] [--fault-rate 0.2] [--workers 2]
                                   [--concurrency 8] [--kill-after 5] [--json]

The sandbox answers a `--fault-rate` share of API calls with a fault, spread evenly over the four
kinds (5xx, 429 with Retry-After, a slow answer past the client's timeout, and a response lost
after the invoice was stored). One worker process is SIGKILLed `--kill-after` seconds into the
run and replaced. The script plays Celery beat (reconciler every few seconds) until every invoice
has settled or `--timeout` passes, then counts, comparing our database with B2Brouter's:

- sent: invoices that reached B2Brouter once, with our remote id matching;
- duplicated: numbers B2Brouter holds more than once (a double bill to the state);
- lost: our invoices B2Brouter never received, or whose remote id is missing;
- stuck: invoices still queued or being submitted at the end;
- recovery: seconds from the SIGKILL to the last invoice settled (target under 60 s).

All but sent must be 0.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import os  # noqa: E402
import time  # noqa: E402

from bench import common  # noqa: E402

KINDS = ("error_5xx", "rate_limit", "slow", "lost_response")


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--invoices", type=int, default=300)
    p.add_argument("--fault-rate", type=float, default=0.2, help="share of API calls faulted")
    p.add_argument("--workers", type=int, default=2, help="worker processes (one gets killed)")
    p.add_argument("--concurrency", type=int, default=8, help="threads per worker")
    p.add_argument("--kill-after", type=float, default=5.0, help="seconds before the SIGKILL")
    p.add_argument("--buyers", type=int, default=5)
    p.add_argument("--timeout", type=float, default=900)
    args = p.parse_args()
    common.main_guard(lambda: run(args))


def run(args) -> None:
    port = common.free_port()
    # Short horizons so that the run settles in minutes: a client timeout under the sandbox's slow
    # answers, and an interrupted submission taken up again after 10 s.
    # The submission and reconciler horizons are the production defaults: the recovery time is
    # the one a deployment sees.
    os.environ["B2BROUTER_TIMEOUT"] = "2"
    common.setup("soak", sandbox_port=port)
    from django.conf import settings

    stale_after = settings.SUBMIT_STALE_AFTER
    every = settings.CELERY_BEAT_SCHEDULE["invoicing.reconcile"]["schedule"]
    common.progress(args, "migrating the benchmark database")
    common.database()

    from invoicing.models import Invoice, InvoiceEvent
    from invoicing.models import InvoiceState as S
    from invoicing.services import remote
    from invoicing.services.submission import invoice_request_send

    sandbox = common.start_sandbox(port=port, send_delay=0.5, slow_ms=4000, retry_after=1, seed=11)
    account = common.account_create(register=True)
    buyers = common.buyers_register(account, args.buyers)
    ids = common.invoice_drafts(account, buyers, args.invoices, prefix="SOAK")
    sandbox.control("DELETE", "/_sandbox/stats")
    share = args.fault_rate / len(KINDS)
    sandbox.control("POST", "/_sandbox/faults", {"rates": {kind: share for kind in KINDS}})
    workers = common.start_workers(args.workers, args.concurrency)
    common.progress(args, f"{args.invoices} invoices, {args.fault_rate:.0%} of calls faulted, "
                          f"{args.workers} workers x {args.concurrency}")

    started = time.monotonic()
    for pk in ids:
        invoice_request_send(invoice_id=pk)
    time.sleep(args.kill_after)
    victim = workers[0]
    victim.process.kill()
    victim.process.wait(10)
    killed_at = time.monotonic()
    common.progress(args, "worker 0 SIGKILLed; starting a replacement")
    common.start_workers(1, args.concurrency)

    in_flight = {S.QUEUED, S.SUBMITTING}
    deadline = started + args.timeout
    reconciled_at = killed_at
    while time.monotonic() < deadline:
        pending = Invoice.objects.filter(pk__in=ids, state__in=in_flight).count()
        if pending == 0:
            break
        common.progress(args, f"{pending} invoices still on their way")
        if time.monotonic() - reconciled_at >= every:  # as beat does
            remote.reconcile(stale_after=stale_after)
            reconciled_at = time.monotonic()
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    recovery = time.monotonic() - killed_at
    sandbox.control("DELETE", "/_sandbox/faults")
    stats = sandbox.control("GET", "/_sandbox/stats")

    remote = []
    offset = 0
    while True:
        page = sandbox.control("GET", f"/accounts/{account.remote_id}/invoices?offset={offset}&limit=500")
        remote += page["invoices"]
        offset += len(page["invoices"])
        if not page["invoices"] or offset >= page["meta"]["total_count"]:
            break
    held: dict[str, list[int]] = {}
    for item in remote:
        held.setdefault(item["number"], []).append(item["id"])
    local = list(Invoice.objects.filter(pk__in=ids).values_list("number", "remote_id", "state",
                                                                "submit_attempts"))
    duplicated = sorted(n for n, found in held.items() if len(found) > 1)
    lost = sorted(n for n, remote_id, _state, _a in local
                  if n not in held or remote_id is None or remote_id not in held[n])
    stuck = sorted(n for n, _r, state, _a in local if state in in_flight)
    failed = sorted(n for n, _r, state, _a in local if state == S.FAILED)
    sent = sum(1 for n, remote_id, _s, _a in local
               if n in held and len(held[n]) == 1 and held[n][0] == remote_id)
    retried = sum(1 for *_x, attempts in local if attempts > 1)
    exchanges = InvoiceEvent.objects.filter(invoice_id__in=ids, kind=InvoiceEvent.Kind.EXCHANGE).count()

    common.report(
        "Soak: exactly once under faults and a killed worker",
        args=args,
        settings={"invoices": args.invoices, "fault rate": f"{args.fault_rate:.0%} ({', '.join(KINDS)})",
                  "workers": f"{args.workers} x {args.concurrency} threads, one SIGKILLed at "
                             f"{args.kill_after:.0f} s", "database": common.database_label(),
                  "broker": common.broker_label(),
                  "horizons": f"SUBMIT_STALE_AFTER={stale_after} s, RECONCILE_EVERY={every:g} s"},
        sections=[("Outcome", [{"sent": sent, "duplicated": len(duplicated), "lost": len(lost),
                                "stuck": len(stuck), "refused by B2Brouter": len(failed),
                                "retried submissions": retried, "seconds": round(elapsed, 1),
                                "recovery s (kill to last settled)": round(recovery, 1)}]),
                  ("Traffic", [{"API calls": stats.get("total"), "exchanges recorded": exchanges}])],
        notes=[f"duplicated: {duplicated[:10]}" if duplicated else "no invoice sent twice",
               f"lost: {lost[:10]}" if lost else "no invoice lost",
               f"stuck: {stuck[:10]}" if stuck else "none stuck"],
        figures={"sent": sent, "duplicated": len(duplicated), "lost": len(lost), "stuck": len(stuck),
                 "recovery_s": round(recovery, 1)},
    )
    if duplicated or lost or stuck:
        sys.exit(1)


if __name__ == "__main__":
    main()
