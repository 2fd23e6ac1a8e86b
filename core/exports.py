"""Exports too big to make while a page waits, made by a worker.

An app registers each kind of export it offers (`register`, from its AppConfig.ready): who may
ask for it, the file's type, and how it is written (`write(job, out, progress)`, which reads the
job's filters, writes the file to `out`, reports `progress(done, total)` and returns the file's
name). A view makes small exports at once and offers big ones as a job (`export_start`); a
worker writes the file (`export_build`, in the housekeeping queue: a submission never waits
behind an export); the person follows its progress, may leave the page, and downloads it once
ready (`export_visible`: only the users of every account it covers, with the kind's roles).
Files are kept EXPORT_KEEP_HOURS, then removed with their row (`exports_clean`).

A job whose worker died (no progress for EXPORT_STALE_AFTER seconds) is made again from the
start, at most EXPORT_MAX_ATTEMPTS times: writing an export changes nothing but its file.
"""

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import enqueue as tasks
from core.models import ExportJob
from core.roles import has_role
from core.selectors import account_ids

logger = logging.getLogger(__name__)

BUILD = "core.export_build"
S = ExportJob.Status

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Exporter:
    label: str
    roles: tuple[str, ...]
    extension: str
    content_type: str
    # write(job, out, progress) -> the file's name for the person who downloads it
    write: Callable[[ExportJob, BinaryIO, Progress], str]


EXPORTERS: dict[str, Exporter] = {}


def register(kind: str, exporter: Exporter) -> None:
    EXPORTERS[kind] = exporter


def may_export(user, kind: str) -> bool:
    exporter = EXPORTERS.get(kind)
    return exporter is not None and has_role(user, *exporter.roles)


def export_start(*, kind: str, user, params: dict) -> ExportJob:
    """A job for `kind` with the page's filters, over the accounts `user` works for now, in the
    language of the page; the worker is asked once the row is committed."""
    with transaction.atomic():
        job = ExportJob.objects.create(
            kind=kind, params=params, account_ids=list(account_ids(user)), created_by=user,
            language=translation.get_language() or settings.LANGUAGE_CODE)
        tasks.enqueue_on_commit(BUILD, job.pk)
    return job


def params_of(query) -> dict[str, list[str]]:
    """The page's filters as a job keeps them (a QueryDict's lists)."""
    return {key: values for key, values in query.lists()
            if key not in ("csrfmiddlewaretoken", "kind", "page")}


def job_query(job: ExportJob) -> QueryDict:
    """The job's filters as the page had them."""
    query = QueryDict(mutable=True)
    for key, values in job.params.items():
        query.setlist(key, [str(value) for value in values])
    return query


def export_visible(job: ExportJob, user) -> bool:
    """The users of every account the export covers, with the roles its kind asks."""
    covered = set(job.account_ids)
    return bool(covered) and may_export(user, job.kind) and covered <= set(account_ids(user))


def exports_for(user):
    """The exports `user` may see, newest first (those kept)."""
    mine = set(account_ids(user))
    jobs = ExportJob.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    return [job for job in jobs.select_related("created_by")[:200]
            if set(job.account_ids) and set(job.account_ids) <= mine
            and may_export(user, job.kind)]


class _Reporter:
    """Writes the progress at most twice a second (each write also tells that the worker is
    alive: `updated_at`)."""

    def __init__(self, job_id: int):
        self.job_id, self.last = job_id, 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= 0.5 or done >= total:
            ExportJob.objects.filter(pk=self.job_id).update(done=done, total=total,
                                                            updated_at=timezone.now())
            self.last = now


def _claim(job_id: int) -> ExportJob | None:
    """The job, marked running; None when there is nothing to do (made, given up, or being made
    by a live worker)."""
    stale = timezone.now() - timedelta(seconds=settings.EXPORT_STALE_AFTER)
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (S.READY, S.FAILED) or (
                job.status == S.RUNNING and job.updated_at > stale):
            return None
        job.status, job.attempts, job.done, job.error = S.RUNNING, job.attempts + 1, 0, ""
        job.save(update_fields=["status", "attempts", "done", "error", "updated_at"])
    return job


def export_build(*, job_id: int) -> ExportJob | None:
    """Writes the job's file, reporting progress; idempotent (a job made or being made is left
    alone). A failure is recorded on the job, for the person to read, not raised."""
    job = _claim(job_id)
    if job is None:
        return None
    exporter = EXPORTERS[job.kind]
    name = f"exports/{job.pk}-{secrets.token_hex(8)}{exporter.extension}"
    path = default_storage.path(name)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "wb") as out, translation.override(job.language):
            file_name = exporter.write(job, out, _Reporter(job.pk))
    except Exception:
        logger.exception("export %s (%s) failed", job.pk, job.kind)
        default_storage.delete(name)
        now = timezone.now()
        ExportJob.objects.filter(pk=job.pk).update(
            status=S.FAILED, finished_at=now, error=failure_text(),
            expires_at=now + timedelta(hours=settings.EXPORT_KEEP_HOURS))
        return None
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=S.READY, file=name, file_name=file_name, size=default_storage.size(name),
        finished_at=now, expires_at=now + timedelta(hours=settings.EXPORT_KEEP_HOURS))
    logger.info("export %s (%s) ready: %s", job.pk, job.kind, file_name)
    return ExportJob.objects.get(pk=job.pk)


def failure_text() -> str:
    return _("L'export n'a pas pu être préparé. Relancez-le ; si cela se reproduit, signalez-le "
             "à l'administrateur.")


def exports_clean() -> dict[str, int]:
    """Removes the exports past their keeping time (row and file), makes again those whose
    worker died, and gives up those that died too often."""
    now = timezone.now()
    counts = {"removed": 0, "again": 0, "failed": 0}
    for job in ExportJob.objects.filter(expires_at__lte=now).only("pk", "file"):
        if job.file:
            default_storage.delete(job.file.name)
        job.delete()
        counts["removed"] += 1
    stale = now - timedelta(seconds=settings.EXPORT_STALE_AFTER)
    dead = ExportJob.objects.filter(Q(status=S.RUNNING) | Q(status=S.PENDING),
                                    updated_at__lt=stale)
    counts["failed"] = dead.filter(attempts__gte=settings.EXPORT_MAX_ATTEMPTS).update(
        status=S.FAILED, finished_at=now, error=failure_text(),
        expires_at=now + timedelta(hours=settings.EXPORT_KEEP_HOURS))
    again = list(dead.filter(attempts__lt=settings.EXPORT_MAX_ATTEMPTS)
                 .values_list("pk", flat=True))
    # made again from the start, each once per window
    ExportJob.objects.filter(pk__in=again).update(status=S.PENDING, updated_at=now)
    for pk in again:
        tasks.enqueue(BUILD, pk)
    counts["again"] = len(again)
    if any(counts.values()):
        logger.info("exports cleaned: %s", counts)
    return counts
