"""`SandboxProcess`: run the B2Brouter sandbox (`python -m sandbox`) as a real subprocess.

    sb = SandboxProcess(send_delay=0.05).start()   # free port, temporary data dir
    requests.get(sb.url + "/accounts", headers=sb.headers())
    sb.control("POST", "/_sandbox/advance")        # -> parsed JSON
    sb.restart()                                   # same port and data dir
    sb.stop()                                      # also removes a data dir it created

Options are the command line's, with underscores (`advance_after=0.1`, `faults="slow=0.1"`,
`webhook_url=...`, `documented_only=True` for a flag); `None` or False leaves an option out.
Also usable as a context manager.
"""

import json as jsonlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VERSION = "2026-03-02"


def free_port():
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SandboxProcess:
    """One sandbox process: `.url`, `.api_key`, `.data_dir`, `.start()`, `.stop()`,
    `.restart()`, `.headers()`, `.control(method, path, json=None)`, `.log()`."""

    def __init__(self, api_key="test-key", data_dir=None, port=None, **options):
        self.api_key = api_key
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="sandbox-"))
        self.port = port or free_port()
        self.options = options
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self._log_path = self.data_dir / "sandbox.log"

    def command(self):
        cmd = [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(self.port),
               "--data-dir", str(self.data_dir), "--api-key", self.api_key]
        for name, value in self.options.items():
            if value is True:
                cmd.append("--" + name.replace("_", "-"))
            elif value is not None and value is not False:
                cmd += ["--" + name.replace("_", "-"), str(value)]
        return cmd

    def start(self, timeout=15):
        """Start the process and wait until /_sandbox/health answers. Returns self."""
        log = open(self._log_path, "ab")  # noqa: SIM115 - kept open for the process's life
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self.process = subprocess.Popen(self.command(), cwd=REPO_ROOT, stdout=log, stderr=log,
                                        env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sandbox exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/_sandbox/health", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sandbox did not become healthy:\n{self.log()}")

    def stop(self, remove_data=None):
        """Terminate the process (SIGTERM, then SIGKILL); remove the data dir if we made it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if remove_data if remove_data is not None else self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def restart(self, **options):
        """Stop and start again on the same port and data dir (options may be changed)."""
        self.stop(remove_data=False)
        self.options.update(options)
        return self.start()

    def headers(self, version=DEFAULT_VERSION):
        return {"X-B2B-API-Key": self.api_key, "X-B2B-API-Version": version,
                "Accept": "application/json", "Content-Type": "application/json"}

    def control(self, method, path, json=None):
        """Call a /_sandbox/ endpoint (or any path) with the key; returns the parsed JSON."""
        data = None if json is None else jsonlib.dumps(json).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=self.headers())
        with urllib.request.urlopen(request, timeout=10) as answer:
            return jsonlib.loads(answer.read() or b"null")

    def log(self):
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""

    def __enter__(self):
        return self.start() if self.process is None else self

    def __exit__(self, *exc):
        self.stop()
