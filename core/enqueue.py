"""Enqueue Celery tasks by name, so that services never import the tasks that call them.

`enqueue_on_commit` sends the task once the current transaction commits (at once outside one):
a worker never looks for a row that is not there yet, and a rolled-back change enqueues
nothing. A broker that is down is logged, not raised: the row is already committed, and the
reconcilers (beat tasks that scan the database) enqueue again whatever is left behind.

Inside `batched()` (a loop applying hundreds of changes in one transaction), the tasks are
gathered instead and go as one message on commit, `core.fan_out`, which a worker turns back
into the tasks: the loop publishes one message, not hundreds.
"""

import contextvars
import logging
from contextlib import contextmanager

from django.db import transaction

logger = logging.getLogger(__name__)

FAN_OUT = "core.fan_out"

_gathered: contextvars.ContextVar[list | None] = contextvars.ContextVar("gathered", default=None)


def enqueue(name: str, *args, queue: str | None = None) -> None:
    """Sends the task `name` with `args` now (run here when tasks are configured eager), to
    `queue`, else where the settings route that task."""
    from config.celery import app

    if app.conf.task_always_eager:
        app.tasks[name].apply(args=list(args))
        return
    app.send_task(name, args=list(args), **({"queue": queue} if queue else {}))


def enqueue_many(messages: list) -> None:
    """Sends each (name, args) of `messages` now, over one connection to the broker."""
    from config.celery import app

    if app.conf.task_always_eager:
        for name, args in messages:
            app.tasks[name].apply(args=list(args))
        return
    with app.producer_or_acquire() as producer:
        for name, args in messages:
            app.send_task(name, args=list(args), producer=producer)


def _on_commit(name: str, *args) -> None:
    def send() -> None:
        try:
            enqueue(name, *args)
        except Exception:  # noqa: BLE001 - the broker is down: the reconciler enqueues it again
            logger.exception("could not enqueue %s%s", name, args)

    transaction.on_commit(send)


def enqueue_on_commit(name: str, *args) -> None:
    """Sends the task `name` with `args` once the current transaction commits."""
    gathered = _gathered.get()
    if gathered is not None:
        gathered.append((name, list(args)))
        return
    _on_commit(name, *args)


@contextmanager
def batched():
    """Inside a transaction: the tasks enqueued in the block go, on commit, as one `core.fan_out`
    message. Nothing goes if the block raises (nor, as ever, if the transaction rolls back)."""
    gathered: list = []
    token = _gathered.set(gathered)
    try:
        yield
    finally:
        _gathered.reset(token)
    if gathered:
        _on_commit(FAN_OUT, gathered)
