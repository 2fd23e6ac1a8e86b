"""`{% load payments %}{% invoice_balance invoice %}`: what an invoice asks, what its credit
notes took off, what was received and what remains, with the way to its payments."""

from django import template

from finance.services.payments import balance

register = template.Library()


@register.inclusion_tag("finance/_balance.html", takes_context=True)
def invoice_balance(context, invoice):
    shown = invoice.kind == "invoice" and bool(invoice.number)
    return {"invoice": invoice, "balance": balance(invoice) if shown else None,
            "request": context.get("request")}
