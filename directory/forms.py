"""Forms of the directory pages: the SIRET lookup, creating a buyer, adding a service.

The directory may give the entity's identity only (B2Brouter documents no more), or nothing at
all (404, unreachable): then the person who knows the buyer types its identity, its Chorus Pro
rules and its service codes, each checked for form here, the SIRET's checksum included.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from directory import services
from directory.fields import FrenchPostalCodeField, SiretOrSirenField, VatNumberField

# Chorus Pro's rules for a structure, as a person ticks them when the directory does not say.
FLAG_FIELDS = {
    "service_code_required": _("Code service obligatoire"),
    "engagement_required": _("N° d'engagement obligatoire"),
    "service_code_or_engagement_required": _("Code service ou n° d'engagement : l'un des deux"),
    "payment_status_not_reported": _("Ne remonte pas le statut « mise en paiement »"),
}
IDENTITY_FIELDS = ("name", "address", "postalcode", "city", "vat_number")


def add_flag_fields(form: forms.Form) -> None:
    for name, label in FLAG_FIELDS.items():
        form.fields[name] = forms.BooleanField(label=label, required=False)


def add_identity_fields(form: forms.Form, *, required: bool) -> None:
    form.fields["name"] = forms.CharField(label=_("Raison sociale"), max_length=200,
                                          required=required)
    form.fields["address"] = forms.CharField(label=_("Adresse"), max_length=200, required=False)
    form.fields["postalcode"] = FrenchPostalCodeField(label=_("Code postal"), required=False)
    form.fields["city"] = forms.CharField(label=_("Ville"), max_length=100, required=False)
    form.fields["vat_number"] = VatNumberField(required=False)


def clean_service_codes(text: str) -> list[str]:
    """The typed codes, each checked for form; ValidationError naming every bad one."""
    codes, problems = [], []
    for raw in services.service_codes_split(text):
        try:
            codes.append(services.service_code_clean(raw))
        except services.DirectoryError as exc:
            problems.append(exc.message)
    if problems:
        raise ValidationError(problems)
    return codes


def details_from(cleaned: dict) -> services.BuyerDetails:
    return services.BuyerDetails(
        **{name: cleaned.get(name) or "" for name in IDENTITY_FIELDS},
        **{name: bool(cleaned.get(name)) for name in FLAG_FIELDS},
    )


def flags_from(cleaned: dict) -> dict:
    return {name: bool(cleaned.get(name)) for name in FLAG_FIELDS}


class LookupForm(forms.Form):
    siret = SiretOrSirenField()
    # id of the surrounding page's form that the chosen buyer/service belong to (see the partial)
    target = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "buyer-lookup-%s")
        super().__init__(*args, **kwargs)


class BuyerCreateForm(forms.Form):
    """Create a buyer: from the directory entry (services ticked among those it lists, others
    typed), or by hand (`manual`) when the directory has no entry or cannot be reached.
    `ask_flags`: the entry publishes no Chorus Pro rules, the person ticks them."""

    siret = SiretOrSirenField(widget=forms.HiddenInput)
    account = forms.ModelChoiceField(queryset=None, label=_("Compte"), empty_label=None)
    services = forms.MultipleChoiceField(
        label=_("Services destinataires"), required=False, widget=forms.CheckboxSelectMultiple
    )
    other_services = forms.CharField(
        label=_("Autres codes service"), required=False, max_length=2000,
        help_text=_("Séparés par des espaces ou des virgules ; ils seront signalés « non "
                    "confirmés par l'annuaire »."),
    )
    manual = forms.BooleanField(required=False, widget=forms.HiddenInput)
    target = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, accounts, service_choices=(), manual: bool = False,
                 ask_flags: bool = False, company: bool = False, **kwargs):
        kwargs.setdefault("auto_id", "buyer-create-%s")
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts
        self.fields["services"].choices = list(service_choices)
        self.manual = manual
        # A company found in the directory: no Chorus Pro rules, no services to ask.
        self.company = company
        self.ask_flags = (ask_flags or manual) and not company
        if manual:
            add_identity_fields(self, required=True)
            self.initial.setdefault("manual", True)
        if manual and not company:
            self.fields["kind"] = forms.ChoiceField(
                label=_("Type d'acheteur"), widget=forms.RadioSelect, initial="public",
                required=False,  # not said: a public entity, as before companies were billed
                choices=[("public", _("Entité publique (factures par Chorus Pro)")),
                         ("company", _("Entreprise (factures par la plateforme agréée)"))])
        if self.ask_flags:
            add_flag_fields(self)

    def is_company(self) -> bool:
        """The buyer to create is a company: found as one, or typed as one."""
        return self.company or (self.manual and self.cleaned_data.get("kind") == "company")

    def identity_fields(self):
        return [self[name] for name in IDENTITY_FIELDS] if self.manual else []

    def flag_fields(self):
        return [self[name] for name in FLAG_FIELDS] if self.ask_flags else []

    def clean_other_services(self) -> list[str]:
        return clean_service_codes(self.cleaned_data.get("other_services", ""))

    def service_codes(self) -> list[str]:
        if self.is_company():
            return []  # a company has no Chorus Pro services
        chosen = list(self.cleaned_data.get("services") or [])
        return chosen + [c for c in self.cleaned_data.get("other_services") or []
                         if c not in chosen]


class ServiceAddForm(forms.Form):
    """One service under an existing buyer: picked among the directory's (suggested) or typed."""

    code = forms.CharField(label=_("Code service à ajouter"), max_length=services.SERVICE_CODE_MAX)
    target = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, service_choices=(), **kwargs):
        kwargs.setdefault("auto_id", "service-add-%s")
        super().__init__(*args, **kwargs)
        self.suggestions = list(service_choices)

    def clean_code(self) -> str:
        try:
            return services.service_code_clean(self.cleaned_data["code"])
        except services.DirectoryError as exc:
            raise ValidationError(exc.message) from exc
