"""The invoice list exported with its filters: CSV a spreadsheet opens safely, and XLSX."""

import csv
import io
import zipfile
from decimal import Decimal

import pytest
from django.utils import translation

from core.text import csv_text_value
from invoicing.models import Invoice
from tests.factories import InvoiceFactory
from tests.invoicing.helpers import set_state, user_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(account):
    kept = InvoiceFactory(account=account, po_number="=HYPERLINK(\"http://ev.il\")")
    set_state(kept, "refused")
    Invoice.objects.filter(pk=kept.pk).update(chorus_status="A_RECYCLER")
    credit = InvoiceFactory(account=account, kind=Invoice.Kind.CREDIT_NOTE)
    set_state(credit, "sent")
    InvoiceFactory(account=account)  # a draft, filtered out below
    return kept, credit


def _csv(client, **query):
    response = client.get("/invoices/export.csv", query)
    assert response.status_code == 200
    assert 'filename="factures-' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_the_csv_has_the_lists_filters_words_and_signed_amounts(client, account, listed):
    kept, credit = listed
    from core.roles import STAFF

    client.force_login(user_in(STAFF, account))
    header, *rows = _csv(client, state="refused")
    assert header[0] == "Numéro" and len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["Numéro"] == kept.number and row["État"] == "refusée"
    assert row["Statut Chorus Pro"] == "retournée pour correction du routage"
    assert row["Total TTC"] == "3712,50"  # the decimal comma of French spreadsheets
    assert row["N° d'engagement"].startswith("'=")  # never a formula
    assert csv_text_value(row["N° d'engagement"]) == kept.po_number
    _, *all_rows = _csv(client)
    totals = {r[0]: r[10] for r in all_rows}
    assert totals[credit.number] == "-3712,50"  # a credit note counts negatively


@pytest.mark.parametrize("language", ["fr", "en"])
def test_no_cell_of_the_csv_runs_as_a_formula_whichever_separator_opens_it(client, account,
                                                                          language):
    """A reference holding the other separator then a formula ("x;=cmd|..." in a file written
    with ","): opened splitting on either separator, no cell starts a formula."""
    from core.roles import STAFF
    from tests.core.test_text import HOSTILE, formula_cells

    for index, po in enumerate(HOSTILE):
        InvoiceFactory(account=account, po_number=po, number=f"CSV-{index:03d}")
    client.force_login(user_in(STAFF, account))
    with translation.override(language):
        response = client.get("/invoices/export.csv", HTTP_ACCEPT_LANGUAGE=language)
        text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "cmd|" in text
    assert formula_cells(text) == []
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if language == "fr" else ","))
    column = rows[0].index("N° d'engagement" if language == "fr" else "Commitment number")
    assert sorted(csv_text_value(row[column]) for row in rows[1:]) == sorted(HOSTILE)


def test_the_xlsx_holds_numbers_and_follows_the_language(client, account, listed):
    from core.roles import FINANCE

    client.force_login(user_in(FINANCE, account))
    with translation.override("en"):
        response = client.get("/invoices/export.xlsx", {"state": "refused"},
                              HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula anywhere
    assert "<v>3712.5</v>" in sheet  # a number cell, not text
    assert "=HYPERLINK" in sheet and 't="inlineStr"' in sheet  # the PO kept as a plain string
    assert "Number" in sheet and "refused" in sheet  # the header and the state in English
    assert Decimal("3712.50") == listed[0].total
