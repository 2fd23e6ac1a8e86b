from django.contrib import admin

from invoicing.models import Invoice, InvoiceEvent, InvoiceLine, InvoicePdf, LegalDocument


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    readonly_fields = ["line_total"]


class InvoiceEventInline(admin.TabularInline):
    model = InvoiceEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "source", "from_state", "to_state", "chorus_status", "reason",
              "http_method", "http_path", "http_status", "message"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["number", "account", "buyer", "issue_date", "total", "state", "chorus_status"]
    list_filter = ["state", "kind", "account"]
    search_fields = ["number", "po_number", "buyer__name", "buyer__siret"]
    list_select_related = ["account", "buyer"]
    readonly_fields = ["state", "remote_id", "state_updated_at", "submission_round", "submit_attempts",
                       "chorus_status", "chorus_status_reason", "download_legal_url", "subtotal",
                       "tax_amount", "total", "payable_amount", "last_error", "remote_field_errors"]
    inlines = [InvoiceLineInline, InvoiceEventInline]


class ArchiveAdmin(admin.ModelAdmin):
    """Read-only: the archive is never edited nor deleted, from here or anywhere."""

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
