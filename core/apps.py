from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Comptes"

    def ready(self) -> None:
        from core import throttle  # noqa: F401  (counts sign-in failures by address)
