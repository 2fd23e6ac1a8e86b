"""Fixtures shared by the whole suite.

- No network but loopback (an autouse guard).
- `sandbox`: the B2Brouter emulator as a real HTTP server in its own process, per session, in
  documented-only mode: it does what B2Brouter documents and nothing more, so that the product
  is tested against the documentation, not against the sandbox's conveniences.
- `rich_sandbox`: the same emulator with its conveniences (Chorus Pro flags and services in the
  directory, Chorus statuses, webhook extras), for the tests of what the product does with them.
- `b2b`: settings pointing the product at the documented-only sandbox, or, for a test marked
  `@pytest.mark.rich_sandbox`, at the sandbox with conveniences.
- `celery_worker_process`: a real Celery worker process on the configured broker (Redis in CI).
"""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import hypothesis
import pytest
from django.conf import settings
from django.db import connection

from tests.support.sandbox import SandboxProcess

# Hypothesis explores new inputs on developers' machines; in CI it replays a fixed set, so that a
# run's verdict does not depend on luck (what exploring finds is fixed and kept as a test).
hypothesis.settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    loopback = isinstance(host, str) and (host.startswith("127.") or host in ("::1", "localhost"))
    if self.family in (socket.AF_INET, socket.AF_INET6) and not loopback:
        raise RuntimeError(f"Tests may only reach loopback, not {host!r}.")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only():
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


# --- No B2Brouter call inside a transaction of ours (the house rule, on every test) -------------
# While a test runs, each call the client makes is checked: the calling thread's connection must
# hold no more open atomic blocks than the test framework itself opened (one, for a test that is
# not transactional; none in the live server's threads). Calls made while fixtures are set up
# are not checked.
_TX = {"main": None, "violations": []}


def _atomic_depth() -> int:
    from django.conf import settings as django_settings

    if not django_settings.configured:  # the Django-free suites (-p no:django)
        return 0
    from django.db import connections

    return len(connections["default"].atomic_blocks)


def _checked_exchange(exchange):
    def wrapper(self, method, path, *args, **kwargs):
        main = _TX["main"]
        if main is not None:
            allowed = main[1] if threading.get_ident() == main[0] else 0
            depth = _atomic_depth()
            if depth > allowed:
                _TX["violations"].append(f"{method} {path} inside {depth - allowed} open "
                                         "transaction(s)")
        return exchange(self, method, path, *args, **kwargs)

    return wrapper


@pytest.fixture(autouse=True, scope="session")
def _b2brouter_calls_outside_transactions():
    from b2brouter.client import B2BrouterClient

    real = B2BrouterClient._exchange
    B2BrouterClient._exchange = _checked_exchange(real)
    yield
    B2BrouterClient._exchange = real


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    _TX["main"], _TX["violations"] = (threading.get_ident(), _atomic_depth()), []
    try:
        return (yield)
    finally:
        violations, _TX["main"] = _TX["violations"], None
        if violations:
            raise AssertionError("B2Brouter was called inside a transaction: "
                                 + "; ".join(violations))


@pytest.fixture(autouse=True)
def _sign_in_address_limit_out_of_the_way(settings):
    """Every test client signs in from 127.0.0.1: the per-address count (core/throttle.py) would
    add up across tests. The test of that limit sets its own, from an address of its own."""
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 1_000_000


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """One documented-only sandbox for the session; tests create their own accounts in it, so
    they don't collide."""
    server = SandboxProcess(
        data_dir=tmp_path_factory.mktemp("sandbox"),
        api_key=os.environ["B2BROUTER_API_KEY"],
        send_delay=0.1,
        documented_only=True,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rich_sandbox(tmp_path_factory):
    """The sandbox with its conveniences (see docs/b2brouter-contract.md, each a DECISION)."""
    server = SandboxProcess(
        data_dir=tmp_path_factory.mktemp("rich-sandbox"),
        api_key=os.environ["B2BROUTER_API_KEY"],
        send_delay=0.1,
    )
    server.start()
    yield server
    server.stop()


def _point_at(server, settings):
    settings.B2BROUTER_API_URL = server.url
    settings.B2BROUTER_API_KEY = server.api_key
    from django.core.cache import cache

    cache.clear()
    return server


@pytest.fixture
def b2b(request, settings):
    """Points the product at the session's documented-only sandbox; a test marked
    `rich_sandbox` (what the product does with a convenience) gets the other one."""
    rich = request.node.get_closest_marker("rich_sandbox") is not None
    return _point_at(request.getfixturevalue("rich_sandbox" if rich else "sandbox"), settings)


def new_registered_account(**fields):
    """A local account registered at the sandbox the settings point at, with a fresh VAT number
    so that its invoice numbers never collide with another test's."""
    from invoicing.services.accounts import account_register
    from tests.factories import AccountFactory

    return account_register(account=AccountFactory(
        name=f"Exemplar {time.monotonic_ns()}",
        vat_number=f"FR{time.monotonic_ns() % 10**11:011d}", **fields))


@pytest.fixture
def registered_account(b2b, db):
    """A local account registered at the sandbox `b2b` points at."""
    return new_registered_account()


def _database_url() -> str:
    """The URL of the test database as pytest-django set it up, for worker processes."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class WorkerProcess:
    """`celery -A config worker` in a process of its own, on the test database and broker."""

    def __init__(self, sandbox_url: str, api_key: str, concurrency: int = 4, log_path: Path | None = None):
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "B2BROUTER_API_URL": sandbox_url,
            "B2BROUTER_API_KEY": api_key,
            "SUBMIT_STALE_AFTER": "5",
        }
        self.concurrency = concurrency
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads",
             "--concurrency", str(self.concurrency), "--loglevel", "INFO",
             "-Q", f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.CELERY_HOUSEKEEPING_QUEUE}",
             "--without-gossip", "--without-mingle"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker_process(b2b, transactional_db, tmp_path):
    worker = WorkerProcess(b2b.url, b2b.api_key, log_path=tmp_path / "worker.log")
    worker.start()
    yield worker
    worker.stop()
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert b2b.api_key not in log, "the API key leaked into the worker's log"


def sandbox_bytes(sandbox: SandboxProcess, path: str) -> bytes:
    """The exact bytes the sandbox serves at `path` (e.g. a download_legal_url)."""
    request = urllib.request.Request(sandbox.url + path, headers={**sandbox.headers(),
                                                                  "Accept": "application/xml"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2, message: str = ""):
    """Polls `predicate` until it returns a truthy value; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message or predicate}")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's database set-up, plus, at the end, closing the sessions that other threads
    of this process still hold (the session-wide live server's), so that PostgreSQL lets the test
    database be dropped."""
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                               " WHERE datname = current_database() AND pid <> pg_backend_pid()")


class EnqueuedTasks:
    """Tasks the services enqueue by name, caught before the broker: `tasks[name]` is a Mock
    called with each enqueued task's arguments; `tasks.inline(name, fn)` runs that task's calls
    in the test instead (through `fn`). A `core.fan_out` batch counts as the tasks it carries."""

    def __init__(self):
        from unittest import mock

        self._mock = mock
        self.mocks: dict = {}
        self.runners: dict = {}
        self.queues: dict = {}  # name: the queues it was sent to, when one was named

    def __getitem__(self, name: str):
        return self.mocks.setdefault(name, self._mock.Mock(name=name))

    def inline(self, name: str, fn) -> None:
        self.runners[name] = fn

    def __call__(self, name: str, *args, queue: str | None = None) -> None:
        self[name](*args)
        if queue is not None:
            self.queues.setdefault(name, []).append(queue)
        if name == "core.fan_out":  # a batch gathered by core.enqueue.batched: what it carries
            for carried, carried_args in args[0]:
                self(carried, *carried_args)
            return
        if name in self.runners:
            self.runners[name](*args)


@pytest.fixture
def enqueued(monkeypatch) -> EnqueuedTasks:
    """No task leaves for the broker: see `EnqueuedTasks`."""
    tasks = EnqueuedTasks()
    monkeypatch.setattr("core.enqueue.enqueue", tasks)
    return tasks
