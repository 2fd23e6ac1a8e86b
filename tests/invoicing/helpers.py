"""Shared set-up of the back-office tests: users in roles, tied to accounts."""

import datetime
from decimal import Decimal

from django.contrib.auth.models import Group

from invoicing.models import Invoice
from tests.factories import UserFactory


def user_in(role: str | None, *accounts, **kwargs):
    user = UserFactory(**kwargs)
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    for account in accounts:
        account.users.add(user)
    return user


def set_state(invoice: Invoice, state: str, chorus_status: str = "", reason: str = "") -> Invoice:
    """Puts an invoice in a state directly (as if B2Brouter had reported it)."""
    Invoice.objects.filter(pk=invoice.pk).update(state=state, chorus_status=chorus_status,
                                                 chorus_status_reason=reason)
    invoice.refresh_from_db()
    return invoice


def form_data(buyer=None, service=None, *, account, lines=None, **overrides) -> dict:
    """The POST body of the invoice form, the guide's invoice by default."""
    lines = lines if lines is not None else [
        {"description": "Cocktail Dinatoire", "quantity": "135", "unit_price": "25.00",
         "vat_category": "S", "vat_rate": "10", "exemption_code": ""},
    ]
    data = {
        "account": str(account.pk),
        "buyer": str(buyer.pk) if buyer else "",
        "service": str(service.pk) if service else "",
        "po_number": "0123456",
        "contract_reference": "",
        "issue_date": "2025-06-18",
        "due_date": "2025-07-18",
        "billing_framework": "A1",
        "iban": "FR7630006000011234567890189",
        "notes": "#PMT#Indemnité forfaitaire : 40 €",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "300",
    }
    for index, line in enumerate(lines):
        for key, value in line.items():
            data[f"lines-{index}-{key}"] = value
        data.setdefault(f"lines-{index}-unit", "1")
    data.update(overrides)
    return data


TODAY = datetime.date(2025, 6, 18)
GUIDE_TOTAL = Decimal("3712.50")
