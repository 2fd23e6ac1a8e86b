"""The dashboard's news since the last visit."""

import html

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


def test_the_news_reads_the_same_queries_however_many_changes_came(registered_account):
    """A busy day (thousands of changes since the last visit) costs the dashboard what a quiet
    one does: the newest changes are chosen in the database, not sent back to it as ids."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from invoicing.models import InvoiceEvent
    from invoicing.selectors import changes_since

    staff = user_with(roles.STAFF, registered_account)
    invoice = InvoiceFactory(account=registered_account)
    before = InvoiceEvent.objects.order_by("-created_at").values_list("created_at", flat=True)[:1]
    since = before[0] if before else None

    def news():
        with CaptureQueriesContext(connection) as queries:
            items = list(changes_since(user=staff, since=since, limit=20, window=200))
        return items, [q["sql"] for q in queries.captured_queries]

    def changes(count):
        InvoiceEvent.objects.bulk_create(
            InvoiceEvent(invoice=invoice, kind="state", source="webhook", from_state="sent",
                         to_state="registered") for _ in range(count))

    changes(3)
    news()  # the user's accounts, read once and kept
    quiet, quiet_sql = news()
    changes(300)
    busy, busy_sql = news()
    assert len(quiet) == 3 and len(busy) == 20
    assert busy[0].pk > busy[-1].pk  # newest first
    assert len(busy_sql) == len(quiet_sql)
    assert [len(sql) for sql in busy_sql] == [len(sql) for sql in quiet_sql]


@pytest.mark.parametrize("with_since", [True, False])
def test_the_news_looks_no_further_back_than_its_window(registered_account, with_since):
    """Another account's busy day pushes older news of ours out of the window: the walk is
    bounded; a wider window reaches them; either way, never another account's changes."""
    import datetime

    from django.utils import timezone

    from invoicing.models import InvoiceEvent
    from invoicing.selectors import changes_since
    from tests.factories import AccountFactory

    staff = user_with(roles.STAFF, registered_account)
    ours = InvoiceFactory(account=registered_account)
    theirs = InvoiceFactory(account=AccountFactory(siret="73282932000074"))
    since = timezone.now() - datetime.timedelta(hours=1) if with_since else None
    for invoice, count in ((ours, 3), (theirs, 10)):
        InvoiceEvent.objects.bulk_create(
            InvoiceEvent(invoice=invoice, kind="state", source="webhook", from_state="sent",
                         to_state="registered") for _ in range(count))
    narrow = list(changes_since(user=staff, since=since, window=5))
    wide = list(changes_since(user=staff, since=since, window=50))
    assert narrow == []
    ours_since = InvoiceEvent.objects.filter(invoice=ours, kind="state")
    if since:
        ours_since = ours_since.filter(created_at__gt=since)
    assert len(wide) == ours_since.count() >= 3
    assert {event.invoice_id for event in wide} == {ours.pk}


def test_the_news_names_each_invoices_buyer_and_amount_and_says_just_now(client,
                                                                        registered_account):
    """Drafts in the news are told apart (their buyer and amount, not ten identical "Facture
    brouillon" lines), and a visit a few seconds ago reads "à l'instant", never "il y a 0
    minute"."""
    from invoicing.models import InvoiceEvent
    from tests.factories import BuyerFactory

    staff = user_with(roles.STAFF, registered_account)
    client.force_login(staff)
    client.get("/")
    client.logout()
    client.force_login(staff)  # a new session: the news since the visit just now
    lyon = BuyerFactory(account=registered_account, siret="21690123100011",
                        name="COMMUNE DE LYON")
    drafts = [InvoiceFactory(account=registered_account, number=""),
              InvoiceFactory(account=registered_account, number="", buyer=lyon, service=None)]
    for draft in drafts:
        InvoiceEvent.objects.create(invoice=draft, kind="state", source="user",
                                    from_state="", to_state="draft")
    page = client.get("/").content.decode()
    news = html.unescape(page[page.index('<section id="news"'):page.index("</section>")])
    assert "à l'instant" in news and "0 minute" not in news
    assert "COMMUNE DE LYON" in news and "UNIVERSITE D AIX MARSEILLE" in news
    assert news.count("712,50\xa0€") == 2  # each draft's amount
