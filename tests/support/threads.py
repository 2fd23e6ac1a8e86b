"""Running a piece of code from several threads at once (each with its own database connection,
closed at the end), for the tests of what must hold under concurrent requests."""

import threading
from collections.abc import Callable


def at_once(work: Callable[[], object], count: int, *, timeout: float = 60) -> list:
    """Runs `work` in `count` threads released together; returns what each returned or raised
    (an exception is returned, not raised: the test says which are expected)."""
    from django.db import connection

    start = threading.Barrier(count)
    outcomes: list = []
    lock = threading.Lock()

    def run():
        try:
            start.wait()
            result = work()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            result = exc
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return outcomes
