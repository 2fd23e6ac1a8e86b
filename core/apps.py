from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Comptes")

    def ready(self) -> None:
        from core import throttle  # noqa: F401  (counts sign-in failures by address)
