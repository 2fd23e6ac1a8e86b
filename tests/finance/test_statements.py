"""A bank statement (camt.053) dropped: each credit matched to the open invoices it names (one
transfer for two invoices), else by amount; recorded only when a person confirms; dropped twice,
nothing recorded twice; a file that is not a statement said so."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from finance import statements
from finance.models import Payment
from invoicing.models import InvoiceState as S
from tests.factories import InvoiceFactory
from tests.invoicing.helpers import set_state, user_in

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()


def camt(*entries) -> bytes:
    body = "".join(f"""
    <Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{way}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
      <BookgDt><Dt>{TODAY.isoformat()}</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef>
      <NtryDtls><TxDtls><RltdPties><Dbtr><Nm>{who}</Nm></Dbtr></RltdPties>
        <RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"""
                   for amount, way, ref, who, text in entries)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
  <GrpHdr><MsgId>1</MsgId></GrpHdr><Stmt><Id>S1</Id>{body}</Stmt></BkToCstmrStmt></Document>
""".encode()


@pytest.fixture
def two_open(db):
    first = set_state(InvoiceFactory(number="F-ST-1"), S.SENT)  # 3 712,50 each
    second = set_state(InvoiceFactory(account=first.account, buyer=first.buyer,
                                      service=first.service, number="F-ST-2"), S.SENT)
    third = set_state(InvoiceFactory(account=first.account, buyer=first.buyer,
                                     service=first.service, number="F-ST-3"), S.SENT)
    return first, second, third


def test_a_statement_is_matched_confirmed_and_never_recorded_twice(two_open, client):
    first, second, third = two_open
    data = camt(("7425.00", "CRDT", "BANK-REF-1", "UNIV AMU", "Factures F-ST-1 F-ST-2"),
                ("3712.50", "CRDT", "BANK-REF-2", "UNIV AMU", "virement"),
                ("99.00", "DBIT", "BANK-REF-3", "", "frais"))
    client.force_login(user_in("finance", first.account, username="dominique"))
    url = reverse("finance:statements")
    page = client.post(url, {"statement": SimpleUploadedFile("releve.xml", data)})
    assert page.status_code == 200
    proposals = page.context["proposals"]
    assert len(proposals) == 2  # the debit is not a payment
    assert [pair[1] for pair, _amount in proposals[0].invoices] == ["F-ST-1", "F-ST-2"]
    assert proposals[1].why == "amount" and proposals[1].invoices[0][0][1] == "F-ST-3"
    assert not Payment.objects.exists()  # nothing before confirming
    confirm = [f"BANK-REF-1|{TODAY.isoformat()}|{first.pk}|3712.50",
               f"BANK-REF-1|{TODAY.isoformat()}|{second.pk}|3712.50",
               f"BANK-REF-2|{TODAY.isoformat()}|{third.pk}|3712.50"]
    done = client.post(url, {"action": "confirm", "confirm": confirm})
    assert done.context["done"]["recorded"] == 3 and Payment.objects.count() == 3
    again = client.post(url, {"action": "confirm", "confirm": confirm})
    assert again.context["done"] == {"recorded": 0, "already": 3, "refused": []}
    assert Payment.objects.count() == 3
    assert set(Payment.objects.values_list("reference", flat=True)) == {"BANK-REF-1",
                                                                         "BANK-REF-2"}


def test_a_file_that_is_not_a_statement_is_said_so(db, client):
    invoice = InvoiceFactory(number="F-ST-9")
    client.force_login(user_in("finance", invoice.account, username="dominique"))
    response = client.post(reverse("finance:statements"), {
        "statement": SimpleUploadedFile("releve.xml", b"<Invoice/>")})
    assert response.status_code == 422 and "camt.053" in response.content.decode()
    with pytest.raises(statements.UnreadableStatement):
        statements.read_camt053(b"not xml")


def test_another_accounts_invoice_cannot_be_confirmed(two_open, client):
    first, _second, _third = two_open
    other = InvoiceFactory(number="F-OTHER-1")  # another account
    set_state(other, S.SENT)
    client.force_login(user_in("finance", first.account, username="dominique"))
    done = client.post(reverse("finance:statements"), {
        "action": "confirm", "confirm": [f"X|{TODAY.isoformat()}|{other.pk}|10.00"]})
    assert done.context["done"]["recorded"] == 0 and not Payment.objects.exists()
    assert Decimal(0) == sum(Payment.objects.values_list("amount", flat=True), Decimal(0))


# -- the bank's CSV ----------------------------------------------------------------------------
def bank_csv(*rows, encoding="cp1252") -> bytes:
    """A French bank's export: lines about the account first, `;`, decimal commas, dd/mm/yyyy,
    debits and credits apart, no reference column, Windows-1252."""
    day = TODAY.strftime("%d/%m/%Y")
    lines = ["Relevé du compte n° 00012345678;;;;", "Période;du 01/12 au 31/12;;;", "",
             "Date opération;Libellé;Débit;Crédit;Date valeur"]
    lines += [f"{day};{label};{debit};{credit};{day}" for label, debit, credit in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def _columns_post(page, **choices) -> dict:
    form = page.context["columns"]
    data = {"action": "columns", "file": form.initial["file"], "account": form.initial["account"],
            "dates": "dmy", "decimal_comma": "on"}
    return {**data, **choices}


def test_a_csv_statement_is_read_once_its_columns_are_said_then_directly(two_open, client):
    first, second, third = two_open
    data = bank_csv(("VIR UNIV AMU Factures F-ST-1 F-ST-2", "", "7 425,00"),
                    ("PRLV SEPA ASSURANCE", "120,00", ""),
                    ("VIR UNIV AMU", "", "3 712,50"),
                    ("VIR UNIV AMU", "", "3 712,50"))  # the same again, a second transfer
    client.force_login(user_in("finance", first.account, username="dominique"))
    url = reverse("finance:statements")
    page = client.post(url, {"statement": SimpleUploadedFile("releve.csv", data)})
    assert page.status_code == 200 and page.context["proposals"] is None
    form = page.context["columns"]
    # The header found under the bank's lines about the account, its columns guessed.
    assert page.context["table"].header[:4] == ["Date opération", "Libellé", "Débit", "Crédit"]
    assert form.initial["date"] == "Date opération" and form.initial["credit"] == "Crédit"
    assert form.initial["label"] == "Libellé" and form.initial["decimal_comma"] is True
    assert "Relevé du compte" not in page.content.decode().split('id="statement-preview"')[1]

    wrong = client.post(url, _columns_post(page, date="Date opération", credit="Crédit",
                                           label="Libellé", dates="ymd"))
    assert wrong.status_code == 422  # said beside the date format, nothing kept
    assert wrong.context["columns"].errors["dates"] == [
        f"Ligne 5 : « {TODAY.strftime('%d/%m/%Y')} » n'est pas une date de ce format."]
    from finance.models import BankCsvLayout

    assert not BankCsvLayout.objects.exists()
    none = client.post(url, _columns_post(page, date="Date opération", label="Libellé"))
    assert "colonne du montant" in none.context["columns"].errors["amount"][0]

    read = client.post(url, _columns_post(page, date="Date opération", credit="Crédit",
                                          label="Libellé"))
    assert read.status_code == 200
    proposals = read.context["proposals"]
    assert len(proposals) == 3  # the debit is not a payment
    assert [pair[1] for pair, _ in proposals[0].invoices] == ["F-ST-1", "F-ST-2"]
    assert proposals[1].invoices[0][0][1] == "F-ST-3"  # by amount
    assert proposals[1].credit.reference != proposals[2].credit.reference  # two transfers
    assert BankCsvLayout.objects.get(account=first.account).credit_column == "Crédit"

    # The next statement of that bank is read at once, with the same keys.
    again = client.post(url, {"statement": SimpleUploadedFile("releve.csv", data)})
    assert again.context["columns_kept"] and again.context["proposals"] is not None
    keys = [p.credit.reference for p in again.context["proposals"]]
    assert keys == [p.credit.reference for p in proposals]
    confirm = [f"{proposals[0].credit.reference}|{TODAY.isoformat()}|{first.pk}|3712.50",
               f"{proposals[0].credit.reference}|{TODAY.isoformat()}|{second.pk}|3712.50",
               f"{proposals[1].credit.reference}|{TODAY.isoformat()}|{third.pk}|3712.50"]
    done = client.post(url, {"action": "confirm", "confirm": confirm})
    assert done.context["done"]["recorded"] == 3
    twice = client.post(url, {"action": "confirm", "confirm": confirm})
    assert twice.context["done"]["already"] == 3 and Payment.objects.count() == 3


def test_a_csv_with_a_signed_amount_in_utf8_and_points(db):
    from finance import bank_csv as reader

    text = ("\ufeffBooking date,Description,Amount,Reference\n"
            f"{TODAY.isoformat()},Invoice F-1,1234.50,REF-9\n"
            f"{TODAY.isoformat()},Fees,-3.00,REF-10\n").encode()
    table = reader.read_table(text)
    layout = reader.guess_layout(table)
    assert layout["dates"] == "ymd" and layout["decimal_comma"] is False
    assert layout["date"] == "Booking date" and layout["amount"] == "Amount"
    credits = reader.credits_of(table, {**layout, "reference": "Reference"})
    assert [(c.amount, c.reference) for c in credits] == [(Decimal("1234.50"), "REF-9")]
    for text, comma, value in [("1 234,56", True, "1234.56"), ("-1.234,56", True, "-1234.56"),
                               ("(12,00)", True, "-12.00"), ("+99.5 €", False, "99.5")]:
        assert reader.parse_amount(text, decimal_comma=comma) == Decimal(value)
    with pytest.raises(ValueError):
        reader.parse_amount("12,345,6", decimal_comma=True)


def test_a_file_neither_xml_nor_csv_and_a_stale_form_are_said_so(db, client):
    invoice = InvoiceFactory(number="F-ST-8")
    client.force_login(user_in("finance", invoice.account, username="dominique"))
    url = reverse("finance:statements")
    response = client.post(url, {"statement": SimpleUploadedFile("photo.jpg", b"\xff\xd8\xff")})
    assert response.status_code == 422 and "CSV" in response.content.decode()
    stale = client.post(url, {"action": "columns", "file": "forged", "date": "x"})
    assert stale.status_code == 422 and "déposez-le à nouveau" in stale.content.decode()
