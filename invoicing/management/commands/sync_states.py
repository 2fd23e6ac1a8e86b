from django.core.management.base import BaseCommand

from core.models import Account
from invoicing.services import remote


class Command(BaseCommand):
    help = "Polls B2Brouter now for every state change since the last sync, and reconciles."

    def handle(self, *args, **options):
        for account in Account.objects.filter(remote_id__isnull=False):
            result = remote.account_sync_states(account=account)
            self.stdout.write(
                f"{account}: {result.pages} page(s), {result.seen} seen, {result.applied} applied"
            )
        self.stdout.write(f"reconcile: {remote.reconcile(stale_after=0)}")
