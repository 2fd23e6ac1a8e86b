"""Invoice arithmetic (DEV-CALC half_up), checked as properties over generated lines."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from sandbox import calc

quantities = st.decimals(min_value=0, max_value=10000, places=3)
prices = st.decimals(min_value=0, max_value=100000, places=4)
rates = st.sampled_from([("S", Decimal(20)), ("S", Decimal(10)), ("S", Decimal("5.5")),
                         ("S", Decimal("2.1")), ("E", Decimal(0)), ("Z", Decimal(0))])
lines = st.lists(st.tuples(quantities, prices, rates), min_size=1, max_size=8)


def as_lines(drawn):
    return [{"quantity": q, "price": p,
             "taxes": [{"name": "TVA", "category": c, "percent": r, "comment": None}]}
            for q, p, (c, r) in drawn]


def test_half_up_rounding():
    assert calc.round2(Decimal("1.005")) == Decimal("1.01")
    assert calc.line_total(Decimal("3.5"), Decimal("12.345")) == Decimal("43.21")
    assert calc.percent_repr(Decimal(10)) == Decimal("10.0")


@given(lines, st.sampled_from([None, "A1", "A2"]))
def test_totals_are_consistent(drawn, framework):
    result = calc.totals(as_lines(drawn), framework)
    totals = [calc.line_total(q, p) for q, p, _ in drawn]
    assert result["subtotal"] == sum(totals)
    assert result["subtotal"] == sum(t["base"] for t in result["taxes"])
    assert result["tax_amount"] == sum(t["amount"] for t in result["taxes"])
    assert result["total"] == result["subtotal"] + result["tax_amount"]
    assert result["payable_amount"] == (0 if framework == "A2" else result["total"])
    for tax in result["taxes"]:
        assert tax["amount"] == calc.round2(tax["base"] * tax["percent"] / 100)
    keys = [(t["category"], t["percent"]) for t in result["taxes"]]
    assert keys == sorted(set(keys))
