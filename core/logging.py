"""Logging helpers: secrets never reach a log line, whatever the code around them does."""

import contextvars
import json
import logging
from collections.abc import Mapping
from contextlib import contextmanager
from types import MappingProxyType

from django.conf import settings

REDACTED = "[redacted]"


class RedactSecretsFilter(logging.Filter):
    """Replaces the B2Brouter API key and webhook secret wherever they appear in a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = [
            s
            for s in (
                getattr(settings, "B2BROUTER_API_KEY", ""),
                getattr(settings, "B2BROUTER_WEBHOOK_SECRET", ""),
                getattr(settings, "SECRET_KEY", ""),
            )
            if s and len(s) >= 6
        ]
        if not secrets:
            return True
        message = record.getMessage()
        cleaned = message
        for secret in secrets:
            cleaned = cleaned.replace(secret, REDACTED)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# --- Context carried onto every line ------------------------------------------------------------

# Never mutated in place: each `log_context` sets a new mapping, so the shared default is safe.
_context: contextvars.ContextVar[Mapping] = contextvars.ContextVar(
    "log_context", default=MappingProxyType({}))


@contextmanager
def log_context(**fields):
    """Every log line written inside (by any logger, the B2Brouter client's included) carries
    these fields, e.g. `with log_context(invoice="F-1", remote_id=42): ...`."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Puts the current `log_context` on the record: as attributes and as `record.context`."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _context.get()
        for key, value in fields.items():
            setattr(record, key, value)
        record.context = " ".join(f"{key}={value}" for key, value in fields.items())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the context fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context.get(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ClientErrorsWithoutTraceback(logging.Filter):
    """A refused request (403, 404: the user's doing, not a fault) is one warning line, without
    the traceback Django attaches to it; server errors keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.") and getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
