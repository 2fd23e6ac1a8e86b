"""Can the product work right now? Each check answers "ok" or says what is wrong (no secret)."""

import hmac
import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.debug import sensitive_variables
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


CHECKS = (("database", _database), ("broker", _broker), ("b2brouter", _b2brouter))
# What anyone (a load balancer) may make this process do: no B2Brouter call, which an anonymous
# caller could otherwise repeat at will, and whose outage should not take the web out of service.
PUBLIC_CHECKS = ("database", "broker")


def health_checks(names=None) -> dict[str, str]:
    results = {}
    for name, check in CHECKS:
        if names is not None and name not in names:
            continue
        try:
            results[name] = check()
        except Exception as exc:  # noqa: BLE001 - a health check reports every failure
            logger.warning("health check %s failed: %s", name, type(exc).__name__)
            results[name] = f"indisponible ({type(exc).__name__})"
    return results


@sensitive_variables("token", "given")
def _is_operator(request: HttpRequest) -> bool:
    """An operator: the HEALTH_TOKEN as a bearer token, or a signed-in superuser."""
    token = settings.HEALTH_TOKEN
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(
            given.removeprefix("Bearer ").encode(), token.encode()):
        return True
    user = getattr(request, "user", None)
    return bool(user and user.is_active and user.is_superuser)


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when this process can work (database and broker answer), 503 otherwise. Anyone gets
    the status; operators also get each check and B2Brouter's reachability."""
    operator = _is_operator(request)
    checks = health_checks(None if operator else PUBLIC_CHECKS)
    ok = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if ok else "degraded"}
    if operator:
        body["checks"] = checks
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response
