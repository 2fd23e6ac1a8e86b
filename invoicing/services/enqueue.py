"""The invoicing tasks, enqueued by name once the transaction commits: services never import
the tasks, so that tasks (which call services) and services never import each other."""

from core import enqueue as by_name
from core.enqueue import enqueue_on_commit

SUBMIT = "invoicing.invoice_submit"
FETCH_LEGAL = "invoicing.invoice_fetch_legal"
FETCH_PDF = "invoicing.invoice_fetch_pdf"
ACKNOWLEDGE = "invoicing.invoice_acknowledge"
NOTIFY = "invoicing.invoice_notify"
WEBHOOK_PROCESS = "invoicing.webhook_process"


def submit_later(invoice_id: int) -> None:
    enqueue_on_commit(SUBMIT, invoice_id)


def fetch_legal_later(invoice_id: int) -> None:
    enqueue_on_commit(FETCH_LEGAL, invoice_id)


def fetch_pdf_later(invoice_id: int) -> None:
    enqueue_on_commit(FETCH_PDF, invoice_id)


def acknowledge_later(invoice_id: int) -> None:
    enqueue_on_commit(ACKNOWLEDGE, invoice_id)


def notify_later(invoice_id: int) -> None:
    enqueue_on_commit(NOTIFY, invoice_id)


def webhook_process_later(event_pk: int) -> None:
    enqueue_on_commit(WEBHOOK_PROCESS, event_pk)


def again(name: str, pk: int, *, housekeeping: bool = False) -> None:
    """Enqueues at once, outside any transaction (the reconciler); `housekeeping`: in the queue
    that submissions never wait behind, whatever the task."""
    if housekeeping:
        from django.conf import settings

        by_name.enqueue(name, pk, queue=settings.CELERY_HOUSEKEEPING_QUEUE)
    else:
        by_name.enqueue(name, pk)


def batched():
    """The tasks enqueued inside go as one message on commit (`core.enqueue.batched`)."""
    return by_name.batched()
