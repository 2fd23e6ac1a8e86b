"""Supporting documents: what Chorus Pro takes in an invoice (types, names, sizes, count), and
the type each is kept and sent as. The form checks an upload with `attachment_problems`; the
service stores it with its extension's type."""

import re
from pathlib import PurePath

from django.utils.translation import gettext as _

# Chorus Pro's limits on attachments (communauté Chorus Pro, "pièces jointes : règles à
# respecter", as OCA l10n_fr_chorus_account encodes them), narrowed to the types EN 16931 lets
# the legal XML embed (BR-CL-24): each supporting document travels inside it.
ATTACHMENT_NAME_MAX = 50
ATTACHMENT_SIZE_MAX = 10 * 1024 * 1024
INVOICE_FILES_TOTAL_MAX = 120 * 1024 * 1024
ATTACHMENT_COUNT_MAX = 20  # our own bound: Chorus Pro publishes none below its 120 MB
# The type each accepted extension is kept, served and sent as: never the browser's say-so.
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}
ATTACHMENT_EXTENSIONS = frozenset(ATTACHMENT_TYPES)
_BAD_NAME_CHARACTERS = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def attachment_problems(name: str, size: int, already_attached: int = 0) -> list[str]:
    problems = []
    if len(name) > ATTACHMENT_NAME_MAX:
        problems.append(_("Nom de fichier trop long : %(length)d caractères, 50 au plus "
                          "(extension comprise).") % {"length": len(name)})
    if _BAD_NAME_CHARACTERS.search(name) or name.startswith((".", " ")) or name != name.strip():
        problems.append(_("Le nom du fichier ne peut pas contenir / \\ : * ? \" < > | ni commencer "
                          "ou finir par une espace ou un point."))
    extension = PurePath(name).suffix.lower()
    if not extension:
        problems.append(_("Le nom du fichier doit avoir une extension (.pdf, .png…)."))
    elif extension not in ATTACHMENT_EXTENSIONS:
        problems.append(_("Chorus Pro ne reçoit pas les fichiers %(extension)s dans une facture : "
                          "PDF, PNG, JPEG, CSV, XLSX ou ODS.") % {"extension": extension})
    if size <= 0:
        problems.append(_("Le fichier est vide."))
    elif size > ATTACHMENT_SIZE_MAX:
        problems.append(_("Fichier trop lourd : 10 Mo au plus."))
    elif already_attached + size > INVOICE_FILES_TOTAL_MAX:
        problems.append(_("La facture et ses pièces jointes dépasseraient 120 Mo."))
    return problems
