"""Admin for public buyers and their services (organisational units).

Adding a buyer takes an account and a SIRET: the rest comes from the Chorus Pro directory and the
buyer is registered at B2Brouter. Where the directory says less (no Chorus Pro rules, no
services) or nothing (no entry, unreachable), the admin types what they know: the identity, the
rules, the service codes (checked for form, flagged "not confirmed by the directory"). Edits are pushed to B2Brouter after saving; what B2Brouter says
is shown as a message and recorded on the row (`sync_state`, `sync_error`). Admin history (the
"Historique" button) records additions, changes and the actions below.
"""


from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

import b2brouter
from core.admin import AccountScopedAdmin
from core.text import xml_text
from directory import services
from directory.fields import SiretField, VatNumberField
from directory.forms import (
    FLAG_FIELDS,
    IDENTITY_FIELDS,
    add_flag_fields,
    add_identity_fields,
    clean_service_codes,
    details_from,
    flags_from,
)
from directory.models import Buyer, Service

_CONTACT_FIELDS = {"name", "address", "city", "postalcode", "country", "public_sector", "vat_number"}
_SERVICE_FIELDS = {"code", "name"}
_REMOTE_READONLY = ["remote_contact_id", "sync_state", "sync_error", "synced_at"]


_NO_ANSWER = ("unknown", "unavailable", "timeout")


class BuyerAddForm(forms.ModelForm):
    """Account + SIRET (+ optional service codes): the directory fills in everything else. When
    it has no entry or cannot be reached, the typed identity creates the buyer all the same;
    when it publishes no Chorus Pro rules, the ticked ones stand."""

    siret = SiretField()
    service_codes = forms.CharField(
        label=gettext_lazy("Codes service"), required=False,
        help_text=gettext_lazy("Séparés par des espaces ou des virgules. Vide : tous les services "
                               "actifs que l'annuaire liste pour cette structure. Un code que "
                               "l'annuaire ne liste pas est gardé, « non confirmé par "
                               "l'annuaire »."),
    )

    class Meta:
        model = Buyer
        fields = ["account", "siret"]

    # (siret, entry or DirectoryError) read before the admin opened its transaction (see
    # BuyerAdmin.changeform_view); None: the form looks the SIRET up itself.
    looked_up: tuple | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        add_identity_fields(self, required=False)
        add_flag_fields(self)
        for name in IDENTITY_FIELDS:
            self.fields[name].validators.append(xml_text)
        self.directory_entry = None

    def clean_service_codes(self) -> list[str]:
        return clean_service_codes(self.cleaned_data.get("service_codes", ""))

    def clean(self):
        cleaned = super().clean()
        siret = cleaned.get("siret")
        if not siret or "siret" in self.errors:
            return cleaned
        try:
            entry = self._lookup(siret)
        except services.DirectoryError as exc:
            if exc.kind not in _NO_ANSWER:
                self.add_error("siret", exc.message)
            elif not (cleaned.get("name") or "").strip():
                self.add_error("siret", _("%(error)s Si vous connaissez cet acheteur, saisissez "
                                          "au moins sa raison sociale ci-dessous pour le créer "
                                          "quand même.") % {"error": exc.message})
            return cleaned
        listed = {s["code"]: s for s in services.entry_services(entry, active_only=False)}
        closed = [c for c in cleaned.get("service_codes") or []
                  if c in listed and not listed[c].get("active", True)]
        if closed:
            active = [c for c, s in listed.items() if s.get("active", True)]
            self.add_error("service_codes", _(
                "%(codes)s : service fermé dans l'annuaire. Services actifs : %(available)s."
            ) % {"codes": ", ".join(closed), "available": ", ".join(active) or "—"})
        self.directory_entry = entry
        return cleaned

    def _lookup(self, siret: str) -> dict:
        if self.looked_up is not None and self.looked_up[0] == siret:
            if isinstance(self.looked_up[1], services.DirectoryError):
                raise self.looked_up[1]
            return self.looked_up[1]
        return services.directory_lookup(siret=siret)


def lookup_outside_transaction(siret_text: str) -> tuple | None:
    """The directory's answer for a typed SIRET, read before any transaction is open: (siret,
    entry or DirectoryError), or None when the SIRET is malformed (the form says why)."""
    try:
        siret = services.siret_clean(siret_text)
    except services.DirectoryError:
        return None
    try:
        return siret, services.directory_lookup(siret=siret)
    except services.DirectoryError as exc:
        return siret, exc


class CallsAfterTheTransaction:
    """The admin saves a change inside a transaction; B2Brouter is never called inside it.
    `after_save(request, work)` keeps the work (a registration, a push) for when the admin's
    transaction has committed, before the answer goes back (its messages included)."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        request.b2brouter_work = []
        self.before_transaction(request, object_id)
        response = super().changeform_view(request, object_id, form_url, extra_context)
        for work in request.b2brouter_work:
            work()
        return response

    def before_transaction(self, request, object_id) -> None:
        """What must be read from B2Brouter before the transaction opens (nothing by default)."""

    def after_save(self, request, work) -> None:
        if hasattr(request, "b2brouter_work"):
            request.b2brouter_work.append(work)
        else:  # not through the change form (an action): no transaction of the admin's
            work()


class BuyerChangeForm(forms.ModelForm):
    """What a person edits is checked like the rest of the product: a French VAT number (it is
    sent to B2Brouter), and text the legal XML can carry."""

    vat_number = VatNumberField(required=False)

    class Meta:
        model = Buyer
        fields = ["vat_number"]  # the admin passes the fields of its fieldsets

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                field.validators.append(xml_text)


class ServiceForm(forms.ModelForm):
    """A service code typed in the admin is checked for form like everywhere else."""

    class Meta:
        model = Service
        fields = ["code"]

    def clean_code(self) -> str:
        try:
            return services.service_code_clean(self.cleaned_data.get("code", ""))
        except services.DirectoryError as exc:
            raise forms.ValidationError(exc.message) from exc


class ServiceInline(admin.TabularInline):
    model = Service
    form = ServiceForm
    extra = 0
    can_delete = False  # invoices point at services: close one by unticking "actif"
    fields = ["code", "name", "active", "engagement_required", "directory_confirmed",
              *_REMOTE_READONLY]
    readonly_fields = ["directory_confirmed", *_REMOTE_READONLY]


def _report(modeladmin, request, obj, exc: b2brouter.B2BrouterError) -> None:
    level = messages.WARNING if isinstance(exc, b2brouter.TransientError) else messages.ERROR
    modeladmin.message_user(request, f"{obj} — {services.error_text(exc)}", level)


@admin.register(Buyer)
class BuyerAdmin(CallsAfterTheTransaction, AccountScopedAdmin):
    add_title = gettext_lazy("Nouvel acheteur")
    list_display = ["name", "siret", "account", "service_code_required", "engagement_required",
                    "service_code_or_engagement_required", "sync_state", "remote_contact_id"]
    list_filter = ["public_sector", "sync_state", "service_code_required", "engagement_required",
                   "service_code_or_engagement_required", "payment_status_not_reported",
                   ("account", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["siret", "name", "services__code"]
    list_select_related = ["account"]
    readonly_fields = [*_REMOTE_READONLY, "integration_code", "flags_from_directory",
                       "transport", "document_format", "directory_checked_at",
                       "created_at", "updated_at"]
    actions = ["recheck_directory", "register_at_b2brouter"]
    fieldsets = [
        (None, {"fields": ["account", "siret", "name", "vat_number", "public_sector"]}),
        (gettext_lazy("Adresse"), {"fields": ["address", "postalcode", "city", "country",
                                              "billing_email"]}),
        (gettext_lazy("Règles Chorus Pro"), {
            "fields": ["service_code_required", "engagement_required",
                       "service_code_or_engagement_required", "payment_status_not_reported",
                       "flags_from_directory", "directory_checked_at"],
            "description": gettext_lazy("Lues dans l'annuaire quand il les publie (une "
                                        "revérification les met à jour) ; sinon, celles que vous "
                                        "saisissez ici."),
        }),
        (gettext_lazy("B2Brouter"), {"fields": [*_REMOTE_READONLY, "integration_code",
                                                "transport", "document_format",
                                                "created_at", "updated_at"]}),
    ]

    # B2Brouter's codes for how invoices reach this buyer, in words.
    TRANSPORTS = {"fr.chorus": gettext_lazy("Chorus Pro, par B2Brouter")}
    DOCUMENT_FORMATS = {"xml.ubl.invoice.chorus": gettext_lazy("UBL 2.1 (EN 16931), pour Chorus Pro")}

    @admin.display(description=gettext_lazy("acheminement"))
    def transport(self, buyer):
        return self.TRANSPORTS.get(buyer.transport_type_code, buyer.transport_type_code or "—")

    @admin.display(description=gettext_lazy("format des factures"))
    def document_format(self, buyer):
        return self.DOCUMENT_FORMATS.get(buyer.document_type_code,
                                         buyer.document_type_code or "—")

    def get_search_results(self, request, queryset, search_term):
        # "130 015 332 00013" finds 13001533200013
        compact = "".join(search_term.split())
        if compact.isdigit() and compact != search_term.strip():
            search_term = compact
        return super().get_search_results(request, queryset, search_term)

    # ---- add = SIRET only; change = everything but the SIRET --------------------------------

    def before_transaction(self, request, object_id) -> None:
        if object_id is None and request.method == "POST":
            request.directory_lookup = lookup_outside_transaction(request.POST.get("siret", ""))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = type("BuyerAddForm", (BuyerAddForm,), {
                "looked_up": getattr(request, "directory_lookup", None)})
            kwargs["fields"] = ["account", "siret", "service_codes", *IDENTITY_FIELDS,
                                *FLAG_FIELDS]
        else:
            kwargs["form"] = BuyerChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {
                    "fields": ["account", "siret", "service_codes"],
                    "description": _("Saisissez le SIRET : raison sociale, adresse, règles "
                                     "Chorus Pro et services viennent de l'annuaire, puis "
                                     "l'acheteur est enregistré chez B2Brouter."),
                }),
                (_("Si l'annuaire ne connaît pas cet acheteur (ou ne répond pas)"), {
                    "fields": list(IDENTITY_FIELDS),
                    "description": _("Ignoré quand l'annuaire a une fiche pour ce SIRET."),
                }),
                (_("Règles Chorus Pro, si l'annuaire ne les publie pas"), {
                    "fields": list(FLAG_FIELDS),
                    "description": _("Ignorées quand l'annuaire les publie."),
                }),
            ]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.readonly_fields, "siret"]

    def get_inlines(self, request, obj):
        return [ServiceInline] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            if set(FLAG_FIELDS) & set(form.changed_data):
                obj.flags_from_directory = False  # the admin's own settings from now on
            super().save_model(request, obj, form, change)
            return
        cleaned = form.cleaned_data
        entry = form.directory_entry
        if entry is not None:
            # no code typed: every active service the directory lists
            codes = cleaned["service_codes"] or [s["code"] for s in services.entry_services(entry)]
            buyer = services.buyer_create_from_directory(
                account=cleaned["account"], siret=cleaned["siret"], service_codes=codes,
                flags=flags_from(cleaned), entry=entry)
        else:
            buyer = services.buyer_create_by_hand(
                account=cleaned["account"], siret=cleaned["siret"],
                details=details_from(cleaned), service_codes=cleaned["service_codes"])
            self.message_user(request, _("%(buyer)s : créé à la main, l'annuaire ne le connaît "
                                         "pas (ou n'a pas répondu).") % {"buyer": buyer},
                              messages.WARNING)
        # the admin goes on with `obj` (history, redirect): make it the row just written
        obj.pk = buyer.pk
        obj._state.adding = False
        obj.refresh_from_db()
        self.after_save(request, lambda: self._register(request, obj))

    def _register(self, request, buyer: Buyer) -> None:
        if services.buyer_register_now_or_later(buyer=buyer):
            self.message_user(request, _("%(buyer)s : enregistré chez B2Brouter (contact %(id)s).")
                              % {"buyer": buyer, "id": buyer.remote_contact_id}, messages.SUCCESS)
        else:
            self._report_rows(request, buyer)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            self.after_save(request, lambda: self._push(request, form, formsets))

    def _push(self, request, form, formsets) -> None:
        buyer = form.instance
        try:
            if _CONTACT_FIELDS & set(form.changed_data) or not buyer.remote_contact_id:
                services.buyer_push(buyer=buyer)
                self.message_user(request, _("%(buyer)s : mis à jour chez B2Brouter.")
                                  % {"buyer": buyer}, messages.SUCCESS)
        except b2brouter.B2BrouterError as exc:
            _report(self, request, buyer, exc)
            return  # the units need their parent contact
        for formset in formsets:
            touched = list(formset.new_objects) + [
                obj for obj, fields in formset.changed_objects if _SERVICE_FIELDS & set(fields)]
            for service in touched:
                if not service.active:
                    continue
                try:
                    services.service_push(service=service)
                    self.message_user(request, _("Service %(code)s : mis à jour chez B2Brouter.")
                                      % {"code": service.code}, messages.SUCCESS)
                except b2brouter.B2BrouterError as exc:
                    _report(self, request, service, exc)

    def _report_rows(self, request, buyer: Buyer) -> None:
        buyer.refresh_from_db()
        for row in [buyer, *buyer.services.filter(active=True)]:
            if row.sync_error:
                self.message_user(request, f"{row} — {row.sync_error}", messages.ERROR)

    # ---- actions ------------------------------------------------------------------------

    @admin.action(description=gettext_lazy("Revérifier dans l'annuaire Chorus Pro"))
    def recheck_directory(self, request, queryset):
        for buyer in queryset:
            try:
                result = services.buyer_recheck(buyer=buyer)
            except services.DirectoryError as exc:
                self.message_user(request, f"{buyer} — {exc.message}", messages.ERROR)
                continue
            if not result.changes:
                self.message_user(request, _("%(buyer)s : inchangé dans l'annuaire.")
                                  % {"buyer": buyer}, messages.INFO)
                continue
            summary = " ; ".join(result.changes)
            self.log_change(request, buyer, _("Revérifié dans l'annuaire : %(changes)s")
                            % {"changes": summary})
            self.message_user(request, _("%(buyer)s : %(changes)s") % {"buyer": buyer,
                                                                       "changes": summary},
                              messages.WARNING)
            try:
                if result.contact_changed and buyer.remote_contact_id:
                    services.buyer_push(buyer=buyer)
                for service in result.services_changed:
                    if service.remote_contact_id and service.active:
                        services.service_push(service=service)
            except b2brouter.B2BrouterError as exc:
                _report(self, request, buyer, exc)

    @admin.action(description=gettext_lazy("(Ré)enregistrer chez B2Brouter"))
    def register_at_b2brouter(self, request, queryset):
        done = 0
        for buyer in queryset.select_related("account"):
            if services.buyer_register_now_or_later(buyer=buyer, verify=True):
                done += 1
                self.log_change(request, buyer, _("Enregistré chez B2Brouter (contact %(id)s).")
                                % {"id": buyer.remote_contact_id})
            else:
                self._report_rows(request, buyer)
        if done:
            self.message_user(request, ngettext(
                "%(count)d acheteur enregistré chez B2Brouter, services compris.",
                "%(count)d acheteurs enregistrés chez B2Brouter, services compris.", done)
                % {"count": done}, messages.SUCCESS)


@admin.register(Service)
class ServiceAdmin(CallsAfterTheTransaction, AccountScopedAdmin):
    account_path = "buyer__account"

    def has_add_permission(self, request):
        # A service is added on its buyer's page (the buyer's services, below its rules).
        return False
    form = ServiceForm
    list_display = ["code", "name", "buyer", "active", "engagement_required",
                    "directory_confirmed", "sync_state", "remote_contact_id"]
    list_filter = ["active", "engagement_required", "directory_confirmed", "sync_state"]
    search_fields = ["code", "name", "buyer__siret", "buyer__name"]
    list_select_related = ["buyer"]
    readonly_fields = [*_REMOTE_READONLY, "directory_confirmed", "integration_code",
                       "created_at", "updated_at"]
    autocomplete_fields = ["buyer"]
    actions = ["register_at_b2brouter"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not obj.active or (change and not _SERVICE_FIELDS & set(form.changed_data)):
            return
        self.after_save(request, lambda: self._push(request, obj))

    def _push(self, request, obj) -> None:
        try:
            services.service_push(service=obj)
            self.message_user(request, _("Service %(code)s : à jour chez B2Brouter.")
                              % {"code": obj.code}, messages.SUCCESS)
        except b2brouter.B2BrouterError as exc:
            _report(self, request, obj, exc)

    @admin.action(description=gettext_lazy("(Ré)enregistrer chez B2Brouter"))
    def register_at_b2brouter(self, request, queryset):
        for service in queryset.select_related("buyer__account"):
            try:
                services.service_ensure_registered(service=service, verify=True)
                self.log_change(request, service, _("Enregistré chez B2Brouter (contact %(id)s).")
                                % {"id": service.remote_contact_id})
            except b2brouter.B2BrouterError as exc:
                _report(self, request, service, exc)
