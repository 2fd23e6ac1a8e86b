"""Tasks gathered in a batch go as one message on commit, and come back out as the tasks."""

from contextlib import contextmanager

import pytest
from django.db import transaction

from core import enqueue
from core.tasks import fan_out_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(enqueue, "enqueue", lambda name, *args: calls.append((name, args)))
    return calls


def test_a_batch_goes_as_one_message_once_committed(sent):
    with transaction.atomic():
        with enqueue.batched():
            enqueue.enqueue_on_commit("a.task", 1)
            enqueue.enqueue_on_commit("b.task", 2, "x")
            enqueue.enqueue_on_commit("a.task", 3)
        assert sent == []  # not before the commit
    assert sent == [(enqueue.FAN_OUT, ([("a.task", [1]), ("b.task", [2, "x"]), ("a.task", [3])],))]


def test_a_batch_rolled_back_or_broken_sends_nothing(sent):
    with pytest.raises(RuntimeError), transaction.atomic():
        with enqueue.batched():
            enqueue.enqueue_on_commit("a.task", 1)
        raise RuntimeError("rolled back")
    with transaction.atomic():
        with pytest.raises(RuntimeError), enqueue.batched():
            enqueue.enqueue_on_commit("a.task", 2)
            raise RuntimeError("the block broke")
        enqueue.enqueue_on_commit("c.task", 3)  # outside the batch: on its own, as ever
    assert sent == [("c.task", (3,))]


def test_an_empty_batch_sends_nothing_and_outside_one_each_task_goes_alone(sent):
    with transaction.atomic():
        with enqueue.batched():
            pass
        enqueue.enqueue_on_commit("a.task", 1)
    assert sent == [("a.task", (1,))]


def test_the_fan_out_sends_each_task_over_one_connection(monkeypatch):
    from config.celery import app

    producers, published = [], []

    @contextmanager
    def producer_or_acquire(producer=None):
        producers.append(object())
        yield producers[-1]

    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setattr(app, "producer_or_acquire", producer_or_acquire)
    monkeypatch.setattr(app, "send_task", lambda name, args, producer: published.append(
        (name, args, producer)))
    fan_out_task.run([["a.task", [1]], ["b.task", [2, "x"]]])
    assert published == [("a.task", [1], producers[0]), ("b.task", [2, "x"], producers[0])]
    assert len(producers) == 1
