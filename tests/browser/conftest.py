"""What the browser tests share: a sandbox that moves invoices on and notifies us by webhook, a
registered account with the guide's buyer, a staff member, a real worker, and a headless
Chromium (Debian's, never a downloaded one). Screenshots go to test-artifacts/ (gitignored)."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from core.roles import STAFF
from tests.conftest import WorkerProcess
from tests.factories import AccountFactory, UserFactory
from tests.support.sandbox import SandboxProcess

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "correct horse battery staple"
SIRET = "13001533200013"
SERVICE_CODE = "ESR_MISSION_FACTURES_DEPLACEMENTS"
IBAN = "FR7630006000011234567890189"


@pytest.fixture
def sandbox_with_webhooks(tmp_path, settings, live_server):
    server = SandboxProcess(
        data_dir=tmp_path, api_key=os.environ["B2BROUTER_API_KEY"],
        send_delay=0.1, advance_after=0.5, refuse_share=0, documented_only=True, pdf_delay=0.5,
        webhook_url=live_server.url + "/webhooks/b2brouter/",
        webhook_secret=settings.B2BROUTER_WEBHOOK_SECRET,
    )
    server.start()
    settings.B2BROUTER_API_URL = server.url
    settings.B2BROUTER_API_KEY = server.api_key
    from django.core.cache import cache

    cache.clear()
    yield server
    server.stop()


@pytest.fixture
def office(sandbox_with_webhooks, tmp_path):
    """A registered account, the guide's buyer from the directory (its rules and its service as
    the guide gives them: B2Brouter's directory publishes neither), a staff member, a worker."""
    from directory.services import buyer_create_from_directory
    from invoicing.services.accounts import account_register

    account = account_register(account=AccountFactory(invoice_number_prefix="F2026-", iban=IBAN))
    buyer = buyer_create_from_directory(
        account=account, siret=SIRET, service_codes=[SERVICE_CODE],
        flags={"service_code_required": True, "engagement_required": True})
    user = UserFactory(username="camille")
    user.groups.add(Group.objects.get_or_create(name=STAFF)[0])
    account.users.add(user)
    worker = WorkerProcess(sandbox_with_webhooks.url, sandbox_with_webhooks.api_key,
                           log_path=tmp_path / "worker.log")
    worker.start()
    yield {"account": account, "buyer": buyer, "user": user}
    worker.stop()


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM reads are
    # still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="fr-FR", accept_downloads=True,
                                      viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        # Whatever the Content-Security-Policy blocks (an inline script, style or handler left
        # behind) is a page that does not work as written: every browser test fails on it.
        # Irreversible actions ask first (data-confirm): the user says yes, and the question is kept.
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.accept()))
        violations = []
        page.on("console", lambda message: violations.append(message.text)
                if "Content Security Policy" in message.text else None)
        yield page
        context.close()
        browser.close()
        assert violations == [], violations


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)



def sign_in(page, live_server, username: str, next_url: str = "/") -> None:
    page.goto(live_server.url + "/login/?next=" + next_url)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
