"""SIRET, VAT and IBAN rules (python-stdnum) and the form fields built on them."""

import pytest
from django import forms

from directory.fields import IbanField, SiretField, VatNumberField
from directory.identifiers import InvalidIdentifier, iban_validate, siret_validate, vat_validate
from directory.services import DirectoryError, siret_clean


@pytest.mark.parametrize("value, expected", [
    ("13001533200013", "13001533200013"),
    ("130 015 332 00013", "13001533200013"),
    (" 130.015.332.00013 ", "13001533200013"),
    ("21750001600019", "21750001600019"),
    # La Poste's head office: passes Luhn, the one La Poste SIRET that does
    ("35600000000048", "35600000000048"),
    # another La Poste establishment: fails Luhn, but the sum of its digits is a multiple of 5
    ("35600000000001", "35600000000001"),
])
def test_valid_sirets(value, expected):
    assert siret_validate(value) == expected
    assert siret_clean(value) == expected


@pytest.mark.parametrize("value, code, words", [
    ("", "required", "Saisissez"),
    ("   ", "required", "Saisissez"),
    ("13001533200014", "checksum", "clé de contrôle"),
    ("1300153320001", "length", "13"),
    ("130015332000130", "length", "15"),
    ("1300153320001A", "characters", "que des chiffres"),
    ("SIRET13001533200013", "characters", "que des chiffres"),
    # La Poste, sum of digits not a multiple of 5
    ("35600000000002", "checksum", "clé de contrôle"),
])
def test_invalid_sirets_say_why(value, code, words):
    with pytest.raises(InvalidIdentifier) as caught:
        siret_validate(value)
    assert caught.value.code == code
    assert words in caught.value.message
    with pytest.raises(DirectoryError) as wrapped:
        siret_clean(value)
    assert wrapped.value.kind == "invalid"


def test_the_sandbox_directory_sirets_are_all_valid():
    from sandbox import directory_data

    sirets = [entry[0] for entry in directory_data._ENTITIES]
    assert len(sirets) > 20
    for siret in sirets:
        assert siret_validate(siret) == siret


@pytest.mark.parametrize("value, expected", [
    ("FR36458880333", "FR36458880333"),
    ("fr 36 458 880 333", "FR36458880333"),
    ("36458880333", "FR36458880333"),
])
def test_valid_vat_numbers(value, expected):
    assert vat_validate(value) == expected


@pytest.mark.parametrize("value, code", [
    ("FR37458880333", "checksum"),
    ("FR3645888033", "length"),
    ("", "required"),
])
def test_invalid_vat_numbers(value, code):
    with pytest.raises(InvalidIdentifier) as caught:
        vat_validate(value)
    assert caught.value.code == code


@pytest.mark.parametrize("value, code", [
    ("FR7630006000011234567890188", "checksum"),
    ("FR763000600001123456789018", "length"),
    ("", "required"),
])
def test_ibans(value, code):
    assert iban_validate("FR76 3000 6000 0112 3456 7890 189") == "FR7630006000011234567890189"
    with pytest.raises(InvalidIdentifier) as caught:
        iban_validate(value)
    assert caught.value.code == code


class IdentityForm(forms.Form):
    siret = SiretField()
    vat_number = VatNumberField(required=False)
    iban = IbanField(required=False)


def test_fields_clean_to_compact_forms():
    form = IdentityForm({"siret": "130 015 332 00013", "vat_number": "FR 36 458880333",
                         "iban": "fr76 3000 6000 0112 3456 7890 189"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"siret": "13001533200013", "vat_number": "FR36458880333",
                                 "iban": "FR7630006000011234567890189"}


def test_fields_report_each_fault_on_the_field():
    form = IdentityForm({"siret": "13001533200014", "vat_number": "FR37458880333",
                         "iban": "FR7630006000011234567890188"})
    assert not form.is_valid()
    assert form.has_error("siret", "checksum")
    assert form.has_error("vat_number", "checksum")
    assert form.has_error("iban", "checksum")
    html = str(form["siret"])
    # Django ties the error to the input for screen readers
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_siret_error id_siret_helptext"' in html or "aria-describedby" in html
    assert IdentityForm({"siret": ""}).errors["siret"] == ["Ce champ est obligatoire."]
