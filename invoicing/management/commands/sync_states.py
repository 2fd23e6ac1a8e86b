from django.core.management.base import BaseCommand

from invoicing import sync
from invoicing.models import Account


class Command(BaseCommand):
    help = "Polls B2Brouter now for every state change since the last sync, and reconciles."

    def handle(self, *args, **options):
        for account in Account.objects.filter(remote_id__isnull=False):
            result = sync.account_sync_states(account=account)
            self.stdout.write(
                f"{account}: {result.pages} page(s), {result.seen} seen, {result.applied} applied"
            )
        self.stdout.write(f"reconcile: {sync.reconcile(stale_after=0)}")
