"""Checks of the text people type that goes to B2Brouter and into the legal XML."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Characters XML 1.0 cannot carry, so neither can the legal XML that repeats the text: the C0
# controls but tab, line feed and carriage return, and the non-characters U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> None:
    """Validator of every text that goes to B2Brouter and into the legal XML."""
    if value and _NOT_XML.search(value):
        raise ValidationError(_("Caractère de contrôle non autorisé (il ne passerait pas dans le "
                                "XML légal)."), code="control_character")


# A spreadsheet reads a cell that starts with one of these as a formula (or a control).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# A separator of either kind (a file written with "," may be opened splitting on ";", and the
# other way round) or a line break (a spreadsheet that splits a field in the middle no longer
# sees its quotes, and starts a row there), then spaces or quotes, then what a formula starts
# with: once split there, that part would be a cell of its own, starting like a formula. The
# apostrophes already there are part of it, so that the mark added can be told apart and taken
# off.
_FORMULA_AFTER_SEPARATOR = re.compile(r"""([,;\r\n][ "]*)('*[=+\-@\t\r])""")
_MARKED_AFTER_SEPARATOR = re.compile(r"""([,;\r\n][ "]*)'('*[=+\-@\t\r])""")


def csv_text(value) -> str:
    """A text cell as a spreadsheet may open it, whichever separator it splits on: a value that
    starts like a formula gets a leading apostrophe, as does one that starts with an apostrophe
    already; and wherever a separator is followed by what a formula starts with, an apostrophe
    goes after the separator. A program restores the exact value with `csv_text_value`."""
    value = _FORMULA_AFTER_SEPARATOR.sub(r"\1'\2", str(value))
    return "'" + value if value.startswith(FORMULA_STARTS + ("'",)) else value


def csv_text_value(cell: str) -> str:
    """The exact value of a text cell written by `csv_text`."""
    cell = cell[1:] if cell.startswith("'") else cell
    return _MARKED_AFTER_SEPARATOR.sub(r"\1\2", cell)
