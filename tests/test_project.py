"""The project's set-up: the deployment files point at things that exist, CI tests what it says."""

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

REPO = Path(__file__).resolve().parent.parent


def _compose_commands():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        command = service.get("command")
        if command and name not in ("db", "redis"):
            yield name, command if isinstance(command, list) else shlex.split(command)


def test_compose_has_the_production_stack_with_health_checks():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"db", "redis", "web", "worker", "beat"}
    for name, service in compose["services"].items():
        assert "healthcheck" in service, f"{name} has no health check"


@pytest.mark.parametrize(("name", "command"), list(_compose_commands()))
def test_every_compose_command_exists_in_the_project(name, command):
    text = " ".join(command)
    for target in re.findall(r"gunicorn (\S+)", text):
        module, attr = target.split(":")
        assert hasattr(importlib.import_module(module), attr), target
    for app in re.findall(r"celery -A (\S+)", text) + re.findall(r'"celery", "-A", "(\S+?)"', str(command)):
        assert hasattr(importlib.import_module(app), "celery_app"), app
    for management in re.findall(r"manage\.py (\w+)", text):
        from django.core.management import get_commands

        assert management in get_commands(), management
    if command[0] == "celery":
        assert command[1:3] == ["-A", "config"] and command[3] in ("worker", "beat")


def test_procfile_commands_exist():
    from django.core.management import get_commands

    for line in (REPO / "Procfile.dev").read_text().splitlines():
        name, command = line.split(":", 1)
        for management in re.findall(r"manage\.py (\w+)", command):
            assert management in get_commands(), f"{name}: {management}"
        for module in re.findall(r"python -m (\w+)", command):
            assert importlib.util.find_spec(module), f"{name}: {module}"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in readme
    assert re.search(r"^make test$", ci, re.M)


def test_ci_uses_the_real_services_when_it_says_so():
    """In CI (REQUIRE_SERVICES=1) the suite must not fall back to SQLite or the embedded broker."""
    if os.environ.get("REQUIRE_SERVICES") != "1":
        pytest.skip("services are required only in CI")
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")


def test_deploy_check_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "x" * 30 + "production-like-secret-key-value-1234567890",
        "DJANGO_ALLOWED_HOSTS": "factures.example.fr",
        "VAR_DIR": str(tmp_path),
    }
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_settings_refuse_to_start_without_a_secret_key_in_production(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "0", "VAR_DIR": str(tmp_path)})
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
