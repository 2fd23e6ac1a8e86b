from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.models import Account
from invoicing.services import accounts as account_services


class Command(BaseCommand):
    help = (
        "Sets up or retrieves the B2Brouter account: B2BROUTER_ACCOUNT_ID if set, otherwise each "
        "local account without a remote id is found (by VAT number) or created at B2Brouter."
    )

    def handle(self, *args, **options):
        if settings.B2BROUTER_ACCOUNT_ID:
            account = account_services.account_from_remote(remote_id=settings.B2BROUTER_ACCOUNT_ID)
            self.stdout.write(f"Account {account.remote_id}: {account.name}")
            return
        accounts = Account.objects.filter(remote_id__isnull=True)
        if not accounts.exists() and not Account.objects.exists():
            raise CommandError("No local account: create one in the admin, or set B2BROUTER_ACCOUNT_ID.")
        for account in accounts:
            account_services.account_register(account=account)
        for account in Account.objects.all():
            self.stdout.write(f"Account {account.remote_id}: {account.name}")
