"""What the invoice views share: the roles that edit, the invoice of the request (another
account's is a 404), the account a new invoice is for, and a safe `next`."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from core.models import Account
from core.roles import ADMINS, STAFF, has_role
from core.selectors import accounts_for
from invoicing import selectors
from invoicing.models import Invoice
from invoicing.services.errors import InvoiceActionError, InvoiceGone

EDITORS = (STAFF, ADMINS)


def invoice_or_404(request: HttpRequest, pk: int) -> Invoice:
    return get_object_or_404(selectors.invoice_list(user=request.user)
                             .select_related("credited_invoice"), pk=pk)


def can_edit(user) -> bool:
    return has_role(user, *EDITORS)


def account_for(request: HttpRequest) -> Account:
    accounts = accounts_for(request.user)
    wanted = request.POST.get("account") or request.GET.get("account")
    if wanted:
        try:
            return get_object_or_404(accounts, pk=int(wanted))
        except ValueError as exc:
            raise Http404 from exc
    account = accounts.order_by("name", "pk").first()
    if account is None:
        raise Http404(_("Aucun compte ne vous est attribué."))
    return account


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    # A path of ours only: `redirect()` would try anything else as a URL name.
    if target.startswith("/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def action_refused(request: HttpRequest, exc: InvoiceActionError, invoice_pk: int) -> HttpResponse:
    """The user is told why the action did not happen (a colleague sent or deleted the draft
    meanwhile...), on the invoice's page, or on the list when the draft is no more."""
    messages.error(request, str(exc))
    if isinstance(exc, InvoiceGone):
        return redirect("invoicing:list")
    return redirect("invoicing:detail", pk=invoice_pk)
