"""What the invoicing services raise: for the user to read, or for a task to retry."""

import b2brouter


class InvoiceActionError(Exception):
    """The invoice's state does not allow the action asked for."""


class InvoiceGone(InvoiceActionError):
    """The draft was deleted meanwhile (by a colleague, or in another tab)."""

    def __init__(self):
        from django.utils.translation import gettext as _

        super().__init__(_("Ce brouillon n'existe plus : il a été supprimé entre-temps. Rien n'a "
                           "été enregistré ni envoyé."))


def locked_invoice(queryset, invoice_id: int):
    """The invoice row, locked (`queryset` is a select_for_update); InvoiceGone when a
    colleague deleted the draft between the page and this."""
    invoice = queryset.filter(pk=invoice_id).first()
    if invoice is None:
        raise InvoiceGone
    return invoice


class InvoiceCheckFailed(InvoiceActionError):
    """The pre-send checks refuse the invoice: `problems` maps each field to its messages (the
    form's field names, `lines-<i>-<field>`, `__all__`), the same messages wherever it is sent
    from (the form, a bulk send, a command, a task)."""

    def __init__(self, number: str, problems: dict[str, list[str]]):
        self.problems = problems
        self.messages = [message for messages in problems.values() for message in messages]
        super().__init__(f"{number} : " + " ; ".join(self.messages))


class PdfNotReady(b2brouter.TransientError):
    """B2Brouter has not made the invoice's PDF yet (it does so asynchronously): try later."""
