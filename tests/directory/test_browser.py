"""A person sets up the seed's buyer and its service in a real browser: once from the lookup
widget, once from the admin. Screenshots go to test-artifacts/."""

import time
from pathlib import Path

import pytest

from core.roles import STAFF
from directory.models import Buyer, SyncState
from invoicing.services.accounts import account_register
from tests.directory.conftest import SEED_SERVICE, SEED_SIRET, make_user
from tests.factories import AccountFactory

pytestmark = [pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def page(monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself
    # (not the live server's) are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def _registered_account(name: str):
    return account_register(account=AccountFactory(
        name=f"{name} {time.monotonic_ns()}", vat_number=f"FR{time.monotonic_ns() % 10**11:011d}"))


def _login(page, live_server, username: str, next_url: str) -> None:
    page.goto(f"{live_server.url}/login/?next={next_url}")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.locator("form [type=submit]").click()
    page.wait_for_url(f"{live_server.url}{next_url}")


def test_seed_buyer_from_the_lookup_widget(page, live_server, b2b, transactional_db):
    account = _registered_account("Widget")
    user = make_user(STAFF, account)
    _login(page, live_server, user.username, "/directory/buyers/")

    page.get_by_role("textbox", name="SIRET ou SIREN", exact=True).fill("130 015 332 00013")
    page.get_by_role("button", name="Chercher dans l'annuaire").click()
    result = page.locator("#buyer-lookup-result")
    result.get_by_text("UNIVERSITE D AIX MARSEILLE").wait_for()
    assert "/directory/buyers/" in page.url  # htmx swapped the widget in place
    # B2Brouter's directory gives the entity, not Chorus Pro's rules nor its services: the
    # person who knows the buyer ticks the rules and types the service code.
    assert "L'annuaire ne les publie pas" in result.inner_text()
    result.get_by_label("Code service obligatoire").check()
    result.get_by_label("N° d'engagement obligatoire").check()
    result.get_by_label("Autres codes service").fill(SEED_SERVICE)
    page.screenshot(path=ARTIFACTS / "directory-widget-lookup.png", full_page=True)

    page.get_by_role("button", name="Créer l'acheteur").click()
    result.get_by_text("Acheteur enregistré dans ce compte").wait_for()
    # the list below reloads itself when the widget creates a buyer
    page.locator("#buyer-table").get_by_text(SEED_SERVICE).wait_for()
    page.screenshot(path=ARTIFACTS / "directory-widget-created.png", full_page=True)

    buyer = Buyer.objects.get(account=account, siret=SEED_SIRET)
    assert buyer.sync_state == SyncState.SYNCED and buyer.remote_contact_id
    assert buyer.service_code_required and buyer.engagement_required
    service = buyer.services.get()
    assert service.code == SEED_SERVICE and service.remote_contact_id

    result.get_by_role("link", name="UNIVERSITE D AIX MARSEILLE").click()
    page.get_by_role("heading", name="Services").wait_for()
    assert SEED_SERVICE in page.content()
    page.screenshot(path=ARTIFACTS / "directory-buyer-detail.png", full_page=True)


def test_seed_buyer_from_the_admin(page, live_server, b2b, transactional_db):
    account = _registered_account("Admin")
    user = make_user("admins", account, is_staff=True, is_superuser=True)
    add = "/admin/directory/buyer/add/"
    _login(page, live_server, user.username, add)

    page.locator("#id_account").select_option(label=str(account))
    page.locator("#id_siret").fill("13001533200013")
    page.locator("#id_service_codes").fill(SEED_SERVICE)
    page.screenshot(path=ARTIFACTS / "directory-admin-add.png", full_page=True)
    page.locator("input[name=_save]").click()
    page.locator(".messagelist").get_by_text("enregistré chez B2Brouter").wait_for()
    page.screenshot(path=ARTIFACTS / "directory-admin-added.png", full_page=True)

    buyer = Buyer.objects.get(account=account, siret=SEED_SIRET)
    assert buyer.name == "UNIVERSITE D AIX MARSEILLE"
    assert buyer.sync_state == SyncState.SYNCED and buyer.remote_contact_id
    assert buyer.services.get().code == SEED_SERVICE
    assert buyer.services.get().remote_contact_id
