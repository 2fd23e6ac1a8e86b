"""Pages of signed-in people are theirs alone: no shared cache (a proxy, a CDN) keeps them, and
no browser stores them on disk (an invoice, a legal XML, an export on a shared computer). And a
wrong address shows the site's own page, DEBUG on as well (`make run`), never Django's technical
page that lists every URL of the site."""

from django.conf import settings
from django.shortcuts import render
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


class SiteNotFoundMiddleware:
    """With DEBUG on, Django answers a wrong address with its technical page (every URL of the
    site listed): the site's own 404 page instead, in the reader's language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (settings.DEBUG and response.status_code == 404
                and response.get("Content-Type", "").startswith("text/html")):
            return render(request, "404.html", status=404)
        return response
