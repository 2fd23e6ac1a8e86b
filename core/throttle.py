"""Sign-in throttling by address, across usernames.

django-axes locks a username at an address after a few failures. Someone trying many usernames
from one address (a list of staff names, one or two guesses each) stays under that lock: the
failures of an address are also counted here, whatever the username, and past a higher limit
that address may not try to sign in until the window is over. The count lives in the cache
(Redis in production: shared by every web process).
"""

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.shortcuts import render
from django.urls import reverse


def _address(request) -> str:
    return getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR", "")


def _key(request) -> str:
    return f"signin:failures:{_address(request)}"


@receiver(user_login_failed)
def _count_failure(sender, credentials=None, request=None, **kwargs) -> None:
    if request is None:
        return
    key = _key(request)
    cache.add(key, 0, settings.SIGNIN_ADDRESS_WINDOW)  # the window starts at the first failure
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.add(key, 1, settings.SIGNIN_ADDRESS_WINDOW)


def address_locked(request) -> bool:
    return (cache.get(_key(request)) or 0) >= settings.SIGNIN_ADDRESS_FAILURE_LIMIT


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
