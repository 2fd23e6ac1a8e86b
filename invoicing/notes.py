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


# The three mentions French invoices carry, each typed in a field of its own: the page never
# shows their codes, the notes keep them (BR-FR-05/06 read them there).
MENTION_FIELDS = (("penalties", "PMD"), ("recovery", "PMT"), ("discount", "AAB"))


def split(text: str) -> dict[str, str]:
    """The notes as the form shows them: each mention's text without its code, and the other
    notes (lines with another code or none) as they are."""
    fields = {name: [] for name, _code in MENTION_FIELDS}
    others = []
    by_code = {code: name for name, code in MENTION_FIELDS}
    for line in (text or "").splitlines():
        match = _MENTION.match(line)
        if match and match.group(1) in by_code:
            fields[by_code[match.group(1)]].append(line[match.end():].strip())
        elif line.strip():
            others.append(line)
    return {**{name: " ".join(lines) for name, lines in fields.items()},
            "notes": "\n".join(others)}


def compose(*, penalties: str = "", recovery: str = "", discount: str = "",
            notes: str = "") -> str:
    """The notes of the invoice: each mention typed, on one line after its code, then the
    other notes."""
    typed = {"penalties": penalties, "recovery": recovery, "discount": discount}
    lines = [f"#{code}#{' '.join(typed[name].split())}" for name, code in MENTION_FIELDS
             if typed[name].strip()]
    lines += [line for line in (notes or "").splitlines() if line.strip()]
    return "\n".join(lines)
