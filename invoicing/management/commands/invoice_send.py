from django.core.management.base import BaseCommand, CommandError

from invoicing.models import Invoice
from invoicing.services import submission


class Command(BaseCommand):
    help = ("Sends an invoice by number (queues it; a worker submits it). --now submits it here. "
            "The pre-send checks run as in the browser: an invoice they refuse is not sent.")

    def add_arguments(self, parser):
        parser.add_argument("number")
        parser.add_argument("--account", type=int, help="local account id, if several have the number")
        parser.add_argument("--now", action="store_true", help="submit in this process, no worker")

    def handle(self, *args, number, account, now, **options):
        invoices = Invoice.objects.filter(number=number)
        if account:
            invoices = invoices.filter(account_id=account)
        if invoices.count() != 1:
            raise CommandError(f"{invoices.count()} invoices numbered {number!r}; use --account.")
        invoice = invoices.get()
        try:
            invoice = submission.invoice_request_send(invoice_id=invoice.pk)
        except submission.InvoiceCheckFailed as exc:
            for message in exc.messages:
                self.stderr.write(f"  - {message}")
            raise CommandError(f"{invoice.number} is not sent: {len(exc.messages)} problem(s) "
                               "to fix first.") from exc
        except submission.InvoiceActionError as exc:
            raise CommandError(str(exc)) from exc
        if now:
            submission.invoice_submit(invoice_id=invoice.pk, stale_after=0)
            invoice.refresh_from_db()
        self.stdout.write(f"{invoice.number}: {invoice.get_state_display()} (remote id {invoice.remote_id})")
