import os

from celery import Celery

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
