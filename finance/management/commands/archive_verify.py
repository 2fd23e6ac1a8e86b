from django.core.management.base import BaseCommand, CommandError

from finance.archive import archive_verify


class Command(BaseCommand):
    help = "Re-hashes every archived legal XML and reports any that no longer matches its SHA-256."

    def handle(self, *args, **options):
        checked, mismatches = archive_verify()
        for m in mismatches:
            self.stderr.write(f"MISMATCH document {m.document_id} (invoice {m.invoice_number}): "
                              f"stored {m.stored_sha256}, actual {m.actual_sha256}")
        self.stdout.write(f"{checked} document(s) checked, {len(mismatches)} mismatch(es)")
        if mismatches:
            raise CommandError(f"{len(mismatches)} archived document(s) do not match their hash")
