import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("chorus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

if str(app.conf.broker_url).startswith("sqla+"):
    # The embedded broker (no server) polls its SQLite table, once a second by default: a worker
    # would sit idle most of the time. Its transport hands every broker_transport_option to
    # SQLAlchemy's create_engine, so the interval can only be set on the transport itself.
    from kombu.transport import sqlalchemy as _sqla_transport

    _sqla_transport.Transport.polling_interval = 0.1


@signals.setup_logging.connect(weak=False)
def _keep_the_products_logging(**kwargs) -> None:
    """A worker logs as the rest of the product does (Django's LOGGING, applied by
    django.setup(): LOG_LEVEL, LOG_FORMAT, the invoice named on each line, secrets redacted).
    Without a receiver here, Celery would replace the root logger's handler with its own,
    filters and all; its `--loglevel` option then has no effect, LOG_LEVEL rules."""


# Database connections in a worker follow Django's rule for a web request, not Celery's: its
# Django fix-up closes every connection before and after each task (a new PostgreSQL connection
# per task, about a sixth of a submission's CPU). Instead a connection is kept for CONN_MAX_AGE
# and closed when it is broken or left in error (close_old_connections, with health checks).
app.conf["CELERY_DB_REUSE_MAX"] = 10**9  # the fix-up then leaves connections alone


def _close_old_connections(**kwargs) -> None:
    if getattr(kwargs.get("task"), "request", None) is not None and kwargs["task"].request.is_eager:
        return  # run in the caller's thread (tests, eager mode): its connection is the caller's
    from django.db import close_old_connections

    close_old_connections()


signals.task_prerun.connect(_close_old_connections, weak=False)
signals.task_postrun.connect(_close_old_connections, weak=False)
