"""Bank statements as the bank's own CSV: its columns mapped once per account, then read as
the camt.053 ones are (`finance.statements.Credit`), proposed, confirmed by a person.

A bank's export is a spreadsheet's CSV: `;` or `,` or tab between cells, a few lines about the
account before the header, French numbers (1 234,56) and dates (31/12/2026), Windows-1252 as
often as UTF-8, the amount signed or split into a debit and a credit column. The person says
once which column holds what (`BankCsvLayout`, kept on the account); a file whose header still
has those columns is read with it at once.

A line's key is the bank's reference when a column holds one, else a digest of its date, amount,
label and rank among identical lines of the file: the same file dropped twice gives the same
keys, so nothing is recorded twice (`statements.payment_key`).
"""

import csv
import datetime
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from finance.statements import Credit, UnreadableStatement

DATE_FORMATS = {
    "dmy": ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y"),
    "ymd": ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"),
    "mdy": ("%m/%d/%Y", "%m/%d/%y"),
}
ROLES = ("date", "amount", "credit", "label", "reference", "payer")
# Header words that say what a column holds, for the first guess (lower case, no accents).
GUESSES = {
    "date": ("date operation", "date de l'operation", "date comptable", "date", "booking date"),
    "amount": ("montant", "montant eur", "amount"),
    "credit": ("credit", "credit eur", "credits"),
    "label": ("libelle", "libelle operation", "libelle de l'operation", "description", "detail"),
    "reference": ("reference", "ref", "reference banque", "reference de l'operation"),
    "payer": ("tiers", "emetteur", "donneur d'ordre", "contrepartie", "payer"),
}


@dataclass
class Table:
    """The file's header and rows (cells as text), from its header line on."""

    header: list[str]
    rows: list[list[str]]
    line_numbers: list[int]  # each row's line in the file (1 for the first)
    delimiter: str


def _plain(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip().lower()


def decode(data: bytes) -> str:
    """The file as text: UTF-8 (with or without its mark), else Windows-1252."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def read_table(data: bytes) -> Table:
    """The CSV's header and rows. The header is the first line with as many cells as most lines
    and about as many filled (a bank writes a few lines about the account first). Raises
    UnreadableStatement."""
    text = decode(data)
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise UnreadableStatement("empty")
    delimiter = max(";,\t|", key=lambda d: sum(line.count(d) for line in lines[:50]))
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    widths = Counter(len(row) for row in rows if len(row) > 1)
    if not widths:
        raise UnreadableStatement("one column")
    width = widths.most_common(1)[0][0]
    # Lines about the account may be padded to the same width: the header is the first line
    # about as full as the fullest lines near the top.
    def filled(row):
        return sum(1 for cell in row if cell.strip())

    fullest = max(filled(row) for row in rows[:30])
    start = next(index for index, row in enumerate(rows)
                 if len(row) == width and filled(row) >= max(2, fullest - 1))
    header = [cell.strip() for cell in rows[start]]
    body = [(start + 2 + offset, [cell.strip() for cell in row])
            for offset, row in enumerate(rows[start + 1:])
            if len(row) == width and any(cell.strip() for cell in row)]
    return Table(header=header, rows=[row for _n, row in body],
                 line_numbers=[n for n, _row in body], delimiter=delimiter)


def guess(header: list[str]) -> dict[str, str]:
    """The first guess of which column holds what: a header word the banks use."""
    plain = {_plain(name): name for name in header}
    found = {}
    for role, words in GUESSES.items():
        for word in words:
            if word in plain and plain[word] not in found.values():
                found[role] = plain[word]
                break
    if "credit" in found and "amount" in found:
        del found["amount"]  # split columns say more than a total
    return found


def parse_amount(text: str, *, decimal_comma: bool) -> Decimal | None:
    """'1 234,56', '-1.234,56', '+1234.56 €', '(12,00)' as Decimal; '' as None; raises
    ValueError for text that is not an amount."""
    cleaned = re.sub(r"[\s\u00a0\u202f€]|EUR", "", text or "", flags=re.IGNORECASE)
    if not cleaned:
        return None
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    cleaned = cleaned.strip("()")
    if decimal_comma:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    if not re.fullmatch(r"[+-]?\d+(\.\d{1,2})?", cleaned):
        raise ValueError(text)
    value = Decimal(cleaned)
    return -value if negative else value


def parse_date(text: str, order: str) -> datetime.date:
    for pattern in DATE_FORMATS[order]:
        try:
            return datetime.datetime.strptime(text.strip()[:10], pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


class LayoutProblems(Exception):
    """The columns as mapped do not read this file; `problems` by field of the mapping form."""

    def __init__(self, problems: dict[str, list[str]]):
        super().__init__("; ".join(m for ms in problems.values() for m in ms))
        self.problems = problems


def credits_of(table: Table, layout: dict) -> list[Credit]:
    """The credits (money in) of the file read with `layout` ({role: column name, 'dates':
    'dmy'|'ymd'|'mdy', 'decimal_comma': bool}). Raises LayoutProblems naming the first line
    that does not read, beside the choice to change."""
    index = {name: position for position, name in enumerate(table.header)}
    problems: dict[str, list[str]] = {}
    for role in ROLES:
        if layout.get(role) and layout[role] not in index:
            problems.setdefault(role, []).append(
                _("Ce fichier n'a pas de colonne « %(name)s ».") % {"name": layout[role]})
    if not layout.get("date"):
        problems.setdefault("date", []).append(_("Choisissez la colonne de la date."))
    if not layout.get("amount") and not layout.get("credit"):
        problems.setdefault("amount", []).append(
            _("Choisissez la colonne du montant, ou celle des crédits."))
    if problems:
        raise LayoutProblems(problems)

    def cell(row, role):
        return row[index[layout[role]]] if layout.get(role) else ""

    credits, seen = [], Counter()
    for number, row in zip(table.line_numbers, table.rows, strict=True):
        try:
            booked = parse_date(cell(row, "date"), layout.get("dates", "dmy"))
        except ValueError:
            raise LayoutProblems({"dates": [
                _("Ligne %(line)s : « %(text)s » n'est pas une date de ce format.")
                % {"line": number, "text": cell(row, "date")[:30]}]}) from None
        try:
            if layout.get("credit"):
                amount = parse_amount(cell(row, "credit"), decimal_comma=layout["decimal_comma"])
                if amount is not None and amount < 0:
                    amount = None  # a bank writing debits signed in the credit column
            else:
                amount = parse_amount(cell(row, "amount"), decimal_comma=layout["decimal_comma"])
        except ValueError:
            role = "credit" if layout.get("credit") else "amount"
            raise LayoutProblems({"decimal_comma": [
                _("Ligne %(line)s : « %(text)s » n'est pas un montant de ce format.")
                % {"line": number, "text": cell(row, role)[:30]}]}) from None
        if amount is None or amount <= 0:
            continue  # a debit, or nothing
        label = cell(row, "label")[:280]
        reference = cell(row, "reference")
        if not reference:
            identical = (booked.isoformat(), str(amount), label)
            seen[identical] += 1
            reference = hashlib.sha256("|".join((*identical, str(seen[identical])))
                                       .encode()).hexdigest()[:32]
        credits.append(Credit(reference=reference[:35], booked_on=booked, amount=amount,
                              debtor=cell(row, "payer")[:140], remittance=label))
    return credits


def layout_fits(table: Table, layout: dict | None) -> bool:
    """A layout kept for the account reads this file: its columns are all in the header."""
    if not layout:
        return False
    names = set(table.header)
    return all(layout.get(role) in names for role in ROLES if layout.get(role))


MAX_BYTES = 1_500_000  # a month of a busy account's statement is a few hundred KB


def layout_of(account) -> dict | None:
    from finance.models import BankCsvLayout

    kept = BankCsvLayout.objects.filter(account=account).first()
    return kept.as_layout() if kept else None


def layout_save(*, account, layout: dict, user=None) -> None:
    """Keeps the columns as said for the account's next statements."""
    from finance.models import BankCsvLayout

    BankCsvLayout.objects.update_or_create(account=account, defaults={
        "date_column": layout["date"], "amount_column": layout.get("amount") or "",
        "credit_column": layout.get("credit") or "", "label_column": layout.get("label") or "",
        "reference_column": layout.get("reference") or "",
        "payer_column": layout.get("payer") or "", "dates": layout.get("dates", "dmy"),
        "decimal_comma": bool(layout.get("decimal_comma")), "updated_by": user})


def guess_layout(table: Table) -> dict:
    """The mapping form's first values: the columns guessed from the header, the formats from
    the first rows (a comma before two final digits: decimal comma; 2026-12-31: ymd)."""
    layout = {"dates": "dmy", "decimal_comma": True, **guess(table.header)}
    index = {name: position for position, name in enumerate(table.header)}
    sample = table.rows[:20]
    if layout.get("date") in index:
        dates = [row[index[layout["date"]]] for row in sample]
        if dates and all(re.match(r"\d{4}[-/]?\d{2}", d) for d in dates if d):
            layout["dates"] = "ymd"
    money = layout.get("credit") or layout.get("amount")
    if money in index:
        amounts = [row[index[money]] for row in sample if row[index[money]]]
        if amounts and all(re.search(r"\.\d{1,2}$", a.strip()) for a in amounts):
            layout["decimal_comma"] = False
    return layout
