"""Sign-in throttling: the client's address, and a limit per address across usernames.

django-axes locks a username at an address after a few failures. Someone trying many usernames
from one address (a list of staff names, one or two guesses each) stays under that lock: the
failures of an address are also counted here, whatever the username, and past a higher limit
that address may not try to sign in until the window is over.

Which address is the client's (`client_address`, also axes'): behind a reverse proxy every
request comes from the proxy's address. The proxies named in TRUSTED_PROXIES are believed about
the client (X-Forwarded-For, read from the right, past the trusted hops); nobody else is (a
client may write that header itself). The per-address limit applies only where the address is
known to be the client's: through a trusted proxy, or with TRUSTED_PROXIES=direct (clients reach
this server without a proxy). Otherwise one address may be everybody's, and lock-outs key on
username and address together (axes), so that one address cannot lock every user out.

The counts live in the cache (Redis in production: shared by every web process); when it is
away, sign-in goes on without this limit (a log line says so), never a 500.
"""

import ipaddress
import logging
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.shortcuts import render
from django.urls import reverse

from core.cache import cache_get, count_in_window

logger = logging.getLogger(__name__)

DIRECT = "direct"


@lru_cache(maxsize=8)
def _networks(proxies: tuple) -> tuple:
    networks = []
    for proxy in proxies:
        if proxy == DIRECT:
            continue
        try:
            networks.append(ipaddress.ip_network(proxy, strict=False))
        except ValueError:
            logger.error("TRUSTED_PROXIES: %r is not an address or a network; ignored", proxy)
    return tuple(networks)


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def _client(request) -> tuple[str, bool]:
    """(the client's address, whether it is known to be the client's own)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if not _trusted(remote):
        return remote, DIRECT in settings.TRUSTED_PROXIES
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return remote, False  # garbage in the header: the proxy's own address, not trusted
        if not _trusted(hop):
            return hop, True
    return remote, False


def client_address(request) -> str:
    """The client's address as far as it can be told (axes' AXES_CLIENT_IP_CALLABLE)."""
    return _client(request)[0]


def _key(request) -> str | None:
    address, own = _client(request)
    return f"signin:failures:{address}" if own else None


@receiver(user_login_failed)
def _count_failure(sender, credentials=None, request=None, **kwargs) -> None:
    key = _key(request) if request is not None else None
    if key is not None:
        count_in_window(key, settings.SIGNIN_ADDRESS_WINDOW)  # starts at the first failure


def address_locked(request) -> bool:
    key = _key(request)
    return key is not None and (cache_get(key) or 0) >= settings.SIGNIN_ADDRESS_FAILURE_LIMIT


class SignInAddressThrottleMiddleware:
    """Refuses a sign-in (the site's and the admin's) from an address past its failure limit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path in (reverse("login"), reverse("admin:login")) \
                and address_locked(request):
            minutes = max(1, round(settings.SIGNIN_ADDRESS_WINDOW / 60))
            return render(request, "registration/locked_out.html",
                          {"by_address": True, "minutes": minutes}, status=429)
        return self.get_response(request)
