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
