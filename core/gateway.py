"""The product's B2Brouter client, built from the settings (one per thread: a `requests.Session`
is not shared between worker threads), every one of them taking its turn from the deployment's
one rate limit for the account (`core.ratelimit`)."""

import threading
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from b2brouter import B2BrouterClient
from core.ratelimit import FileRateLimiter, RateLimiter, RedisRateLimiter

_local = threading.local()
_limiters: dict[tuple, RateLimiter] = {}
_limiters_lock = threading.Lock()


def rate_limiter(share: str = "") -> RateLimiter | None:
    """The account's limit, shared by every thread and process (Redis when there is one, a file
    on this machine otherwise); None when B2BROUTER_RATE_LIMIT is 0.

    `share="lookup"`: the part of it that directory lookups (people at a page) may take,
    B2BROUTER_LOOKUP_SHARE of the rate; a lookup takes its turn there first, then from the whole
    limit like every call, so that lookups never take more than their share from sending."""
    rate = float(settings.B2BROUTER_RATE_LIMIT or 0)
    if rate <= 0:
        return None
    name = f"{settings.B2BROUTER_API_URL}|{settings.B2BROUTER_API_KEY}"
    burst = settings.B2BROUTER_RATE_BURST
    if share == "lookup":
        name, rate = f"{name}|lookup", rate * settings.B2BROUTER_LOOKUP_SHARE
        burst = max(1, round(burst * settings.B2BROUTER_LOOKUP_SHARE))
    key = (name, rate, burst, settings.REDIS_URL)
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            if settings.REDIS_URL:
                import redis

                limiter = RedisRateLimiter(name, rate, burst=burst,
                                           client=redis.Redis.from_url(settings.REDIS_URL))
            else:
                limiter = FileRateLimiter(name, rate, burst=burst,
                                          directory=Path(settings.VAR_DIR))
            _limiters[key] = limiter
    return limiter


def lookup_turn(*, max_wait: float = 3.0) -> bool:
    """A directory lookup's turn within its share of the limit (True at once without a limit);
    False when none comes within `max_wait` seconds."""
    limiter = rate_limiter("lookup")
    return limiter is None or limiter.acquire(max_wait=max_wait)


def b2brouter_client() -> B2BrouterClient:
    client = getattr(_local, "client", None)
    if client is None:
        limiter = rate_limiter()
        client = B2BrouterClient(
            base_url=settings.B2BROUTER_API_URL,
            api_key=settings.B2BROUTER_API_KEY,
            api_version=settings.B2BROUTER_API_VERSION,
            timeout=(5, settings.B2BROUTER_TIMEOUT),
            before_request=limiter.acquire if limiter else None,
            on_rate_limited=limiter.pause if limiter else None,
        )
        _local.client = client
    return client


@receiver(setting_changed)
def _forget_client(*, setting: str, **kwargs) -> None:
    if setting.startswith("B2BROUTER_") or setting == "REDIS_URL":
        _local.client = None
