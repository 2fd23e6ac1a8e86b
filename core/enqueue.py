"""Enqueue Celery tasks by name, so that services never import the tasks that call them.

`enqueue_on_commit` sends the task once the current transaction commits (at once outside one):
a worker never looks for a row that is not there yet, and a rolled-back change enqueues
nothing. A broker that is down is logged, not raised: the row is already committed, and the
reconcilers (beat tasks that scan the database) enqueue again whatever is left behind.
"""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(name: str, *args) -> None:
    """Sends the task `name` with `args` now (run here when tasks are configured eager)."""
    from config.celery import app

    if app.conf.task_always_eager:
        app.tasks[name].apply(args=list(args))
        return
    app.send_task(name, args=list(args))


def enqueue_on_commit(name: str, *args) -> None:
    """Sends the task `name` with `args` once the current transaction commits."""

    def send() -> None:
        try:
            enqueue(name, *args)
        except Exception:  # noqa: BLE001 - the broker is down: the reconciler enqueues it again
            logger.exception("could not enqueue %s%s", name, args)

    transaction.on_commit(send)
