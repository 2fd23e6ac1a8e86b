"""Reads for finance's pages: the archive, the worklist, the ageing, the news since a visit."""

from invoicing.models import InvoiceEvent, LegalDocument
from invoicing.models import InvoiceState as S
from invoicing.selectors import account_ids, invoice_list


def legal_documents(*, user, filters: dict):
    """Archived legal XML the user may see, filtered by issue-date period, buyer and state.
    The XML bytes are deferred: lists never load them."""
    documents = LegalDocument.objects.filter(account_id__in=account_ids(user))
    if filters.get("date_from"):
        documents = documents.filter(invoice__issue_date__gte=filters["date_from"])
    if filters.get("date_to"):
        documents = documents.filter(invoice__issue_date__lte=filters["date_to"])
    if filters.get("buyer"):
        documents = documents.filter(invoice__buyer=filters["buyer"])
    if filters.get("state"):
        documents = documents.filter(invoice__state=filters["state"])
    # Newest archived first: the primary key's order, which needs no sort however large.
    return documents.select_related("invoice", "invoice__buyer").defer("content").order_by("-pk")


def worklist(*, user):
    """Invoices waiting on us: refused (routing return, suspended or rejected), deposit errors,
    and invoices B2Brouter refused to take."""
    return invoice_list(user=user).filter(state__in=[S.REFUSED, S.ERROR, S.FAILED]).order_by(
        "-state_updated_at", "-id")


def ageing(*, user, no_news_since):
    """Invoices at Chorus Pro with no news since `no_news_since`, oldest first; and apart, those
    whose buyer never reports payment (accepted is as far as they will go)."""
    waiting = invoice_list(user=user).filter(
        state__in=[S.SENDING, S.SENT, S.REGISTERED, S.ACCEPTED], state_updated_at__lt=no_news_since)
    silent = waiting.filter(state=S.ACCEPTED, buyer__payment_status_not_reported=True)
    return (waiting.exclude(pk__in=silent.values("pk")).order_by("state_updated_at"),
            silent.order_by("state_updated_at"))


def changes_since(*, user, since, limit: int = 20, window: int = 2000):
    """State changes of the user's invoices since their last visit, newest first.

    Reads at most the `window` newest state changes (by id: no sort of the whole history), then
    keeps the user's: constant work however long the history.
    """
    candidates = InvoiceEvent.objects.filter(kind=InvoiceEvent.Kind.STATE)
    if since:
        candidates = candidates.filter(created_at__gt=since)
    newest = list(candidates.order_by("-id").values_list("id", flat=True)[:window])
    if not newest:
        return []
    return (InvoiceEvent.objects.filter(id__in=newest, invoice__account_id__in=account_ids(user))
            .select_related("invoice").order_by("-id")[:limit])
