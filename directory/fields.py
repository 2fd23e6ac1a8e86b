"""Form fields for French identifiers, for any form of the product.

    class MyForm(forms.Form):
        siret = SiretField()          # cleaned_data["siret"] == "13001533200013"
        vat_number = VatNumberField(required=False)
        iban = IbanField()

Each cleans to the compact form and reports the precise fault (length, characters, checksum) as
a field error, which Django ties to the input (`aria-describedby` on Django >= 5.0 templates).
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from directory.identifiers import (
    InvalidIdentifier,
    iban_validate,
    siret_or_siren_validate,
    siret_validate,
    vat_validate,
)


class _IdentifierField(forms.CharField):
    check = staticmethod(lambda value: value)
    input_attrs: dict = {}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)
        self.widget.attrs.update({"autocomplete": "off", "spellcheck": "false", **self.input_attrs})

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return ""
        try:
            return type(self).check(value)
        except InvalidIdentifier as exc:
            raise ValidationError(exc.message, code=exc.code) from exc


class SiretField(_IdentifierField):
    """14 digits, spaces tolerated, checksum (La Poste exception included)."""

    check = staticmethod(siret_validate)
    input_attrs = {"inputmode": "numeric"}

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("SIRET"))
        kwargs.setdefault("help_text", _("14 chiffres, espaces acceptés (ex. 130 015 332 00013)."))
        super().__init__(**kwargs)


class SiretOrSirenField(SiretField):
    """A SIRET (14 digits) or, for a company, a SIREN (9 digits), checksums checked."""

    check = staticmethod(siret_or_siren_validate)

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("SIRET ou SIREN"))
        kwargs.setdefault("help_text", _("Entité publique : son SIRET (14 chiffres). Entreprise : "
                                         "son SIRET, ou son SIREN (9 chiffres). Espaces "
                                         "acceptés."))
        super().__init__(**kwargs)


class VatNumberField(_IdentifierField):
    """French VAT number (FR + key + SIREN)."""

    check = staticmethod(vat_validate)

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("n° TVA intracommunautaire"))
        super().__init__(**kwargs)


class IbanField(_IdentifierField):
    """IBAN: country format and check digits."""

    check = staticmethod(iban_validate)

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("IBAN"))
        super().__init__(**kwargs)


class FrenchPostalCodeField(forms.CharField):
    """A French postal code: five digits (spaces tolerated), "13007"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 10)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "numeric", "autocomplete": "postal-code"})

    def clean(self, value):
        value = "".join((super().clean(value) or "").split())
        if value and not (len(value) == 5 and value.isdigit()):
            raise ValidationError(_("Un code postal français a 5 chiffres (ex. 13007)."),
                                  code="postal_code")
        return value
