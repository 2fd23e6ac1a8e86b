"""Exports too big for a page's wait are made in the background: offered, made by a worker with
its progress shown, downloaded by the users of the account (only them), kept for a while, then
removed with their file."""

import csv
import datetime
import io
import zipfile

import pytest
from django.urls import reverse
from django.utils import timezone

from core import exports
from core.models import ExportJob
from core.roles import FINANCE, STAFF
from tests.factories import AccountFactory, InvoiceFactory
from tests.invoicing.helpers import user_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    return AccountFactory()


@pytest.fixture
def listed(account):
    return [InvoiceFactory(account=account, number=f"EXP-{i:03d}") for i in range(7)]


@pytest.fixture
def small_limits(settings, tmp_path):
    settings.EXPORT_IMMEDIATE_ROWS = 5
    settings.EXPORT_IMMEDIATE_FILES = 2
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def run_jobs(enqueued):
    enqueued.inline(exports.BUILD, lambda pk: exports.export_build(job_id=pk))
    return enqueued


def _start(client, url, **query):
    """Follows a big export to its offer page, then asks for it (the POST)."""
    offer = client.get(url, query)
    assert offer.status_code == 200 and offer.context["kind"]
    assert f'action="{reverse("core:export_create")}"'.encode() in offer.content
    form = offer.context["params"]
    data = {"kind": offer.context["kind"], **{key: value for key, value in form}}
    return client.post(reverse("core:export_create"), data)


def test_a_small_list_is_exported_at_once(client, account, listed, settings):
    settings.EXPORT_IMMEDIATE_ROWS = 10
    client.force_login(user_in(STAFF, account))
    response = client.get(reverse("invoicing:export_csv"))
    assert response.status_code == 200 and response.streaming
    assert not ExportJob.objects.exists()


def test_a_big_list_is_made_in_the_background_and_downloaded_when_ready(
        client, account, listed, small_limits, run_jobs, django_capture_on_commit_callbacks):
    client.force_login(user_in(STAFF, account))
    with django_capture_on_commit_callbacks(execute=True):
        started = _start(client, reverse("invoicing:export_csv"), q="EXP")
    job = ExportJob.objects.get()
    assert started.status_code == 302 and started.url == reverse("core:export_detail",
                                                                 args=[job.pk])
    assert job.params == {"q": ["EXP"]}
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == ("ready", 7, 7)
    page = client.get(started.url)
    assert "Télécharger" in page.content.decode()
    polled = client.get(started.url, HTTP_HX_REQUEST="true")
    assert polled.status_code == 286  # htmx: stop polling, it is ready
    download = client.get(reverse("core:export_download", args=[job.pk]))
    assert download["Content-Disposition"].startswith('attachment; filename="factures-')
    text = b"".join(download.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert sorted(row[0] for row in rows[1:]) == sorted(i.number for i in listed)
    assert download["Cache-Control"].startswith("private") or "private" in download[
        "Cache-Control"]
    listing = client.get(reverse("core:export_list")).content.decode()
    assert job.file_name in listing


def test_the_xlsx_of_a_big_list_in_english(client, account, listed, small_limits, run_jobs,
                                           django_capture_on_commit_callbacks):
    client.force_login(user_in(FINANCE, account))
    client.cookies["django_language"] = "en"  # as the language menu leaves it
    with django_capture_on_commit_callbacks(execute=True):
        _start(client, reverse("invoicing:export_xlsx"))
    job = ExportJob.objects.get()
    assert job.status == "ready" and job.language == "en"
    assert job.file_name.startswith("invoices-") and job.file_name.endswith(".xlsx")
    download = client.get(reverse("core:export_download", args=[job.pk]))
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert all(i.number in sheet for i in listed) and "Number" in sheet


def test_only_the_users_of_the_account_see_and_download_an_export(
        client, account, listed, small_limits, run_jobs, django_capture_on_commit_callbacks):
    client.force_login(user_in(STAFF, account))
    with django_capture_on_commit_callbacks(execute=True):
        _start(client, reverse("invoicing:export_csv"))
    job = ExportJob.objects.get()
    colleague = user_in(FINANCE, account)
    client.force_login(colleague)
    assert client.get(reverse("core:export_download", args=[job.pk])).status_code == 200
    stranger = user_in(STAFF, AccountFactory(name="Autre SAS"))
    client.force_login(stranger)
    for name in ("core:export_detail", "core:export_download"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    assert job.file_name not in client.get(reverse("core:export_list")).content.decode()
    # nor someone of both accounts' colleagues but missing one of them
    two = AccountFactory(name="Deux SAS")
    both = user_in(STAFF, account, two)
    client.force_login(both)
    with django_capture_on_commit_callbacks(execute=True):
        _start(client, reverse("invoicing:export_csv"))
    theirs = ExportJob.objects.latest("pk")
    client.force_login(colleague)
    assert client.get(reverse("core:export_download", args=[theirs.pk])).status_code == 404


def test_the_archive_zip_of_a_period_is_made_in_the_background_for_finance_only(
        client, account, small_limits, run_jobs, django_capture_on_commit_callbacks):
    from tests.finance.test_archive import fake_document

    invoices = [InvoiceFactory(account=account, issue_date=datetime.date(2026, 3, day))
                for day in (1, 2, 3)]
    for invoice in invoices:
        fake_document(invoice)
    client.force_login(user_in(FINANCE, account))
    with django_capture_on_commit_callbacks(execute=True):
        _start(client, reverse("finance:archive_zip"), date_from="2026-03-01",
               date_to="2026-03-31")
    job = ExportJob.objects.get()
    assert job.status == "ready" and job.done == job.total > 0
    download = client.get(reverse("core:export_download", args=[job.pk]))
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as archive:
        names = archive.namelist()
    assert names[0] == "manifest.csv" and len(names) == 4
    client.force_login(user_in(STAFF, account))  # staff do not open the archive
    assert client.post(reverse("core:export_create"), {"kind": "archive.zip"}).status_code == 403
    assert client.get(reverse("core:export_download", args=[job.pk])).status_code == 404


def test_a_failed_export_says_so_and_can_be_asked_again(client, account, listed, small_limits,
                                                       run_jobs, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    from invoicing import exports as invoice_exports

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(invoice_exports, "invoices_csv", broken)
    client.force_login(user_in(STAFF, account))
    with django_capture_on_commit_callbacks(execute=True):
        started = _start(client, reverse("invoicing:export_csv"))
    job = ExportJob.objects.get()
    assert job.status == "failed" and not job.file
    assert "Relancez-le" in client.get(started.url).content.decode()


def test_exports_are_removed_with_their_file_once_kept_long_enough(
        client, account, listed, small_limits, run_jobs, django_capture_on_commit_callbacks):
    client.force_login(user_in(STAFF, account))
    with django_capture_on_commit_callbacks(execute=True):
        _start(client, reverse("invoicing:export_csv"))
    job = ExportJob.objects.get()
    path = job.file.path
    assert exports.exports_clean()["removed"] == 0
    ExportJob.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert exports.exports_clean()["removed"] == 1
    assert not ExportJob.objects.exists()
    import os

    assert not os.path.exists(path)


def test_an_export_whose_worker_died_is_made_again_then_given_up(account, listed, small_limits,
                                                                 run_jobs, settings):
    user = user_in(STAFF, account)
    job = ExportJob.objects.create(kind="invoices.csv", params={}, account_ids=[account.pk],
                                   created_by=user, status="running", attempts=1)
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    ExportJob.objects.filter(pk=job.pk).update(updated_at=long_ago)
    assert exports.exports_clean()["again"] == 1
    job.refresh_from_db()
    assert job.status == "ready"  # made again from the start
    stuck = ExportJob.objects.create(kind="invoices.csv", params={}, account_ids=[account.pk],
                                     created_by=user, status="running",
                                     attempts=settings.EXPORT_MAX_ATTEMPTS)
    ExportJob.objects.filter(pk=stuck.pk).update(updated_at=long_ago)
    assert exports.exports_clean()["failed"] == 1
    stuck.refresh_from_db()
    assert stuck.status == "failed"
