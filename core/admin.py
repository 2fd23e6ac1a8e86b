from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.models import Account


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "siret", "vat_number", "remote_id", "environment"]
    readonly_fields = ["remote_id", "created_at", "updated_at"]
    filter_horizontal = ["users"]

# The admin speaks of the product, not of Django.
admin.site.site_header = _("Factures Chorus Pro — administration")
admin.site.site_title = _("Factures Chorus Pro")
admin.site.index_title = _("Acheteurs, services, comptes et utilisateurs")
