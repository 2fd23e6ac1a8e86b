"""HTTP calls to B2Brouter per invoice over its whole life: with webhooks, then by polling.

    .venv/bin/python bench/calls_per_invoice.py [--invoices 50] [--advance-after 0.3]
                                                [--page-size 100] [--json]

1. Webhooks: the sandbox moves each invoice on by itself (sending -> sent -> registered ->
   accepted -> paid, a step every `--advance-after` s) and notifies the product's webhook
   endpoint, served by gunicorn; real Celery workers submit, apply the notifications, fetch the
   legal XML and acknowledge it, and fetch the invoice's PDF. Once every invoice is paid,
   archived, acknowledged and its PDF stored, the sandbox's request counters
   (`/_sandbox/stats`) give the calls per invoice (target 4: submit, `GET /invoices/{id}` for
   the legal XML's address (a webhook's is never trusted), legal XML, ack; plus the PDF, and a
   second PDF call for an invoice whose PDF was not ready yet).
2. Attachments: the same with `--attachments` supporting documents joined to each invoice:
   create without sending, one upload per document, send; then legal XML, ack and PDF
   (target 4 + documents + 1, plus the PDF).
3. Companies: the account activated for the reform, invoices to French companies followed
   to their end (allegedly_paid) with their declaration to the tax administration (tax report
   registered): the same calls plus one `GET /tax_reports/{id}` per terminal state's webhook.
4. Polling: webhooks off, the same again with `account_sync_states` (the beat task's service)
   run every `--advance-after` s, for public buyers then for companies (whose tax reports are
   read by `tax_reports_follow`, the polling's own task). Printed: list calls (one per page of
   changes) against the changes they carried, and the calls per invoice over the whole life.

Buyers are registered before counting (their contact calls are shown apart: they are made once
per buyer, not per invoice).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import datetime  # noqa: E402
import time  # noqa: E402

from bench import common  # noqa: E402


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--invoices", type=int, default=50, help="invoices followed in each phase")
    p.add_argument("--advance-after", type=float, default=0.3,
                   help="seconds between the sandbox's steps of an invoice")
    p.add_argument("--page-size", type=int, default=100, help="polling page size")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--buyers", type=int, default=5)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--attachments", type=int, default=2,
                   help="supporting documents per invoice in the attachments phase (0: skip it)")
    p.add_argument("--pdf-delay", type=float, default=0.5,
                   help="seconds before the sandbox has an invoice's PDF ready")
    p.add_argument("--skip-polling", action="store_true", help="only the webhook phases")
    p.add_argument("--skip-companies", action="store_true", help="no invoices to companies")
    args = p.parse_args()
    common.main_guard(lambda: run(args))


def _per_route(stats: dict, invoices: int) -> list[dict]:
    return [{"route": route, "calls": n, "per invoice": n / invoices}
            for route, n in sorted(stats["requests"].items())]


def run(args) -> None:
    port, web_port = common.free_port(), common.free_port()
    common.setup("calls_per_invoice", sandbox_port=port)
    common.progress(args, "migrating the benchmark database")
    common.database()

    from django.core.files.uploadedfile import SimpleUploadedFile

    from invoicing import states
    from invoicing.models import Invoice, InvoicePdf, LegalDocument, TaxReport, WebhookEvent
    from invoicing.models import InvoiceState as S
    from invoicing.services import reform
    from invoicing.services.drafts import attachment_add
    from invoicing.services.remote import account_sync_states
    from invoicing.services.submission import invoice_request_send

    webhook_url = f"http://127.0.0.1:{web_port}/webhooks/b2brouter/"
    sandbox = common.start_sandbox(
        port=port, advance_after=args.advance_after, send_delay=min(args.advance_after, 0.3),
        refuse_share=0, webhook_url=webhook_url, webhook_secret=common.WEBHOOK_SECRET,
        webhook_backoff=0.5, pdf_delay=args.pdf_delay,
    )
    common.progress(args, f"sandbox on {sandbox.url}, webhooks to {webhook_url}")
    common.start_web(port=web_port)
    common.start_workers(args.workers, args.concurrency)

    sandbox.control("DELETE", "/_sandbox/stats")
    account = common.account_create(register=True)
    buyers = common.buyers_register(account, args.buyers)
    setup_stats = sandbox.control("GET", "/_sandbox/stats")

    company_ends = {S.ALLEGEDLY_PAID, S.REFUSED, S.ERROR}

    def settled(ids) -> bool:
        """Every invoice at its end (paid; for a company, payment reported and its declaration
        registered), its legal XML archived and acknowledged, its PDF stored."""
        invoices = Invoice.objects.filter(pk__in=ids)
        companies = invoices.filter(buyer__public_sector=False)
        if invoices.filter(buyer__public_sector=True).exclude(
                state__in=states.FINAL_STATES).exists():
            return False
        if companies.exclude(state__in=company_ends).exists() or TaxReport.objects.filter(
                invoice__in=ids).exclude(state__in=TaxReport.TERMINAL).exists():
            return False
        unacked = LegalDocument.objects.filter(invoice__in=ids, acknowledged_at__isnull=True)
        archived = LegalDocument.objects.filter(invoice__in=ids).count()
        pdfs = InvoicePdf.objects.filter(invoice__in=ids).count()
        return archived == len(ids) and pdfs == len(ids) and not unacked.exists()

    def deliveries_done() -> bool:
        listing = sandbox.control("GET", "/_sandbox/webhook/deliveries")["deliveries"]
        return all(d["status"] == "delivered" for d in listing)

    def follow(ids) -> tuple[dict, float]:
        """Sends `ids`, waits for the end of their lives; the sandbox's counters and the time."""
        sandbox.control("DELETE", "/_sandbox/stats")
        started = time.monotonic()
        for pk in ids:
            invoice_request_send(invoice_id=pk)
        common.wait_until(lambda: settled(ids), timeout=args.timeout, interval=0.2,
                          what="every invoice paid, archived, acknowledged and its PDF stored")
        common.wait_until(deliveries_done, timeout=60, interval=0.2, what="webhook deliveries")
        common.wait_until(lambda: not WebhookEvent.objects.filter(processed_at__isnull=True).exists(),
                          timeout=60, interval=0.2, what="webhook processing")
        time.sleep(1.0)  # let any straggling task (a late ack, a re-fetch) make its call
        return sandbox.control("GET", "/_sandbox/stats"), time.monotonic() - started

    def pdf_calls(stats: dict) -> int:
        # pdf.invoice is the only code the product asks for
        return stats["requests"].get("GET /invoices/{id}/as/{code}", 0)

    # --- 1. Webhooks ---------------------------------------------------------------------------
    ids = common.invoice_drafts(account, buyers, args.invoices, prefix="H")
    common.progress(args, f"webhooks: sending {len(ids)} invoices and following them to the end")
    webhook_stats, webhook_seconds = follow(ids)
    deliveries = sandbox.control("GET", "/_sandbox/webhook/deliveries")["deliveries"]
    events = WebhookEvent.objects.count()
    outcomes = set(Invoice.objects.filter(pk__in=ids).values_list("state", flat=True))
    webhook_calls = webhook_stats["total"] / len(ids)
    webhook_pdf = pdf_calls(webhook_stats) / len(ids)

    sections = [
        ("Webhook path, no attachments: B2Brouter calls over each invoice's life",
         _per_route(webhook_stats, len(ids))
         + [{"route": "TOTAL", "calls": webhook_stats["total"], "per invoice": webhook_calls}]),
    ]
    figures = {"invoices": len(ids), "webhook_calls_per_invoice": webhook_calls,
               "webhook_calls_per_invoice_without_pdf": webhook_calls - webhook_pdf,
               "webhook_routes": webhook_stats["requests"], "webhooks_delivered": len(deliveries),
               "setup_calls": setup_stats["requests"]}
    notes = [
        f"webhook phase: {len(ids)} invoices, final states {sorted(outcomes)}, "
        f"{len(deliveries)} notifications delivered, {events} stored, {webhook_seconds:.1f} s",
        f"calls per invoice without attachments: {webhook_calls - webhook_pdf:.2f} "
        f"(target 4: submit, GET for the legal XML's address, legal XML, ack) + "
        f"{webhook_pdf:.2f} for the PDF "
        f"(1 when it is ready at the first ask; ready {args.pdf_delay} s after the deposit)",
        "set-up, not counted above (once per account and per buyer): "
        + ", ".join(f"{route} x{n}" for route, n in sorted(setup_stats["requests"].items())),
    ]

    # --- 2. Attachments ------------------------------------------------------------------------
    if args.attachments:
        ids = common.invoice_drafts(account, buyers, args.invoices, prefix="A")
        for invoice in Invoice.objects.filter(pk__in=ids):
            for n in range(args.attachments):
                attachment_add(invoice=invoice, upload=SimpleUploadedFile(
                    f"justificatif-{n + 1}.pdf", b"%PDF-1.4\n% supporting document\n%%EOF\n",
                    content_type="application/pdf"))
        common.progress(args, f"attachments: sending {len(ids)} invoices with "
                              f"{args.attachments} documents each")
        stats, seconds = follow(ids)
        calls = stats["total"] / len(ids)
        pdf = pdf_calls(stats) / len(ids)
        uploads = stats["requests"].get("POST /invoices/{id}/add_attachment", 0)
        sections.append((
            f"Webhook path, {args.attachments} attachments: B2Brouter calls over each invoice's life",
            _per_route(stats, len(ids))
            + [{"route": "TOTAL", "calls": stats["total"], "per invoice": calls}]))
        figures.update(attachments=args.attachments, attachment_calls_per_invoice=calls,
                       attachment_calls_per_invoice_without_pdf=calls - pdf,
                       attachment_routes=stats["requests"])
        notes.append(
            f"calls per invoice with {args.attachments} attachments: {calls - pdf:.2f} "
            f"(target {4 + args.attachments + 1}: create, {args.attachments} uploads "
            f"({uploads / len(ids):.2f} made), send, GET for the address, legal XML, ack) + "
            f"{pdf:.2f} for the PDF; "
            f"{seconds:.1f} s")

    # --- 3. Companies (webhooks) ---------------------------------------------------------------
    companies = []
    if not args.skip_companies:
        common.account_activate(account)
        companies = common.companies_register(account, 3)
        ids = common.company_drafts(account, companies, args.invoices, prefix="C")
        common.progress(args, f"companies: sending {len(ids)} invoices to companies")
        stats, seconds = follow(ids)
        calls = stats["total"] / len(ids)
        pdf = pdf_calls(stats) / len(ids)
        reports = stats["requests"].get("GET /tax_reports/{id}", 0) / len(ids)
        sections.append((
            "Webhook path, invoices to companies: B2Brouter calls over each invoice's life",
            _per_route(stats, len(ids))
            + [{"route": "TOTAL", "calls": stats["total"], "per invoice": calls}]))
        figures.update(company_webhook_calls_per_invoice=calls,
                       company_webhook_calls_per_invoice_without_pdf=calls - pdf,
                       company_routes=stats["requests"])
        notes.append(
            f"calls per company invoice (webhooks): {calls - pdf:.2f} + {pdf:.2f} for the PDF, "
            f"beside {webhook_calls - webhook_pdf:.2f} + {webhook_pdf:.2f} for a public one; "
            f"{reports:.2f} tax report reads (one per terminal state's notice); {seconds:.1f} s")

    # --- 4. Polling ----------------------------------------------------------------------------
    if not args.skip_polling:
        sandbox.control("PUT", "/_sandbox/webhook", json={"url": None, "secret": None})
        account_sync_states(account=account, page_size=args.page_size)  # cursor past phase 1
        ids = common.invoice_drafts(account, buyers, args.invoices, prefix="P")  # no attachments
        sandbox.control("DELETE", "/_sandbox/stats")
        common.progress(args, f"polling: sending {len(ids)} invoices, syncing every "
                              f"{args.advance_after} s")
        started = time.monotonic()
        for pk in ids:
            invoice_request_send(invoice_id=pk)
        syncs = []
        deadline = time.monotonic() + args.timeout
        while not settled(ids):
            if time.monotonic() > deadline:
                raise TimeoutError("polling phase did not settle")
            time.sleep(args.advance_after)
            if Invoice.objects.filter(pk__in=ids, state__in=[S.QUEUED, S.SUBMITTING]).exists():
                continue
            result = account_sync_states(account=account, page_size=args.page_size)
            syncs.append(result)
        time.sleep(1.0)
        polling_seconds = time.monotonic() - started
        polling_stats = sandbox.control("GET", "/_sandbox/stats")
        pages = sum(r.pages for r in syncs)
        applied = sum(r.applied for r in syncs)
        seen = sum(r.seen for r in syncs)
        list_calls = polling_stats["requests"].get("GET /accounts/{id}/invoices", 0)
        polling_calls = polling_stats["total"] / len(ids)
        sections += [
            ("Polling path: B2Brouter calls over each invoice's life",
             _per_route(polling_stats, len(ids))
             + [{"route": "TOTAL", "calls": polling_stats["total"], "per invoice": polling_calls}]),
            ("Polling path: list calls against the changes they carried", [{
                "sync runs": len(syncs), "list calls (pages)": list_calls,
                "invoices seen": seen, "changes applied": applied,
                "changes/page": applied / pages if pages else float("nan"),
                "list calls/invoice": list_calls / len(ids),
                "page size": args.page_size,
            }]),
        ]
        figures.update(polling_calls_per_invoice=polling_calls, polling_routes=polling_stats["requests"],
                       sync_runs=len(syncs), pages=pages, changes_applied=applied, seen=seen)
        notes += [
            f"polling phase: {len(ids)} invoices, {len(syncs)} sync runs, {polling_seconds:.1f} s; "
            "each run costs one list call per page of changes, "
            "whatever the number of invoices; a run while nothing changed costs one call",
        ]
        if companies:
            account_sync_states(account=account, page_size=args.page_size)
            reform.FOLLOW_AFTER = datetime.timedelta(seconds=args.advance_after)
            ids = common.company_drafts(account, companies, args.invoices, prefix="Q")
            sandbox.control("DELETE", "/_sandbox/stats")
            common.progress(args, f"polling: {len(ids)} invoices to companies")
            started = time.monotonic()
            for pk in ids:
                invoice_request_send(invoice_id=pk)
            runs = 0
            deadline = time.monotonic() + args.timeout
            while not settled(ids):
                if time.monotonic() > deadline:
                    raise TimeoutError("company polling phase did not settle")
                time.sleep(args.advance_after)
                if Invoice.objects.filter(pk__in=ids, state__in=[S.QUEUED, S.SUBMITTING]).exists():
                    continue
                account_sync_states(account=account, page_size=args.page_size)
                reform.tax_reports_follow()
                runs += 1
            time.sleep(1.0)
            stats = sandbox.control("GET", "/_sandbox/stats")
            calls = stats["total"] / len(ids)
            sections.append(("Polling path, invoices to companies: B2Brouter calls over each "
                             "invoice's life", _per_route(stats, len(ids))
                             + [{"route": "TOTAL", "calls": stats["total"], "per invoice": calls}]))
            figures.update(company_polling_calls_per_invoice=calls)
            notes.append(f"company polling phase: {len(ids)} invoices, {runs} runs, "
                         f"{time.monotonic() - started:.1f} s, {calls:.2f} calls per invoice "
                         f"beside {polling_calls:.2f} for a public one (tax reports read at each "
                         "run until registered)")
    common.report(
        "HTTP calls per invoice (bench/calls_per_invoice.py)",
        args=args,
        settings={
            "database": common.database_label(),
            "broker": common.broker_label(),
            "workers": f"{args.workers} x {args.concurrency} threads",
            "sandbox": f"a step every {args.advance_after} s, no refusals, webhooks to gunicorn "
                       f"({webhook_url})",
        },
        sections=sections,
        notes=notes,
        figures=figures,
    )
    common.purge_queue()


if __name__ == "__main__":
    main()
