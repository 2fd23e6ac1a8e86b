import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

import b2brouter
from core.admin import AccountScopedAdmin
from core.models import Account, EnterpriseSize, Operation, ReformState
from core.templatetags.amounts import money, price, quantity
from invoicing import notes
from invoicing.history import event_text
from invoicing.models import (
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoicePdf,
    LegalDocument,
    chorus_status_label,
)
from invoicing.models import state_words as state_label
from invoicing.services import accounts, drafts, reform


class InvoiceLineInline(admin.TabularInline):
    """The lines as the invoice says them, amounts written the reader's way; lines are typed in
    the application (a draft's form), never here."""

    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ["position", "description", "quantity_text", "price_text", "vat_text", "total_text"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("quantité"))
    def quantity_text(self, line):
        return quantity(line.quantity)

    @admin.display(description=_("prix unitaire HT"))
    def price_text(self, line):
        return price(line.unit_price)

    @admin.display(description=_("TVA"))
    def vat_text(self, line):
        return f"{line.vat_category} {quantity(line.vat_rate)} %"

    @admin.display(description=_("total HT"))
    def total_text(self, line):
        return money(line.line_total)


class InvoiceEventInline(admin.TabularInline):
    """The history as the application words it: states and Chorus Pro statuses in words, each
    line in the reader's language."""

    model = InvoiceEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "who", "change", "what", "exchange"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("changement"))
    def change(self, event):
        if event.kind != InvoiceEvent.Kind.STATE:
            return "—"
        label = lambda state: state_label(state, event.invoice.kind) if state else ""  # noqa: E731
        return f"{label(event.from_state)} → {label(event.to_state)}" if event.from_state \
            else label(event.to_state)

    @admin.display(description=_("par"))
    def who(self, event):
        source = event.get_source_display()
        return f"{source} · {event.actor}" if event.actor_id else source

    @admin.display(description=_("ce qui s'est passé"))
    def what(self, event):
        chorus = chorus_status_label(event.chorus_status) if event.chorus_status else ""
        return " ".join(part for part in (chorus, event.reason, event_text(event)) if part) or "—"

    @admin.display(description=_("échange B2Brouter"))
    def exchange(self, event):
        if not event.http_method:
            return "—"
        return f"{event.http_method} {event.http_path[:60]} ({event.http_status or '—'})"


@admin.register(Account)
class AccountAdmin(AccountScopedAdmin):
    """The supplier's accounts. An admin sees the accounts they work for; who works for an
    account is a superuser's to say, as is making an account. An account sends nothing until it
    is registered at B2Brouter (the action below, or `manage.py b2brouter_account`)."""

    account_path = "pk"
    add_title = _("Nouveau compte")
    list_display = ["name", "siret", "vat_number", "remote_id", "environment", "reform_words"]
    readonly_fields = ["remote_id", "created_at", "updated_at", "reform_words"]
    fieldsets = [
        (None, {"fields": ["name", "siret", "vat_number", "address", "postalcode", "city",
                           "province", "country", "email", "iban"]}),
        (_("Factures aux entreprises (facturation électronique)"), {"fields": ["reform_words"]}),
        (_("B2Brouter"), {"fields": ["remote_id", "environment", "rounding_method"]}),
        (_("Factures"), {"fields": ["payment_terms_days", "invoice_number_prefix",
                                    "next_invoice_sequence"]}),
        (_("Comptabilité (export FEC)"), {"fields": [
            "fec_sales_journal", "fec_bank_journal", "fec_customer_account",
            "fec_services_account", "fec_goods_account", "fec_vat_account",
            "fec_bank_account"]}),
        (_("Utilisateurs"), {"fields": ["users"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]
    filter_horizontal = ["users"]
    actions = ["register_at_b2brouter"]

    @admin.display(description=_("factures aux entreprises"))
    def reform_words(self, account):
        """Where the account stands for invoices to companies, with the way to activate it."""
        if account.pk is None:
            return "—"
        url = reverse("admin:core_account_reform", args=[account.pk])
        if account.reform_state == ReformState.ACTIVE:
            text = _("Activée : factures aux entreprises à partir du %(date)s (%(operation)s)") % {
                "date": formats.date_format(account.reform_start_date, "DATE_FORMAT"),
                "operation": Operation(account.reform_operation).label
                if account.reform_operation else "—"}
            return format_html('{} — <a href="{}">{}</a>', text, url, _("modifier"))
        if account.reform_state == ReformState.FAILED:
            return format_html('{} : {} — <a href="{}">{}</a>', _("Activation refusée"),
                               account.reform_error, url, _("réessayer"))
        return format_html('{} — <a href="{}">{}</a>', _("Non activée"), url,
                           _("activer la facturation aux entreprises"))

    def get_urls(self):
        return [path("<int:pk>/reform/", self.admin_site.admin_view(self.reform_view),
                     name="core_account_reform"), *super().get_urls()]

    def reform_view(self, request, pk):
        """Activate the account for invoices to French companies (B2Brouter's `dgfip`
        setting), or change its settings; B2Brouter's refusal is shown here, in words."""
        account = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        initial = {"start_date": account.reform_start_date
                   or timezone.localdate() + datetime.timedelta(days=1),
                   "operation": account.reform_operation or Operation.SERVICES,
                   "naf_code": account.naf_code, "enterprise_size": account.enterprise_size,
                   "vat_exempt_reason": account.vat_exempt_reason, "email": account.email}
        form = ReformForm(request.POST or None, initial=initial,
                          already_active=account.reform_state == ReformState.ACTIVE)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                reform.account_activate(
                    account=account, start_date=data["start_date"], operation=data["operation"],
                    naf_code=data["naf_code"], enterprise_size=data["enterprise_size"],
                    vat_exempt_reason=data["vat_exempt_reason"], email=data["email"])
            except reform.ActivationRefused as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, _(
                    "%(account)s : facturation aux entreprises activée à partir du %(date)s. "
                    "L'inscription à l'annuaire peut prendre jusqu'à 24 heures : les entreprises "
                    "vous trouvent le lendemain.") % {
                        "account": account,
                        "date": formats.date_format(account.reform_start_date, "DATE_FORMAT")},
                    messages.SUCCESS)
                return redirect("admin:core_account_change", account.pk)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "original": account, "form": form,
                   "title": _("Facturation électronique aux entreprises : %(account)s")
                   % {"account": account}}
        return TemplateResponse(request, "admin/core/account/reform.html", context)

    @admin.action(description=_("Enregistrer chez B2Brouter"))
    def register_at_b2brouter(self, request, queryset):
        # Admin actions run outside any transaction: B2Brouter may be called here.
        for account in queryset:
            try:
                accounts.account_register(account=account)
            except b2brouter.B2BrouterError as exc:
                self.message_user(request, _("%(account)s : B2Brouter refuse ou ne répond pas "
                                             "(%(error)s). Réessayez plus tard.")
                                  % {"account": account, "error": exc}, messages.ERROR)
                continue
            self.message_user(request, _("%(account)s : enregistré chez B2Brouter (compte "
                                         "%(id)s).") % {"account": account,
                                                        "id": account.remote_id},
                              messages.SUCCESS)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields.append("users")
        return fields

    def has_add_permission(self, request):
        return request.user.is_superuser and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class ReformForm(forms.Form):
    """What B2Brouter asks to activate an account for the reform (its `dgfip` setting)."""

    start_date = forms.DateField(
        label=_("Factures aux entreprises à partir du"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Aujourd'hui ou plus tard. L'inscription à l'annuaire de la facturation "
                    "électronique prend jusqu'à 24 heures."))
    operation = forms.ChoiceField(
        label=_("Vous vendez surtout"), choices=Operation.choices,
        help_text=_("Reprise sur chaque facture, qui peut dire autre chose."))
    naf_code = forms.RegexField(
        label=_("Code NAF (2 premiers chiffres)"), regex=r"^[0-9]{2}$", max_length=2,
        error_messages={"invalid": _("Les deux premiers chiffres du code APE/NAF, par exemple "
                                     "62 pour 62.01Z (sur l'extrait Kbis).")})
    enterprise_size = forms.ChoiceField(label=_("Taille de l'entreprise"),
                                        choices=EnterpriseSize.choices)
    vat_exempt_reason = forms.CharField(
        label=_("Motif d'exonération de TVA par défaut"), required=False, max_length=30,
        help_text=_("Seulement si vos ventes sont exonérées, par exemple VATEX-FR-FRANCHISE "
                    "(franchise en base, art. 293 B du CGI)."))
    email = forms.EmailField(label=_("E-mail pour les questions fiscales"), required=False)

    def __init__(self, *args, already_active=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.already_active = already_active

    def clean_start_date(self):
        value = self.cleaned_data["start_date"]
        if value < timezone.localdate() and not self.already_active:
            raise forms.ValidationError(_("La date de début est aujourd'hui ou plus tard."))
        return value

    def clean_vat_exempt_reason(self):
        value = self.cleaned_data["vat_exempt_reason"].strip().upper()
        if value and not value.startswith("VATEX-"):
            raise forms.ValidationError(_("Un code VATEX, par exemple VATEX-FR-FRANCHISE."))
        return value


@admin.register(Invoice)
class InvoiceAdmin(AccountScopedAdmin):
    """Invoices, read-only: what an issued invoice says never changes (the model and the
    database refuse it too), and invoices are made, corrected, numbered and sent in the
    application. A draft never issued may be deleted here. Amounts, states and mentions read as
    the application writes them."""

    list_display = ["__str__", "kind", "buyer_name", "issue_date", "total_ttc", "state",
                    "chorus_status_words", "account"]
    list_filter = ["state", "kind", ("account", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["number", "po_number", "buyer__name", "buyer__siret"]
    list_select_related = ["account", "buyer"]
    fieldsets = [
        (None, {"fields": ["number", "kind", "state_words", "account", "buyer", "service",
                           "issue_date", "due_date", "issued_at"]}),
        (_("Acheminement"), {"fields": ["buyer_reference", "po_number", "contract_reference",
                                        "billing_framework", "iban"]}),
        (_("Montants"), {"fields": ["subtotal_text", "tax_text", "total_text",
                                    "payable_text"]}),
        (_("Mentions"), {"fields": ["notes_text"]}),
        (_("B2Brouter et Chorus Pro"), {"fields": [
            "remote_id", "state_updated_at", "submission_round", "submit_attempts",
            "chorus_status_words", "chorus_status_reason", "last_error"]}),
    ]
    readonly_fields = [name for _title, block in fieldsets for name in block["fields"]]
    inlines = [InvoiceLineInline, InvoiceEventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("état"))
    def state_words(self, invoice):
        return state_label(invoice.state, invoice.kind)

    @admin.display(description=_("total HT"))
    def subtotal_text(self, invoice):
        return money(invoice.subtotal, invoice.currency)

    @admin.display(description=_("TVA"))
    def tax_text(self, invoice):
        return money(invoice.tax_amount, invoice.currency)

    @admin.display(description=_("total TTC"))
    def total_text(self, invoice):
        return money(invoice.total, invoice.currency)

    @admin.display(description=_("net à payer"))
    def payable_text(self, invoice):
        return money(invoice.payable_amount, invoice.currency)

    @admin.display(description=_("mentions"))
    def notes_text(self, invoice):
        return format_html_join(mark_safe("<br>"), "{}{}", (  # noqa: S308
            (f"{mention['label']} : " if mention["label"] else "", mention["text"])
            for mention in notes.mentions(invoice.notes))) or "—"

    @admin.display(description=_("acheteur"), ordering="buyer__name")
    def buyer_name(self, invoice):
        return invoice.buyer.name if invoice.buyer_id else "—"

    @admin.display(description=_("total TTC"), ordering="total")
    def total_ttc(self, invoice):
        return money(invoice.signed_total, invoice.currency)

    @admin.display(description=_("statut Chorus Pro"), ordering="chorus_status")
    def chorus_status_words(self, invoice):
        return chorus_status_label(invoice.chorus_status) if invoice.chorus_status else "—"

    def has_delete_permission(self, request, obj=None):
        if obj is not None and (obj.state != Invoice.State.DRAFT or obj.number):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        drafts.draft_discard(invoice_id=obj.pk, user=request.user)

    def delete_queryset(self, request, queryset):
        for invoice in queryset:
            if invoice.state == Invoice.State.DRAFT and not invoice.number:
                drafts.draft_discard(invoice_id=invoice.pk, user=request.user)


class ArchiveAdmin(AccountScopedAdmin):
    """Read-only: the archive is never edited nor deleted, from here or anywhere."""

    account_path = "invoice__account"

    search_fields = ["invoice__number", "sha256"]
    exclude = ["content"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LegalDocument)
class LegalDocumentAdmin(ArchiveAdmin):
    list_display = ["invoice", "submission_round", "sha256", "size", "fetched_at", "acknowledged_at"]


@admin.register(InvoicePdf)
class InvoicePdfAdmin(ArchiveAdmin):
    list_display = ["invoice", "submission_round", "sha256", "size", "fetched_at"]
