"""Invoices to French companies through B2Brouter as Plateforme Agréée, against the
documented-only sandbox: the account's activation, a company as a buyer, the checks before
sending, the body B2Brouter receives, the declaration to the tax administration (tax report)
followed by polling and by webhook, and legal XML that passes the UBL 2.1 schema, the EN 16931
rules and the official BR-FR rules, over a matrix of invoices as users make them."""

import datetime
import json
import time
from decimal import Decimal

import pytest

from b2brouter.webhooks import sign
from core.models import ReformState
from directory import services as directory
from directory.models import Annuaire
from invoicing.lines import Line
from invoicing.models import Invoice, TaxReport
from invoicing.models import InvoiceState as S
from invoicing.services import crediting, drafts, legal, reform, remote, submission
from invoicing.services.errors import InvoiceCheckFailed
from tests.conftest import new_registered_account, wait_for
from tests.support.en16931 import br_fr_fatal, failed_rules, xsd_errors

pytestmark = pytest.mark.django_db

D = Decimal
COMPANY_SIRET = "51234567900017"  # ATELIERS DUPONT SAS, in the sandbox's Annuaire
ABSENT_SIRET = "79012345900014"  # CONSEIL LEROY SA, not registered
TODAY = datetime.date.today()
MENTIONS = dict(penalties="Pénalités de retard : trois fois le taux d'intérêt légal.",
                recovery="Indemnité forfaitaire pour frais de recouvrement : 40 €.",
                discount="Pas d'escompte pour paiement anticipé.")


def line(description="Prestation", quantity="1", price="100", category="S", rate="20", code=""):
    return Line(description=description, quantity=D(quantity), unit_price=D(price),
                vat_category=category, vat_rate=D(rate), exemption_code=code)


def activate(account, **fields):
    values = dict(start_date=TODAY, operation="services", naf_code="62", enterprise_size="pme")
    return reform.account_activate(account=account, **{**values, **fields})


@pytest.fixture
def activated(b2b, db):
    return activate(new_registered_account())


def company(account, siret=COMPANY_SIRET):
    buyer = directory.buyer_create_from_directory(account=account, siret=siret)
    directory.buyer_ensure_registered(buyer=buyer)
    buyer.refresh_from_db()
    return buyer


def draft(account, buyer, lines=None, **fields):
    from invoicing import notes

    values = dict(buyer=buyer, issue_date=TODAY, due_date=TODAY + datetime.timedelta(days=30),
                  iban=account.iban, notes=notes.compose(**MENTIONS),
                  operation_category="services")
    values.update(fields)
    return drafts.draft_create(account=account, data=drafts.DraftData(**values),
                               lines=lines or [line()])


def sent(invoice):
    submission.invoice_request_send(invoice_id=invoice.pk)
    submission.invoice_submit(invoice_id=invoice.pk)
    wait_for(lambda: remote.invoice_refresh(invoice_id=invoice.pk).state == S.SENT, timeout=15)
    invoice.refresh_from_db()
    return invoice


def legal_xml(invoice) -> bytes:
    xml = bytes(legal.invoice_fetch_legal(invoice_id=invoice.pk).content)
    assert xsd_errors(xml) == []
    assert [r for r in failed_rules(xml) if r[1] == "fatal"] == []
    assert br_fr_fatal(xml) == []
    assert legal.legal_xml_discrepancies(invoice, xml) == []
    return xml


# -- activation --------------------------------------------------------------------------------
def test_activation_records_the_start_date_and_settings(b2b, db):
    account = activate(new_registered_account(), operation="mixed", enterprise_size="eti")
    account.refresh_from_db()
    assert account.reform_state == ReformState.ACTIVE
    assert account.reform_start_date == TODAY and account.reform_operation == "mixed"
    assert account.bills_companies_from() == TODAY
    # Asked again (an answer lost, or new settings): the setting is updated, not doubled.
    again = activate(account, operation="goods")
    assert again.reform_operation == "goods" and again.reform_state == ReformState.ACTIVE


def test_a_public_siren_is_refused_in_words(b2b, db):
    account = new_registered_account(siret="13001533200013")
    with pytest.raises(reform.ActivationRefused) as refused:
        activate(account)
    assert "entité publique" in str(refused.value)
    account.refresh_from_db()
    assert account.reform_state == ReformState.FAILED and "Chorus Pro" in account.reform_error


def test_a_directory_outage_at_activation_activates_nothing(b2b, db):
    account = new_registered_account()
    b2b.control("POST", "/_sandbox/dgfip", {"annuaire_down": True})
    try:
        with pytest.raises(reform.ActivationRefused):
            activate(account)
    finally:
        b2b.control("POST", "/_sandbox/dgfip", {"annuaire_down": False})
    account.refresh_from_db()
    assert account.reform_state == ReformState.FAILED and account.bills_companies_from() is None
    assert activate(account).reform_state == ReformState.ACTIVE  # once it is back


# -- the buyer -----------------------------------------------------------------------------------
def test_a_company_from_the_directory_is_a_company_contact(activated):
    buyer = company(activated)
    assert buyer.public_sector is False and buyer.transport_type_code == "peppol"
    assert buyer.document_type_code == "xml.ubl.invoice.frcius.v1"
    assert not buyer.service_code_required and not buyer.engagement_required
    assert buyer.annuaire == Annuaire.PENDING  # B2Brouter checks in the background
    wait_for(lambda: directory.buyer_annuaire_refresh(buyer=buyer) == Annuaire.REGISTERED,
             timeout=5)
    absent = company(activated, ABSENT_SIRET)
    wait_for(lambda: directory.buyer_annuaire_refresh(buyer=absent) == Annuaire.NOT_REGISTERED,
             timeout=5)


# -- the checks before sending ---------------------------------------------------------------------
def test_an_account_not_activated_cannot_send_to_a_company(b2b, db):
    account = new_registered_account()
    buyer = company(account)
    invoice = draft(account, buyer)
    with pytest.raises(InvoiceCheckFailed) as failed:
        submission.invoice_request_send(invoice_id=invoice.pk)
    assert "pas encore activé" in " ".join(failed.value.problems["buyer"])
    invoice.refresh_from_db()
    assert invoice.state == S.DRAFT and not invoice.number


def test_mentions_category_and_start_date_are_checked_beside_their_fields(activated):
    buyer = company(activated)
    later = activated
    later.reform_start_date = TODAY + datetime.timedelta(days=3)
    later.save(update_fields=["reform_start_date"])
    invoice = draft(later, buyer, notes="", operation_category=None)
    problems = submission.invoice_send_problems(Invoice.objects.get(pk=invoice.pk))
    assert {"penalties", "recovery", "discount", "operation_category",
            "issue_date"} <= set(problems)
    assert "à partir du" in problems["issue_date"][0]


def test_a_public_buyer_is_not_asked_the_companies_mentions(activated):
    from tests.factories import BuyerFactory, ServiceFactory

    buyer = BuyerFactory(account=activated)
    invoice = draft(activated, buyer, notes="", operation_category=None,
                    service=ServiceFactory(buyer=buyer), po_number="PO-1")
    problems = submission.invoice_send_problems(Invoice.objects.get(pk=invoice.pk))
    assert not {"penalties", "recovery", "discount", "operation_category"} & set(problems)


# -- sending, the body, the declaration --------------------------------------------------------------
def test_the_body_carries_the_mentions_as_b2brouters_fields(activated):
    buyer = company(activated)
    invoice = draft(activated, buyer, delivery_address="Entrepôt B, 3 rue du Port, 69007 Lyon",
                    vat_on_debits=True)
    body = submission.invoice_body(Invoice.objects.select_related("buyer").get(pk=invoice.pk))
    fields = body["invoice"]
    assert fields["remittance_information"] == MENTIONS["penalties"]
    assert fields["payment_method_text"] == MENTIONS["recovery"]
    assert fields["payment_terms"] == MENTIONS["discount"]
    assert "#PMD#" not in fields.get("notes", "")
    assert "#AAI#Catégorie de l'opération : prestations de services" in fields["notes"]
    assert "#AAI#Adresse de livraison : Entrepôt B, 3 rue du Port, 69007 Lyon" in fields["notes"]
    assert "débits" in fields["notes"]


def test_a_company_invoice_is_sent_declared_and_followed_to_its_end(activated):
    buyer = company(activated)
    invoice = sent(draft(activated, buyer))
    report = TaxReport.objects.get(invoice=invoice)
    assert report.state == TaxReport.State.NEW
    legal_xml(invoice)
    b2brouter_advance(activated)
    reform.tax_report_refresh(remote_id=report.remote_id)
    report.refresh_from_db()
    assert report.state == TaxReport.State.REGISTERED
    assert remote.invoice_refresh(invoice_id=invoice.pk).state == S.REGISTERED
    codes = list(invoice.events.values_list("code", flat=True))
    assert "tax_report_new" in codes and "tax_report_registered" in codes


def b2brouter_advance(account):
    import urllib.request

    from django.conf import settings

    request = urllib.request.Request(settings.B2BROUTER_API_URL + "/_sandbox/advance", data=b"{}",
                                     method="POST", headers={
                                         "X-B2B-API-Key": settings.B2BROUTER_API_KEY,
                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_polling_follows_the_reports_not_at_their_end(activated):
    buyer = company(activated)
    invoice = sent(draft(activated, buyer))
    b2brouter_advance(activated)
    outcomes = reform.tax_reports_follow()
    assert outcomes.get("applied", 0) >= 1
    assert TaxReport.objects.get(invoice=invoice).state == TaxReport.State.REGISTERED
    # Read once: not read again before FOLLOW_AFTER, and never once at its end.
    assert invoice.tax_reports.get().remote_id not in reform.tax_reports_to_follow()


def test_a_refused_declaration_is_shown_with_its_reason(b2b, activated):
    buyer = company(activated)
    invoice = sent(draft(activated, buyer))
    b2b.control("POST", "/_sandbox/dgfip", {"refuse_reports": 1})
    b2brouter_advance(activated)
    reform.tax_reports_follow()
    report = TaxReport.objects.get(invoice=invoice)
    assert report.state == TaxReport.State.REFUSED and "CDV 301" in report.reason
    assert report.needs_action
    assert remote.invoice_refresh(invoice_id=invoice.pk).state == S.ERROR


def test_a_tax_report_webhook_is_read_and_applied_once(activated, client, settings):
    settings.B2BROUTER_WEBHOOK_SECRET = "whsec_test"
    buyer = company(activated)
    invoice = sent(draft(activated, buyer))
    b2brouter_advance(activated)
    report = TaxReport.objects.get(invoice=invoice)
    body = json.dumps({"id": 991, "code": "tax_report.state_change",
                       "triggered_at": int(time.time()),
                       "data": {"tax_report_id": report.remote_id, "event_id": 991,
                                "state": "registered", "notes": None}}).encode()
    from invoicing.models import WebhookEvent
    from invoicing.services import webhooks

    for _ in range(2):  # delivered twice: stored once, applied once
        response = client.post("/webhooks/b2brouter/", body, content_type="application/json",
                               HTTP_X_B2BROUTER_SIGNATURE=sign("whsec_test", body,
                                                               int(time.time())))
        assert response.status_code in (200, 202, 204)
    stored = WebhookEvent.objects.get(dedupe_key="tax_report:991")
    assert webhooks.webhook_process(event_pk=stored.pk) == "applied"
    assert webhooks.webhook_process(event_pk=stored.pk) == "applied"  # a second run: as it was
    report.refresh_from_db()
    assert report.state == TaxReport.State.REGISTERED
    assert invoice.events.filter(code="tax_report_registered").count() == 1


def test_no_declaration_for_a_company_outside_the_directory(activated):
    buyer = company(activated, ABSENT_SIRET)
    wait_for(lambda: directory.buyer_annuaire_refresh(buyer=buyer) == Annuaire.NOT_REGISTERED,
             timeout=5)
    invoice = sent(draft(activated, buyer))
    assert not invoice.tax_reports.exists()
    legal_xml(invoice)


# -- the legal XML matrix (BR-FR) ----------------------------------------------------------------------
CASES = {
    "S 20 %": [line()],
    "S 10 % and 5.5 %": [line("Repas", "12", "14.20", rate="10"),
                         line("Livres", "3", "7.90", rate="5.5")],
    "S 2.1 %": [line("Presse", "3", "7.90", rate="2.1")],
    "Z": [line("Livres scolaires", "10", "12.5", "Z", "0")],
    "E with its VATEX code": [line("Formation", "2", "700", "E", "0", "VATEX-FR-CGI261-4")],
    "AE reverse charge": [line("Travaux sous-traités", "1", "12500", "AE", "0", "VATEX-FR-AE")],
    "mixed categories": [line("A", "2", "100"), line("B", "1", "50", "Z", "0"),
                         line("C", "1", "700", "E", "0", "VATEX-FR-CGI261-4")],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_vat_case_passes_br_fr(activated, case):
    buyer = company(activated)
    xml = legal_xml(sent(draft(activated, buyer, CASES[case])))
    assert b"#BAR#B2B" in xml


@pytest.mark.parametrize("operation", ["goods", "services", "mixed"])
def test_goods_services_and_mixed_pass_br_fr(b2b, db, operation):
    account = activate(new_registered_account(), operation=operation)
    buyer = company(account)
    invoice = sent(draft(account, buyer, operation_category=operation,
                         delivery_address="Quai 4, 44000 Nantes"))
    xml = legal_xml(invoice)
    letter = {"goods": "B", "services": "S", "mixed": "M"}[operation]
    assert f"<cbc:ProfileID>{letter}1</cbc:ProfileID>".encode() in xml
    assert b"Adresse de livraison : Quai 4" in xml


def test_a_credit_note_to_a_company_passes_br_fr(activated):
    buyer = company(activated)
    invoice = sent(draft(activated, buyer, [line("Conseil", "3", "450")]))
    note = crediting.credit_note_create(invoice_id=invoice.pk)
    assert note.operation_category == "services"  # what it credits says it too
    xml = legal_xml(sent(note))
    assert b"<CreditNote" in xml and invoice.number.encode() in xml


def test_a_company_invoice_with_attachments_passes_br_fr(activated):
    from django.core.files.uploadedfile import SimpleUploadedFile

    buyer = company(activated)
    invoice = draft(activated, buyer)
    drafts.attachment_add(invoice=invoice, upload=SimpleUploadedFile(
        "releve-heures.csv", b"date;heures\n2026-12-01;7,5\n"))
    xml = legal_xml(sent(invoice))
    assert b"releve-heures.csv" in xml
    assert b"#PMT#" in xml


def test_a_refusal_by_a_company_is_final(b2b, activated):
    """A company's refusal (CDAR 210) is never resent under its number: a credit note and a new
    invoice, as the page and the worklist say."""
    from invoicing.services.errors import InvoiceActionError  # noqa: F401

    buyer = company(activated)
    invoice = sent(draft(activated, buyer))
    b2brouter_advance(activated)  # registered
    remote_id = invoice.remote_id
    b2b.control("POST", f"/_sandbox/invoices/{remote_id}/state",
                {"state": "refused", "reason": "Commande non reçue"})
    invoice = remote.invoice_refresh(invoice_id=invoice.pk)
    assert invoice.state == S.REFUSED and invoice.refusal_kind == "rejection"
    before = invoice.submission_round
    submission.invoice_request_send(invoice_id=invoice.pk)  # not a resend: nothing happens
    invoice.refresh_from_db()
    assert invoice.state == S.REFUSED and invoice.submission_round == before
    assert crediting.can_replace(invoice)


def test_a_company_starts_from_the_code_de_commerce_mentions():
    """The form fills a public buyer's mentions; a company chosen instead gets the Code de
    commerce's, unless they were typed."""
    from invoicing import channels, notes

    company, public = channels.by_code("company"), channels.by_code("chorus")
    adapted = notes.split(channels.with_own_defaults(company, public.default_notes))
    assert "L441-10" in adapted["penalties"] and "R2192-31" not in adapted["penalties"]
    typed = notes.compose(penalties="Pénalités : 15 % l'an.", recovery="40 €",
                          discount="Aucun escompte.")
    assert channels.with_own_defaults(company, typed) == typed
