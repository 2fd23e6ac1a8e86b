"""The product's B2Brouter client, built from the settings (one per thread: a `requests.Session`
is not shared between worker threads)."""

import threading

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from b2brouter import B2BrouterClient

_local = threading.local()


def b2brouter_client() -> B2BrouterClient:
    client = getattr(_local, "client", None)
    if client is None:
        client = B2BrouterClient(
            base_url=settings.B2BROUTER_API_URL,
            api_key=settings.B2BROUTER_API_KEY,
            api_version=settings.B2BROUTER_API_VERSION,
            timeout=(5, settings.B2BROUTER_TIMEOUT),
        )
        _local.client = client
    return client


@receiver(setting_changed)
def _forget_client(*, setting: str, **kwargs) -> None:
    if setting.startswith("B2BROUTER_"):
        _local.client = None
