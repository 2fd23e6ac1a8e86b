"""`{% load payments %}{% invoice_balance invoice %}`: what an invoice asks, what its credit
notes took off, what was received and what remains, with the way to its payments."""

from django import template

from finance.services.payments import balance

register = template.Library()


@register.inclusion_tag("finance/_balance.html", takes_context=True)
def invoice_balance(context, invoice):
    from invoicing.models import NOT_OWED

    # Not on a draft, nor on an invoice never deposited or cancelled: nothing is owed on them.
    shown = (invoice.kind == "invoice" and bool(invoice.number)
             and invoice.state not in NOT_OWED)
    return {"invoice": invoice, "balance": balance(invoice) if shown else None,
            "request": context.get("request")}


@register.inclusion_tag("finance/_figures.html", takes_context=True)
def money_figures(context):
    """The dashboard's money figures and their 12-month chart (server-drawn SVG)."""
    from django.utils import timezone

    from core.selectors import account_ids
    from directory.models import Buyer
    from finance.selectors import money_panel

    request = context.get("request")
    # The buyers the user may see, to show one's figures on demand (the first 500 by name).
    buyers = (Buyer.objects.filter(account_id__in=account_ids(request.user))
              .order_by("name").only("pk", "name")[:500])
    return {**money_panel(user=request.user, today=timezone.localdate()), "request": request,
            "buyers": buyers}
