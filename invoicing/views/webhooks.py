"""B2Brouter's webhook endpoint: answers fast (verify, store, enqueue); a worker applies it."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from invoicing.services.webhooks import WebhookRejected, webhook_receive


@csrf_exempt  # B2Brouter signs its requests (X-B2Brouter-Signature) instead
@require_POST
def b2brouter_webhook(request: HttpRequest) -> JsonResponse:
    """Answers fast: verify, store, enqueue; the worker applies the change."""
    try:
        webhook_receive(body=request.body, signature=request.headers.get("X-B2Brouter-Signature", ""))
    except WebhookRejected as exc:
        return JsonResponse({"error": str(exc)}, status=exc.status)
    return JsonResponse({"status": "ok"})
