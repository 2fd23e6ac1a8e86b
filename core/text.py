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


def csv_text(value) -> str:
    """A text cell as a spreadsheet may open it: a value that starts like a formula gets a
    leading apostrophe, as does one that starts with an apostrophe already, so that a program
    restores the exact value by dropping one leading apostrophe from each text column."""
    value = str(value)
    return "'" + value if value.startswith(FORMULA_STARTS + ("'",)) else value


def csv_text_value(cell: str) -> str:
    """The exact value of a text cell written by `csv_text`."""
    return cell[1:] if cell.startswith("'") else cell
