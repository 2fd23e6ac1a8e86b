"""Operator commands, against the sandbox."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from core.models import Account
from invoicing.models import Invoice
from invoicing.models import InvoiceState as S
from tests.factories import AccountFactory, InvoiceFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_demo_data_sets_up_a_working_demo_and_can_run_again(b2b):
    first = run("demo_data")
    assert "Demo users" in first
    for role in ("staff", "finance", "admins"):
        assert f"{role} " in first
    account = Account.objects.get()
    assert account.remote_id
    assert account.buyers.filter(siret="13001533200013").exists()
    assert account.buyers.get(siret="13001533200013").services.filter(
        code="ESR_MISSION_FACTURES_DEPLACEMENTS").exists()
    assert Invoice.objects.filter(number="DEMO-00001", state=S.DRAFT).exists()
    run("demo_data")
    assert Account.objects.count() == 1 and Invoice.objects.count() == 1
    user = get_user_model().objects.get(username="staff")
    assert user.groups.filter(name="staff").exists() and account.users.filter(pk=user.pk).exists()


def test_b2brouter_account_finds_or_creates_the_account_once(b2b):
    AccountFactory(vat_number="FR61552100554")
    run("b2brouter_account")
    remote_id = Account.objects.get().remote_id
    Account.objects.update(remote_id=None)
    run("b2brouter_account")  # found by its VAT number, not created again
    assert Account.objects.get().remote_id == remote_id


def test_b2brouter_account_from_settings(b2b, settings, registered_account):
    remote_id = registered_account.remote_id
    Account.objects.all().delete()
    settings.B2BROUTER_ACCOUNT_ID = remote_id
    assert str(remote_id) in run("b2brouter_account")
    assert Account.objects.get().remote_id == remote_id


def test_invoice_send_now_and_sync(registered_account):
    invoice = InvoiceFactory(account=registered_account, number="CMD-1")
    out = run("invoice_send", "CMD-1", "--now")
    invoice.refresh_from_db()
    assert invoice.remote_id and str(invoice.remote_id) in out
    assert "applied" in run("sync_states")
    with pytest.raises(CommandError):
        run("invoice_send", "NOPE")


def test_invoice_send_refuses_what_the_checks_refuse_with_their_messages(registered_account):
    """The command asks the sending service, which runs the pre-send checks: an invoice they
    refuse is not queued, and the command says why in the checks' own words."""
    from invoicing import checks

    invoice = InvoiceFactory(account=registered_account, number="CMD-2", po_number="", iban="")
    expected = [m for ms in checks.invoice_problems(invoice).values() for m in ms]
    assert len(expected) == 2  # the commitment number and the IBAN
    err = io.StringIO()
    with pytest.raises(CommandError, match="not sent: 2 problem"):
        call_command("invoice_send", "CMD-2", stdout=io.StringIO(), stderr=err)
    assert [line.strip()[2:] for line in err.getvalue().splitlines()] == expected
    invoice.refresh_from_db()
    assert invoice.state == S.DRAFT and not invoice.events.filter(to_state=S.QUEUED).exists()
