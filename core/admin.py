from django.contrib import admin

from core.models import Account


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "siret", "vat_number", "remote_id", "environment"]
    readonly_fields = ["remote_id", "created_at", "updated_at"]
    filter_horizontal = ["users"]
