"""English is complete: every message the code and templates use has its English text, and the
catalogue is the one `makemessages` makes from today's code (nothing added since is missing)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CATALOGUE = REPO / "locale" / "en" / "LC_MESSAGES" / "django.po"
SKIP = {".venv", "var", "test-artifacts", "sandbox", "bench", "tests", ".git", "node_modules"}


def _entries(text: str) -> dict[str, list[str]]:
    """msgid -> its msgstr(s), for the catalogue's live entries (obsolete ones excluded)."""
    found = {}
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        joined = "\n".join(lines)
        ident = re.search(r'^msgid ((?:".*"\n?)+)', joined, re.M)
        if not ident:
            continue
        msgid = "".join(re.findall(r'"(.*)"', ident.group(1)))
        if not msgid:
            continue
        strings = ["".join(re.findall(r'"(.*)"', m))
                   for m in re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n?)+)', joined, re.M)]
        found[msgid] = strings if "#, fuzzy" not in block else []
    return found


def test_every_english_message_is_translated():
    entries = _entries(CATALOGUE.read_text())
    assert entries, "no catalogue"
    untranslated = sorted(msgid for msgid, strings in entries.items()
                          if not strings or not all(strings))
    assert untranslated == []


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext is not installed")
def test_the_catalogue_holds_every_message_of_the_code(tmp_path):
    """makemessages run on a copy of today's code finds no message the catalogue lacks."""
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy, ignore=lambda d, names: [n for n in names if n in SKIP
                                                         or n.endswith((".pyc", ".mo"))])
    subprocess.run([sys.executable, "manage.py", "makemessages", "-l", "en", "--no-obsolete",
                    "-i", "tests/*"], cwd=copy, check=True, capture_output=True,
                   env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
                        "DJANGO_DEBUG": "1", "VAR_DIR": str(tmp_path / "var")})
    fresh = set(_entries((copy / "locale/en/LC_MESSAGES/django.po").read_text()))
    kept = set(_entries(CATALOGUE.read_text()))
    assert sorted(fresh - kept) == [], "run `make messages` and translate what it adds"


def test_english_pages_write_dates_no_one_can_misread(client, db):
    """3 Dec 2026, never 12/03/2026; French keeps its own."""
    import datetime

    from django.utils import formats, translation

    day = datetime.date(2026, 12, 3)
    with translation.override("en"):
        assert formats.date_format(day, "SHORT_DATE_FORMAT") == "3 Dec 2026"
        assert formats.date_format(day, "DATE_FORMAT") == "3 Dec 2026"
    with translation.override("fr"):
        assert formats.date_format(day, "SHORT_DATE_FORMAT") == "03/12/2026"
