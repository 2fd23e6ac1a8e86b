"""What the product imports is what it installs: `pip install .` in a fresh virtualenv, without
the test extras (as the Dockerfile installs it), then every module of the product imported."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "core", "b2brouter", "directory", "invoicing", "finance", "sandbox")

IMPORT_ALL = r"""
import ast, importlib, importlib.util, os, pathlib, pkgutil, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
failed = []
for package in sys.argv[1:]:
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if ".migrations." in info.name:
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed.append(f"{info.name}: {type(exc).__name__}: {exc}")
# and what a function imports only when it runs (`from lxml import etree` inside a function)
for package in sys.argv[1:]:
    for path in pathlib.Path(package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     and not node.level else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.modules and importlib.util.find_spec(top) is None:
                    failed.append(f"{path}: imports {name}, which is not installed")
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_the_main_dependencies_are_enough_to_import_every_module(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(REPO)],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    env = {key: value for key, value in os.environ.items()
           if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env.update(DJANGO_DEBUG="1", VAR_DIR=str(tmp_path / "var"))
    imported = subprocess.run([str(python), "-c", IMPORT_ALL, *PACKAGES], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
    assert imported.returncode == 0, imported.stdout + imported.stderr[-3000:]
