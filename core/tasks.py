"""The tasks of core: a batch of tasks gathered by `core.enqueue.batched`, sent on; and the
exports made in the background (`core.exports`)."""

from celery import shared_task

from core import enqueue, exports


@shared_task(name=enqueue.FAN_OUT, acks_late=True, ignore_result=True)
def fan_out_task(messages: list) -> None:
    """Enqueues each [name, args] of `messages`. Run twice (a worker lost after sending some),
    some tasks go twice: every task it carries is idempotent, as every task here is."""
    enqueue.enqueue_many([(name, args) for name, args in messages])


@shared_task(name=exports.BUILD, acks_late=True, ignore_result=True)
def export_build_task(job_id: int) -> None:
    exports.export_build(job_id=job_id)


@shared_task(name="core.exports_clean", acks_late=True, ignore_result=True)
def exports_clean_task() -> None:
    exports.exports_clean()
