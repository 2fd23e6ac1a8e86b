"""The archive's filters, and a payment received."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from core.selectors import accounts_for
from core.text import xml_text
from directory.models import Buyer
from finance.models import BankCsvLayout, Payment
from invoicing.forms import FiniteDecimalField
from invoicing.models import InvoiceState


class IdChoiceField(forms.ModelChoiceField):
    """A model choice whose value must be an id the database can hold, before any query."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value)
        if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**63):
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(text)


class ArchiveFilterForm(forms.Form):
    date_from = forms.DateField(label=_("Date de début"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Date de fin"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))
    buyer = IdChoiceField(label=_("Acheteur"), queryset=Buyer.objects.none(), required=False,
                          empty_label=_("Tous"))
    state = forms.ChoiceField(label=_("État"), required=False,
                              choices=[("", _("tous"))] + list(InvoiceState.choices))
    with_pdf = forms.BooleanField(label=_("Joindre les PDF au ZIP"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["buyer"].queryset = Buyer.objects.filter(
            account__in=accounts_for(user)).order_by("name")

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("La fin de la période précède son début."))
        return data

    def filters(self) -> dict:
        """The filters typed; a mistyped one lists nothing beside its message, not everything."""
        if not self.is_bound:
            return {}
        if not self.is_valid():
            return {"mistyped": True}
        return {key: value for key, value in self.cleaned_data.items()
                if value and key != "with_pdf"}

    def pdf_wanted(self) -> bool:
        return self.is_bound and self.is_valid() and self.cleaned_data["with_pdf"]


class PaymentForm(forms.Form):
    """A payment received on an invoice, as finance types it from the bank statement."""

    received_on = forms.DateField(
        label=_("Reçu le"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    amount = FiniteDecimalField(label=_("Montant reçu (€)"), localize=True,
                                widget=forms.TextInput(attrs={"inputmode": "decimal",
                                                              "autocomplete": "off"}))
    means = forms.ChoiceField(label=_("Moyen de paiement"), choices=Payment.Means.choices)
    reference = forms.CharField(label=_("Référence bancaire"), required=False, max_length=140,
                                validators=[xml_text],
                                help_text=_("Le libellé ou la référence du virement, tels que "
                                            "la banque les donne."))
    request_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


class PaymentReverseForm(forms.Form):
    note = forms.CharField(label=_("Motif"), required=False, max_length=200, validators=[xml_text])


class BalanceFilterForm(forms.Form):
    """The ageing balance's filters."""

    kind = forms.ChoiceField(label=_("Acheteurs"), required=False, choices=[
        ("", _("Tous")), ("public", _("Entités publiques")), ("company", _("Entreprises"))])
    buyer = IdChoiceField(queryset=Buyer.objects.none(), required=False, label=_("Acheteur"),
                          empty_label=_("Tous"))
    issued_from = forms.DateField(label=_("Émises du"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    issued_to = forms.DateField(label=_("au"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["buyer"].queryset = Buyer.objects.filter(
            account__in=accounts_for(user)).order_by("name")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("issued_from"), cleaned.get("issued_to")
        if start and end and end < start:
            self.add_error("issued_to", _("La fin de la période précède son début."))
        return cleaned

    def filters(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {}
        data = self.cleaned_data
        return {"kind": data.get("kind") or "", "buyer": data.get("buyer"),
                "issued_from": data.get("issued_from"), "issued_to": data.get("issued_to")}


class BooksForm(forms.Form):
    """The period (and the account) of an accounting export."""

    account = forms.ModelChoiceField(queryset=None, label=_("Compte"), empty_label=None)
    start = forms.DateField(label=_("Du"), widget=forms.DateInput(attrs={"type": "date"},
                                                                  format="%Y-%m-%d"))
    end = forms.DateField(label=_("Au"), widget=forms.DateInput(attrs={"type": "date"},
                                                                format="%Y-%m-%d"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts_for(user)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", _("La fin de la période précède son début."))
        elif start and end and (end - start).days > 366:
            self.add_error("end", _("Une période d'au plus un an (un exercice)."))
        return cleaned


class ReminderForm(forms.Form):
    language = forms.ChoiceField(label=_("Langue du message"),
                                 choices=[("fr", "Français"), ("en", "English")])
    subject = forms.CharField(label=_("Objet"), max_length=200, validators=[xml_text])
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 14}),
                           max_length=5000)
    request_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


class StatementColumnsForm(forms.Form):
    """Which column of the bank's CSV holds what, said once per account (`finance.bank_csv`).
    `header`: the file's column names, the choices of each select."""

    file = forms.CharField(widget=forms.HiddenInput)  # the file as read, signed
    account = forms.IntegerField(widget=forms.HiddenInput)
    date = forms.ChoiceField(label=_("Date de l'opération"))
    credit = forms.ChoiceField(label=_("Crédits (l'argent reçu)"), required=False,
                               help_text=_("Si la banque sépare débits et crédits."))
    amount = forms.ChoiceField(label=_("Montant"), required=False,
                               help_text=_("Si la banque écrit un seul montant, négatif pour "
                                           "les débits."))
    label = forms.ChoiceField(label=_("Libellé"), required=False,
                              help_text=_("Où le client écrit les numéros de facture."))
    reference = forms.ChoiceField(label=_("Référence de l'opération"), required=False,
                                  help_text=_("Si la banque en donne une."))
    payer = forms.ChoiceField(label=_("Tiers, donneur d'ordre"), required=False)
    dates = forms.ChoiceField(label=_("Format des dates"),
                              choices=BankCsvLayout.Dates.choices)
    decimal_comma = forms.BooleanField(label=_("Virgule décimale (1 234,56)"), required=False)

    def __init__(self, *args, header: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        columns = [(name, name) for name in header if name]
        for role in ("date", "credit", "amount", "label", "reference", "payer"):
            empty = [("", _("— choisir —") if role == "date" else _("aucune"))]
            self.fields[role].choices = empty + columns

    def clean(self):
        data = super().clean()
        if not data.get("credit") and not data.get("amount"):
            self.add_error("amount", _("Choisissez la colonne du montant, ou celle des "
                                       "crédits."))
        return data

    def layout(self) -> dict:
        data = self.cleaned_data
        return {role: data.get(role) or "" for role in
                ("date", "credit", "amount", "label", "reference", "payer")} | {
            "dates": data["dates"], "decimal_comma": data["decimal_comma"]}


class BuyerPickForm(forms.Form):
    """The buyer whose figures the dashboard shows on demand."""

    buyer = IdChoiceField(queryset=Buyer.objects.none(), label=_("Acheteur"),
                          empty_label=_("— choisir —"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["buyer"].queryset = Buyer.objects.filter(
            account__in=accounts_for(user)).order_by("name")


class TransferForm(forms.Form):
    """One transfer received for several invoices of a buyer: its date, amount, means and
    reference; the share of each invoice is typed beside it (`amount-<invoice id>`)."""

    received_on = forms.DateField(
        label=_("Reçu le"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    total = FiniteDecimalField(label=_("Montant du virement (€)"), localize=True,
                               min_value=Decimal("0.01"), max_digits=14, decimal_places=2,
                               widget=forms.TextInput(attrs={"inputmode": "decimal",
                                                             "autocomplete": "off"}))
    means = forms.ChoiceField(label=_("Moyen de paiement"), choices=Payment.Means.choices)
    reference = forms.CharField(label=_("Référence bancaire"), required=False, max_length=140,
                                validators=[xml_text])
    request_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
