"""A fast generator of years of invoices, for the page and export benchmarks: on PostgreSQL the
rows go in by COPY (ids drawn from the tables' sequences first), elsewhere by bulk_create. Run alone it fills a database of its own and says how long that took:

    .venv/bin/python bench/generate.py --invoices 100000

The data looks like a supplier's history with 35 public buyers over four years, a main customer
with a quarter of the invoices and the others fewer and fewer (Zipf): invoices of one to three
lines, mostly paid once old (but for the buyers that never report payment), half still waiting
at one to three months, in flight when recent, some refused (routing returns and rejections), a
few deposit errors and B2Brouter refusals, drafts among the newest; one or two
history rows each; for every deposited invoice its legal XML (a UBL invoice built by the
sandbox's own builder, ~8 KB) with its SHA-256, acknowledged; and for every paid one the payment
finance recorded (the whole amount, by transfer, on the day it was reported paid).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import itertools  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from decimal import Decimal  # noqa: E402

from bench import common  # noqa: E402

SPAN_DAYS = 4 * 365
BATCH = 5000
REMOTE_ID_BASE = 2_000_000_000

# By the invoice's age in days: (upper bound of the age, [(state, weight), ...]).
STATES_BY_AGE = [
    (3, [("draft", 30), ("queued", 2), ("sending", 8), ("sent", 30), ("registered", 22),
         ("failed", 5), ("error", 3)]),
    (30, [("draft", 3), ("sent", 10), ("registered", 35), ("accepted", 30), ("refused", 10),
          ("paid", 10), ("error", 2)]),
    # Public buyers pay late: at one to three months a good half is still waiting.
    (90, [("registered", 12), ("accepted", 38), ("paid", 40), ("refused", 8), ("error", 2)]),
    # Some never move: stuck at the buyer's (registered) or approved and never paid.
    (None, [("paid", 89), ("refused", 5), ("accepted", 4), ("registered", 2)]),
]
# A supplier's customers are not equal: the n-th by volume has 1/n of the first's invoices
# (Zipf), so the main customer has about a quarter of them and the last a hundredth.
def _buyer_weights(count: int) -> list[float]:
    return [1 / rank for rank in range(1, count + 1)]

CHORUS = {"sent": "DEPOSEE", "registered": "MISE_A_DISPOSITION", "accepted": "SERVICE_FAIT",
          "paid": "MISE_EN_PAIEMENT"}
DEPOSITED = {"sent", "registered", "accepted", "refused", "paid"}
REMOTE = DEPOSITED | {"new", "sending", "error"}


def _state_for(age: int, rng: random.Random) -> str:
    for bound, weights in STATES_BY_AGE:
        if bound is None or age < bound:
            states, w = zip(*weights, strict=True)
            return rng.choices(states, weights=w)[0]
    raise AssertionError("unreachable")


class Generator:
    """Adds invoices to the account up to a given total, the same distribution at every size."""

    def __init__(self, account, user, *, seed: int = 8, xml_lines: int = 9,
                 state: str | None = None):
        from directory.models import Buyer, Service

        self.account = account
        self.user = user
        self.state = state  # every invoice in this state (e.g. "paid"), or the usual spread
        self.rng = random.Random(seed)
        self.today = datetime.date.today()
        self.buyers = []
        self.templates = {}
        entries = common.directory_entries()
        existing = {b.siret: b for b in Buyer.objects.filter(account=account)}
        for index, entry in enumerate(entries):
            buyer = existing.get(entry["cin_value"]) or Buyer.objects.create(
                account=account, siret=entry["cin_value"], name=entry["name"],
                address=entry["address"], city=entry["city"], postalcode=entry["postalcode"],
                vat_number=entry["tin_value"], remote_contact_id=REMOTE_ID_BASE - 1000 + index,
                sync_state="synced",
                payment_status_not_reported=entry["chorus"]["payment_status_not_reported"],
                service_code_required=entry["chorus"]["service_code_required"],
                engagement_required=entry["chorus"]["engagement_required"],
            )
            item = common.first_service(entry)
            service = None
            if item:
                service, _ = Service.objects.get_or_create(
                    buyer=buyer, code=item["code"],
                    defaults={"name": item["name"], "sync_state": "synced",
                              "remote_contact_id": REMOTE_ID_BASE - 500 + index})
            self.buyers.append((buyer, service))
            self.templates[buyer.pk] = common.legal_xml_template(entry, lines=xml_lines)
        self.buyer_weights = list(itertools.accumulate(_buyer_weights(len(self.buyers))))

    def fill(self, total: int, *, progress=None) -> float:
        """Adds invoices until the account has `total`. Returns the seconds it took."""
        from django.db import connection, transaction

        from finance.models import Payment
        from invoicing.models import Invoice, InvoiceEvent, InvoiceLine, LegalDocument

        started = time.monotonic()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # the benchmark's own database: speed over safety
                cursor.execute("SET synchronous_commit TO off")
        have = Invoice.objects.filter(account=self.account).count()
        with (common.timestamps_as_given(Invoice, InvoiceEvent, LegalDocument, Payment),
              _lines_unguarded()):
            while have < total:
                size = min(BATCH, total - have)
                with transaction.atomic():
                    self._batch(have, size, Invoice, InvoiceLine, InvoiceEvent, LegalDocument,
                                Payment)
                have += size
                if connection.vendor == "postgresql" and (have % 100_000 < BATCH or have >= total):
                    with connection.cursor() as cursor:
                        # What autovacuum would have done by then: the planner's figures, the
                        # visibility map, and the trigram indexes' pending entries merged in.
                        cursor.execute("VACUUM ANALYZE invoicing_invoice, invoicing_invoiceevent")
                        cursor.execute("ANALYZE invoicing_invoiceline, invoicing_legaldocument, "
                                       "finance_payment")
                if progress:
                    progress(f"  {have:,} / {total:,} invoices")
        return time.monotonic() - started

    def _batch(self, first: int, size: int, Invoice, InvoiceLine, InvoiceEvent, LegalDocument,
               Payment):
        rng = self.rng
        tz = datetime.UTC
        now = datetime.datetime.now(tz)
        invoices, specs = [], []
        for seq in range(first, first + size):
            age = int(rng.triangular(0, SPAN_DAYS, 0))  # more invoices lately: a growing business
            issue = self.today - datetime.timedelta(days=age)
            state = self.state or _state_for(age, rng)
            buyer, service = rng.choices(self.buyers, cum_weights=self.buyer_weights)[0]
            if state == "paid" and buyer.payment_status_not_reported and not self.state:
                state = "accepted"  # such a buyer never reports the payment: approved is the end
            created = datetime.datetime.combine(issue, datetime.time(8), tz) + datetime.timedelta(
                minutes=rng.randrange(600))
            created = min(created, now - datetime.timedelta(minutes=5))
            changed = min(created + datetime.timedelta(days=min(age, rng.randrange(1, 45))), now)
            lines = [(Decimal(rng.randrange(1, 40)), Decimal(rng.randrange(2000, 250000)) / 100,
                      Decimal(rng.choice(["20", "20", "20", "10", "5.5"])))
                     for _ in range(rng.choice((1, 1, 2, 3)))]
            subtotal = sum((common.round2(q * p) for q, p, _ in lines), Decimal("0.00"))
            tax = sum((common.round2(common.round2(q * p) * r / 100) for q, p, r in lines),
                      Decimal("0.00"))
            remote = state in REMOTE
            refused_status = rng.choice(["REJETEE", "REJETEE", "A_RECYCLER", "SUSPENDUE"])
            number = f"F{issue.year}-{seq + 1:07d}"
            invoices.append(Invoice(
                account=self.account, number=number, issue_date=issue,
                due_date=issue + datetime.timedelta(days=30), buyer=buyer, service=service,
                buyer_reference=service.code if service else "", po_number=f"PO{seq:08d}",
                iban=self.account.iban, state=state,
                remote_id=REMOTE_ID_BASE + seq if remote else None,
                state_updated_at=changed if remote else None,
                submit_attempts=1 if remote or state == "failed" else 0,
                chorus_status=(refused_status if state == "refused" else CHORUS.get(state, "")),
                chorus_status_reason="Motif de refus" if state == "refused" else "",
                last_error="Dépôt impossible" if state in ("error", "failed") else "",
                download_legal_url=f"/attachments/download/{seq}/{number}.xml"
                if state in DEPOSITED else "",
                legal_xml_checked_at=changed if state in DEPOSITED else None,
                subtotal=subtotal, tax_amount=tax, total=subtotal + tax,
                payable_amount=subtotal + tax, created_by=self.user,
                received_amount=subtotal + tax if state == "paid" else None,
                last_paid_on=changed.date() if state == "paid" else None,
                created_at=created, updated_at=changed,
            ))
            specs.append(lines)
        _insert(Invoice, invoices)
        rows_lines, rows_events, rows_docs, rows_payments = [], [], [], []
        for invoice, lines in zip(invoices, specs, strict=True):
            for position, (q, p, r) in enumerate(lines, start=1):
                rows_lines.append(InvoiceLine(
                    invoice=invoice, position=position, description=f"Prestation {position}",
                    quantity=q, unit_price=p, vat_rate=r, line_total=common.round2(q * p)))
            rows_events.append(InvoiceEvent(
                invoice=invoice, kind="state", source="user", from_state="", to_state="draft",
                message="Créée", created_at=invoice.created_at))
            if invoice.remote_id:
                rows_events.append(InvoiceEvent(
                    invoice=invoice, kind="state", source="webhook", from_state="sending",
                    to_state=invoice.state, chorus_status=invoice.chorus_status,
                    created_at=invoice.state_updated_at))
            if invoice.state in DEPOSITED:
                content = common.legal_xml(self.templates[invoice.buyer_id], invoice.number)
                rows_docs.append(LegalDocument(
                    invoice=invoice, account_id=invoice.account_id, number=invoice.number,
                    submission_round=1, content=content,
                    sha256=hashlib.sha256(content).hexdigest(), size=len(content),
                    content_type="application/xml", source_url=invoice.download_legal_url,
                    fetched_at=invoice.state_updated_at, acknowledged_at=invoice.state_updated_at))
            if invoice.state == "paid":
                rows_payments.append(Payment(
                    invoice=invoice, account_id=invoice.account_id,
                    received_on=invoice.state_updated_at.date(), amount=invoice.total,
                    means="transfer", reference=f"VIR {invoice.number}",
                    recorded_by=self.user, recorded_at=invoice.state_updated_at))
        _insert(InvoiceLine, rows_lines)
        _insert(Payment, rows_payments)
        _insert(InvoiceEvent, rows_events)
        _insert(LegalDocument, rows_docs)


@contextlib.contextmanager
def _lines_unguarded():
    """The database refuses lines under an issued invoice (the product writes them while it is a
    draft); the generator writes each invoice in its final state, so that trigger is off while
    it fills this benchmark's own database, and back on after, whatever happens."""
    import importlib

    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE invoicing_invoiceline DISABLE TRIGGER invoice_line_frozen")
            restore = "ALTER TABLE invoicing_invoiceline ENABLE TRIGGER invoice_line_frozen"
        else:  # SQLite cannot disable a trigger: it is dropped, then made again as migrated
            frozen = importlib.import_module("invoicing.migrations.0012_issued_invoices_frozen")
            restore = next(sql for sql in frozen.SQLITE_FORWARD
                           if "TRIGGER invoice_line_frozen_insert" in sql)
            cursor.execute("DROP TRIGGER IF EXISTS invoice_line_frozen_insert")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(restore)


def _insert(model, objects: list) -> None:
    """Writes `objects` (unsaved, timestamps as given) and sets their primary keys: by COPY on
    PostgreSQL, the product's own bulk writer (core/bulk.py), about four times bulk_create's
    rate. The database's triggers run as for any insert (but the one `fill` turns off)."""
    from core.bulk import insert_rows

    insert_rows(model, objects, batch_size=500 if model._meta.model_name == "legaldocument" else 2000)


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--invoices", type=int, default=100_000)
    args = p.parse_args()

    def run():
        common.setup("generate")
        common.database()
        account = common.account_create()
        users = common.users_create(account)
        generator = Generator(account, users["staff"])
        seconds = generator.fill(args.invoices, progress=lambda m: common.progress(args, m))
        from invoicing.models import Invoice, LegalDocument

        common.report("Bulk generator (bench/generate.py)", args=args,
                      settings={"database": common.database_label()},
                      sections=[("Generated", [{
                          "invoices": Invoice.objects.count(),
                          "legal XML": LegalDocument.objects.count(),
                          "seconds": seconds, "invoices/s": args.invoices / seconds}])])

    common.main_guard(run)


if __name__ == "__main__":
    main()
