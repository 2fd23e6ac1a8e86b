"""French identifiers checked with python-stdnum: SIRET, VAT number (TVA intracommunautaire), IBAN.

Each `*_validate` returns the compact form or raises `InvalidIdentifier` whose `message` (French,
translatable) names the fault and whose `code` says which rule failed: "required", "characters",
"length", "checksum", "format". Django-free apart from gettext, so services, forms and admin
share the same messages.
"""

from django.utils.translation import gettext as _
from stdnum import iban as iban_number
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren as siren_number
from stdnum.fr import siret as siret_number
from stdnum.fr import tva as tva_number


class InvalidIdentifier(ValueError):
    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def siret_validate(value: str | None) -> str:
    """The SIRET's 14 digits; spaces, dots and dashes tolerated.

    Luhn over the 14 digits and over the SIREN; for La Poste (SIREN 356000000) the sum of the
    digits must be a multiple of 5, the head office 35600000000048 excepted (stdnum's rules).
    """
    compact = siret_number.compact(value or "")
    if not compact:
        raise InvalidIdentifier(_("Saisissez un SIRET (14 chiffres)."), code="required")
    if not (compact.isascii() and compact.isdigit()):
        raise InvalidIdentifier(
            _("Un SIRET ne contient que des chiffres (les espaces sont acceptés)."), code="characters"
        )
    if len(compact) != 14:
        raise InvalidIdentifier(
            _("Un SIRET compte 14 chiffres ; vous en avez saisi %(count)d.") % {"count": len(compact)},
            code="length",
        )
    if not siret_number.is_valid(compact):
        raise InvalidIdentifier(
            _("Ce SIRET n'existe pas : sa clé de contrôle est fausse. Vérifiez les chiffres saisis."),
            code="checksum",
        )
    return compact


def siret_or_siren_validate(value: str | None) -> str:
    """A SIRET's 14 digits, or a company's SIREN (9 digits), each with its checksum."""
    compact = siret_number.compact(value or "")
    if compact.isascii() and compact.isdigit() and len(compact) == 9:
        if not siren_number.is_valid(compact):
            raise InvalidIdentifier(
                _("Ce SIREN n'existe pas : sa clé de contrôle est fausse. Vérifiez les chiffres "
                  "saisis."), code="checksum")
        return compact
    if compact.isascii() and compact.isdigit() and len(compact) not in (9, 14):
        raise InvalidIdentifier(
            _("Un SIRET compte 14 chiffres, un SIREN 9 ; vous en avez saisi %(count)d.")
            % {"count": len(compact)}, code="length")
    return siret_validate(value)


def is_public_siren(siren: str) -> bool:
    """A SIREN INSEE gives to a legal person under public law: the State's services begin with
    1, local authorities and their bodies with 2 (DECISION, docs/b2brouter-contract.md: such a
    number typed as a company is refused)."""
    return siren[:1] in ("1", "2")


def vat_validate(value: str | None) -> str:
    """A French VAT number, compact and upper-case (FR + key + SIREN; new-style keys accepted)."""
    compact = tva_number.compact(value or "")
    if not compact:
        raise InvalidIdentifier(_("Saisissez un numéro de TVA."), code="required")
    if not compact.startswith("FR"):
        compact = "FR" + compact
    try:
        return "FR" + tva_number.validate(compact)
    except InvalidLength as exc:
        raise InvalidIdentifier(
            _("Un numéro de TVA français compte 13 caractères : FR, une clé de 2 caractères et le "
              "SIREN (9 chiffres)."), code="length") from exc
    except InvalidChecksum as exc:
        raise InvalidIdentifier(
            _("Ce numéro de TVA n'est pas valide : sa clé ne correspond pas au SIREN."),
            code="checksum") from exc
    except (InvalidFormat, InvalidComponent, StdnumError) as exc:
        raise InvalidIdentifier(
            _("Ce numéro de TVA n'est pas au format FR + clé + SIREN."), code="format") from exc


def iban_validate(value: str | None) -> str:
    """An IBAN, compact and upper-case (country format and check digits)."""
    compact = iban_number.compact(value or "")
    if not compact:
        raise InvalidIdentifier(_("Saisissez un IBAN."), code="required")
    if compact.startswith("FR") and len(compact) != 27:
        # stdnum checks the key before the length; a French IBAN's length is the clearer fault
        raise InvalidIdentifier(
            _("Un IBAN français compte 27 caractères ; vous en avez saisi %(count)d.")
            % {"count": len(compact)}, code="length")
    try:
        return iban_number.validate(compact)
    except InvalidLength as exc:
        raise InvalidIdentifier(
            _("Cet IBAN n'a pas la longueur prévue pour son pays (27 caractères pour la France)."),
            code="length") from exc
    except InvalidChecksum as exc:
        raise InvalidIdentifier(
            _("Cet IBAN n'est pas valide : sa clé de contrôle est fausse."), code="checksum") from exc
    except (InvalidFormat, InvalidComponent, StdnumError) as exc:
        raise InvalidIdentifier(
            _("Cet IBAN n'est pas au bon format (code pays, clé, puis numéro de compte)."),
            code="format") from exc
