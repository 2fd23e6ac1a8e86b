"""`make run`'s processes, as they run on a bare machine: honcho starts the sandbox, web (with
its demo data), a Celery worker and beat on SQLite and the embedded broker. An invoice sent there
reaches its final state by itself: the sandbox advances it and calls the webhook."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.sandbox import free_port

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.worker

PROBE = """
import django; django.setup()
from invoicing.models import Invoice, WebhookEvent
i = Invoice.objects.get(number="DEMO-00001")
print(i.state, i.legal_documents.filter(acknowledged_at__isnull=False).count(), WebhookEvent.objects.count())
"""


def test_default_run_moves_a_sent_invoice_to_its_end_by_itself(tmp_path):
    web_port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "B2BROUTER_", "DJANGO_"))}
    env.update({
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "1", "VAR_DIR": str(tmp_path),
        "WEB_PORT": str(web_port),
        "SANDBOX_PORT": str(sandbox_port), "SANDBOX_ADVANCE_AFTER": "0.5",
        "B2BROUTER_API_URL": f"http://127.0.0.1:{sandbox_port}", "SYNC_STATES_EVERY": "3600",
    })
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=REPO, env=env, check=True)
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        run = subprocess.Popen([sys.executable, "-m", "honcho", "--procfile", "Procfile.dev", "start"],
                               cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C stops everything" not in log_path.read_text(errors="replace"):
            assert run.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.5)
        output = log_path.read_text(errors="replace")
        # One block, at the end of the start-up: the address, then each demo user's password.
        block = [line.split("|", 1)[-1].strip() for line in output.splitlines()
                 if re.match(r"\S+ demo\.1 +\|", line)]
        start = block.index(f"The back office is ready: http://127.0.0.1:{web_port}/")
        users = block[start + 3:start + 6]
        assert [u.split()[0] for u in users] == ["staff", "finance", "admins"], block
        assert all(re.fullmatch(r"\w+\s+password: \S+", u) for u in users), users
        assert "UNIVERSITE D AIX MARSEILLE" in output

        subprocess.run([*manage, "invoice_send", "DEMO-00001"], cwd=REPO, env=env, check=True,
                       capture_output=True)
        deadline = time.monotonic() + 90
        while True:
            state, acked, webhooks = subprocess.run(
                [sys.executable, "-c", PROBE], cwd=REPO, env=env, check=True, capture_output=True,
                text=True).stdout.split()
            if state in ("paid", "refused") and acked == "1":
                break
            assert time.monotonic() < deadline, (state, acked, log_path.read_text(errors="replace")[-4000:])
            time.sleep(1)
        assert int(webhooks) >= 3, "the states should have come by webhook, not by polling"
    finally:
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
        try:
            run.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            raise
    output = log_path.read_text(errors="replace")
    for name in ("sandbox", "web", "demo", "worker", "beat"):
        assert re.search(rf"{name}\.1 +(stopped|exited)", output) or f"{name}.1" in output
