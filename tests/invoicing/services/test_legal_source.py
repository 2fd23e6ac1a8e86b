"""The legal XML comes only from the address B2Brouter gives for that very invoice, and is kept
only if it is that invoice's: a notice's address is never kept, an address off B2Brouter's host
is never kept, and a file that is another invoice's is never archived (staff read why)."""

import pytest

from invoicing.models import InvoiceEvent, LegalDocument
from invoicing.models import InvoiceState as S
from invoicing.services import legal, remote, submission
from tests.conftest import wait_for
from tests.factories import InvoiceFactory
from tests.invoicing.services.test_webhooks import payload, post

pytestmark = pytest.mark.django_db


def _deposited(account, **fields):
    invoice = InvoiceFactory(account=account, **fields)
    submission.invoice_request_send(invoice_id=invoice.pk)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.SENT)
    invoice.refresh_from_db()
    return invoice


@pytest.fixture
def two(registered_account):
    """Ours (not yet archived) and another invoice whose legal XML sits on the same host."""
    ours = _deposited(registered_account)
    other = _deposited(registered_account)
    assert ours.download_legal_url and other.download_legal_url
    type(ours).objects.filter(pk=ours.pk).update(download_legal_url="")  # not learned yet
    ours.refresh_from_db()
    return ours, other


def _notify(client, settings, ours, url, state="accepted", event_id=900):
    return post(client, settings, payload(ours.remote_id, state, event_id,
                                          download_legal_url=url))


def test_a_notices_address_is_never_kept_and_the_fetch_asks_for_that_very_invoice(
        client, settings, two, process_now, django_capture_on_commit_callbacks):
    ours, other = two
    with django_capture_on_commit_callbacks(execute=True):
        assert _notify(client, settings, ours, other.download_legal_url).status_code == 200
    ours.refresh_from_db()
    assert ours.state == S.ACCEPTED
    assert ours.download_legal_url != other.download_legal_url  # the notice's address: dropped
    document = legal.invoice_fetch_legal(invoice_id=ours.pk)
    ours.refresh_from_db()
    assert document.source_url == ours.download_legal_url != other.download_legal_url
    assert ours.number.encode() in bytes(document.content)
    assert other.number.encode() not in bytes(document.content)


@pytest.mark.parametrize("url", ["https://ev.il/attachments/download/1/x.xml",
                                 "//ev.il/attachments/download/1/x.xml"])
def test_an_address_off_b2brouters_host_is_never_kept(client, settings, two, process_now,
                                                      django_capture_on_commit_callbacks, url):
    ours, _ = two
    with django_capture_on_commit_callbacks(execute=True):
        _notify(client, settings, ours, url)
    ours.refresh_from_db()
    assert "ev.il" not in ours.download_legal_url
    # Even in an answer to our own call, it is refused, recorded once and never stored.
    from django.db import transaction

    for _ in range(2):
        with transaction.atomic():
            locked = type(ours).objects.select_for_update().get(pk=ours.pk)
            remote.apply_remote_locked(locked, {"id": ours.remote_id, "state": "accepted",
                                                "download_legal_url": url},
                                       source=InvoiceEvent.Source.POLL)
    ours.refresh_from_db()
    assert "ev.il" not in ours.download_legal_url
    assert ours.events.filter(code="legal_url_refused").count() == 1
    assert legal.invoice_fetch_legal(invoice_id=ours.pk) is not None  # the right one, asked for


def test_a_file_that_is_another_invoices_is_not_archived_and_staff_see_why(two, b2b, monkeypatch):
    """Even B2Brouter's own answer names another invoice's file: nothing is archived, the
    address is dropped, the history says why, and the same file is not fetched again."""
    ours, other = two
    real_get = remote.b2brouter_client().get_invoice
    wrong = [True]

    def wrong_address(remote_id):
        answer = real_get(remote_id)
        if remote_id == ours.remote_id and wrong[0]:
            answer["download_legal_url"] = other.download_legal_url
        return answer

    monkeypatch.setattr(remote.b2brouter_client(), "get_invoice", wrong_address)
    calls = remote.b2brouter_client().calls
    assert legal.invoice_fetch_legal(invoice_id=ours.pk) is None
    assert not LegalDocument.objects.filter(invoice=ours).exists()
    ours.refresh_from_db()
    assert ours.download_legal_url == "" and ours.legal_url_refused == other.download_legal_url
    from invoicing.history import event_text

    [note] = ours.events.filter(code="legal_xml_refused")
    assert f"numéro « {other.number} » au lieu de « {ours.number} »" in event_text(note)
    downloads = remote.b2brouter_client().calls - calls
    assert legal.invoice_fetch_legal(invoice_id=ours.pk) is None  # asked again: not re-fetched
    assert remote.b2brouter_client().calls - calls == downloads + 1  # one GET, no download
    assert ours.events.filter(code="legal_xml_refused").count() == 1
    wrong[0] = False
    document = legal.invoice_fetch_legal(invoice_id=ours.pk)  # B2Brouter gives the right one
    assert document is not None and ours.number.encode() in bytes(document.content)


def test_an_xml_for_another_buyer_under_our_number_is_refused(registered_account):
    invoice = InvoiceFactory(account=registered_account, number="F2026-00077")
    xml = f"""<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
      xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
      xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
      <cbc:ID>{invoice.number}</cbc:ID><cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
      <cac:AccountingCustomerParty><cac:Party>
        <cac:PartyIdentification><cbc:ID schemeID="0009">11000201100044</cbc:ID></cac:PartyIdentification>
        <cac:PartyLegalEntity><cbc:RegistrationName>Autre acheteur</cbc:RegistrationName></cac:PartyLegalEntity>
      </cac:Party></cac:AccountingCustomerParty></Invoice>""".encode()
    problems = legal.legal_xml_identity_problems(invoice, xml)
    assert problems == [f"SIRET de l'acheteur « 11000201100044 » au lieu de « {invoice.buyer.siret} »"]
    assert legal.legal_xml_identity_problems(invoice, b"<html>not xml") != []

