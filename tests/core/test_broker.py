"""The Redis transport keeps one client per channel (core/broker.py) and still carries every
message: published, delivered, acknowledged, redelivered when not acknowledged."""

import os
import time
import uuid

import pytest
from django.conf import settings
from kombu import Connection

from core import broker

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL", "").startswith("redis://"),
                                reason="needs a Redis server (REDIS_URL)")


def _connection():
    return Connection(os.environ["REDIS_URL"], transport=broker.Transport,
                      transport_options={"visibility_timeout": 1})


def test_a_channel_keeps_one_client_until_its_pool_changes():
    with _connection() as connection:
        channel = connection.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        channel._pool = None  # what a reconnection does: a new pool, so a new client
        assert channel._create_client() is not first


def test_messages_go_through_and_an_unacknowledged_one_comes_back():
    queue = f"test-broker-{uuid.uuid4().hex}"
    with _connection() as connection, connection.SimpleQueue(queue) as simple:
        simple.put({"n": 1})
        simple.put({"n": 2})
        first = simple.get(timeout=5)
        first.ack()
        second = simple.get(timeout=5)  # never acknowledged: its consumer is lost
        assert (first.payload, second.payload) == ({"n": 1}, {"n": 2})
        simple.consumer.cancel()
    time.sleep(1.5)  # past the visibility timeout
    with _connection() as connection:
        connection.default_channel.qos.restore_visible()  # what a worker's loop does
        with connection.SimpleQueue(queue) as simple:
            again = simple.get(timeout=5)
            assert again.payload == {"n": 2}
            again.ack()
            simple.queue.delete()


def test_the_product_uses_it_for_redis_urls():
    assert settings.CELERY_BROKER_TRANSPORT == "core.broker:Transport"
    from config.celery import app

    with app.connection_for_write() as connection:
        assert connection.transport_cls == "core.broker:Transport"
        assert isinstance(connection.default_channel, broker.Channel)
