"""Amounts, prices and quantities as the reader's language writes them (`{% load amounts %}`):
`6 495,09 €` in French, `€6,495.09`-style grouping in English, never `850` for a price or
`18,500000` for 18.50."""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.formats import number_format

register = template.Library()

SYMBOLS = {"EUR": "€"}


def _decimal(value) -> Decimal | None:
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None


def _places(value: Decimal, least: int, most: int) -> int:
    exponent = value.normalize().as_tuple().exponent
    return min(most, max(least, -exponent if isinstance(exponent, int) else least))


@register.filter
def money(value, currency="EUR"):
    """Two decimals, grouped, with the currency's symbol: `6 495,09 €`."""
    amount = _decimal(value)
    if amount is None:
        return ""
    return f"{number_format(amount, 2, force_grouping=True)}\u00a0{SYMBOLS.get(currency, currency)}"


def _grouped(value, least: int, most: int) -> str:
    amount = _decimal(value)
    if amount is None:
        return ""
    return number_format(amount, _places(amount, least, most), force_grouping=True)


@register.filter
def price(value):
    """A unit price: at least two decimals, up to six when it has them (`850,00`, `18,125`)."""
    return _grouped(value, 2, 6)


@register.filter
def quantity(value):
    """A quantity: its decimals when it has some, none otherwise (`3`, `7,5`)."""
    return _grouped(value, 0, 6)
