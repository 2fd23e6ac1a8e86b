"""Can the product work right now? Each check answers "ok" or says what is wrong (no secret)."""

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

import b2brouter
from config.celery import app as celery_app
from core.gateway import b2brouter_client

logger = logging.getLogger(__name__)


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _b2brouter() -> str:
    try:
        b2brouter_client().list_accounts(limit=1)
    except b2brouter.AuthError:
        return "clé d'API refusée"
    return "ok"


def health_checks() -> dict[str, str]:
    results = {}
    for name, check in (("database", _database), ("broker", _broker), ("b2brouter", _b2brouter)):
        try:
            results[name] = check()
        except Exception as exc:  # noqa: BLE001 - a health check reports every failure
            logger.warning("health check %s failed: %s", name, type(exc).__name__)
            results[name] = f"indisponible ({type(exc).__name__})"
    return results


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Database, broker and B2Brouter reachability: 200 when all answer, 503 otherwise."""
    checks = health_checks()
    ok = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ok else "degraded", "checks": checks},
                        status=200 if ok else 503)
