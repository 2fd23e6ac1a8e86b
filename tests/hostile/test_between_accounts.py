"""What one account can do to another through hidden fields and the admin: nothing."""

import pytest
from django.urls import reverse

from invoicing.models import Invoice, InvoiceLine
from invoicing.models import InvoiceState as S
from invoicing.services import crediting
from tests.factories import AccountFactory, BuyerFactory, InvoiceFactory, ServiceFactory
from tests.invoicing.helpers import form_data, set_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_draft():
    """Another account's draft, with a line."""
    other = AccountFactory(name="Autre SAS", siret="73282932000074", invoice_number_prefix="O-")
    buyer = BuyerFactory(account=other)
    return InvoiceFactory(account=other, buyer=buyer, service=ServiceFactory(buyer=buyer),
                          number="")


def _line(line_pk, **changes):
    return {"description": "Cocktail Dinatoire", "quantity": "1", "unit_price": "25.00",
            "vat_category": "S", "vat_rate": "10", "exemption_code": "",
            "credited_line": str(line_pk), **changes}


def test_a_hidden_credited_line_of_another_account_is_refused_beside_the_line(
        staff_client, account, buyer, service, other_draft):
    their_line = other_draft.lines.first()
    data = form_data(buyer, service, account=account, lines=[_line(their_line.pk)])
    before = Invoice.objects.count()
    response = staff_client.post(reverse("invoicing:create"), data)
    assert response.status_code == 422
    assert Invoice.objects.count() == before, "nothing saved"
    assert not InvoiceLine.objects.filter(credited_line=their_line).exists()
    row_errors = response.context["formset"].forms[0].errors
    assert any("facture" in str(message) for message in row_errors.get("description", [])), \
        row_errors
    # and the other account's draft is still theirs to edit and discard
    other_draft.lines.all().delete()
    other_draft.delete()


def test_editing_a_draft_cannot_point_a_line_at_another_account(staff_client, account, buyer,
                                                                service, other_draft):
    draft = InvoiceFactory(account=account, buyer=buyer, service=service, number="")
    data = form_data(buyer, service, account=account,
                     lines=[_line(other_draft.lines.first().pk)])
    response = staff_client.post(reverse("invoicing:edit", args=[draft.pk]), data)
    assert response.status_code == 422
    assert not InvoiceLine.objects.filter(credited_line__invoice=other_draft).exists()


def test_a_credit_note_credits_only_lines_of_its_own_invoice(staff_client, account, buyer,
                                                            service, other_draft):
    invoice = InvoiceFactory(account=account, buyer=buyer, service=service, number="H-00001")
    set_state(invoice, S.SENT)
    note = crediting.credit_note_create(invoice_id=invoice.pk)
    own = invoice.lines.first()
    their_line = other_draft.lines.first().pk
    response = staff_client.post(reverse("invoicing:edit", args=[note.pk]), form_data(
        buyer, service, account=account, lines=[_line(their_line, quantity="1")]))
    assert response.status_code == 302  # a credit note changes on its own page only
    response = staff_client.post(reverse("invoicing:credit_note_edit", args=[note.pk]),
                                 {f"qty-{their_line}": "1", f"amount-{their_line}": "5"})
    assert response.status_code == 422  # nothing credited of its own invoice: refused
    assert set(note.lines.values_list("credited_line", flat=True)) <= set(
        invoice.lines.values_list("pk", flat=True))
    assert own.pk in set(note.lines.values_list("credited_line", flat=True))


# --- The admin, for an admin who is not a superuser ----------------------------------------------

@pytest.fixture
def scoped_admin(account):
    """An admin of `account` only, given every permission on the product's models and on users
    (as a superuser might, carelessly): the pages still show only their account."""
    from django.contrib.auth.models import Permission

    from core.roles import ADMINS
    from tests.invoicing.helpers import user_in

    user = user_in(ADMINS, account, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label__in=["core", "directory", "invoicing", "auth", "axes"]))
    return user


@pytest.fixture
def other_account_rows():
    from invoicing.models import InvoicePdf, LegalDocument

    other = AccountFactory(name="Autre SAS", siret="73282932000074", invoice_number_prefix="O-")
    buyer = BuyerFactory(account=other, name="ACHETEUR DE L AUTRE")
    invoice = InvoiceFactory(account=other, buyer=buyer, service=ServiceFactory(buyer=buyer),
                             number="O-00001")
    set_state(invoice, S.SENT)
    document = LegalDocument.objects.create(invoice=invoice, account=other, content=b"<x/>",
                                            submission_round=1,
                                            sha256="0" * 64, size=4)
    pdf = InvoicePdf.objects.create(invoice=invoice, content=b"%PDF-1.4", sha256="1" * 64,
                                    submission_round=1,
                                    size=8)
    return {"account": other, "buyer": buyer, "service": buyer.services.first(),
            "invoice": invoice, "legaldocument": document, "invoicepdf": pdf}


PAGES = {"account": "core_account", "buyer": "directory_buyer", "service": "directory_service",
         "invoice": "invoicing_invoice", "legaldocument": "invoicing_legaldocument",
         "invoicepdf": "invoicing_invoicepdf"}


def test_an_admin_who_is_not_a_superuser_sees_only_their_accounts(client, scoped_admin,
                                                                  other_account_rows, account):
    client.force_login(scoped_admin)
    for key, page in PAGES.items():
        row = other_account_rows[key]
        listing = client.get(reverse(f"admin:{page}_changelist"))
        assert listing.status_code == 200, page
        assert row.pk not in {obj.pk for obj in listing.context["cl"].result_list}, page
        opened = client.get(reverse(f"admin:{page}_change", args=[row.pk]))
        assert opened.status_code == 302, f"{page}: another account's row opened by its id"
    # the account filter names no other account
    listing = client.get(reverse("admin:invoicing_invoice_changelist"))
    assert "Autre SAS" not in listing.content.decode()


def test_an_admin_who_is_not_a_superuser_cannot_join_an_account(client, scoped_admin, account,
                                                                other_account_rows):
    other = other_account_rows["account"]
    client.force_login(scoped_admin)
    client.post(reverse("admin:core_account_change", args=[other.pk]),
                {"name": other.name, "users": [scoped_admin.pk]})
    assert not other.users.filter(pk=scoped_admin.pk).exists()
    # on their own account, the list of users is read-only
    page = client.get(reverse("admin:core_account_change", args=[account.pk]))
    assert "users" not in page.context["adminform"].form.fields
    # nor can they make themselves superuser, nor add an account
    client.post(reverse("admin:auth_user_change", args=[scoped_admin.pk]),
                {"username": scoped_admin.username, "is_superuser": "on", "is_staff": "on"})
    scoped_admin.refresh_from_db()
    assert not scoped_admin.is_superuser
    assert client.get(reverse("admin:core_account_add")).status_code == 403
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403


def test_a_buyer_cannot_be_moved_to_another_account_in_the_admin(client, scoped_admin, account,
                                                                 other_account_rows):
    from directory.models import Buyer

    client.force_login(scoped_admin)
    form = client.get(reverse("admin:directory_buyer_add")).context["adminform"].form
    assert set(form.fields["account"].queryset) == {account}
    # the buyer autocomplete (the service's buyer, the invoice list's filter) finds only theirs
    found = client.get(reverse("admin:autocomplete"), {
        "app_label": "directory", "model_name": "service", "field_name": "buyer", "term": ""})
    assert found.status_code == 200
    assert str(other_account_rows["buyer"].pk) not in {r["id"] for r in found.json()["results"]}
    assert not Buyer.objects.filter(account=other_account_rows["account"]).exclude(
        pk=other_account_rows["buyer"].pk).exists()
