"""Log lines about an invoice name it and its B2Brouter id (the client's lines too)."""

import logging

from core.logging import log_context

logger = logging.getLogger("invoicing.services")


def invoice_log_context(invoice):
    """Log lines written inside (the B2Brouter client's too) name the invoice and its remote id."""
    return log_context(invoice=invoice.number, remote_id=invoice.remote_id)


def log(level: int, invoice, message: str, *args) -> None:
    with invoice_log_context(invoice):
        logger.log(level, message, *args)
