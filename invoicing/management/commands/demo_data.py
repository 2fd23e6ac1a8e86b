"""Loads the demo: an account registered at B2Brouter (the sandbox), public buyers from the
directory with their services, one user per role (passwords printed), and a draft invoice."""

import datetime
import secrets
import time
from decimal import Decimal

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from core import roles
from core.models import Account
from directory.services import (
    DirectoryError,
    buyer_create_from_directory,
    directory_lookup,
    entry_lists_services,
)
from invoicing.lines import Line
from invoicing.models import Invoice
from invoicing.services import accounts, drafts, reform

DEMO_BUYERS = ["13001533200013", "21750001600019", "21130055300016", "11000201100044", "21690123100011"]
# Two French companies (the sandbox's directory): one in the e-invoicing directory, one not yet.
DEMO_COMPANIES = ["51234567900017", "79012345900014"]
# What the seed guide says of its buyer, for a directory that publishes no services or rules
# (B2Brouter documents neither): its organisational unit, a service code and a PO required.
GUIDE_SERVICES = {"13001533200013": ["ESR_MISSION_FACTURES_DEPLACEMENTS"]}
GUIDE_FLAGS = {"13001533200013": {"service_code_required": True, "engagement_required": True}}


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--wait", action="store_true", help="wait for B2Brouter to answer first")
        parser.add_argument("--welcome", metavar="URL", default="",
                            help="once the site answers at URL, print it with the demo users")
        parser.add_argument("--stay", action="store_true",
                            help="then keep running (honcho stops everything when one exits)")

    def handle(self, *args, wait, welcome, stay, **options):
        if wait:
            self._wait_for_b2brouter()
        account, _ = Account.objects.get_or_create(
            vat_number="FR36458880333",
            defaults={
                "name": "Exemplar SAS", "siret": "45888033300018", "address": "10 Rue Imaginaire",
                "city": "Paris", "postalcode": "75001", "province": "Île-de-France",
                "email": "john.doe@example.com", "iban": "FR7630006000011234567890189",
            },
        )
        accounts.account_register(account=account)
        self.stdout.write(f"Account {account.name}: B2Brouter id {account.remote_id}")
        for siret in DEMO_BUYERS:
            try:
                listed = entry_lists_services(directory_lookup(siret=siret))
                buyer = buyer_create_from_directory(
                    account=account, siret=siret,
                    service_codes=None if listed else GUIDE_SERVICES.get(siret, []),
                    flags=GUIDE_FLAGS.get(siret))
                self.stdout.write(f"Buyer {buyer.name} ({buyer.siret}), {buyer.services.count()} service(s)")
            except DirectoryError as exc:
                self.stderr.write(f"Buyer {siret}: {exc.message}")
        self._activate(account)
        for siret in DEMO_COMPANIES:
            try:
                buyer = buyer_create_from_directory(account=account, siret=siret)
                self.stdout.write(f"Company {buyer.name} ({buyer.siret})")
            except DirectoryError as exc:
                self.stderr.write(f"Company {siret}: {exc.message}")
        users = self._users(account)
        self._draft_invoice(account)
        if welcome:
            self._welcome(welcome, users)
        else:
            self.stdout.write("\nDemo users (passwords are new at each start):")
            for role, password in users:
                self.stdout.write(f"  {role:8} password: {password}")
        if stay:
            while True:
                time.sleep(3600)

    def _activate(self, account: Account) -> None:
        """The account activated for invoices to companies from today (once)."""
        if account.reform_state == "active":
            return
        try:
            reform.account_activate(account=account, start_date=datetime.date.today(),
                                    operation="services", naf_code="62", enterprise_size="pme")
        except reform.ActivationRefused as exc:
            self.stderr.write(f"Activation for invoices to companies: {exc}")
            return
        self.stdout.write(f"Account {account.name}: invoices to companies from "
                          f"{account.reform_start_date}")

    def _welcome(self, url: str, users: list[tuple[str, str]]) -> None:
        """One block, printed once the site answers, so that it is not lost among the others'
        start-up lines."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(url.rstrip("/") + "/health/", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.5)
        lines = [f"The back office is ready: {url}", "",
                 "Demo users (new passwords at each start):"]
        lines += [f"  {role:8}  password: {password}" for role, password in users]
        lines += ["", "Ctrl-C stops everything. Another port: WEB_PORT=8001 make run"]
        width = max(len(line) for line in lines)
        rule = "=" * (width + 4)
        self.stdout.write("\n".join(["", rule, *(f"  {line}" for line in lines), rule, ""]))
        self.stdout.flush()

    def _wait_for_b2brouter(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(settings.B2BROUTER_API_URL.rstrip("/") + "/_sandbox/health", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.3)
        raise CommandError(f"B2Brouter did not answer at {settings.B2BROUTER_API_URL}")

    def _users(self, account: Account) -> list[tuple[str, str]]:
        User = get_user_model()
        users = []
        for role in roles.ALL:
            group, _ = Group.objects.get_or_create(name=role)
            user, _ = User.objects.get_or_create(username=role, defaults={"email": f"{role}@example.fr"})
            password = secrets.token_urlsafe(9)
            user.set_password(password)
            user.is_staff = role == roles.ADMINS
            user.is_superuser = role == roles.ADMINS
            user.save()
            user.groups.add(group)
            account.users.add(user)
            users.append((role, password))
        return users

    def _draft_invoice(self, account: Account) -> None:
        buyer = account.buyers.filter(siret="13001533200013").first()
        if buyer is None or Invoice.objects.filter(account=account, number="DEMO-00001").exists():
            return
        drafts.invoice_create(
            account=account,
            number="DEMO-00001",
            buyer=buyer,
            service=buyer.services.filter(code="ESR_MISSION_FACTURES_DEPLACEMENTS").first(),
            issue_date=datetime.date.today(),
            due_date=datetime.date.today() + datetime.timedelta(days=account.payment_terms_days),
            po_number="0123456",
            lines=[Line(description="Cocktail Dinatoire", quantity=Decimal("135"),
                                     unit_price=Decimal("25.00"), vat_rate=Decimal("10"), unit=5,
                                     article_code="14")],
        )
