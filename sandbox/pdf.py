"""The invoice's PDF, as B2Brouter renders one (`/invoices/{id}/as/pdf.invoice`): a real PDF
1.4 document, A4, written with the standard library (Helvetica, WinAnsi encoding), with the
number, the parties, the lines, the VAT breakdown and the totals."""

from decimal import Decimal

WIDTH, HEIGHT = 595, 842  # A4 in points
MARGIN = 50
LINE = 14


def _money(value) -> str:
    text = f"{Decimal(value):,.2f}".replace(",", " ").replace(".", ",")
    return f"{text} EUR"


def _number(value) -> str:
    return format(Decimal(value).normalize(), "f").replace(".", ",")


def _escape(text: str) -> bytes:
    raw = str(text).encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


class _Pages:
    """Lays text out top-down on as many pages as it needs."""

    def __init__(self):
        self.pages: list[list[bytes]] = []
        self._new_page()

    def _new_page(self):
        self.pages.append([])
        self.y = HEIGHT - MARGIN

    def text(self, x: float, value: str, *, bold: bool = False, size: int = 10) -> None:
        font = b"/F2" if bold else b"/F1"
        self.pages[-1].append(b"BT %s %d Tf %.1f %.1f Td (%s) Tj ET" % (
            font, size, x, self.y, _escape(value)))

    def row(self, *cells: tuple[float, str], bold: bool = False, size: int = 10) -> None:
        if self.y < MARGIN + LINE:
            self._new_page()
        for x, value in cells:
            self.text(x, value, bold=bold, size=size)
        self.y -= LINE + (size - 10)

    def gap(self, lines: float = 1) -> None:
        self.y -= LINE * lines


def _document(pages: list[list[bytes]], title: str) -> bytes:
    """The PDF file: catalog, page tree, two fonts, a page and a content stream per page."""
    objects: list[bytes] = []
    count = len(pages)
    kids = b" ".join(b"%d 0 R" % (5 + 2 * i) for i in range(count))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count))
    for name in (b"Helvetica", b"Helvetica-Bold"):
        objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /%s "
                       b"/Encoding /WinAnsiEncoding >>" % name)
    for index, content in enumerate(pages):
        stream = b"\n".join(content)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
                       b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>"
                       % (WIDTH, HEIGHT, 6 + 2 * index))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Title (%s) /Producer (B2Brouter sandbox) >>" % _escape(title))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, len(objects), xref))
    return bytes(out)


def _party(pages: _Pages, heading: str, who: dict, extra: list[str]) -> None:
    pages.row((MARGIN, heading), bold=True)
    pages.row((MARGIN, who.get("name") or ""))
    if who.get("address"):
        pages.row((MARGIN, who["address"]))
    place = " ".join(p for p in (who.get("postalcode"), who.get("city")) if p)
    if place:
        pages.row((MARGIN, place))
    for line in extra:
        pages.row((MARGIN, line))
    pages.gap(0.5)


def invoice_pdf(invoice: dict, account: dict, buyer: dict) -> bytes:
    """The PDF of a stored invoice (with its lines): `account` is the seller, `buyer` the
    invoiced entity (a unit's parent's identity)."""
    credit = bool(invoice.get("is_credit_note"))
    kind = "AVOIR" if credit else "FACTURE"
    pages = _Pages()
    pages.row((MARGIN, f"{kind} N° {invoice['number']}"), bold=True, size=16)
    pages.gap(0.5)
    dates = f"Date : {invoice['date']}"
    if invoice.get("due_date"):
        dates += f"    Échéance : {invoice['due_date']}"
    pages.row((MARGIN, dates))
    if invoice.get("amended_number"):
        pages.row((MARGIN, f"Avoir sur la facture {invoice['amended_number']}"))
    pages.gap()
    _party(pages, "Vendeur", account, [
        *([f"SIRET : {account['cin_value']}"] if account.get("cin_value") else []),
        *([f"TVA : {account['tin_value']}"] if account.get("tin_value") else [])])
    _party(pages, "Acheteur", buyer, [
        *([f"SIRET : {buyer['cin_value']}"] if buyer.get("cin_value") else []),
        *([f"Service : {invoice['buyer_reference']}"] if invoice.get("buyer_reference") else []),
        *([f"N° d'engagement : {invoice['ponumber']}"] if invoice.get("ponumber") else [])])
    pages.row((MARGIN, "Désignation"), (330, "Quantité"), (400, "Prix HT"), (470, "TVA"),
              (505, "Total HT"), bold=True)
    for line in invoice["lines"]:
        taxes = ", ".join(f"{_number(t['percent'])} %" for t in line["taxes"])
        pages.row((MARGIN, str(line["description"])[:55]), (330, _number(line["quantity"])),
                  (400, _number(line["price"])), (470, taxes), (505, _money(line["total_cost"])))
    pages.gap()
    pages.row((MARGIN, "TVA"), (250, "Base HT"), (400, "Montant"), bold=True)
    for group in invoice["taxes"]:
        pages.row((MARGIN, f"{group['category']} {_number(group['percent'])} %"),
                  (250, _money(group["base"])), (400, _money(group["amount"])))
    pages.gap()
    pages.row((330, "Total HT"), (450, _money(invoice["subtotal"])), bold=True)
    pages.row((330, "TVA"), (450, _money(invoice["tax_amount"])), bold=True)
    pages.row((330, "Total TTC"), (450, _money(invoice["total"])), bold=True)
    pages.row((330, "Net à payer"), (450, _money(invoice["payable_amount"])), bold=True)
    iban = (invoice.get("bank_account") or {}).get("iban")
    if iban:
        pages.gap()
        pages.row((MARGIN, f"Paiement par virement : IBAN {iban}"))
    return _document(pages.pages, f"{kind} {invoice['number']}")
