"""What every benchmark shares: its own database, sandbox, Celery workers and web server (all
stopped on exit, Ctrl-C included), a query counter, timing helpers and the figures' table.

A script calls `setup(name)` before importing anything from Django, then `database()` to get a
freshly migrated database of its own: a SQLite file under `var/bench/<name>/`, or, when
`BENCH_DATABASE_URL` or `DATABASE_URL` is set, a database named `bench_<name>` on that server
(created and migrated here; the operator's own database is never touched).
"""

import argparse
import atexit
import contextlib
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_VAR = REPO / "var" / "bench"
API_KEY = "bench-api-key-0123456789"
WEBHOOK_SECRET = "bench-webhook-secret-0123456789"  # noqa: S105 - a local sandbox's secret

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

_children: list["Child"] = []
_state: dict = {}


# --- Set-up --------------------------------------------------------------------------------------

def setup(name: str, *, sandbox_port: int | None = None, log_level: str = "WARNING") -> Path:
    """Configures the environment for Django, the workers and the web server, then Django itself.
    Returns the benchmark's own directory (`var/bench/<name>/`)."""
    var_dir = BENCH_VAR / name
    var_dir.mkdir(parents=True, exist_ok=True)
    # The file cache of an earlier run would spare this one its directory calls.
    shutil.rmtree(var_dir / "cache", ignore_errors=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DJANGO_DEBUG"] = "1"
    # The deployment-wide rate limit is what month_end.py measures; elsewhere the sandbox has
    # none, and the figures are the product's own.
    os.environ.setdefault("B2BROUTER_RATE_LIMIT", "0")
    # The file cache, the embedded broker, media: all under the benchmark's directory.
    os.environ["VAR_DIR"] = str(var_dir)
    os.environ.setdefault("LOG_LEVEL", log_level)
    # A queue of its own: no message of another run (or of the test suite) reaches our workers.
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = f"bench-{name}-{os.getpid()}"
    os.environ["B2BROUTER_API_KEY"] = API_KEY
    os.environ["B2BROUTER_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    os.environ.pop("B2BROUTER_ACCOUNT_ID", None)
    if sandbox_port:
        os.environ["B2BROUTER_API_URL"] = f"http://127.0.0.1:{sandbox_port}"
    server_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if server_url and not server_url.startswith("sqlite"):
        os.environ["DATABASE_URL"] = server_url
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{var_dir / 'db.sqlite3'}"
    _state.update(name=name, var_dir=var_dir)
    _install_signal_handlers()
    import django

    django.setup()
    return var_dir


def database(*, keep: bool = False, suffix: str = "") -> str:
    """Creates (or, with `keep`, reuses) and migrates the benchmark's database and points this
    process at it. Returns its URL, for the worker and web processes. A benchmark that keeps
    several databases side by side names each by a `suffix` (`bench_pages_1000`)."""
    from django.db import connection

    name = _state["name"] + (f"_{suffix}" if suffix else "")
    settings_dict = connection.settings_dict
    if settings_dict["ENGINE"].endswith("sqlite3"):
        test_name = str(_state["var_dir"] / (f"db_{suffix}.sqlite3" if suffix else "db.sqlite3"))
    else:
        test_name = f"bench_{name}"
    settings_dict.setdefault("TEST", {})["NAME"] = test_name
    if test_name.endswith(".sqlite3") and not keep:
        # A stale write-ahead log next to a new database file would corrupt it.
        for suffix in ("", "-wal", "-shm"):
            Path(test_name + suffix).unlink(missing_ok=True)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=keep)
    url = database_url()
    os.environ["DATABASE_URL"] = url
    if not url.startswith("sqlite"):
        os.environ["BENCH_DATABASE_URL"] = url  # what a child process of ours must use
    return url


def database_switch(name: str) -> None:
    """Points this process's connection at another of the benchmark's databases (made by
    `database(suffix=...)`; `name` is its `connection.settings_dict["NAME"]`): the next query
    connects to it."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def database_label() -> str:
    from django.db import connection

    return f"{connection.vendor} {connection.settings_dict['NAME']}"


def broker_label() -> str:
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if url.startswith("redis"):
        return "Redis"
    if url.startswith("sqla+sqlite"):
        return "embedded SQLite broker (kombu SQLAlchemy transport, polls for messages)"
    return url.split("://")[0]


# --- Child processes -----------------------------------------------------------------------------

class Child:
    """A process of ours (sandbox, worker, web): logged to a file, stopped on exit."""

    def __init__(self, label: str, command: list[str], *, env: dict | None = None,
                 log: Path | None = None):
        self.label = label
        self.command = command
        self.env = {**os.environ, **(env or {})}
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> "Child":
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(self.command, cwd=REPO, env=self.env, stdout=out,
                                        stderr=subprocess.STDOUT)
        if self.log:
            out.close()
        _children.append(self)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self in _children:
            _children.remove(self)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


def cpu_seconds(child: "Child") -> float:
    """The CPU time (user + system) the child process has used so far, from its own counters
    (/proc/<pid>/stat), not wall time."""
    fields = Path(f"/proc/{child.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_children() -> None:
    for child in reversed(list(_children)):
        with contextlib.suppress(Exception):
            child.stop()
    sandbox = _state.pop("sandbox", None)
    if sandbox is not None:
        with contextlib.suppress(Exception):
            sandbox.stop(remove_data=False)


def _on_signal(signum, frame):
    raise KeyboardInterrupt


def _install_signal_handlers() -> None:
    if _state.get("handlers"):
        return
    atexit.register(stop_children)
    signal.signal(signal.SIGTERM, _on_signal)
    _state["handlers"] = True


def free_port() -> int:
    from tests.support.sandbox import free_port as _free_port

    return _free_port()


def start_sandbox(*, port: int, **options):
    """The B2Brouter sandbox on a fresh data dir (`var/bench/<name>/sandbox`), stopped on exit.
    Options are the command line's with underscores (`latency_ms=100`, `advance_after=0.5`)."""
    from tests.support.sandbox import SandboxProcess

    data_dir = _state["var_dir"] / "sandbox"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    sandbox = SandboxProcess(api_key=API_KEY, data_dir=data_dir, port=port, **options)
    _state["sandbox"] = sandbox
    return sandbox.start()


def production_env() -> dict:
    """A worker as deployed: DEBUG off (Django then neither wraps every cursor nor keeps every
    query), logging at the default LOG_LEVEL (INFO: each call and each task a line), with the
    secrets DEBUG would have defaulted given explicitly (the sandbox's)."""
    from django.conf import settings

    return {"DJANGO_DEBUG": "0", "LOG_LEVEL": "INFO", "DJANGO_SECRET_KEY": "bench-only-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
            "B2BROUTER_API_KEY": settings.B2BROUTER_API_KEY,
            "B2BROUTER_WEBHOOK_SECRET": settings.B2BROUTER_WEBHOOK_SECRET}


def start_workers(count: int, concurrency: int, *, pool: str = "threads",
                  timeout: float = 60) -> list[Child]:
    """`count` Celery worker processes (`--pool threads`, `--concurrency`) on the benchmark's
    queue and database, configured as deployed (`production_env`); waits until each says it is
    ready."""
    from django.conf import settings

    workers = []
    for index in range(count):
        log = _state["var_dir"] / f"worker-{index}.log"
        log.unlink(missing_ok=True)
        workers.append(Child(
            f"worker {index}",
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", pool,
             "--concurrency", str(concurrency), "--loglevel", "INFO",
             "-Q", f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.CELERY_HOUSEKEEPING_QUEUE}",
             "-n", f"bench{index}-{os.getpid()}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            log=log, env=production_env(),
        ).start())
    deadline = time.monotonic() + timeout
    for worker in workers:
        while " ready." not in worker.log_text():
            if not worker.alive():
                raise RuntimeError(f"{worker.label} exited:\n{worker.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{worker.label} not ready:\n{worker.log_text()[-3000:]}")
            time.sleep(0.2)
    return workers


def start_web(*, port: int, workers: int = 2, threads: int = 4, timeout: float = 30) -> Child:
    """The product under gunicorn (as in docker-compose) on 127.0.0.1:`port`; waits for /health/."""
    import urllib.error
    import urllib.request

    log = _state["var_dir"] / "web.log"
    log.unlink(missing_ok=True)
    web = Child("web", [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind",
                        f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
                        "--log-level", "warning"], log=log).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not web.alive():
            raise RuntimeError(f"web server exited:\n{web.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=2):  # noqa: S310
                return web
        except urllib.error.HTTPError:
            return web  # it answers (health may report a dependency as down: not our concern)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"web server did not answer:\n{web.log_text()[-3000:]}")


def purge_queue() -> None:
    """Drops what is left in the benchmark's queue (tasks enqueued with no worker to run them)."""
    from config.celery import app

    with contextlib.suppress(Exception):
        app.control.purge()


# --- The product's data --------------------------------------------------------------------------

def account_create(*, register: bool = False):
    """Our seller account (the guide's Exemplar SAS), registered at the sandbox if asked."""
    from core.models import Account

    account = Account.objects.create(
        name="Exemplar SAS", siret="45888033300018", vat_number="FR36458880333",
        address="10 Rue Imaginaire", city="Paris", postalcode="75001", province="Île-de-France",
        email="john.doe@example.com", iban="FR7630006000011234567890189",
    )
    if register:
        from invoicing.services.accounts import account_register

        account = account_register(account=account)
    return account


def users_create(account) -> dict:
    """One user per role (staff, finance, admins), each working for `account`."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from core import roles

    users = {}
    for role in roles.ALL:
        group, _ = Group.objects.get_or_create(name=role)
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{role}")
        user.groups.add(group)
        account.users.add(user)
        users[role] = user
    return users


def client_for(user):
    """A Django test client signed in as `user` (host `localhost`, allowed with DEBUG on)."""
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


# Buyers with no "payment status not reported" flag: their invoices go all the way to `paid`.
def directory_entries(*, paying_only: bool = False) -> list[dict]:
    from sandbox.directory_data import DIRECTORY

    entries = list(DIRECTORY.values())
    if paying_only:
        entries = [e for e in entries if not e["chorus"]["payment_status_not_reported"]]
    return entries


def first_service(entry: dict) -> dict | None:
    """The first active service a supplier may invoice (FACTURES_PUBLIQUES is reserved)."""
    for item in entry["chorus"]["services"]:
        if item.get("active", True) and item["code"] != "FACTURES_PUBLIQUES":
            return item
    return None


def buyers_register(account, count: int) -> list[tuple]:
    """`count` public buyers from the directory, registered at the sandbox with their first
    service (the calls this costs are made here, before any timing). Returns (buyer, service)."""
    from directory.services import (
        buyer_create_from_directory,
        buyer_ensure_registered,
        service_ensure_registered,
    )

    chosen = []
    for entry in directory_entries(paying_only=True)[:count]:
        service_item = first_service(entry)
        codes = [service_item["code"]] if service_item else []
        buyer = buyer_create_from_directory(account=account, siret=entry["cin_value"],
                                            service_codes=codes)
        buyer_ensure_registered(buyer=buyer)
        service = buyer.services.get(code=codes[0]) if codes else None
        if service is not None:
            service.buyer = buyer
            service_ensure_registered(service=service)
        chosen.append((buyer, service))
    return chosen


def invoice_drafts(account, buyers: list[tuple], count: int, *, prefix: str, user=None,
                   lines: int = 2) -> list[int]:
    """`count` draft invoices through the product's own service (validated, totals computed),
    spread over `buyers`. Returns their ids."""
    from invoicing.lines import Line
    from invoicing.services.drafts import invoice_create

    today = datetime.date.today()
    ids = []
    for index in range(count):
        buyer, service = buyers[index % len(buyers)]
        invoice = invoice_create(
            account=account, number=f"{prefix}-{index:06d}", buyer=buyer, service=service,
            issue_date=today, due_date=today + datetime.timedelta(days=30),
            po_number=f"PO{index:07d}", user=user,
            lines=[Line(description=f"Prestation {n + 1}", quantity=Decimal(1 + n),
                            unit_price=Decimal("125.50"), vat_rate=Decimal("20"))
                   for n in range(lines)],
        )
        ids.append(invoice.pk)
    return ids


COMPANY_SIRETS = ["51234567900017", "82345678500018", "88877766100016"]


def account_activate(account) -> None:
    """The account activated for invoices to French companies from today (B2Brouter's dgfip
    tax-report setting), through the product's service."""
    from invoicing.services import reform

    reform.account_activate(account=account, start_date=datetime.date.today(),
                            operation="services", naf_code="62", enterprise_size="pme")


def companies_register(account, count: int) -> list[tuple]:
    """Up to `count` French companies of the sandbox's directory, registered (their contact
    calls made here, before any counting). Returns (buyer, None)."""
    from directory.services import buyer_create_from_directory, buyer_ensure_registered

    chosen = []
    for siret in COMPANY_SIRETS[:count]:
        buyer = buyer_create_from_directory(account=account, siret=siret)
        buyer_ensure_registered(buyer=buyer)
        chosen.append((buyer, None))
    return chosen


def company_drafts(account, buyers: list[tuple], count: int, *, prefix: str,
                   lines: int = 2) -> list[int]:
    """`count` draft invoices to companies, with the mentions and category they must carry."""
    from invoicing import channels
    from invoicing.lines import Line
    from invoicing.services.drafts import invoice_create

    today = datetime.date.today()
    ids = []
    for index in range(count):
        buyer, _service = buyers[index % len(buyers)]
        invoice = invoice_create(
            account=account, number=f"{prefix}-{index:06d}", buyer=buyer,
            issue_date=today, due_date=today + datetime.timedelta(days=30),
            po_number=f"BC{index:07d}", notes=channels.Company.default_notes,
            company={"operation_category": "services"},
            lines=[Line(description=f"Prestation {n + 1}", quantity=Decimal(1 + n),
                        unit_price=Decimal("125.50"), vat_rate=Decimal("20"))
                   for n in range(lines)],
        )
        ids.append(invoice.pk)
    return ids


# --- Legal XML -----------------------------------------------------------------------------------

_SELLER = {"name": "Exemplar SAS", "cin_value": "45888033300018", "cin_scheme": "0009",
           "tin_value": "FR36458880333", "address": "10 Rue Imaginaire", "city": "Paris",
           "postalcode": "75001", "province": "Île-de-France", "country": "fr",
           "email": "john.doe@example.com"}
NUMBER_MARK = "NUMERO-0000000000"


def legal_xml_template(entry: dict, *, lines: int = 9) -> bytes:
    """A UBL 2.1 invoice as the sandbox deposits it (`sandbox.ubl.build`, the same code), for
    the buyer `entry`, with `lines` lines (9 give ~8 KB), its number left as `NUMBER_MARK`."""
    from sandbox import calc, ubl

    items = []
    for n in range(lines):
        quantity, price = Decimal(1 + n % 7), Decimal("87.35") + n
        items.append({
            "position": n + 1, "description": f"Prestation de maintenance, lot {n + 1} — mois en cours",
            "quantity": quantity, "price": price, "unit": 2, "article_code": f"ART-{n + 1:04d}",
            "total_cost": calc.line_total(quantity, price),
            "taxes": [{"name": "TVA", "category": "S", "percent": Decimal("20.0"), "comment": None}],
        })
    service = first_service(entry)
    invoice = {
        "number": NUMBER_MARK, "date": "2026-01-15", "due_date": "2026-02-14", "currency": "EUR",
        "billing_framework": "A1", "ponumber": "PO0012345",
        "buyer_reference": service["code"] if service else None,
        "bank_account": {"type": "iban", "iban": "FR7630006000011234567890189"},
        "lines": items, **calc.totals(items, "A1"),
    }
    return ubl.build(invoice, _SELLER, entry)


def legal_xml(template: bytes, number: str) -> bytes:
    return template.replace(NUMBER_MARK.encode(), number.encode())


def round2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@contextlib.contextmanager
def timestamps_as_given(*models):
    """Lets bulk_create keep the `created_at`/`updated_at` we give (auto_now fields would
    overwrite them with now), so generated data has a realistic history."""
    saved = []
    for model in models:
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                saved.append((field, field.auto_now, field.auto_now_add))
                field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


# --- Measuring -----------------------------------------------------------------------------------

class QueryCounter:
    """Counts the SQL statements run on the default connection inside the block (reliable at any
    count, unlike `connection.queries`, which keeps only the last 9 000)."""

    def __init__(self):
        self.count = 0
        self._cm = None

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._cm = connection.execute_wrapper(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)


def percentile(values: list[float], share: float) -> float:
    """The `share` percentile (0..1) of `values`, linearly interpolated."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def wait_until(predicate, *, timeout: float, interval: float = 0.05, what: str = "") -> float:
    """Polls `predicate` until true; returns the monotonic time it became true. Raises on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what or predicate}")
        time.sleep(interval)


def machine() -> dict:
    try:
        with open("/proc/meminfo") as meminfo:
            total_kb = int(meminfo.readline().split()[1])
        memory = f"{total_kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "?"
    return {"cpus": os.cpu_count(), "memory": memory, "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "python loop (CPU ms)": round(reference_ms(), 1)}


def reference_ms() -> float:
    """The machine's speed, to read CPU figures by: the CPU milliseconds a fixed pure-Python loop
    of 2 million steps takes here (best of three). CPU ms per invoice scale with it from one
    machine (or one moment of a shared one) to another."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for step in range(2_000_000):
            total += step
        best = min(best, time.process_time() - started)
    return best * 1000


# --- Output --------------------------------------------------------------------------------------

def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--json", action="store_true", help="print the figures as JSON instead")
    return p


def int_list(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def _cell(value) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if value is None:
        return "-"
    return str(value)


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """A plain-text table of `rows` (dicts), columns in the order given or first seen."""
    if not rows:
        return "(no rows)"
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(r[i][:1].isdigit() or r[i][:1] in "-." for r in cells) for i in range(len(columns))]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def report(title: str, *, args, settings: dict, sections: list[tuple[str, list[dict]]],
           notes: list[str] = (), figures: dict | None = None) -> None:
    """Prints the benchmark's figures: a header, each section as a table, then notes (or all of
    it as one JSON document with `--json`)."""
    if getattr(args, "json", False):
        print(json.dumps({"benchmark": title, "machine": machine(), "settings": settings,
                          "sections": {name: rows for name, rows in sections},
                          "figures": figures or {}, "notes": list(notes)},
                         indent=2, default=str))
        return
    m = machine()
    print(f"\n== {title} ==")
    print(f"machine: {m['cpus']} CPUs, {m['memory']}, Python {m['python']}, {m['platform']}")
    for key, value in settings.items():
        print(f"{key}: {value}")
    for name, rows in sections:
        print(f"\n{name}")
        print(table(rows))
    if notes:
        print()
        for note in notes:
            print(f"- {note}")
    print()


def progress(args, message: str) -> None:
    """A progress line on stderr (so that `--json` output stays clean)."""
    if not getattr(args, "quiet", False):
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main_guard(run) -> None:
    """Runs `run()`, stopping every child process however it ends (Ctrl-C: exit status 130)."""
    try:
        run()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        stop_children()
        sys.exit(130)
    finally:
        stop_children()
