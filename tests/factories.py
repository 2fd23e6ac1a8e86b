"""factory-boy factories for the product's models."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from core.models import Account
from directory.models import Buyer, Service
from invoicing.models import Invoice, InvoiceLine


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.fr")
    password = factory.django.Password("correct horse battery staple")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = "Exemplar SAS"
    siret = "45888033300018"
    vat_number = "FR36458880333"
    address = "10 Rue Imaginaire"
    city = "Paris"
    postalcode = "75001"
    province = "Île-de-France"
    email = "john.doe@example.com"
    iban = "FR7630006000011234567890189"

    class Params:
        # Known to B2Brouter (an id of its own): invoices may be issued from it. Not a real
        # account of the sandbox: tests that call B2Brouter use `registered_account`.
        registered = factory.Trait(remote_id=factory.Sequence(lambda n: 7_000_000 + n))


class BuyerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Buyer
        django_get_or_create = ["account", "siret"]

    account = factory.SubFactory(AccountFactory)
    siret = "13001533200013"
    name = "UNIVERSITE D AIX MARSEILLE"
    address = "58 BD CHARLES LIVON"
    city = "MARSEILLE 7"
    postalcode = "13007"
    service_code_required = True
    engagement_required = True


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ["buyer", "code"]

    buyer = factory.SubFactory(BuyerFactory)
    code = "ESR_MISSION_FACTURES_DEPLACEMENTS"
    name = "Factures marché FCM ROP cadre A2"
    engagement_required = True


class InvoiceFactory(factory.django.DjangoModelFactory):
    """The guide's invoice: 135 x 25.00 at 10 % VAT to Aix-Marseille University."""

    class Meta:
        model = Invoice
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    buyer = factory.SubFactory(BuyerFactory, account=factory.SelfAttribute("..account"))
    service = factory.SubFactory(ServiceFactory, buyer=factory.SelfAttribute("..buyer"))
    buyer_reference = factory.LazyAttribute(lambda i: i.service.code if i.service else "")
    number = factory.Sequence(lambda n: f"F2026-{n:05d}")
    issue_date = datetime.date(2025, 6, 18)
    due_date = factory.LazyAttribute(lambda i: i.issue_date + datetime.timedelta(days=30))
    po_number = "0123456"
    iban = "FR7630006000011234567890189"

    @factory.post_generation
    def lines(self, create, extracted, **kwargs):
        if not create:
            return
        specs = extracted if extracted is not None else [
            {"description": "Cocktail Dinatoire", "quantity": Decimal("135"),
             "unit_price": Decimal("25.00"), "vat_rate": Decimal("10"), "unit": 5, "article_code": "14"},
        ]
        for position, spec in enumerate(specs, start=1):
            InvoiceLine.objects.create(invoice=self, position=position, **spec)
        from invoicing.services.drafts import invoice_recompute_totals

        invoice_recompute_totals(invoice=self)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Made as a draft, its lines added, then put in the state asked for: an issued invoice's
        # lines never change (the database refuses it).
        state = kwargs.pop("state", Invoice.State.DRAFT)
        invoice = super()._create(model_class, *args, **kwargs)
        invoice._state_asked = state
        return invoice

    @factory.post_generation
    def state_asked(self, create, extracted, **kwargs):
        state = getattr(self, "_state_asked", Invoice.State.DRAFT)
        if create and state != Invoice.State.DRAFT:
            Invoice.objects.filter(pk=self.pk).update(state=state)
            self.refresh_from_db()
