"""The notes of an invoice (its legal mentions), one per line, each starting with the code EN
16931 expects in France (BR-FR: #PMD#, #PMT#, #AAB#...), read for a page: the code in words."""

import re

from django.utils.translation import gettext_lazy as _

MENTION_LABELS = {"PMD": _("Pénalités de retard"), "PMT": _("Indemnité forfaitaire de recouvrement"),
                  "AAB": _("Escompte"), "AAI": _("Information générale"),
                  "SUR": _("Remarque du fournisseur")}
_MENTION = re.compile(r"^#([A-Z]{3})#\s*")


def mentions(text: str) -> list[dict]:
    """One entry per non-empty line: its code (kept for a title), the code in words when known,
    and the text without the code."""
    found = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        match = _MENTION.match(line)
        code = match.group(1) if match else ""
        label = MENTION_LABELS.get(code, "")
        found.append({"code": code, "label": str(label) if label else "",
                      "text": line[match.end():] if match else line})
    return found
