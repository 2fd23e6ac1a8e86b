"""Public buyers (Chorus Pro structures) and their organisational units ("services").

Each mirrors a B2Brouter contact: the buyer a contact with the entity's SIRET (scheme 0009), each
service a sub-contact with `parent_id` and the service code (scheme 8017).
"""

import hashlib
import re

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.choices import ChoiceLabels

RESERVED_SERVICE_CODE = "FACTURES_PUBLIQUES"
# The guide's Chorus Pro contact settings, used unless the directory names others.
CHORUS_TRANSPORT = "fr.chorus"
CHORUS_DOCUMENT_TYPE = "xml.ubl.invoice.chorus"
# A French company's contact, as B2Brouter's DGFiP guide recommends it.
COMPANY_TRANSPORT = "peppol"
COMPANY_DOCUMENT_TYPE = "xml.ubl.invoice.frcius.v1"


class Annuaire(models.TextChoices):
    """Where a company stands in the reform's directory (B2Brouter's `in_dgfip_annuaire`)."""

    UNKNOWN = "", _("pas encore vérifié")
    PENDING = "pending", _("vérification en cours")
    REGISTERED = "registered", _("inscrite à l'annuaire")
    NOT_REGISTERED = "absent", _("absente de l'annuaire")
_PLAIN_CODE = re.compile(r"[A-Za-z0-9_.-]{1,60}")


def buyer_integration_code(siret: str) -> str:
    """The `integration_code` our buyer contacts carry at B2Brouter (documented, exact match):
    how a contact created by a lost request is found again."""
    return f"CP-{siret}"


def service_integration_code(siret: str, code: str) -> str:
    """The `integration_code` of an organisational unit: its entity's SIRET and its service
    code (a digest of the code when it holds characters an ERP code should not)."""
    if _PLAIN_CODE.fullmatch(code):
        return f"CP-{siret}-{code}"
    return f"CP-{siret}-H{hashlib.sha256(code.encode()).hexdigest()[:16]}"


class SyncState(models.TextChoices):
    PENDING = "pending", _("à enregistrer")
    SYNCED = "synced", _("enregistré")
    FAILED = "failed", _("échec")


class RegisteredContact(ChoiceLabels, models.Model):
    """What a buyer and a service share: their B2Brouter contact and how it is kept in step."""

    remote_contact_id = models.BigIntegerField(_("id contact B2Brouter"), null=True, blank=True)
    # Set once, when the row is created, and never changed: the contact is looked up by it.
    integration_code = models.CharField(_("code d'intégration B2Brouter"), max_length=100,
                                        blank=True, editable=False)
    sync_state = models.CharField(
        _("état chez B2Brouter"), max_length=10, choices=SyncState.choices, default=SyncState.PENDING
    )
    sync_error = models.TextField(_("erreur B2Brouter"), blank=True)
    synced_at = models.DateTimeField(_("synchronisé le"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        abstract = True


class Buyer(RegisteredContact):
    account = models.ForeignKey(
        "core.Account", on_delete=models.PROTECT, related_name="buyers", verbose_name=_("compte")
    )
    # A company added by its SIREN alone holds the SIREN here (9 digits, `by_siren`).
    siret = models.CharField(_("SIRET"), max_length=14)
    name = models.CharField(_("raison sociale"), max_length=200)
    address = models.CharField(_("adresse"), max_length=200, blank=True)
    city = models.CharField(_("ville"), max_length=100, blank=True)
    postalcode = models.CharField(_("code postal"), max_length=10, blank=True)
    country = models.CharField(_("pays"), max_length=2, default="fr")
    vat_number = models.CharField(_("n° TVA"), max_length=20, blank=True)
    # Where reminders of late payment go (the buyer's accounts payable).
    billing_email = models.EmailField(_("e-mail de facturation"), blank=True)
    public_sector = models.BooleanField(_("secteur public"), default=True)
    # Chorus Pro's per-structure flags, as the directory published them when last checked.
    service_code_required = models.BooleanField(_("code service obligatoire"), default=False)
    engagement_required = models.BooleanField(_("n° d'engagement obligatoire"), default=False)
    service_code_or_engagement_required = models.BooleanField(
        _("code service ou n° d'engagement obligatoire"), default=False
    )
    payment_status_not_reported = models.BooleanField(
        _("ne remonte pas le statut de paiement"), default=False
    )
    # True when the flags above were read in the directory (a re-check refreshes them); False
    # when the directory does not publish them and they are this buyer's own settings.
    flags_from_directory = models.BooleanField(_("règles lues dans l'annuaire"), default=False)
    transport_type_code = models.CharField(_("transport B2Brouter"), max_length=50,
                                           default=CHORUS_TRANSPORT)
    document_type_code = models.CharField(_("format B2Brouter"), max_length=80,
                                          default=CHORUS_DOCUMENT_TYPE)
    directory_checked_at = models.DateTimeField(_("vérifié dans l'annuaire le"), null=True, blank=True)
    # A company (public_sector false): its SIREN when it was added by SIREN alone (then its
    # contact is registered with scheme 0002), and its standing in the reform's directory.
    by_siren = models.BooleanField(_("identifiée par son SIREN"), default=False)
    annuaire = models.CharField(_("annuaire de la facturation électronique"), max_length=10,
                                choices=Annuaire.choices, default=Annuaire.UNKNOWN, blank=True)
    annuaire_checked_at = models.DateTimeField(_("annuaire lu le"), null=True, blank=True)

    class Meta:
        verbose_name = _("acheteur")
        verbose_name_plural = _("acheteurs")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "siret"], name="buyer_unique_siret_per_account",
                violation_error_message=_("Cet acheteur (même SIRET) existe déjà pour ce compte."),
            ),
            models.UniqueConstraint(
                fields=["remote_contact_id"],
                condition=Q(remote_contact_id__isnull=False),
                name="buyer_unique_remote_contact",
            ),
            # A SIRET, or the SIREN alone of a company added by its SIREN.
            models.CheckConstraint(
                condition=Q(siret__regex=r"^[0-9]{14}$")
                | Q(by_siren=True, public_sector=False, siret__regex=r"^[0-9]{9}$"),
                name="buyer_siret_14_digits",
                violation_error_message=_("Un SIRET compte 14 chiffres (un SIREN 9, pour une "
                                          "entreprise)."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.siren if self.by_siren else self.siret})"

    def save(self, *args, **kwargs):
        if not self.integration_code and self.siret:
            self.integration_code = buyer_integration_code(self.siret)
        super().save(*args, **kwargs)

    @property
    def siren(self) -> str:
        return (self.siret or "")[:9]

    @property
    def is_company(self) -> bool:
        return not self.public_sector


class Service(RegisteredContact):
    buyer = models.ForeignKey(
        Buyer, on_delete=models.CASCADE, related_name="services", verbose_name=_("acheteur")
    )
    code = models.CharField(_("code service"), max_length=100)
    name = models.CharField(_("libellé"), max_length=200, blank=True)
    active = models.BooleanField(_("actif"), default=True)
    engagement_required = models.BooleanField(_("n° d'engagement obligatoire"), default=False)
    # False for a code typed in by a person that the directory did not list (or could not).
    directory_confirmed = models.BooleanField(_("confirmé par l'annuaire"), default=False)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "code"], name="service_unique_code_per_buyer",
                violation_error_message=_("Ce code service existe déjà pour cet acheteur."),
            ),
            models.UniqueConstraint(
                fields=["remote_contact_id"],
                condition=Q(remote_contact_id__isnull=False),
                name="service_unique_remote_contact",
            ),
            # Reserved for invoices between public entities: a supplier using it is rejected.
            models.CheckConstraint(
                condition=~Q(code=RESERVED_SERVICE_CODE), name="service_not_factures_publiques",
                violation_error_message=_(
                    "FACTURES_PUBLIQUES est réservé aux factures entre entités publiques : "
                    "un fournisseur ne peut pas l'utiliser."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}" if self.name else self.code

    def save(self, *args, **kwargs):
        if not self.integration_code and self.code and self.buyer_id:
            self.integration_code = service_integration_code(self.buyer.siret, self.code)
        super().save(*args, **kwargs)
