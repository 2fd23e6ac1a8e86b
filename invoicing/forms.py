"""Forms of the back office: the invoice and its lines, attachments, routing fixes, list filters.

Forms validate input; they never compute money (`invoicing.totals`) nor write (`invoicing.services.drafts`).
A draft may be saved incomplete: the Chorus Pro rules are the pre-send checks
(`invoicing.checks`), shown beside the same fields.
"""

import re
import uuid
from decimal import Decimal
from pathlib import PurePath

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.formats import get_format
from django.utils.translation import gettext_lazy as _
from stdnum import iban as stdnum_iban

from core.models import Operation
from core.text import xml_text
from directory.models import Buyer, Service
from invoicing import channels, checks, notes, vat
from invoicing.attachments import (
    ATTACHMENT_COUNT_MAX,
    attachment_problems,
    content_problems,
)
from invoicing.lines import Line
from invoicing.models import Invoice, InvoiceLine, InvoiceState
from invoicing.services.crediting import Credit
from invoicing.services.drafts import DraftData

# Amounts are stored with 14 digits, 2 of them decimals (`Invoice.total`, `InvoiceLine.line_total`).
AMOUNT_LIMIT = Decimal(10) ** 12

def _as_typed(text: str) -> str:
    """A number as people type it in the active language, made readable: spaces of any kind
    dropped (`1 250,00`, `1 250,00`), and the language's thousands separator too where it
    groups thousands (`1,250.00` in English)."""
    text = re.sub(r"[\s\u00a0\u202f]", "", text)
    thousands = get_format("THOUSAND_SEPARATOR")
    decimal = get_format("DECIMAL_SEPARATOR")
    if thousands and thousands != decimal and re.fullmatch(
            rf"[-+]?\d{{1,3}}({re.escape(thousands)}\d{{3}})+({re.escape(decimal)}\d*)?", text):
        text = text.replace(thousands, "")
    return text


# No amount, quantity, price or rate of an invoice comes near these; a number beyond them
# ("1e999999") is a typing error, refused before any comparison or query sees it.
NUMBER_DIGITS_MAX = 15  # before the decimal point
NUMBER_DECIMALS_MAX = 12


class FiniteDecimalField(forms.DecimalField):
    """Django's DecimalField lets "sNaN" through to_python, and comparing it raises; refuse every
    non-finite value where it is read, and every number too large or too fine for an invoice
    (the database cannot compare "1e999999")."""

    def to_python(self, value):
        if isinstance(value, str) and self.localize:
            value = _as_typed(value)
        value = super().to_python(value)
        if value is None:
            return value
        if not value.is_finite():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        # Read from the number's digits and exponent: arithmetic on 1e999999999 overflows.
        if value and value.adjusted() >= NUMBER_DIGITS_MAX:
            raise ValidationError(_("Nombre trop grand."), code="too_large")
        if value.as_tuple().exponent < -NUMBER_DECIMALS_MAX:
            raise ValidationError(_("Trop de décimales."), code="too_fine")
        return value


def _text_kwargs(name: str, model, kwargs: dict) -> dict:
    if isinstance(model._meta.get_field(name), (models.CharField, models.TextField)):
        kwargs["validators"] = [*kwargs.get("validators", []), xml_text]
    if isinstance(model._meta.get_field(name), models.DecimalField):
        kwargs.setdefault("form_class", FiniteDecimalField)
    return kwargs


def _invoice_field(name: str, **kwargs) -> forms.Field:
    return Invoice._meta.get_field(name).formfield(**_text_kwargs(name, Invoice, kwargs))


def _line_field(name: str, **kwargs) -> forms.Field:
    return InvoiceLine._meta.get_field(name).formfield(**_text_kwargs(name, InvoiceLine, kwargs))


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _decimal_input(**attrs) -> forms.TextInput:
    return forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", **attrs})


class ServiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Service) -> str:
        label = str(obj)
        if not obj.active:
            label += " " + str(_("(inactif)"))
        elif not obj.directory_confirmed:
            label += " " + str(_("(non confirmé par l'annuaire)"))
        return label


class InvoiceForm(forms.Form):
    """The invoice's header. `account` scopes the buyers; the services are the chosen buyer's."""

    use_required_attribute = False  # a draft may be saved incomplete

    buyer = forms.ModelChoiceField(queryset=Buyer.objects.none(), required=False,
                                   label=_("Acheteur"), empty_label=_("— choisir —"))
    service = ServiceChoiceField(queryset=Service.objects.none(), required=False,
                                 label=_("Service (code service)"), empty_label=_("— aucun —"))
    po_number = _invoice_field("po_number")
    contract_reference = _invoice_field("contract_reference")
    issue_date = _invoice_field("issue_date", widget=DateInput)
    due_date = _invoice_field("due_date", widget=DateInput)
    billing_framework = _invoice_field("billing_framework", widget=forms.RadioSelect)
    iban = _invoice_field("iban")
    penalties = forms.CharField(
        label=_("Pénalités de retard"), required=False, validators=[xml_text],
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Leur taux et quand elles s'appliquent (obligatoire sur une facture)."))
    recovery = forms.CharField(
        label=_("Indemnité forfaitaire de recouvrement"), required=False, validators=[xml_text],
        widget=forms.Textarea(attrs={"rows": 2}), help_text=_("40 € (obligatoire)."))
    discount = forms.CharField(
        label=_("Escompte pour paiement anticipé"), required=False, validators=[xml_text],
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Ses conditions, ou « Pas d'escompte pour paiement anticipé »."))
    notes = _invoice_field("notes", widget=forms.Textarea(attrs={"rows": 2}),
                           label=_("Autres mentions"), required=False,
                           help_text=_("Une par ligne (facultatif)."))
    # What an invoice to a company also says (décret 2022-1299); asked for a company only.
    operation_category = forms.ChoiceField(
        label=_("Catégorie de l'opération"), required=False,
        choices=[("", _("— choisir —")), *Operation.choices],
        help_text=_("Mention obligatoire : livraisons de biens, prestations de services, ou les "
                    "deux."))
    delivery_address = forms.CharField(
        label=_("Adresse de livraison"), required=False, max_length=300, validators=[xml_text],
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Si elle diffère de l'adresse de l'entreprise."))
    vat_on_debits = forms.BooleanField(
        label=_("Option pour le paiement de la TVA d'après les débits"), required=False,
        help_text=_("À cocher si votre entreprise a opté pour les débits (prestations de "
                    "services)."))

    def __init__(self, *args, account, invoice: Invoice | None = None, **kwargs):
        initial = kwargs.get("initial")
        if initial and "notes" in initial and "penalties" not in initial:
            kwargs["initial"] = {**initial, **notes.split(initial["notes"])}
        super().__init__(*args, **kwargs)
        self.account = account
        self.invoice = invoice
        self.fields["buyer"].queryset = Buyer.objects.filter(account=account).order_by("name")
        self.selected_buyer = self._selected(self.fields["buyer"].queryset, "buyer")
        services = Service.objects.none()
        if self.selected_buyer is not None:
            services = self.selected_buyer.services.order_by("code")
        self.fields["service"].queryset = services
        self.selected_service = self._selected(services, "service")
        self.channel = channels.of_buyer(self.selected_buyer)
        if not self.is_bound and self.selected_buyer is not None and "penalties" in self.initial:
            typed = {k: self.initial.get(k) or "" for k in ("penalties", "recovery", "discount",
                                                            "notes")}
            self.initial.update(notes.split(channels.with_own_defaults(
                self.channel, notes.compose(**typed))))
        if not self.is_bound and not self.initial.get("operation_category"):
            self.initial["operation_category"] = account.reform_operation or ""
        self.fields["iban"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
        if self.service_required:
            self.fields["service"].widget.attrs["aria-required"] = "true"
        if self.po_required:
            self.fields["po_number"].widget.attrs["aria-required"] = "true"

    def _selected(self, queryset, name: str):
        raw = self[name].value()
        if raw in (None, ""):
            return None
        if hasattr(raw, "pk"):
            return raw
        try:
            return queryset.filter(pk=int(raw)).first()
        except (TypeError, ValueError):
            return None

    # What the buyer (and its chosen service) demands, shown as soon as the buyer is chosen.
    @property
    def service_required(self) -> bool:
        return bool(self.selected_buyer and self.selected_buyer.service_code_required)

    @property
    def po_required(self) -> bool:
        return bool(
            (self.selected_buyer and self.selected_buyer.engagement_required)
            or (self.selected_service and self.selected_service.engagement_required)
        )

    @property
    def either_required(self) -> bool:
        return bool(self.selected_buyer and self.selected_buyer.service_code_or_engagement_required
                    and not self.service_required and not self.po_required)

    def clean_iban(self) -> str:
        value = stdnum_iban.compact(self.cleaned_data.get("iban") or "")
        if value:
            problem = checks.iban_problem(value)
            if problem:
                raise ValidationError(problem)
        return value

    def clean(self):
        cleaned = super().clean()
        issue, due = cleaned.get("issue_date"), cleaned.get("due_date")
        if issue and due and due < issue:
            self.add_error("due_date", _("L'échéance ne peut précéder la date d'émission."))
        return cleaned

    def draft_data(self) -> DraftData:
        data = self.cleaned_data
        return DraftData(
            buyer=data["buyer"], service=data["service"],
            issue_date=data["issue_date"], due_date=data["due_date"],
            po_number=data["po_number"].strip(), contract_reference=data["contract_reference"].strip(),
            billing_framework=data["billing_framework"] or Invoice.BillingFramework.A1,
            iban=data["iban"],
            notes=channels.with_own_defaults(self.channel, notes.compose(
                penalties=data["penalties"], recovery=data["recovery"],
                discount=data["discount"], notes=data["notes"])),
            **self.company_data(),
        )

    def company_data(self) -> dict:
        """The company fields, kept only for an invoice to a company (null otherwise)."""
        data = self.cleaned_data
        if self.channel.code != channels.COMPANY:
            return {"operation_category": None, "delivery_address": None, "vat_on_debits": None}
        return {"operation_category": data.get("operation_category") or None,
                "delivery_address": (data.get("delivery_address") or "").strip() or None,
                "vat_on_debits": bool(data.get("vat_on_debits"))}


class LineForm(forms.Form):
    description = _line_field("description", widget=forms.TextInput)
    quantity = _line_field("quantity", min_value=Decimal(0), localize=True,
                           widget=_decimal_input(size=8))
    unit_price = _line_field("unit_price", min_value=Decimal(0), localize=True,
                             widget=_decimal_input(size=10))
    vat_category = _line_field("vat_category")
    vat_rate = _line_field("vat_rate", min_value=Decimal(0), max_value=Decimal(100), localize=True,
                           widget=_decimal_input(size=5))
    exemption_code = forms.ChoiceField(label=_("Code d'exonération"), required=False,
                                       choices=vat.exemption_code_choices)
    article_code = _line_field("article_code")
    unit = forms.IntegerField(widget=forms.HiddenInput, initial=1, required=False)
    # On a credit note: the credited invoice's line (kept through edits, checked when issued).
    credited_line = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def has_changed(self) -> bool:
        # A row removed from the page sends nothing at all: it is not a line.
        if self.is_bound and not any(key.startswith(self.prefix + "-") for key in self.data):
            return False
        return super().has_changed()

    def clean(self):
        cleaned = super().clean()
        quantity, price = cleaned.get("quantity"), cleaned.get("unit_price")
        if quantity is not None and price is not None and \
                not _amount_fits(quantity, price, cleaned.get("vat_rate") or Decimal(0)):
            self.add_error("unit_price", _("Montant de ligne trop grand."))
        return cleaned

    def line(self) -> Line:
        data = self.cleaned_data
        return Line(
            description=data["description"].strip(), quantity=data["quantity"],
            unit_price=data["unit_price"], vat_rate=data["vat_rate"],
            vat_category=data["vat_category"], exemption_code=data.get("exemption_code") or "",
            # The exemption's text (BT-120) is its code's (BT-121): the two always agree.
            exemption_reason=str(vat.CODE_TEXT.get(data.get("exemption_code") or "", "")),
            article_code=data["article_code"].strip(), unit=data.get("unit") or 1,
            credited_line_id=data.get("credited_line"),
        )

    def partial_line(self) -> Line | None:
        """The figures of a row being typed, for the live totals: None until quantity and price
        are both readable. Tolerant: the description may still be missing."""
        values = {}
        for name in ("quantity", "unit_price", "vat_rate", "vat_category"):
            raw = self[name].value()
            try:
                values[name] = self.fields[name].clean(raw)
            except ValidationError:
                if name == "vat_rate":
                    values[name] = Decimal(0)
                    continue
                return None
        values["exemption_code"] = (self["exemption_code"].value() or "").strip()
        return Line(**values)


def _amount_fits(quantity: Decimal, unit_price: Decimal, vat_rate: Decimal) -> bool:
    return quantity * unit_price * (1 + vat_rate / 100) < AMOUNT_LIMIT


class BaseLineFormSet(forms.BaseFormSet):
    """The invoice's lines. Saving replaces them all, so every row is optional: rows can be
    added and removed in the page (htmx) and a blank row is ignored."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.extra = max(len(self.initial or []), 1)

    def initial_form_count(self) -> int:
        return 0

    @property
    def filled_forms(self) -> list[LineForm]:
        """The rows holding a line, in page order (their index in checks' `lines-<i>-` keys)."""
        if not self.is_bound:
            return self.forms[:len(self.initial or [])]
        return [form for form in self.forms if form.has_changed()]

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        amounts = [form.cleaned_data["quantity"] * form.cleaned_data["unit_price"]
                   * (1 + (form.cleaned_data.get("vat_rate") or Decimal(0)) / 100)
                   for form in self.filled_forms]
        if sum(amounts, Decimal(0)) >= AMOUNT_LIMIT:
            raise ValidationError(_("Le total de la facture est trop grand."), code="too_large")

    def lines(self) -> list[Line]:
        return [form.line() for form in self.filled_forms]


LineFormSet = forms.formset_factory(LineForm, formset=BaseLineFormSet, extra=0, max_num=300,
                                    absolute_max=300, validate_max=True)


def _trimmed(value: Decimal, places: int = 0) -> Decimal:
    """A stored amount (6 decimals) as a person would type it: 135, 25.00, 3.333333."""
    trimmed = value.normalize()
    if -trimmed.as_tuple().exponent < places:
        trimmed = value.quantize(Decimal(1).scaleb(-places))
    return trimmed


def line_initial(invoice: Invoice) -> list[dict]:
    return [
        {"description": line.description, "quantity": _trimmed(line.quantity),
         "unit_price": _trimmed(line.unit_price, 2),
         "vat_category": line.vat_category, "vat_rate": line.vat_rate,
         "exemption_code": line.exemption_code, "article_code": line.article_code,
         "unit": line.unit, "credited_line": line.credited_line_id}
        for line in invoice.lines.all()
    ]


def invoice_initial(invoice: Invoice) -> dict:
    return {
        "buyer": invoice.buyer_id, "service": invoice.service_id, "po_number": invoice.po_number,
        "contract_reference": invoice.contract_reference,
        "issue_date": invoice.issue_date, "due_date": invoice.due_date,
        "billing_framework": invoice.billing_framework, "iban": invoice.iban, "notes": invoice.notes,
        "operation_category": invoice.operation_category or "",
        "delivery_address": invoice.delivery_address or "",
        "vat_on_debits": bool(invoice.vat_on_debits),
    }


def attach_problems(problems: dict[str, list[str]], form: InvoiceForm,
                    formset: BaseLineFormSet) -> list[str]:
    """Puts each pre-send problem beside its field; returns those that belong to no field."""
    rows = formset.filled_forms
    general = []
    for key, messages in problems.items():
        for message in messages:
            if key.startswith("lines-") and key.count("-") == 2:
                _prefix, index, name = key.split("-")
                if int(index) < len(rows) and name in rows[int(index)].fields:
                    _add_error(rows[int(index)], name, message)
                    continue
            elif key in form.fields:
                _add_error(form, key, message)
                continue
            general.append(message)
    return general


def attach_field_problems(problems: dict[str, list[str]], form: forms.Form) -> list[str]:
    """The same, for a form without lines (the routing fix)."""
    general = []
    for key, messages in problems.items():
        for message in messages:
            if key in form.fields:
                _add_error(form, key, message)
            else:
                general.append(message)
    return general


def _add_error(form: forms.Form, name: str, message: str) -> None:
    # Not form.add_error: that drops the field from cleaned_data, and the checked draft is
    # already saved. The message is only shown.
    if name not in form.errors:
        form.errors[name] = form.error_class(renderer=form.renderer, field_id=form[name].auto_id)
    form.errors[name].append(message)


def _read(upload) -> bytes:
    """The whole upload (10 MB at most, checked before), the file left at its start."""
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    return data


class AttachmentForm(forms.Form):
    """A supporting document within Chorus Pro's limits, checked against those already joined
    (`existing`: the invoice's attachments)."""

    file = forms.FileField(
        label=_("Pièce jointe"), allow_empty_file=False,
        help_text=_("PDF, PNG, JPEG, CSV, XLSX ou ODS ; nom de 50 caractères au plus ; 10 Mo au "
                    "plus par fichier, 120 Mo en tout ; 20 fichiers au plus."))
    use_as_pdf_view = forms.BooleanField(
        label=_("C'est la facture elle-même, en PDF"), required=False,
        help_text=_("Chorus Pro montrera ce PDF comme visuel de la facture, à la place de celui "
                    "que B2Brouter produit."))

    def __init__(self, *args, existing=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.existing = list(existing)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        problems = attachment_problems(upload.name, upload.size,
                                       sum(a.size for a in self.existing))
        if not problems:
            problems = content_problems(upload.name, _read(upload))
        names = {a.original_name.lower() for a in self.existing}
        if upload.name.lower() in names:
            problems.append(_("Une pièce jointe porte déjà ce nom : renommez le fichier."))
        if len(self.existing) >= ATTACHMENT_COUNT_MAX:
            problems.append(_("20 pièces jointes au plus par facture."))
        if problems:
            raise ValidationError(problems)
        return upload

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if cleaned.get("use_as_pdf_view") and upload is not None:
            head = upload.read(5)
            upload.seek(0)
            if PurePath(upload.name).suffix.lower() != ".pdf" or head != b"%PDF-":
                self.add_error("use_as_pdf_view", _("Seul un fichier PDF peut être la facture "
                                                    "elle-même : ce fichier-ci n'en est pas "
                                                    "un."))
            elif any(a.use_as_pdf_view for a in self.existing):
                self.add_error("use_as_pdf_view", _("Le PDF de la facture est déjà joint."))
        return cleaned


class RoutingFixForm(forms.Form):
    """A routing return (A_RECYCLER): only the service, commitment and contract change."""

    service = ServiceChoiceField(queryset=Service.objects.none(), required=False,
                                 label=_("Service (code service)"), empty_label=_("— aucun —"))
    po_number = _invoice_field("po_number")
    contract_reference = _invoice_field("contract_reference")

    def __init__(self, *args, invoice: Invoice, **kwargs):
        kwargs.setdefault("initial", {"service": invoice.service_id, "po_number": invoice.po_number,
                                      "contract_reference": invoice.contract_reference})
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = invoice.buyer.services.order_by("code")


SORTS = {
    "number": ("number", "id"), "-number": ("-number", "-id"),
    "date": ("issue_date", "id"), "-date": ("-issue_date", "-id"),
    "buyer": ("buyer__name", "id"), "-buyer": ("-buyer__name", "-id"),
    "total": ("total", "id"), "-total": ("-total", "-id"),
    "state": ("state", "id"), "-state": ("-state", "-id"),
    "created": ("created_at", "id"), "-created": ("-created_at", "-id"),
}


class InvoiceFilterForm(forms.Form):
    q = forms.CharField(required=False, label=_("Numéro, n° d'engagement, acheteur ou SIRET"),
                        widget=forms.SearchInput)
    state = forms.ChoiceField(required=False, label=_("État"),
                              choices=[("", _("Tous"))] + list(InvoiceState.choices))
    buyer = forms.ModelChoiceField(queryset=Buyer.objects.none(), required=False,
                                   label=_("Acheteur"), empty_label=_("Tous"))
    date_from = forms.DateField(required=False, label=_("Date de début"), widget=DateInput)
    date_to = forms.DateField(required=False, label=_("Date de fin"), widget=DateInput)
    amount_min = FiniteDecimalField(required=False, label=_("TTC minimum"), localize=True,
                                    widget=_decimal_input(size=8), max_value=AMOUNT_LIMIT,
                                    error_messages={"max_value": _("Nombre trop grand.")})
    amount_max = FiniteDecimalField(required=False, label=_("TTC maximum"), localize=True,
                                    widget=_decimal_input(size=8), max_value=AMOUNT_LIMIT,
                                    error_messages={"max_value": _("Nombre trop grand.")})
    sort = forms.ChoiceField(required=False, choices=[(key, key) for key in SORTS],
                             widget=forms.HiddenInput)

    def __init__(self, *args, buyers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["buyer"].queryset = buyers

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("La fin de la période précède son début."))
        return cleaned

    def filters(self) -> dict:
        """The filters typed; a mistyped one (a period that ends before it starts) lists nothing
        beside its message, rather than everything."""
        if not self.is_bound:
            return {}
        if not self.is_valid():
            return {"mistyped": True}
        return {key: value for key, value in self.cleaned_data.items()
                if value not in (None, "") and key != "sort"}


class CreditNoteForm(forms.Form):
    """What a credit note credits: a quantity of each line, or an amount (excluding VAT) of it,
    or an amount including VAT on the whole invoice, shared among its lines. A blank line is not
    credited. `status`: what the invoice has left to credit (this credit note left out);
    `credit`: what the credit note credits now (a draft being changed), else every line's
    remaining quantity. `request_key`: the page's one-time key."""

    request_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=32)
    total = FiniteDecimalField(
        label=_("ou un montant TTC sur toute la facture"), required=False, min_value=Decimal(0),
        localize=True, widget=_decimal_input(size=10),
        help_text=_("Réparti entre les lignes en proportion de ce qui reste à créditer ; "
                    "laissez alors les lignes vides."))

    def __init__(self, *args, status, credit=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.status = status
        self.rows = []
        for line_credit in status.lines:
            pk = line_credit.line.pk
            if credit is None:
                quantity, amount = line_credit.remaining, None
            else:
                quantity, amount = credit.quantities.get(pk), credit.amounts.get(pk)
            self.fields[f"qty-{pk}"] = FiniteDecimalField(
                label=_("Quantité à créditer"), required=False, min_value=Decimal(0),
                localize=True, widget=_decimal_input(size=8),
                initial=_trimmed(quantity) if quantity else None)
            self.fields[f"amount-{pk}"] = FiniteDecimalField(
                label=_("ou montant HT"), required=False, min_value=Decimal(0), localize=True,
                widget=_decimal_input(size=10), initial=_trimmed(amount, 2) if amount else None)
            self.rows.append((line_credit, self[f"qty-{pk}"], self[f"amount-{pk}"]))
        if not self.is_bound:
            self.fields["request_key"].initial = uuid.uuid4().hex

    def clean_request_key(self) -> str:
        key = self.cleaned_data.get("request_key") or ""
        return key if key.isalnum() else ""

    def credit(self) -> Credit:
        """What is typed: the lines left blank credit nothing."""
        data = self.cleaned_data
        quantities = {c.line.pk: data[f"qty-{c.line.pk}"] for c, _q, _a in self.rows
                      if data.get(f"qty-{c.line.pk}")}
        amounts = {c.line.pk: data[f"amount-{c.line.pk}"] for c, _q, _a in self.rows
                   if data.get(f"amount-{c.line.pk}")}
        return Credit(quantities=quantities, amounts=amounts, total=data.get("total") or None)

    def refused(self, problems: dict[str, list[str]]) -> None:
        """The service's problems, each beside its field."""
        for name, messages in problems.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
