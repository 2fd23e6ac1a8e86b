"""`make run` as a newcomer types it, on other ports than the defaults, with nothing else set:
the product talks to the sandbox it started on its port, stays up, signs a demo user in, and a
wrong address shows the site's own page."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support.sandbox import free_port

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.worker


def test_make_run_on_other_ports_works_and_signs_in(tmp_path):
    web_port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "B2BROUTER_", "DJANGO_",
                                "SITE_URL", "VAR_DIR", "PYTEST"))}
    env.update({"WEB_PORT": str(web_port), "SANDBOX_PORT": str(sandbox_port),
                "VAR_DIR": str(tmp_path / "var")})
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        run = subprocess.Popen(["make", "run"], cwd=REPO, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{web_port}"
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything" not in log_path.read_text(errors="replace"):
            assert run.poll() is None, log_path.read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-4000:]
            time.sleep(0.5)
        output = log_path.read_text(errors="replace")
        assert f"The back office is ready: {base}/" in output
        password = re.search(r"staff\s+password: (\S+)", output).group(1)
        time.sleep(35)  # the processes stopped after 30 s when the product called port 8765
        assert run.poll() is None, log_path.read_text(errors="replace")[-4000:]
        session = requests.Session()
        login = session.get(f"{base}/login/", timeout=10)
        token = session.cookies["csrftoken"]
        signed_in = session.post(f"{base}/login/", timeout=10, allow_redirects=False, data={
            "username": "staff", "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": login.url})
        assert signed_in.status_code == 302, signed_in.text[:2000]
        home = session.get(f"{base}/", timeout=10)
        assert home.status_code == 200 and "Se déconnecter (staff)" in home.text
        lookup = session.get(f"{base}/directory/lookup/", params={"siret": "13001533200013"},
                             timeout=20)
        assert "UNIVERSITE D AIX MARSEILLE" in lookup.text  # from the sandbox on its port
        missing = session.get(f"{base}/no/such/page/", timeout=10)
        assert missing.status_code == 404 and "Page introuvable" in missing.text
        assert "URLconf" not in missing.text  # not Django's technical page
        english = session.get(f"{base}/no/such/page/", timeout=10,
                              headers={"Accept-Language": "en"}, cookies={"django_language": "en"})
        assert english.status_code == 404 and "URLconf" not in english.text
    finally:
        os.killpg(run.pid, signal.SIGINT)
        try:
            run.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
