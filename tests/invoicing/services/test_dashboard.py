"""The dashboard's news since the last visit."""


import pytest
from django.contrib.auth.models import Group

from core import roles
from tests.factories import InvoiceFactory, UserFactory

pytestmark = pytest.mark.django_db


def user_with(role, account):
    user = UserFactory()
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    account.users.add(user)
    return user


def test_dashboard_shows_what_changed_since_the_last_visit(client, registered_account):
    from invoicing.models import InvoiceEvent

    staff = user_with(roles.STAFF, registered_account)
    client.force_login(staff)
    first = client.get("/").content.decode()
    assert "Dernières nouvelles" in first
    invoice = InvoiceFactory(account=registered_account)
    InvoiceEvent.objects.create(invoice=invoice, kind="state", source="webhook", from_state="sent",
                                to_state="refused", chorus_status="REJETEE", reason="Montant erroné")
    page = client.get("/").content.decode()
    assert invoice.number in page and "Montant erroné" in page
    assert "refusée" in page and ">refused<" not in page  # the state in words
    # Still there while the user works (the same session), one line per invoice.
    InvoiceEvent.objects.create(invoice=invoice, kind="state", source="webhook",
                                from_state="refused", to_state="refused", reason="Montant erroné")
    again = client.get("/").content.decode()
    news = again[again.index('<section id="news"'):again.index("</section>")]
    assert news.count(f"{invoice.number}</a>") == 1
    assert "2 étapes" in again
    assert client.post("/news/read/").status_code == 302
    assert "Rien de nouveau" in client.get("/").content.decode()
    # A new session: the news since the previous visit.
    client.logout()
    client.force_login(staff)
    InvoiceEvent.objects.create(invoice=invoice, kind="state", source="poll", from_state="refused",
                                to_state="refused", reason="Toujours erroné")
    later = client.get("/").content.decode()
    assert "Depuis votre dernière visite" in later and "Toujours erroné" in later
