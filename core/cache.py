"""The cache as every page may use it: when it is away (Redis down), a read finds nothing and a
write is dropped, with one log line, instead of a 500. Only what can be recomputed or counted
again lives here: directory answers, sign-in and lookup counters."""

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)


def _away(action: str, key: str, exc: Exception) -> None:
    logger.warning("cache unavailable (%s %s): %s; going on without it", action, key,
                   type(exc).__name__)


def cache_get(key: str, default=None):
    try:
        return cache.get(key, default)
    except Exception as exc:  # noqa: BLE001 - any backend error: as if nothing were cached
        _away("get", key, exc)
        return default


def cache_set(key: str, value, timeout: int) -> None:
    try:
        cache.set(key, value, timeout)
    except Exception as exc:  # noqa: BLE001
        _away("set", key, exc)


def count_in_window(key: str, window: int) -> int | None:
    """Adds one to the count kept under `key` (it starts at the first count and lasts `window`
    seconds); the new count, or None when the cache is away."""
    try:
        cache.add(key, 0, window)
        try:
            return cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.add(key, 1, window)
            return 1
    except Exception as exc:  # noqa: BLE001
        _away("count", key, exc)
        return None
