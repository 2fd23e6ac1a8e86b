"""The invoice's history: one small function per kind of row (the history is append-only).

Services call these, never `InvoiceEvent.objects.create` themselves; state changes are written
by `invoicing.states.invoice_transition` through `state_changed_event`.
"""

from decimal import Decimal

from invoicing.models import Invoice, InvoiceEvent

Source = InvoiceEvent.Source


def jsonable(value):
    """JSON fields store Decimals as strings: the history keeps the exact figures."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def invoice_created_event(*, invoice: Invoice, actor=None) -> InvoiceEvent:
    """The invoice is born a draft."""
    return InvoiceEvent.objects.create(invoice=invoice, kind=InvoiceEvent.Kind.STATE,
                                       source=Source.USER, actor=actor, from_state="",
                                       to_state=invoice.state, code="created")


def state_changed_event(*, invoice: Invoice, from_state: str, source: str, actor=None,
                        save: bool = True, **fields) -> InvoiceEvent:
    """The invoice moved from `from_state` to its current state (written by the state setter;
    `save=False`: the row, for the setter's batch to insert with others)."""
    if "response_body" in fields:
        fields["response_body"] = jsonable(fields["response_body"])
    event = InvoiceEvent(invoice=invoice, kind=InvoiceEvent.Kind.STATE, source=source,
                         actor=actor, from_state=from_state, to_state=invoice.state, **fields)
    if save:
        event.save()
    return event


def exchange_event(*, invoice: Invoice, method: str, path: str, status: int | None,
                   request_body=None, response_body=None, message: str = "",
                   code: str | None = None, params: dict | None = None,
                   save: bool = True) -> InvoiceEvent:
    """One exchange with B2Brouter, as the worker made it: what it did (`code`, `params`, see
    `invoicing.history`), or B2Brouter's own words (`message`). `save=False`: the row, for the
    state setter's batch to insert with the change it led to."""
    event = InvoiceEvent(
        invoice=invoice, kind=InvoiceEvent.Kind.EXCHANGE, source=Source.WORKER,
        http_method=method, http_path=path, http_status=status,
        request_body=jsonable(request_body), response_body=jsonable(response_body),
        message=message, code=code, params=jsonable(params) if params else None)
    if save:
        event.save(force_insert=True)
    return event


def user_note_event(*, invoice: Invoice, actor, code: str, **params) -> InvoiceEvent:
    """What a person did to the invoice (edited, attached a file, prepared a credit note...):
    `code` and its values (`invoicing.history`)."""
    return InvoiceEvent.objects.create(invoice=invoice, kind=InvoiceEvent.Kind.NOTE,
                                       source=Source.USER, actor=actor, code=code,
                                       params=jsonable(params) or None)


def _note_once(invoice: Invoice, code: str, **params) -> InvoiceEvent | None:
    """A worker's note, written once however often the same thing is seen again."""
    params = jsonable(params) or None
    if invoice.events.filter(kind=InvoiceEvent.Kind.NOTE, code=code, params=params).exists():
        return None
    return InvoiceEvent.objects.create(invoice=invoice, kind=InvoiceEvent.Kind.NOTE,
                                       source=Source.WORKER, code=code, params=params)


def legal_url_refused_event(*, invoice: Invoice, url: str) -> InvoiceEvent | None:
    """B2Brouter named an address for the legal XML that is not on its own host."""
    return _note_once(invoice, "legal_url_refused", url=url[:300])


def legal_xml_refused_event(*, invoice: Invoice, url: str, problems: list[str]) -> InvoiceEvent | None:
    """The file downloaded as the legal XML is not this invoice's: it was not archived."""
    return _note_once(invoice, "legal_xml_refused", url=url[:300], problems=list(problems))


def legal_xml_differs_event(*, invoice: Invoice, problems: list[str]) -> InvoiceEvent:
    """The archived legal XML says what the invoice does not."""
    return InvoiceEvent.objects.create(
        invoice=invoice, kind=InvoiceEvent.Kind.NOTE, source=Source.WORKER,
        code="legal_xml_differs", params={"problems": list(problems)})


def unknown_state_event(*, invoice: Invoice, source: str, state: str, remote_state_updated_at,
                        remote: dict) -> InvoiceEvent | None:
    """B2Brouter reported a state this product does not know: written once per report."""
    params = {"state": state}
    if invoice.events.filter(kind=InvoiceEvent.Kind.NOTE, code="unknown_state", params=params,
                             remote_state_updated_at=remote_state_updated_at).exists():
        return None
    return InvoiceEvent.objects.create(invoice=invoice, kind=InvoiceEvent.Kind.NOTE,
                                       source=source, code="unknown_state", params=params,
                                       remote_state_updated_at=remote_state_updated_at,
                                       response_body=jsonable(remote))


def remote_news_event(*, invoice: Invoice, source: str) -> InvoiceEvent:
    """B2Brouter told, in the invoice's own state, Chorus Pro's status or a reason."""
    return InvoiceEvent.objects.create(
        invoice=invoice, kind=InvoiceEvent.Kind.NOTE, source=source,
        chorus_status=invoice.chorus_status, reason=invoice.chorus_status_reason,
        code="remote_news")


def tax_report_event(*, invoice: Invoice, state: str, reason: str) -> InvoiceEvent:
    """The declaration to the tax administration moved (`invoicing.history`: tax_report_*)."""
    params = {"reason": reason or "—"} if state in ("refused", "error") else None
    return InvoiceEvent.objects.create(invoice=invoice, kind=InvoiceEvent.Kind.NOTE,
                                       source=Source.WORKER, code=f"tax_report_{state}",
                                       params=params)
