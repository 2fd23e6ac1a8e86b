"""Logging helpers: secrets never reach a log line, whatever the code around them does."""

import logging

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
