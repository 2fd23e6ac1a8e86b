"""Supporting documents: what Chorus Pro takes in an invoice (types, names, sizes, count), and
the type each is kept and sent as. The form checks an upload with `attachment_problems`; the
service stores it with its extension's type."""

import io
import re
import zipfile
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


def _is_image(data: bytes, kind: str) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != kind:
                return False
            image.verify()  # the whole file is read: a truncated or forged one fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    return True


def _is_office(data: bytes, extension: str) -> bool:
    """An XLSX is an OOXML package with a workbook; an ODS an OpenDocument package whose first
    entry says it is a spreadsheet."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = set(package.namelist())
            if extension == ".xlsx":
                return "[Content_Types].xml" in names and "xl/workbook.xml" in names
            return package.read("mimetype").strip() == ATTACHMENT_TYPES[".ods"].encode()
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return False


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    for encoding in ("utf-8-sig", "cp1252"):  # what spreadsheets write CSV in
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False


def content_problems(name: str, data: bytes) -> list[str]:
    """Why the file is not what its name says (empty when it is): a PDF starts like a PDF, an
    image decodes as that image, an office file is the package it claims to be, a CSV is text.
    Chorus Pro would refuse the invoice for a document it cannot open."""
    extension = PurePath(name).suffix.lower()
    ok = {
        ".pdf": lambda: data.startswith(b"%PDF-"),
        ".png": lambda: _is_image(data, "PNG"),
        ".jpg": lambda: _is_image(data, "JPEG"),
        ".jpeg": lambda: _is_image(data, "JPEG"),
        ".xlsx": lambda: _is_office(data, ".xlsx"),
        ".ods": lambda: _is_office(data, ".ods"),
        ".csv": lambda: _is_text(data),
    }.get(extension)
    if ok is None or ok():
        return []
    return [_("Ce fichier n'est pas un %(kind)s, malgré son nom : choisissez le bon fichier, ou "
              "enregistrez-le au bon format.") % {"kind": KIND_NAMES[extension]}]


KIND_NAMES = {".pdf": "PDF", ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG",
              ".xlsx": "XLSX", ".ods": "ODS", ".csv": "CSV"}
