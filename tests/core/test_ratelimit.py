"""One rate limit for the whole deployment: several processes (as workers on several machines
would be) call a sandbox that allows N calls a second per API key; through the shared limiter
they stay within it, without it they are answered 429. A 429 pauses every caller of the account.

On Redis when REDIS_URL is set (CI), on the one-machine file limiter otherwise."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.ratelimit import FileRateLimiter, RedisRateLimiter
from tests.support.sandbox import SandboxProcess

REPO = Path(__file__).resolve().parents[2]
RATE = 10.0
CALLER = r"""
import json, sys, time
sys.path.insert(0, REPO)
from b2brouter import B2BrouterClient
from b2brouter.errors import RateLimited
from core.ratelimit import FileRateLimiter, RedisRateLimiter
url, key, calls, backend, where, rate, name = sys.argv[1:8]
limiter = None
if backend == "redis":
    import redis
    limiter = RedisRateLimiter(name, float(rate), burst=2, client=redis.Redis.from_url(where))
elif backend == "file":
    from pathlib import Path
    limiter = FileRateLimiter(name, float(rate), burst=2, directory=Path(where))
client = B2BrouterClient(url, key, max_retries=0,
                         before_request=limiter.acquire if limiter else None,
                         on_rate_limited=limiter.pause if limiter else None)
refused = 0
for _ in range(int(calls)):
    try:
        client.list_accounts(limit=1)
    except RateLimited:
        refused += 1
print(json.dumps({"refused": refused}))
"""


@pytest.fixture
def limited_sandbox(tmp_path):
    server = SandboxProcess(data_dir=tmp_path, api_key="rate-key",
                            rate_limit=f"{RATE:g}/s")
    server.start()
    yield server
    server.stop()


def _backend(tmp_path):
    if os.environ.get("REDIS_URL"):
        return "redis", os.environ["REDIS_URL"]
    return "file", str(tmp_path / "limits")


def _run(server, backend, where, *, processes=3, calls=12, rate=RATE):
    script = CALLER.replace("REPO", repr(str(REPO)))
    name = f"rate-test-{time.time_ns()}"  # shared by this run's processes, by no other run
    started = time.monotonic()
    children = [subprocess.Popen([sys.executable, "-c", script, server.url, server.api_key,
                                  str(calls), backend, where, str(rate), name],
                                 stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]
    refused = sum(json.loads(child.communicate(timeout=120)[0])["refused"] for child in children)
    return refused, time.monotonic() - started


def test_the_sandbox_answers_429_with_retry_after_beyond_its_limit(limited_sandbox):
    import requests

    answers = [requests.get(limited_sandbox.url + "/accounts",
                            headers={"X-B2B-API-Key": limited_sandbox.api_key}, timeout=5)
               for _ in range(int(RATE) * 3)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused and all(a.headers["Retry-After"].isdigit() for a in refused)
    assert limited_sandbox.control("GET", "/_sandbox/stats")["rate_limited"] == len(refused)


def test_processes_sharing_the_limit_stay_within_it_and_without_it_do_not(limited_sandbox,
                                                                          tmp_path):
    backend, where = _backend(tmp_path)
    refused, elapsed = _run(limited_sandbox, backend, where)
    calls = 3 * 12
    assert refused == 0, f"{refused} of {calls} calls answered 429 through the shared limit"
    assert elapsed >= (calls - RATE) / RATE * 0.8  # they did wait their turns
    time.sleep(1.5)  # the sandbox's bucket refills
    unshared, _ = _run(limited_sandbox, "none", "")
    assert unshared > 0, "the control: without the shared limit the sandbox refuses some"


def test_a_429_pauses_every_caller_of_the_account(tmp_path):
    backend, where = _backend(tmp_path)
    name = f"pause-test-{time.time_ns()}"
    if backend == "redis":
        import redis

        make = lambda: RedisRateLimiter(name, 100, client=redis.Redis.from_url(where))  # noqa: E731
    else:
        make = lambda: FileRateLimiter(name, 100, directory=Path(where))  # noqa: E731
    one, other = make(), make()  # two processes' limiters, one account
    other.acquire()
    one.pause(1.2)  # one caller got a 429 with Retry-After
    started = time.monotonic()
    other.acquire()
    assert time.monotonic() - started >= 1.0
    assert other.stats.waited_seconds >= 1.0 and one.stats.pauses == 1


HAMMER = r"""
import json, sys, threading, time
sys.path.insert(0, REPO)
from pathlib import Path
from core.ratelimit import FileRateLimiter, RedisRateLimiter
backend, where, rate, burst, name, start, stop, threads = sys.argv[1:9]
if backend == "redis":
    import redis
    limiter = RedisRateLimiter(name, float(rate), burst=int(burst),
                               client=redis.Redis.from_url(where))
else:
    limiter = FileRateLimiter(name, float(rate), burst=int(burst), directory=Path(where))
start, stop = float(start), float(stop)
moments = []
def hammer():
    while time.time() < start:
        time.sleep(0.001)
    while True:
        limiter.acquire()
        now = time.time()
        if now >= stop:
            return
        moments.append(now)
workers = [threading.Thread(target=hammer) for _ in range(int(threads))]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(json.dumps(moments))
"""


@pytest.mark.parametrize("processes,threads", [(1, 1), (1, 8), (3, 4)])
def test_hammering_acquire_from_threads_and_processes_never_beats_the_limit(tmp_path, processes,
                                                                           threads):
    """Every caller asks as fast as it can for a few seconds: no more than rate x seconds +
    burst calls get through, in all and in any one second (the wait below 1 ms once read as
    a permission that took no slot: 40 calls/s through a 15/s limit)."""
    backend, where = _backend(tmp_path)
    rate, burst, seconds = 15.0, 5, 3.0
    script = HAMMER.replace("REPO", repr(str(REPO)))
    name = f"hammer-{time.time_ns()}"
    start = time.time() + 1.5  # every process started and waiting
    stop = start + seconds
    children = [subprocess.Popen([sys.executable, "-c", script, backend, where, str(rate),
                                  str(burst), name, str(start), str(stop), str(threads)],
                                 stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]
    moments = sorted(m for child in children
                     for m in json.loads(child.communicate(timeout=60)[0]))
    allowed = rate * seconds + burst
    assert len(moments) <= allowed, (f"{len(moments)} calls in {seconds} s at {rate}/s: "
                                     f"{[round(m - start, 3) for m in moments]}")
    assert len(moments) >= rate * seconds * 0.8, "the callers did get their turns"
    busiest = max(sum(1 for m in moments if first <= m < first + 1) for first in moments)
    assert busiest <= rate + burst, f"{busiest} calls in one second at {rate}/s"
