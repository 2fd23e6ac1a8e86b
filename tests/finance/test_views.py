"""Finance's pages: the archive, the worklist, the ageing, and who sees them."""

import datetime
import hashlib

import pytest
from django.contrib.auth.models import Group

from core import roles
from invoicing.models import Invoice, InvoiceState, LegalDocument
from invoicing.services import legal, remote, submission
from tests.conftest import wait_for
from tests.factories import InvoiceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def archived(registered_account):
    invoice = InvoiceFactory(account=registered_account)
    submission.invoice_request_send(invoice_id=invoice.pk)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == InvoiceState.SENT)
    document = legal.invoice_fetch_legal(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    return invoice, document


def user_with(role, account):
    user = UserFactory()
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    account.users.add(user)
    return user


def fake_document(invoice, content=b"<Invoice/>", sha256=None, submission_round=1):
    return LegalDocument.objects.create(
        invoice=invoice, submission_round=submission_round, content=content,
        sha256=sha256 or hashlib.sha256(content).hexdigest(), size=len(content),
        content_type="application/xml", source_url="/attachments/download/1/x.xml")


def test_finance_pages_and_who_sees_them(client, registered_account):
    invoice = InvoiceFactory(account=registered_account)
    document = fake_document(invoice)
    stranger_account_user = user_with(roles.FINANCE, InvoiceFactory().account)
    staff = user_with(roles.STAFF, registered_account)
    finance = user_with(roles.FINANCE, registered_account)

    assert client.get("/finance/archive/").status_code == 302  # anonymous: sign in
    client.force_login(staff)
    assert client.get("/finance/archive/").status_code == 403
    assert client.get(f"/finance/archive/{document.pk}.xml").status_code == 403
    client.force_login(stranger_account_user)
    assert client.get(f"/finance/archive/{document.pk}.xml").status_code == 404
    assert invoice.number not in client.get("/finance/archive/").content.decode()
    client.force_login(finance)
    page = client.get("/finance/archive/", {"buyer": invoice.buyer_id})
    assert page.status_code == 200 and invoice.number in page.content.decode()
    download = client.get(f"/finance/archive/{document.pk}.xml")
    assert download.content == b"<Invoice/>" and download["X-Content-SHA256"] == document.sha256
    bad = client.get("/finance/archive/", {"date_from": "2026-05-01", "date_to": "2026-01-01"})
    assert bad.status_code == 200 and "précède" in bad.content.decode()


def test_worklist_and_ageing(client, registered_account):
    refused = InvoiceFactory(account=registered_account)
    Invoice.objects.filter(pk=refused.pk).update(state="refused", chorus_status="REJETEE",
                                                 chorus_status_reason="Montant total erroné")
    old = InvoiceFactory(account=registered_account)
    long_ago = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    Invoice.objects.filter(pk=old.pk).update(state="registered", state_updated_at=long_ago)
    client.force_login(user_with(roles.FINANCE, registered_account))
    page = client.get("/finance/worklist/").content.decode()
    assert refused.number in page and "Montant total erroné" in page and "avoir" in page
    page = client.get("/finance/ageing/", {"days": 30}).content.decode()
    assert old.number in page
    assert client.get("/finance/ageing/", {"days": "abc"}).status_code == 200


def test_worklist_pages_keep_their_query_count_as_the_list_grows(client, registered_account):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(user_with(roles.FINANCE, registered_account))

    def refused(count):
        for _ in range(count):
            invoice = InvoiceFactory(account=registered_account)
            Invoice.objects.filter(pk=invoice.pk).update(state="refused", chorus_status="REJETEE")

    refused(5)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/finance/worklist/").status_code == 200
    refused(55)
    with CaptureQueriesContext(connection) as large:
        page = client.get("/finance/worklist/")
    assert len(large) == len(small)
    assert page.content.decode().count('class="state-refused"') == 50
    assert "page 1" in page.content.decode() and "?page=2" in page.content.decode()


def test_the_ageing_page_keeps_its_query_count_and_reads_only_what_it_shows(
        client, registered_account):
    """Both lists of the ageing (waiting, and buyers that never report payment) read the rows'
    shown columns in the page's fixed queries: no query per row, whatever the rows hold."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import BuyerFactory

    client.force_login(user_with(roles.FINANCE, registered_account))
    silent = BuyerFactory(account=registered_account, siret="35600000000048",
                          name="Commune Muette", payment_status_not_reported=True)
    long_ago = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

    def waiting(count, state, **kwargs):
        for _ in range(count):
            invoice = InvoiceFactory(account=registered_account, **kwargs)
            Invoice.objects.filter(pk=invoice.pk).update(state=state, state_updated_at=long_ago)

    waiting(2, "registered")
    waiting(2, "accepted", buyer=silent)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/finance/ageing/").status_code == 200
    waiting(55, "registered")
    waiting(55, "accepted", buyer=silent)
    with CaptureQueriesContext(connection) as large:
        page = client.get("/finance/ageing/").content.decode()
    assert len(large) == len(small)
    rows = Invoice.objects.filter(account=registered_account, state="registered")
    shown = rows.order_by("state_updated_at", "id").first()
    assert shown.number in page and shown.buyer.name in page
    assert page.count("Commune Muette") == 50  # the silent buyers' list, one page of it
    invoice_reads = [q["sql"] for q in large.captured_queries if 'FROM "invoicing_invoice"' in q["sql"]
                     and '"invoicing_invoice"."payable_amount"' in q["sql"]]
    assert invoice_reads == [], "the ageing reads whole invoices it shows four columns of"


def test_a_reversed_period_lists_nothing_and_says_why(client, registered_account):
    from core import roles
    from tests.factories import InvoiceFactory
    from tests.finance.test_archive import fake_document, user_with

    fake_document(InvoiceFactory(account=registered_account))
    client.force_login(user_with(roles.FINANCE, registered_account))
    everything = client.get("/finance/archive/").content.decode()
    assert "Aucun document pour ces critères" not in everything
    reversed_period = client.get("/finance/archive/", {"date_from": "2026-03-31",
                                                       "date_to": "2026-03-01"}).content.decode()
    assert "précède son début" in reversed_period
    assert "Aucun document pour ces critères" in reversed_period


def test_the_archive_follows_the_numbers_and_shows_the_periods_totals(client, registered_account):
    import datetime
    from decimal import Decimal

    from core import roles
    from invoicing.models import Invoice
    from tests.factories import InvoiceFactory
    from tests.finance.test_archive import fake_document, user_with

    made = []
    for number, day in (("F-00003", 1), ("F-00001", 2), ("F-00002", 3)):
        made.append(InvoiceFactory(account=registered_account, number=number,
                                   issue_date=datetime.date(2026, 3, day)))
    note = InvoiceFactory(account=registered_account, number="F-00004",
                          kind=Invoice.Kind.CREDIT_NOTE, issue_date=datetime.date(2026, 3, 4))
    for invoice in [*made, note]:
        fake_document(invoice)
    client.force_login(user_with(roles.FINANCE, registered_account))
    response = client.get("/finance/archive/", {"date_from": "2026-03-01",
                                                 "date_to": "2026-03-31"})
    numbers = [d.invoice.number for d in response.context["page"]]
    assert numbers == ["F-00004", "F-00003", "F-00002", "F-00001"]
    totals = response.context["totals"]
    assert totals["count"] == 4 and totals["total"] == Decimal("3712.50") * 2
    html = response.content.decode()
    assert "Sur la période" in html and "7\xa0425,00\xa0€" in html
    assert '<option value="" selected>Tous</option>' in html  # the buyer filter says so


def test_a_filter_error_names_the_field_as_the_user_sees_it(client, registered_account):
    from core import roles
    from tests.finance.test_archive import user_with

    client.force_login(user_with(roles.STAFF, registered_account))
    html = client.get("/invoices/", {"date_from": "2026-07-01",
                                     "date_to": "2026-06-01"}).content.decode()
    assert "Date de fin : La fin de la période précède son début." in html
    assert "date_to" not in html.split('id="invoice-filters"')[1].split("</form>")[0].replace(
        'name="date_to"', "").replace('id_date_to', "")
