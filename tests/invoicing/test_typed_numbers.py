"""Numbers are read as people type them in their language, and shown the way it writes them."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from invoicing.forms import LineForm


def _price(text):
    form = LineForm(data={"description": "Conseil", "quantity": "1", "unit_price": text,
                          "vat_category": "S", "vat_rate": "20", "unit": "1"})
    form.is_valid()
    return form.cleaned_data.get("unit_price"), form.errors.get("unit_price")


@pytest.mark.parametrize("language, typed, read", [
    ("fr", "1 250,00", Decimal("1250.00")),
    ("fr", "1\u00a0250,5", Decimal("1250.5")),
    ("fr", "1\u202f250,00", Decimal("1250.00")),
    ("fr", "1250,00", Decimal("1250.00")),
    ("fr", "12 345 678,9", Decimal("12345678.9")),
    ("en", "1,250.00", Decimal("1250.00")),
    ("en", "1250.5", Decimal("1250.5")),
    ("en", "1 250.00", Decimal("1250.00")),
])
def test_a_price_typed_the_way_the_language_writes_it_is_read(language, typed, read):
    with translation.override(language):
        value, errors = _price(typed)
    assert (value, errors) == (read, None)


@pytest.mark.parametrize("typed", ["1,2,3", "douze", "1 250,00,00", "NaN"])
def test_what_is_not_a_number_is_still_refused_beside_the_field(typed):
    with translation.override("fr"):
        value, errors = _price(typed)
    assert value is None and errors


@pytest.mark.parametrize("language, expected", [
    ("fr", ["850,00", "18,50", "18,125", "1\u00a0250,00", "3", "7,5", "6\u00a0495,09\u00a0€"]),
    ("en", ["850.00", "18.50", "18.125", "1,250.00", "3", "7.5", "6,495.09\u00a0€"]),
])
def test_prices_quantities_and_amounts_are_formatted(language, expected):
    template = Template("{% load amounts %}{{ a|price }}|{{ b|price }}|{{ c|price }}|{{ d|price }}|"
                        "{{ q|quantity }}|{{ r|quantity }}|{{ t|money:'EUR' }}")
    context = Context({"a": Decimal("850.000000"), "b": Decimal("18.500000"),
                       "c": Decimal("18.125000"), "d": Decimal("1250"), "q": Decimal("3.000000"),
                       "r": Decimal("7.500000"), "t": Decimal("6495.09")})
    with translation.override(language):
        assert template.render(context).split("|") == expected
