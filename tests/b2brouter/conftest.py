"""Fixtures for the B2Brouter client's unit tests (no Django, no database, no network)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
# pytest-django puts the project root on sys.path; without it (-p no:django) do it here so that
# these Django-free tests import `b2brouter` either way
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# the seed guide lives next to the repository: <repo>/../shared/reference/
GUIDE_PATH = REPO_ROOT.parent / "shared" / "reference" / "seed-b2brouter-chorus-guide.txt"
# a copy of the guide's four --data bodies, for a clone without ../shared (kept in sync by a test)
GUIDE_COPY_PATH = HERE / "guide_bodies.json"
GUIDE_BODY_NAMES = ("account", "contact", "org_unit", "invoice")


def _parse_guide(text: str) -> dict[str, Any]:
    """The JSON of each ``--data '...'`` in the guide, in order: account, contact, unit, invoice."""
    bodies = [json.loads(raw) for raw in re.findall(r"--data '(.*?)'", text, re.S)]
    assert len(bodies) == len(GUIDE_BODY_NAMES), "the guide's examples changed"
    return dict(zip(GUIDE_BODY_NAMES, bodies, strict=True))


@pytest.fixture(scope="session")
def guide_from_text() -> dict[str, Any] | None:
    """The bodies parsed from the guide itself, or None when the guide is not next to the clone."""
    if not GUIDE_PATH.exists():
        return None
    return _parse_guide(GUIDE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def guide_copy() -> dict[str, Any]:
    return json.loads(GUIDE_COPY_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def guide_bodies(
    guide_from_text: dict[str, Any] | None, guide_copy: dict[str, Any]
) -> dict[str, Any]:
    """The guide's request bodies, from the guide itself when it is present."""
    return guide_from_text if guide_from_text is not None else guide_copy
