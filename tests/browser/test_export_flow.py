"""A big export in the browser: offered, made by a real worker while the page shows its
progress, left and found again under Exports, downloaded."""

import pytest

from tests.browser.conftest import shot, sign_in
from tests.factories import InvoiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_big_list_export_is_prepared_in_the_background_and_downloaded(office, page,
                                                                         live_server, settings,
                                                                         tmp_path):
    settings.EXPORT_IMMEDIATE_ROWS = 20  # the web process's limit; the worker has its own
    for index in range(60):
        InvoiceFactory(account=office["account"], buyer=office["buyer"],
                       service=office["buyer"].services.first(), number=f"BIG-{index:04d}")
    sign_in(page, live_server, office["user"].username, "/invoices/")
    page.click("text=CSV")
    page.wait_for_selector("text=Préparer le fichier")
    shot(page, "export-offer-fr")
    page.click("text=Préparer le fichier")
    page.wait_for_selector("text=Le fichier est prêt.", timeout=60_000)
    shot(page, "export-ready-fr")
    # left and found again
    page.goto(live_server.url + "/invoices/")
    page.click("nav >> text=Exports")
    link = page.locator("table a[href$='/file/']")
    assert link.count() == 1
    shot(page, "export-list-fr")
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "export.csv"
    download.value.save_as(saved)
    text = saved.read_text(encoding="utf-8-sig")
    assert text.count("BIG-") == 60
