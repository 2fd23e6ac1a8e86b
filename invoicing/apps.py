from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = _("Facturation")

    def ready(self) -> None:
        from invoicing.exports import register_exports

        register_exports()
