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
