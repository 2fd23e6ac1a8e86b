"""What a hostile user types: hypothesis strategies and the classic payloads, shared by the
hostile-input tests."""

from hypothesis import HealthCheck
from hypothesis import strategies as st

HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE_BREAK = '"><img src=x onerror=alert(1)>'
MARKUP = [SCRIPT, ATTRIBUTE_BREAK, "<b>gras</b> & 'apostrophe'", "]]><!--", "{{ 7|add:7 }}{% now 'Y' %}"]

NASTY_TEXT = [
    *MARKUP,
    "\x00", "a\x00b", "\x1b[31m", "\x0b\x0c", "\ufeff", "\u202egnp.exe", "\r\n\t",
    "𝕳𝖊𝖑𝖑𝖔 🧾 Ünïcödé 漢字", "é" * 600, "x" * 5000, "' OR 1=1 --", "%s%n%x", "../../etc/passwd",
    "", " ",
]

NASTY_NUMBERS = [
    "1e30", "-1e30", "1E+30", "1e-30", "-1", "-0.000001", "0.0000001", "1.1234567", "NaN", "-NaN",
    "sNaN", "Infinity", "-inf", "9" * 40, "9999999999999.999999", "99999999999999", "1 000,50",
    "1,5", "1.5.5", "0x1A", "１２", "٣", "+1", "--1", "", " ", "1e999999999", "0e-999999999",
]

NASTY_DATES = [
    "2025-02-30", "0000-00-00", "0001-01-01", "9999-12-31", "10000-01-01", "18/06/2025",
    "2025-06-18T25:61", "-2025-01-01", "2025-13-01", "", "\x00",
]

_chars = st.characters(blacklist_categories=("Cs",))  # lone surrogates cannot be sent as UTF-8
texts = st.one_of(st.sampled_from(NASTY_TEXT), st.text(alphabet=_chars, max_size=40))
numbers = st.one_of(
    st.sampled_from(NASTY_NUMBERS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-10**40, max_value=10**40).map(str),
    st.floats().map(str),
    st.text(alphabet=_chars, max_size=12),
)
dates = st.one_of(st.sampled_from(NASTY_DATES), st.dates().map(lambda d: d.isoformat()),
                  st.text(alphabet=_chars, max_size=12))
ids = st.one_of(st.integers(min_value=-10**20, max_value=10**20).map(str),
                st.text(alphabet=_chars, max_size=12), st.sampled_from(["", "0", "1.5", "\x00"]))
