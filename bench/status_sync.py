"""Status sync by polling: 10 000 state changes at B2Brouter applied by `account_sync_states`.

    .venv/bin/python bench/status_sync.py [--changes 10000] [--page-size 100] [--json]

Method. `--changes` invoices are created at the sandbox through its public API (`POST
/accounts/{id}/invoices` with `send_after_import`, from `--threads` client threads), so that the
sandbox holds them exactly as if the product had submitted them; the product's database gets
the matching rows (bulk_create: same numbers, buyers and remote ids, state `sending`, as left
by a submission). The sandbox then deposits each one by itself (sending -> sent, legal XML
generated): one state change per invoice, waiting at B2Brouter. The sync cursor is set to just
before the creations and `account_sync_states` (what the beat task runs) is timed alone: one
list call per page, each change applied through the one state machine (row lock, history row,
fetches of the legal XML and PDF enqueued on the real broker as one message per batch of
changes, with no worker to run it).

Printed: changes applied per second, list calls (pages), SQL queries per page and per change.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import datetime  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from decimal import Decimal  # noqa: E402

from bench import common  # noqa: E402


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--changes", type=int, default=10_000, help="state changes waiting at B2Brouter")
    p.add_argument("--page-size", type=int, default=100, help="polling page size (the product's default)")
    p.add_argument("--threads", type=int, default=8, help="client threads creating the invoices")
    p.add_argument("--buyers", type=int, default=5)
    p.add_argument("--latency-ms", type=int, default=0,
                   help="sandbox latency per API call (0: the sync's own cost only)")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--profile", action="store_true",
                   help="profile the timed sync (cProfile, top 30 on stderr; slows it down)")
    args = p.parse_args()
    common.main_guard(lambda: run(args))


def run(args) -> None:
    port = common.free_port()
    common.setup("status_sync", sandbox_port=port)
    common.progress(args, "migrating the benchmark database")
    common.database()

    from django.conf import settings

    from b2brouter import B2BrouterClient, payloads
    from invoicing.models import Invoice, InvoiceLine, SyncCursor
    from invoicing.services.remote import account_sync_states

    sandbox = common.start_sandbox(port=port, send_delay=0.05)
    account = common.account_create(register=True)
    buyers = common.buyers_register(account, args.buyers)

    local = threading.local()

    def client() -> B2BrouterClient:
        if not hasattr(local, "client"):
            local.client = B2BrouterClient(settings.B2BROUTER_API_URL, settings.B2BROUTER_API_KEY,
                                           settings.B2BROUTER_API_VERSION)
        return local.client

    today = datetime.date.today()

    def create(seq: int) -> dict:
        buyer, service = buyers[seq % len(buyers)]
        data = payloads.InvoiceData(
            number=f"S-{seq:07d}", date=today, due_date=today + datetime.timedelta(days=30),
            contact_id=service.remote_contact_id if service else buyer.remote_contact_id,
            bank_account=payloads.BankAccount(iban=account.iban), ponumber=f"PO{seq:07d}",
            buyer_reference=service.code if service else "", billing_framework="A1",
            lines=[payloads.InvoiceLineData(description="Prestation", quantity=Decimal(3),
                                            price=Decimal("125.50"),
                                            taxes=[payloads.TaxData(percent=Decimal(20))])],
        )
        remote = client().create_invoice(account.remote_id,
                                          payloads.invoice_body(data, send_after_import=True))
        return {"seq": seq, "remote": remote, "buyer": buyer, "service": service}

    cursor_from = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    common.progress(args, f"creating {args.changes:,} invoices at the sandbox "
                          f"({args.threads} threads)")
    started = time.monotonic()
    with ThreadPoolExecutor(args.threads) as pool:
        created = list(pool.map(create, range(args.changes)))
    creation_seconds = time.monotonic() - started

    from invoicing.services.remote import parse_timestamp

    invoices = Invoice.objects.bulk_create([
        Invoice(account=account, number=c["remote"]["number"], buyer=c["buyer"],
                service=c["service"], buyer_reference=c["service"].code if c["service"] else "",
                issue_date=today, due_date=today + datetime.timedelta(days=30),
                po_number=c["remote"].get("ponumber") or "", iban=account.iban,
                state="draft", remote_id=c["remote"]["id"],
                state_updated_at=parse_timestamp(c["remote"]["state_updated_at"]),
                submit_attempts=1, subtotal=c["remote"]["subtotal"],
                tax_amount=c["remote"]["tax_amount"], total=c["remote"]["total"],
                payable_amount=c["remote"]["payable_amount"])
        for c in created
    ], batch_size=1000)
    InvoiceLine.objects.bulk_create([
        InvoiceLine(invoice=invoice, position=1, description="Prestation", quantity=Decimal(3),
                    unit_price=Decimal("125.50"), vat_rate=Decimal(20),
                    line_total=Decimal("376.50"))
        for invoice in invoices
    ], batch_size=2000)
    # Issued once its lines are in (the database refuses lines on an issued invoice).
    Invoice.objects.filter(pk__in=[invoice.pk for invoice in invoices]).update(state="sending")

    def all_deposited() -> bool:
        page = client().list_invoices(account.remote_id, limit=1, sending=True)
        return page.total_count == 0

    common.progress(args, "waiting for the sandbox to deposit them all (sending -> sent)")
    common.wait_until(all_deposited, timeout=args.timeout, interval=1.0, what="deposits")
    deposit_seconds = time.monotonic() - started - creation_seconds
    SyncCursor.objects.update_or_create(account=account,
                                        defaults={"state_updated_at_from": cursor_from})

    sandbox.control("DELETE", "/_sandbox/stats")
    common.progress(args, "timing account_sync_states")
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    with common.QueryCounter() as queries:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        result = account_sync_states(account=account, page_size=args.page_size)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
    if profiler:  # where the time goes, on stderr: the figures below include the profiler's cost
        import pstats

        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    stats = sandbox.control("GET", "/_sandbox/stats")
    applied_rows = Invoice.objects.filter(account=account, state="sent").count()

    per_page = queries.count / result.pages if result.pages else float("nan")
    per_change = queries.count / result.applied if result.applied else float("nan")
    rate = result.applied / elapsed if elapsed else float("nan")
    common.report(
        "Status sync by polling (bench/status_sync.py)",
        args=args,
        settings={"database": common.database_label(), "broker": common.broker_label(),
                  "sandbox latency": f"{args.latency_ms} ms per API call",
                  "changes": f"{args.changes:,} invoices sending -> sent at the sandbox "
                             f"(created in {creation_seconds:.1f} s, deposited in "
                             f"{deposit_seconds:.1f} s more; not timed)"},
        sections=[
            ("account_sync_states", [{
                "changes applied": result.applied, "seen": result.seen, "seconds": elapsed,
                "changes/s": rate, "pages (list calls)": result.pages,
                "SQL queries": queries.count, "queries/page": per_page,
                "queries/change": per_change, "page size": args.page_size,
            }]),
            ("B2Brouter calls during the sync", [{"route": r, "calls": n}
                                                 for r, n in sorted(stats["requests"].items())]),
        ],
        notes=[
            f"invoices now `sent` locally: {applied_rows:,} of {args.changes:,}",
            "changes are applied in batches of 200 per transaction (one lock query, one UPDATE "
            "per set of changed fields, one INSERT of history rows); the deposits' legal XML and "
            "PDF fetches go on commit as one `core.fan_out` message per batch, which a worker "
            "turns into the fetch tasks (not timed here: no worker runs)",
        ],
        figures={"applied": result.applied, "seconds": elapsed, "changes_per_second": rate,
                 "pages": result.pages, "queries": queries.count, "queries_per_page": per_page,
                 "queries_per_change": per_change, "calls": stats["requests"]},
    )
    common.purge_queue()


if __name__ == "__main__":
    main()
