"""The cached choice labels answer as Django's own get_FOO_display would, in each language."""

from django.db import models
from django.utils import translation

from directory.models import Buyer
from invoicing.models import Invoice, InvoiceEvent


def _django_display(instance, field_name):
    """What Django's own implementation answers (the mixin bypassed)."""
    field = instance._meta.get_field(field_name)
    return models.Model._get_FIELD_display(instance, field)


def test_every_state_reads_as_django_would_in_both_languages():
    for language in ("fr", "en"):
        with translation.override(language):
            for value, _label in Invoice.State.choices:
                invoice = Invoice(state=value)
                assert invoice.get_state_display() == _django_display(invoice, "state")
    with translation.override("fr"):
        assert Invoice(state="paid").get_state_display() == "mise en paiement"


def test_the_label_follows_the_language_active_when_read():
    invoice = Invoice(state="refused")
    with translation.override("fr"):
        french = invoice.get_state_display()
    with translation.override("en"):
        english = invoice.get_state_display()
    assert french != english
    with translation.override("fr"):
        assert invoice.get_state_display() == french


def test_a_value_without_a_label_reads_as_itself():
    assert Invoice(state="not-a-state").get_state_display() == "not-a-state"
    assert Invoice(state="").get_state_display() == ""


def test_other_models_and_fields_use_it_too():
    event = InvoiceEvent(source="webhook", kind="state")
    buyer = Buyer(sync_state="synced")
    for language in ("fr", "en"):
        with translation.override(language):
            assert event.get_source_display() == _django_display(event, "source")
            assert buyer.get_sync_state_display() == _django_display(buyer, "sync_state")
            invoice = Invoice(billing_framework=Invoice.BillingFramework.choices[0][0])
            assert invoice.get_billing_framework_display() == _django_display(
                invoice, "billing_framework")


def test_a_page_of_rows_translates_each_label_once(monkeypatch):
    """Django's own way translated every label of the field on every row."""
    from django.utils.translation import trans_real

    calls = []
    # Every gettext (lazy labels included) goes through the translation backend's function.
    monkeypatch.setattr(translation._trans, "gettext",
                        lambda m: calls.append(m) or trans_real.gettext(m), raising=False)
    invoices = [Invoice(state=value) for value, _ in Invoice.State.choices] * 10
    with translation.override("en"):
        [i.get_state_display() for i in invoices]  # the cache may be warm already
        calls.clear()
        labels = [i.get_state_display() for i in invoices]
    assert calls == []
    assert len(set(labels)) == len(Invoice.State.choices)
