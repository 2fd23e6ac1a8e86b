"""Text cells written for a spreadsheet: no part of one opens as a formula, whichever separator
the spreadsheet splits on, and a program gets every value back exactly."""

import csv
import io
import re

from hypothesis import given
from hypothesis import strategies as st

from core.text import csv_text, csv_text_value

# A cell a spreadsheet runs (OWASP's CSV injection: it starts with = + - @, a tab or a carriage
# return), but for a number cut in two by the other separator ("-1 250" of "-1 250,00").
_FORMULA = re.compile(r"""^[=+@\t\r]|^-(?![\d ,.]*$)""")


def formula_cells(text: str) -> list[str]:
    """Every cell of a CSV text, split on ";" and on ",", that a spreadsheet would run."""
    found = []
    for delimiter in (";", ","):
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            found += [cell for cell in row if _FORMULA.search(cell)]
    return found


def _written(values, delimiter=","):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerow([csv_text(v) for v in values])
    return buffer.getvalue()


HOSTILE = ["x;=cmd|' /C calc'!A0;", "j\r=2", "k\n+3", "a,=1+1", "b; +2", 'c;"=HYPERLINK(1)', "d,@SUM(1)",
           "e;-2+3", "f;\t=1", "g,'=already", "=plain", "'quoted", "h ;  '' =x", "i;\"\" =x"]


def test_no_part_of_a_hostile_value_opens_as_a_formula_with_either_separator():
    for delimiter in (",", ";"):
        assert formula_cells(_written(HOSTILE, delimiter)) == [], delimiter


@given(st.text(alphabet=st.sampled_from(list("=+-@;,'\" \t\r\nab1")), max_size=12))
def test_every_value_round_trips_and_none_opens_as_a_formula(value):
    assert csv_text_value(csv_text(value)) == value
    for delimiter in (",", ";"):
        assert formula_cells(_written([value], delimiter)) == [], (value, delimiter)
