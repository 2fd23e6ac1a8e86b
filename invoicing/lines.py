"""The one shape of an invoice line between the layers: the form gives it, the drafts store it,
the totals and the pre-send checks read it (an `InvoiceLine` row reads the same way)."""

from dataclasses import asdict, dataclass
from decimal import Decimal

from invoicing.models import InvoiceLine


@dataclass(frozen=True)
class Line:
    """One line as typed or stored: what the invoice says, not how it is shown or sent."""

    description: str = ""
    quantity: Decimal = Decimal(0)
    unit_price: Decimal = Decimal(0)
    vat_rate: Decimal = Decimal(0)
    vat_category: str = InvoiceLine.VatCategory.STANDARD
    unit: int = 1
    exemption_code: str = ""
    exemption_reason: str = ""
    article_code: str = ""
    # On a credit note: the credited invoice's line this one credits, and whether it credits an
    # amount of it (quantity 1, the amount excluding VAT as price) rather than a quantity.
    credited_line_id: int | None = None
    credit_by_amount: bool = False

    @classmethod
    def of(cls, row: InvoiceLine) -> "Line":
        """The line a stored row holds."""
        values = {name: getattr(row, name) for name in cls.__dataclass_fields__}
        values["credit_by_amount"] = bool(values["credit_by_amount"])
        return cls(**values)

    def row(self, *, invoice, position: int) -> InvoiceLine:
        """The unsaved row of this line at `position` in `invoice`."""
        return InvoiceLine(invoice=invoice, position=position, **asdict(self))


def lines_of(invoice) -> list[Line]:
    return [Line.of(row) for row in invoice.lines.all()]
