"""Choice labels read the way a page with many rows needs them.

Django's `get_<field>_display()` builds the field's whole {value: label} dictionary on every
call, translating every label of the field on the way (hashing a lazy label translates it): an
invoice list of 50 rows translated some 1 000 labels for its state column alone. The mixin below
keeps each field's labels per language, built once, and answers with the same label Django
would (the value itself when it has none).
"""

import functools

from django.utils import translation
from django.utils.hashable import make_hashable


@functools.lru_cache(maxsize=256)
def _labels(field, language: str | None) -> dict:
    # Called with `language` active: str() gives each label in it.
    return {make_hashable(value): str(label) for value, label in field.flatchoices}


class ChoiceLabels:
    """Mixed into a model: its `get_<field>_display()` methods read the cached labels."""

    def _get_FIELD_display(self, field):
        value = getattr(self, field.attname)
        return _labels(field, translation.get_language()).get(make_hashable(value), value)
