"""Issued means frozen: once an invoice leaves the drafts, nothing changes what it says (lines,
parties, amounts, dates, number), not the admin, not a form, not a shell. The model refuses it,
and the database refuses it too when the model is bypassed. Only its state, its remote ids and
its history grow; its routing changes only while a routing return is fixed."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError, IntegrityError, connection, transaction

from core.roles import ADMINS
from invoicing.models import FrozenInvoice, Invoice, InvoiceLine
from invoicing.models import InvoiceState as S
from invoicing.services import drafts
from tests.factories import InvoiceFactory, ServiceFactory, UserFactory
from tests.invoicing.helpers import set_state

pytestmark = pytest.mark.django_db

ISSUED = [S.QUEUED, S.SENT, S.ACCEPTED, S.PAID, S.REFUSED]
CHANGES = [("issue_date", datetime.date(2020, 1, 1)), ("total", Decimal("1.00")),
           ("iban", "FR7630006000011234567890189X"), ("notes", "autre chose"),
           ("number", "F2026-99999")]


def refused_by_the_database(statement) -> bool:
    try:
        with transaction.atomic():
            statement()
    except (DatabaseError, IntegrityError):
        return True
    return False


@pytest.mark.parametrize("state", ISSUED)
@pytest.mark.parametrize("name, value", CHANGES)
def test_the_model_refuses_to_change_an_issued_invoice(state, name, value):
    invoice = set_state(InvoiceFactory(), state)
    setattr(invoice, name, value)
    with pytest.raises(FrozenInvoice):
        invoice.save()


@pytest.mark.parametrize("state", ISSUED)
@pytest.mark.parametrize("name, value", CHANGES)
def test_the_database_refuses_it_when_the_model_is_bypassed(state, name, value):
    invoice = set_state(InvoiceFactory(), state)
    assert refused_by_the_database(
        lambda: Invoice.objects.filter(pk=invoice.pk).update(**{name: value}))
    invoice.refresh_from_db()
    assert getattr(invoice, name) != value


@pytest.mark.parametrize("state", ISSUED)
def test_an_issued_invoices_lines_never_change(state):
    invoice = set_state(InvoiceFactory(), state)
    line = invoice.lines.get()
    line.quantity = Decimal("7")
    with pytest.raises(FrozenInvoice):
        line.save()
    with pytest.raises(FrozenInvoice):
        InvoiceLine(invoice=invoice, description="x", quantity=1, unit_price=1).save()
    assert refused_by_the_database(
        lambda: InvoiceLine.objects.filter(pk=line.pk).update(quantity=Decimal("7")))
    assert refused_by_the_database(lambda: InvoiceLine.objects.bulk_create(  # no save(): SQL only
        [InvoiceLine(invoice=invoice, description="x", quantity=1, unit_price=1)]))
    if connection.vendor == "postgresql":  # SQLite guards deletes in the application only
        assert refused_by_the_database(lambda: InvoiceLine.objects.filter(pk=line.pk).delete())
    assert invoice.lines.get().quantity == Decimal("135")


def test_an_issued_invoice_is_never_deleted():
    invoice = set_state(InvoiceFactory(), S.SENT)
    with pytest.raises(FrozenInvoice):
        invoice.delete()
    if connection.vendor == "postgresql":
        assert refused_by_the_database(
            lambda: Invoice.objects.filter(pk=invoice.pk)._raw_delete(connection.alias))
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_what_the_life_of_an_invoice_needs_still_changes():
    invoice = set_state(InvoiceFactory(), S.SENT)
    Invoice.objects.filter(pk=invoice.pk).update(
        state=S.ACCEPTED, chorus_status="MISE_A_DISPOSITION", remote_id=4242,
        download_legal_url="/attachments/download/1/x.xml", last_error="")
    invoice.refresh_from_db()
    invoice.chorus_status_reason = "ok"
    invoice.save()
    assert invoice.state == S.ACCEPTED and invoice.remote_id == 4242


def test_a_routing_return_changes_its_routing_and_only_that():
    invoice = set_state(InvoiceFactory(), S.REFUSED, "A_RECYCLER")
    other = ServiceFactory(buyer=invoice.buyer, code="ESR_AUTRE")
    drafts.invoice_fix_routing(invoice_id=invoice.pk, service=other, po_number="0999",
                               contract_reference="M-1")
    accepted = set_state(InvoiceFactory(), S.ACCEPTED)
    assert refused_by_the_database(
        lambda: Invoice.objects.filter(pk=accepted.pk).update(po_number="0999"))


@pytest.mark.parametrize("state", [S.DRAFT, S.FAILED, S.ERROR])
def test_drafts_and_invoices_never_deposited_are_corrected(state):
    invoice = set_state(InvoiceFactory(), state)
    line = invoice.lines.get()
    line.quantity = Decimal("7")
    line.save()
    Invoice.objects.filter(pk=invoice.pk).update(notes="corrigée")


def test_a_number_once_given_never_changes_even_on_a_failed_invoice():
    invoice = set_state(InvoiceFactory(number="F2026-00007"), S.FAILED)
    invoice.number = "F2026-00008"
    with pytest.raises(FrozenInvoice):
        invoice.save()
    assert refused_by_the_database(
        lambda: Invoice.objects.filter(pk=invoice.pk).update(number="F2026-00008"))


@pytest.fixture
def admin_client(client, registered_account):
    user = UserFactory(is_staff=True, is_superuser=True)
    user.groups.add(Group.objects.get_or_create(name=ADMINS)[0])
    registered_account.users.add(user)
    client.force_login(user)
    return client


def test_the_admin_shows_an_issued_invoice_read_only(admin_client, registered_account):
    invoice = set_state(InvoiceFactory(account=registered_account), S.PAID)
    line = invoice.lines.get()
    url = f"/admin/invoicing/invoice/{invoice.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="lines-0-quantity"' not in html and 'name="_save"' not in html
    response = admin_client.post(url, {
        "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "1", "lines-0-id": str(line.pk),
        "lines-0-invoice": str(invoice.pk), "lines-0-quantity": "7", "lines-0-description": "x",
        "lines-0-unit_price": "25", "lines-0-vat_rate": "10", "lines-0-vat_category": "S",
        "lines-0-unit": "1", "lines-0-position": "1", "notes": "changed",
    })
    assert response.status_code == 403
    line.refresh_from_db()
    invoice.refresh_from_db()
    assert line.quantity == Decimal("135") and invoice.notes != "changed"
    assert admin_client.get("/admin/invoicing/invoice/add/").status_code == 403
    assert admin_client.post(f"/admin/invoicing/invoice/{invoice.pk}/delete/",
                             {"post": "yes"}).status_code == 403
    assert Invoice.objects.filter(pk=invoice.pk).exists()
