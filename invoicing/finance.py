"""Finance's pages: the archive of legal XML (one file, or a period as a streamed ZIP), the
worklist of invoices Chorus Pro turned down, and the ageing of invoices with no news."""

import datetime

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from invoicing import archive, roles
from invoicing import finance_selectors as selectors
from invoicing.forms_finance import ArchiveFilterForm

FINANCE = (roles.FINANCE, roles.ADMINS)
SILENT_SHOWN = 50


@require_GET
@roles.role_required(*FINANCE)
def archive_list(request: HttpRequest) -> HttpResponse:
    form = ArchiveFilterForm(request.GET or None, user=request.user)
    documents = selectors.legal_documents(user=request.user, filters=form.filters())
    page = Paginator(documents, 50).get_page(request.GET.get("page"))
    return render(request, "invoicing/finance/archive.html", {
        "form": form, "page": page, "query": request.GET.urlencode(),
    })


@require_GET
@roles.role_required(*FINANCE)
def archive_download(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_object_or_404(selectors.legal_documents(user=request.user, filters={}), pk=pk)
    response = HttpResponse(bytes(document.content), content_type="application/xml")
    name = archive._file_name(document.invoice.number, document.submission_round)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-SHA256"] = document.sha256
    return response


@require_GET
@roles.role_required(*FINANCE)
def archive_zip(request: HttpRequest) -> StreamingHttpResponse:
    form = ArchiveFilterForm(request.GET or None, user=request.user)
    documents = selectors.legal_documents(user=request.user, filters=form.filters())
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(archive.archive_zip(documents), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="xml-legaux-{stamp}.zip"'
    return response


@require_GET
@roles.role_required(roles.STAFF, *FINANCE)
def worklist(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.worklist(user=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "invoicing/finance/worklist.html", {"page": page, "invoices": page})


@require_GET
@roles.role_required(roles.STAFF, *FINANCE)
def ageing(request: HttpRequest) -> HttpResponse:
    try:
        days = max(1, min(365, int(request.GET.get("days", 30))))
    except ValueError:
        days = 30
    since = timezone.now() - datetime.timedelta(days=days)
    invoices, silent = selectors.ageing(user=request.user, no_news_since=since)
    page = Paginator(invoices, 50).get_page(request.GET.get("page"))
    return render(request, "invoicing/finance/ageing.html", {
        "page": page, "invoices": page, "silent_buyers": silent[:SILENT_SHOWN],
        "silent_count": silent.count(), "days": days, "query": f"days={days}",
    })


