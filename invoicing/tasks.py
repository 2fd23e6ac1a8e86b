"""Celery tasks: thin interfaces that take ids and call one service each.

All are `acks_late` (a task lost with its worker runs again) because every service they call is
idempotent; transient B2Brouter errors are retried with exponential backoff and jitter, capped
well under the broker's visibility timeout.
"""

from celery import shared_task
from django.conf import settings

import b2brouter
from invoicing.services import legal, notify, reform, remote, submission, webhooks

RETRY = {
    "acks_late": True,
    "autoretry_for": (b2brouter.TransientError,),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 12,
    "ignore_result": True,
}


@shared_task(name="invoicing.invoice_submit", **RETRY)
def invoice_submit_task(invoice_id: int) -> None:
    submission.invoice_submit(invoice_id=invoice_id, stale_after=settings.SUBMIT_STALE_AFTER)


@shared_task(name="invoicing.invoice_fetch_legal", **RETRY)
def invoice_fetch_legal_task(invoice_id: int) -> None:
    legal.invoice_fetch_legal(invoice_id=invoice_id)


@shared_task(name="invoicing.invoice_fetch_pdf", **RETRY)
def invoice_fetch_pdf_task(invoice_id: int) -> None:
    legal.invoice_fetch_pdf(invoice_id=invoice_id)


@shared_task(name="invoicing.invoice_acknowledge", **RETRY)
def invoice_acknowledge_task(invoice_id: int) -> None:
    legal.invoice_acknowledge(invoice_id=invoice_id)


@shared_task(name="invoicing.sync_states", acks_late=True, ignore_result=True)
def sync_states_task() -> None:
    remote.sync_all_accounts()


@shared_task(name="invoicing.reconcile", acks_late=True, ignore_result=True)
def reconcile_task() -> None:
    remote.reconcile(stale_after=settings.SUBMIT_STALE_AFTER)


@shared_task(name="invoicing.tax_reports_follow", acks_late=True, ignore_result=True)
def tax_reports_follow_task() -> None:
    reform.tax_reports_follow()


@shared_task(name="invoicing.webhook_process", acks_late=True, ignore_result=True)
def webhook_process_task(event_pk: int) -> None:
    webhooks.webhook_process(event_pk=event_pk)


@shared_task(name="invoicing.invoice_notify", acks_late=True, ignore_result=True,
             autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def invoice_notify_task(invoice_id: int) -> None:
    notify.invoice_notify_rejection(invoice_id=invoice_id)
