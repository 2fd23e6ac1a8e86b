"""The one task of core: a batch of tasks gathered by `core.enqueue.batched`, sent on."""

from celery import shared_task

from core import enqueue


@shared_task(name=enqueue.FAN_OUT, acks_late=True, ignore_result=True)
def fan_out_task(messages: list) -> None:
    """Enqueues each [name, args] of `messages`. Run twice (a worker lost after sending some),
    some tasks go twice: every task it carries is idempotent, as every task here is."""
    enqueue.enqueue_many([(name, args) for name, args in messages])
