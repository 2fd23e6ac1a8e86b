"""Two people (or two tabs) act on the same draft at the same moment: the data stay right, and
the one who loses is told what happened, never a 500.

The race is played deterministically: the other person's action is committed just before this
one's service locks the row (between the page's lookup and the lock, where a real race falls)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from invoicing.models import Invoice, InvoiceAttachment
from invoicing.models import InvoiceState as S
from invoicing.services import drafts, submission
from tests.factories import InvoiceFactory
from tests.invoicing.helpers import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(account, buyer, service):
    return InvoiceFactory(account=account, buyer=buyer, service=service, number="")


def _first(monkeypatch, module, name, before):
    """`module.name` runs `before()` (the other person's action) first."""
    real = getattr(module, name)

    def raced(*args, **kwargs):
        before()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, raced)


def _messages(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def _discard(draft):
    return lambda: drafts.draft_discard(invoice_id=draft.pk)


def _send(draft):
    return lambda: submission.invoice_request_send(invoice_id=draft.pk)


def test_sending_a_draft_a_colleague_just_discarded(staff_client, draft, monkeypatch):
    _first(monkeypatch, submission, "invoice_request_send", _discard(draft))
    response = staff_client.post(reverse("invoicing:send", args=[draft.pk]),
                                 {"confirm": "1"})
    assert response.status_code == 302 and response.url == reverse("invoicing:list")
    assert any("supprimé entre-temps" in m for m in _messages(response))
    assert not Invoice.objects.filter(pk=draft.pk).exists()


def test_saving_and_sending_a_draft_a_colleague_just_discarded(staff_client, draft, account,
                                                               buyer, service, monkeypatch):
    _first(monkeypatch, drafts, "draft_update", _discard(draft))
    for action in ("save", "send"):
        draft_pk = draft.pk
        response = staff_client.post(reverse("invoicing:edit", args=[draft_pk]),
                                     form_data(buyer, service, account=account, action=action))
        if response.status_code == 404:  # the second round: the page itself is gone
            continue
        assert response.status_code == 302 and response.url == reverse("invoicing:list")
        assert any("supprimé entre-temps" in m for m in _messages(response))
    assert not Invoice.objects.filter(account=account).exists()


def test_editing_a_draft_a_colleague_just_sent(staff_client, draft, account, buyer, service,
                                               monkeypatch):
    _first(monkeypatch, drafts, "draft_update", _send(draft))
    data = form_data(buyer, service, account=account, po_number="9999999")
    response = staff_client.post(reverse("invoicing:edit", args=[draft.pk]), data)
    assert response.status_code == 302
    assert response.url == reverse("invoicing:detail", args=[draft.pk])
    assert any("ne se modifie plus" in m for m in _messages(response))
    draft.refresh_from_db()
    assert draft.state == S.QUEUED and draft.po_number != "9999999"


def test_discarding_a_draft_a_colleague_just_sent_or_discarded(staff_client, draft, monkeypatch):
    _first(monkeypatch, drafts, "draft_discard", _send(draft))
    response = staff_client.post(reverse("invoicing:discard", args=[draft.pk]))
    assert response.status_code == 302
    assert any("ne se supprime pas" in m for m in _messages(response))
    assert Invoice.objects.get(pk=draft.pk).state == S.QUEUED


def test_discarding_twice_at_once(staff_client, draft, monkeypatch):
    colleague = drafts.draft_discard
    _first(monkeypatch, drafts, "draft_discard", lambda: colleague(invoice_id=draft.pk))
    response = staff_client.post(reverse("invoicing:discard", args=[draft.pk]))
    assert response.status_code == 302 and response.url == reverse("invoicing:list")
    assert any("supprimé entre-temps" in m for m in _messages(response))


def test_attaching_to_a_draft_a_colleague_just_discarded(staff_client, draft, monkeypatch,
                                                         settings):
    _first(monkeypatch, drafts, "attachment_add", _discard(draft))
    response = staff_client.post(reverse("invoicing:attachment_add", args=[draft.pk]),
                                 {"file": SimpleUploadedFile("piece.pdf", b"%PDF-1.4 x")})
    assert response.status_code == 302 and response.url == reverse("invoicing:list")
    assert not InvoiceAttachment.objects.exists()
