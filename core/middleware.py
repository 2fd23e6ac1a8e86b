"""Pages of signed-in people are theirs alone: no shared cache (a proxy, a CDN) keeps them, and
no browser stores them on disk (an invoice, a legal XML, an export on a shared computer)."""

from django.utils.cache import patch_cache_control


class PrivatePagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            patch_cache_control(response, private=True, no_store=True)
        return response
