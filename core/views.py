"""The exports made in the background: offer one, follow it, download it, list them
(`core.exports` makes them)."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from core import exports
from core.models import ExportJob
from core.roles import ALL, role_required


def export_offer(request: HttpRequest, *, kind: str, count: int, unit: str) -> HttpResponse:
    """The page a big export leads to: how much it holds, and a button that has it made in the
    background (a POST: nothing is started by following a link)."""
    return render(request, "core/export_offer.html", {
        "kind": kind, "label": exports.EXPORTERS[kind].label, "count": count, "unit": unit,
        "params": [(key, value) for key, values in exports.params_of(request.GET).items()
                   for value in values],
        "back": request.META.get("HTTP_REFERER", ""), "keep_hours": settings.EXPORT_KEEP_HOURS,
    })


@require_POST
@role_required(*ALL)
def export_create(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    if not exports.may_export(request.user, kind):
        raise PermissionDenied
    job = exports.export_start(kind=kind, user=request.user,
                               params=exports.params_of(request.POST))
    return redirect("core:export_detail", pk=job.pk)


def _job_or_404(request: HttpRequest, pk: int) -> ExportJob:
    job = get_object_or_404(ExportJob, pk=pk)
    if job.kind not in exports.EXPORTERS or not exports.export_visible(job, request.user):
        raise Http404
    return job


@require_GET
@role_required(*ALL)
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's progress; htmx polls its partial until the file is ready (or the job failed)."""
    job = _job_or_404(request, pk)
    context = {"job": job, "label": exports.EXPORTERS[job.kind].label,
               "working": job.status in (ExportJob.Status.PENDING, ExportJob.Status.RUNNING),
               "keep_hours": settings.EXPORT_KEEP_HOURS}
    if request.htmx:
        response = render(request, "core/export_detail.html#export-progress", context)
        return response if context["working"] else HttpResponseStopPolling(response.content)
    return render(request, "core/export_detail.html", context)


@require_GET
@role_required(*ALL)
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(request, pk)
    if job.status != ExportJob.Status.READY or not job.file:
        return redirect("core:export_detail", pk=job.pk)
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=job.file_name,
                        content_type=exports.EXPORTERS[job.kind].content_type)


@require_GET
@role_required(*ALL)
def export_list(request: HttpRequest) -> HttpResponse:
    jobs = [(job, exports.EXPORTERS[job.kind].label) for job in exports.exports_for(request.user)
            if job.kind in exports.EXPORTERS]
    return render(request, "core/export_list.html", {"jobs": jobs,
                                                     "keep_hours": settings.EXPORT_KEEP_HOURS})
