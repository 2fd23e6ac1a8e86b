"""Invoices: validation, calculation, the resource, and its create/read/list/update/send/ack.

Validation collects every field error into one 422 and stores nothing on failure. Chorus Pro
routing rules come from the buyer entity's directory entry (contract: "Chorus rules").
"""

import datetime as dt
import re
import time
from decimal import Decimal, InvalidOperation
from urllib.parse import quote, unquote

from stdnum import iban as iban_check

from sandbox import calc, dgfip, lifecycle, parties, pdf
from sandbox.common import blank, listing, page, root_object, to_int, truthy
from sandbox.errors import ApiError, FieldErrors, bad_request, conflict, not_found
from sandbox.jsonutil import now_iso, parse_instant
from sandbox.resources import account_or_404

NUMBER_RE = re.compile(r"[A-Za-z0-9\-+_/]+( [A-Za-z0-9\-+_/]+)*")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
CATEGORIES = ("S", "AA", "AAA", "Z", "E", "AE", "K", "G", "O")
ZERO_RATED = ("Z", "E", "AE", "K", "G", "O")
TEXT_FIELDS = ("terms", "payment_method", "payment_terms", "remittance_information",
               "payment_method_text", "ponumber", "buyer_reference",
               "contract_reference", "extra_info", "notes", "amended_number", "amended_date",
               "amended_reason")
EDITABLE = ("new", "error")
# Fields the sandbox takes beyond what B2Brouter documents; ignored in documented-only mode.
UNDOCUMENTED_INPUT = ("contract_reference", "billing_framework")
# The invoice resource as documented (FR guide, DEV-RECV, DEV-DL, REF-GET): what a
# documented-only sandbox shows. Without chorus_status, chorus_status_reason, refuse_code...
DOCUMENTED_FIELDS = frozenset({
    "id", "type", "number", "series_code", "state", "date", "due_date", "subtotal", "taxes",
    "total", "currency", "remittance_information", "payment_method_text", "payment_terms",
    "extra_info", "file_reference", "document_type_code", "transport_type_code",
    "tax_report_ids", "errors", "download_legal_url", "contact", "created_at", "updated_at",
    "state_updated_at", "ack_at", "public_url", "payable_amount", "refuse_reason", "lines",
    "notes", "terms", "is_credit_note", "amended_number", "amended_date", "amended_reason",
    "ponumber", "buyer_reference", "bank_account", "payment_method", "attachments",
})
# The French "franchise en base" (art. 293 B du CGI) exemption code.
FRANCHISE = "VATEX-FR-FRANCHISE"

# What a documented attachment shows: its link (DEV-DL).
DOCUMENTED_ATTACHMENT_FIELDS = ("link",)
ATTACHMENT_MAX = 10 * 1024 * 1024
MIME_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg",
              ".jpeg": "image/jpeg", ".csv": "text/csv",
              ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              ".ods": "application/vnd.oasis.opendocument.spreadsheet"}


# -- field parsing ---------------------------------------------------------------------------
def _decimal(value):
    """A JSON number (or numeric string) as a finite Decimal; None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _date(data, field, label, errors, required=True):
    value = data.get(field)
    if blank(value):
        if required:
            errors.blank(field, label)
        return None
    if not isinstance(value, str) or not DATE_RE.fullmatch(value):
        errors.add(field, "parameter_invalid", f"{label} is not a valid date (YYYY-MM-DD)")
        return None
    try:
        time.strptime(value, "%Y-%m-%d")
    except ValueError:
        errors.add(field, "parameter_invalid", f"{label} is not a valid date (YYYY-MM-DD)")
        return None
    return value


def _number(data, errors):
    number = data.get("number")
    if blank(number):
        errors.blank("number", "Number")
        return None
    number = str(number)
    if len(number) > 20 or not NUMBER_RE.fullmatch(number):
        errors.add("number", "parameter_invalid",
                   "Number must have at most 20 characters among A-Z a-z 0-9 space - + _ /, "
                   "with no leading, trailing or double spaces")
    return number


def _tax(tax, where, errors):
    """One cleaned tax, or None (errors recorded)."""
    if not isinstance(tax, dict) or blank(tax.get("name")) or blank(tax.get("percent")):
        errors.add(where, "parameter_blank", "Each tax needs a name and a percent")
        return None
    percent = _decimal(tax["percent"])
    category = str(tax.get("category") or "S").upper()
    if category not in CATEGORIES:
        errors.add(where, "parameter_inclusion", f"Tax category {category} is not supported")
        return None
    if percent is None or percent < 0:
        errors.add(where, "parameter_invalid", "Tax percent must be a number >= 0")
        return None
    if (category in ZERO_RATED) != (percent == 0):
        errors.add(where, "parameter_invalid",
                   f"Tax category {category} does not allow a {percent}% rate")
        return None
    comment = None if blank(tax.get("comment")) else str(tax["comment"]).strip()
    if category == "E" and comment == FRANCHISE:
        # B2Brouter's French guide: an E line with this code is transcoded to Z.
        category, comment = "Z", None
    return {"name": str(tax["name"]), "category": category, "percent": calc.percent_repr(percent),
            "comment": comment}


def _line(line, index, errors):
    """One cleaned line (without id and total), or None (errors recorded)."""
    where = f"invoice_lines_attributes[{index}]"
    if not isinstance(line, dict):
        errors.add(where, "parameter_invalid", "Each line must be an object")
        return None
    clean = {"description": line.get("description"), "unit": line.get("unit"),
             "article_code": line.get("article_code"), "position": line.get("position") or index + 1}
    ok = True
    if blank(clean["description"]):
        errors.add(f"{where}.description", "parameter_blank", "Description can't be blank")
        ok = False
    for field in ("quantity", "price"):
        if blank(line.get(field)):
            errors.add(f"{where}.{field}", "parameter_blank", f"{field.title()} can't be blank")
            ok = False
            continue
        value = _decimal(line[field])
        if value is None or value < 0:
            errors.add(f"{where}.{field}", "parameter_invalid",
                       f"{field.title()} must be a number >= 0")
            ok = False
        clean[field] = value
    taxes = line.get("taxes_attributes")
    if not isinstance(taxes, list) or not taxes:
        errors.add(f"{where}.taxes_attributes", "parameter_blank", "Each line needs at least one tax")
        return None
    clean["taxes"] = [_tax(t, f"{where}.taxes_attributes", errors) for t in taxes]
    return clean if ok and None not in clean["taxes"] else None


def _lines(data, errors):
    lines = data.get("invoice_lines_attributes")
    if not isinstance(lines, list) or not lines:
        errors.add("invoice_lines_attributes", "parameter_blank",
                   "Invoice lines can't be blank (at least one line is needed)")
        return None
    cleaned = [_line(line, i, errors) for i, line in enumerate(lines)]
    return None if None in cleaned else cleaned


def _bank_account(data, errors):
    account = data.get("bank_account")
    if blank(account):
        return None
    if not isinstance(account, dict) or blank(account.get("iban")):
        errors.add("bank_account.iban", "parameter_blank", "Bank account iban can't be blank")
        return None
    value = iban_check.compact(str(account["iban"]))
    if not iban_check.is_valid(value):
        errors.add("bank_account.iban", "parameter_invalid", f"{value} is not a valid IBAN")
    return {"type": account.get("type") or "iban", "iban": value}


# -- validation ------------------------------------------------------------------------------
def validate(db, account, data, invoice_id=None, documented_only=False):
    """The cleaned invoice fields of a create/update body, or a 422 listing every error.

    `documented_only`: undocumented fields are ignored, and the Chorus Pro routing rules are
    not a 422 (a documented B2Brouter learns of them from Chorus Pro: the deposit fails).
    """
    errors = FieldErrors()
    if documented_only:
        data = {k: v for k, v in data.items() if k not in UNDOCUMENTED_INPUT}
    if data.get("type", "IssuedInvoice") != "IssuedInvoice":
        errors.add("type", "parameter_inclusion", "Only IssuedInvoice is supported")
    clean = {"number": _number(data, errors),
             "date": _date(data, "date", "Date", errors),
             "due_date": _date(data, "due_date", "Due date", errors)}
    if clean["date"] and clean["due_date"] and clean["due_date"] < clean["date"]:
        errors.add("due_date", "parameter_invalid", "Due date must be on or after the date")
    clean["lines"] = _lines(data, errors)
    clean["bank_account"] = _bank_account(data, errors)
    for field in TEXT_FIELDS:
        clean[field] = None if blank(data.get(field)) else data[field]
    clean["currency"] = str(data.get("currency") or account.get("currency") or "EUR").upper()
    clean["is_credit_note"] = bool(data.get("is_credit_note"))
    clean["billing_framework"] = data.get("billing_framework") or None
    if clean["billing_framework"] not in (None, "A1", "A2"):
        errors.add("billing_framework", "parameter_inclusion", "Billing framework must be A1 or A2")
    clean["contact"] = _contact(db, account, data, errors)
    if clean["contact"] is not None:
        dgfip.invoice_errors(db, account, parties.effective_contact(db, clean["contact"]), data,
                             errors)
    if clean["contact"] is not None and not documented_only:
        entry = parties.chorus_entry(parties.effective_contact(db, clean["contact"]))
        if entry is not None:
            parties.chorus_rules(entry, clean, errors)
    if clean["number"] and db.number_taken(account["id"], clean["number"], invoice_id):
        errors.add("number", "parameter_taken", "Number has already been taken")
    errors.raise_if_any()
    return clean


def _contact(db, account, data, errors):
    if blank(data.get("contact_id")):
        errors.blank("contact_id", "Contact")
        return None
    try:
        contact = db.contact(int(data["contact_id"]))
    except (TypeError, ValueError):
        contact = None
    if contact is None or contact["account_id"] != account["id"]:
        errors.add("contact_id", "parameter_inclusion", "Contact is not a contact of this account")
        return None
    return contact


def transmission_errors(lines):
    """Errors that let an invoice be created but never transmitted (category E needs a reason)."""
    return [
        {"error": f"Line {i}: tax category E needs an exemption reason (comment)",
         "error_code": "tax_exemption_reason_missing"}
        for i, line in enumerate(lines, start=1)
        if any(t["category"] == "E" and not t["comment"] for t in line["taxes"])
    ]


# -- the resource ----------------------------------------------------------------------------
def _fill(db, invoice, clean):
    """Copy cleaned fields into the stored invoice and recompute lines, totals and errors."""
    contact = clean.pop("contact")
    effective = parties.effective_contact(db, contact)
    lines = []
    for line in clean.pop("lines"):
        line = {"id": db.new_id(), **line}
        line["total_cost"] = calc.line_total(line["quantity"], line["price"])
        lines.append(line)
    invoice.update(clean)
    invoice.update(calc.totals(lines, clean["billing_framework"]))
    invoice.update(
        lines=lines, contact_id=contact["id"],
        contact={"id": contact["id"], "name": contact["name"], "cin_value": effective.get("cin_value")},
        errors=transmission_errors(lines), updated_at=now_iso(),
    )


def render(invoice, with_lines=False, documented_only=False, opaque_links=False):
    """The API representation: private keys (leading _) dropped, lines only when asked; in
    documented-only mode, the documented fields alone."""
    shown = {k: v for k, v in invoice.items() if not k.startswith("_") and k != "lines"
             and (not documented_only or k in DOCUMENTED_FIELDS)}
    shown["attachments"] = [
        {k: v for k, v in _attachment(item, opaque_links).items()
         if not documented_only or k in DOCUMENTED_ATTACHMENT_FIELDS}
        for item in invoice.get("attachments") or []]
    if with_lines:
        shown["lines"] = invoice["lines"]
    return {"invoice": shown}


def _attachment(item, opaque_links):
    if not opaque_links:
        return item
    return {**item, "link": f"/attachments/download/{item['id']}"}


def _render(req, invoice, with_lines=False):
    return render(invoice, with_lines, req.app.settings.documented_only,
                  req.app.faults.opaque_links)


def invoice_or_404(db, ident):
    invoice = db.invoice(to_int(ident, "invoice"))
    if invoice is None:
        raise not_found("invoice", ident)
    return invoice


def _send(app, db, invoice):
    """Queue an invoice for deposit (state sending): a new send clears the previous refusal, and
    the acknowledgement, as a new legal XML will follow."""
    invoice["_sends"] += 1
    invoice["ack_at"] = None
    if not invoice.get("tax_report_ids"):
        contact = db.contact(invoice["contact_id"])
        effective = parties.effective_contact(db, contact) if contact else None
        invoice["tax_report_ids"] = dgfip.on_create(app, db, db.account(invoice["account_id"]),
                                                    effective, invoice)
    return lifecycle.change_state(app, db, invoice, "sending")


def _ack(db, invoice):
    if not invoice["ack_at"]:
        invoice["ack_at"] = now_iso()
        db.put_invoice(invoice, db.invoice_changed_at(invoice["id"]))


def _includes_lines(query):
    return "lines" in (query.get("include") or "").split(",")


# -- handlers --------------------------------------------------------------------------------
def create_invoice(req):
    data = root_object(req.body, "invoice")
    body = req.body
    with req.app.store.tx() as db:
        account = account_or_404(db, req.params["id"])
        clean = validate(db, account, data, documented_only=req.app.settings.documented_only)
        stamp = now_iso()
        invoice = {
            "id": db.new_id(), "account_id": account["id"], "type": "IssuedInvoice",
            "state": "new", "download_legal_url": None, "refuse_reason": None,
            "refuse_code": None, "chorus_status": None, "chorus_status_reason": None,
            "created_at": stamp, "state_updated_at": stamp, "ack_at": None, "_sends": 0,
            "tax_report_ids": [],
        }
        _fill(db, invoice, clean)
        db.put_invoice(invoice, time.time())
        if truthy(body.get("send_after_import")):
            _send(req.app, db, invoice)
        if truthy(body.get("ack")):
            _ack(db, invoice)
    return 201, _render(req, invoice, with_lines=True)


def show_invoice(req):
    with req.app.store.tx() as db:
        invoice = invoice_or_404(db, req.params["id"])
        if truthy(req.query.get("ack")):
            _ack(db, invoice)
    return 200, _render(req, invoice, _includes_lines(req.query))


def _editable(invoice, documented_only=False):
    """Whether an update or a send is allowed. Documented-only: a `new` invoice alone (an
    `error` is terminal, FR guide). Otherwise also `error`, and a routing return (refused,
    A_RECYCLER), which the product fixes and resends under the same number (DECISION)."""
    if documented_only:
        return invoice["state"] == "new"
    return invoice["state"] in EDITABLE or (
        invoice["state"] == "refused" and invoice["chorus_status"] == "A_RECYCLER"
    )


def _as_input(invoice):
    """The stored invoice as a create body, so that an update can be validated as a create."""
    data = {k: invoice.get(k) for k in ("number", "date", "due_date", "currency", "bank_account",
                                        "is_credit_note", "billing_framework", *TEXT_FIELDS)}
    data["contact_id"] = invoice["contact_id"]
    data["invoice_lines_attributes"] = [
        {**{k: line[k] for k in ("description", "quantity", "price", "unit", "article_code",
                                 "position")}, "taxes_attributes": line["taxes"]}
        for line in invoice["lines"]
    ]
    return data


def update_invoice(req):
    data = root_object(req.body, "invoice")
    with req.app.store.tx() as db:
        invoice = invoice_or_404(db, req.params["id"])
        documented = req.app.settings.documented_only
        if not _editable(invoice, documented):
            raise conflict(f"An invoice in state {invoice['state']} cannot be updated")
        account = db.account(invoice["account_id"])
        clean = validate(db, account, {**_as_input(invoice), **data}, invoice["id"], documented)
        _fill(db, invoice, clean)
        db.put_invoice(invoice, db.invoice_changed_at(invoice["id"]))
    return 200, _render(req, invoice, with_lines=True)


def send_invoice(req):
    """Documented-only: answers the PHP SDK's body (`tax_report_ids`), not the invoice."""
    with req.app.store.tx() as db:
        invoice = invoice_or_404(db, req.params["id"])
        if not _editable(invoice, req.app.settings.documented_only):
            raise conflict(f"An invoice in state {invoice['state']} cannot be sent")
        _send(req.app, db, invoice)
    if req.app.settings.documented_only:
        return 200, {"tax_report_ids": invoice.get("tax_report_ids") or []}
    return 200, render(invoice)


# `mark_as` targets of an issued invoice (REF-MARK), and the states each may come from here.
MARK_TARGETS = {"paid": ("sent", "registered", "accepted", "allegedly_paid", "paid"),
                "closed": ("sent", "registered", "accepted", "allegedly_paid", "paid", "closed")}


def mark_as(req):
    """`POST /invoices/{id}/mark_as {"state", "paid_date"?, "reason"?}`: the issuer says the
    invoice was paid (or closes it). The same state again changes nothing; a state the invoice
    cannot take from where it is answers 409."""
    body = req.body if isinstance(req.body, dict) else {}
    target = body.get("state")
    if target not in MARK_TARGETS:
        raise ApiError(422, "parameter_inclusion",
                       f"State must be one of {', '.join(MARK_TARGETS)}", "state")
    with req.app.store.tx() as db:
        invoice = invoice_or_404(db, req.params["id"])
        if invoice["state"] not in MARK_TARGETS[target]:
            raise conflict(f"An invoice in state {invoice['state']} cannot be marked {target}")
        if invoice["state"] != target:
            if not blank(body.get("paid_date")):
                invoice["paid_date"] = str(body["paid_date"])
            contact = db.contact(invoice["contact_id"])
            company = contact is not None and dgfip.reform_applies(
                db, invoice["account_id"], parties.effective_contact(db, contact))
            lifecycle.change_state(req.app, db, invoice, target, notes=body.get("reason"),
                                   company=company)
    return 200, _render(req, invoice)


def delete_invoice(req):
    with req.app.store.tx() as db:
        invoice = invoice_or_404(db, req.params["id"])
        if invoice["state"] not in EDITABLE:
            raise conflict(f"An invoice in state {invoice['state']} cannot be deleted")
        db.delete_invoice(invoice["id"])
    return 200, _render(req, invoice)


def ack_invoice(req):
    """Documented-only: 204 and no body (the legacy answer); otherwise the invoice."""
    with req.app.store.tx() as db:
        invoice = invoice_or_404(db, req.params["id"])
        _ack(db, invoice)
    if req.app.settings.documented_only:
        return 204, None
    return 200, render(invoice)


def _filters(query, account_id, documented_only=False):
    """SQL conditions for the list's query parameters; 400 on a malformed value.

    `state_updated_at_from` is documented as a date: in documented-only mode a timestamp is
    read as its date, so a client cannot rely on more precision than the documentation gives.
    """
    where, params = ["account_id = ?"], [account_id]
    if documented_only and query.get("state_updated_at_from"):
        query = {**query, "state_updated_at_from": query["state_updated_at_from"].strip()[:10]}
    if query.get("number"):
        where.append("number = ?")
        params.append(query["number"])
    if query.get("type"):
        where.append("type = ?")
        params.append(query["type"])
    try:
        if query.get("state_updated_at_from"):
            where.append("state_updated_at >= ?")
            params.append(parse_instant(query["state_updated_at_from"]))
        for field, op in (("date_from", ">="), ("date_to", "<=")):
            if query.get(field):
                where.append(f"date {op} ?")
                params.append(parse_instant(query[field])[:10])
    except ValueError:
        raise bad_request("Dates must be YYYY-MM-DD or ISO 8601 timestamps") from None
    if query.get("ack") is not None:
        acked = truthy(query["ack"])
        if acked is None:
            raise bad_request("ack must be true or false")
        where.append("ack_at IS NOT NULL" if acked else "ack_at IS NULL")
    states = [s for s in lifecycle.STATES if truthy(query.get(s, "")) is True]
    if states:
        where.append(f"state IN ({','.join('?' * len(states))})")
        params.extend(states)
    return where, params


def list_invoices(req):
    offset, limit = page(req.query)
    documented = req.app.settings.documented_only
    with req.app.store.tx() as db:
        account = account_or_404(db, req.params["id"])
        query = {} if req.app.faults.ignore_filters else req.query
        where, params = _filters(query, account["id"], documented)
        # No order is documented: documented-only answers newest first, unlike the sandbox's
        # own order (state_updated_at ascending), so a client cannot lean on either.
        invoices, total = db.invoices(where, params, offset, limit, newest_first=documented)
    with_lines = _includes_lines(req.query)
    items = [_render(req, i, with_lines)["invoice"] for i in invoices]
    return 200, listing("invoices", items, total, offset, limit)


def add_attachment(req):
    """`POST /invoices/{id}/add_attachment?filename=...[&use_as_pdf_view=true]`: the raw bytes of
    a supporting document, joined to a `new` invoice (204). The documents go into the legal
    XML (cac:AdditionalDocumentReference); `use_as_pdf_view` makes a PDF the invoice's visual."""
    filename = (req.query.get("filename") or "").strip()
    errors = FieldErrors()
    if not filename:
        errors.blank("filename", "Filename")
    elif "/" in filename or "\\" in filename or len(filename) > 100:
        errors.add("filename", "parameter_invalid", "Filename is not a valid file name")
    content = req.raw or b""
    if not content:
        errors.add("file", "parameter_blank", "The attachment is empty")
    elif len(content) > ATTACHMENT_MAX:
        errors.add("file", "parameter_invalid", "The attachment is larger than 10 MB")
    pdf_view = truthy(req.query.get("use_as_pdf_view", "")) is True
    if pdf_view and not content.startswith(b"%PDF"):
        errors.add("file", "parameter_invalid", "use_as_pdf_view needs a PDF")
    errors.raise_if_any()
    with req.app.store.tx() as db:
        invoice = invoice_or_404(db, req.params["id"])
        if invoice["state"] != "new":
            raise conflict(f"An invoice in state {invoice['state']} takes no more attachments")
        ident = db.new_id()
        db.add_attachment(ident, invoice["id"], filename, content,
                          "pdf_view" if pdf_view else "supporting")
        extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        invoice.setdefault("attachments", []).append({
            "id": ident, "link": f"/attachments/download/{ident}/{quote(filename)}",
            "filename": filename, "size": len(content), "use_as_pdf_view": pdf_view,
            "content_type": MIME_TYPES.get(extension, "application/octet-stream")})
        db.put_invoice(invoice, db.invoice_changed_at(invoice["id"]))
    return 204, None


def render_as(req):
    """`GET /invoices/{id}/as/{code}`: `pdf.invoice` only, a real PDF of the invoice (the
    supplier's own when it gave one as `use_as_pdf_view`), ready `--pdf-delay` seconds after the
    invoice was created (404 before, as B2Brouter generates it asynchronously)."""
    if req.params["code"] != "pdf.invoice":
        raise not_found("document type", req.params["code"])
    with req.app.store.tx() as db:
        invoice = invoice_or_404(db, req.params["id"])
        account = db.account(invoice["account_id"])
        contact = db.contact(invoice["contact_id"])
        own = [a for a in db.attachments_of(invoice["id"], ("pdf_view",))]
        effective = parties.effective_contact(db, contact) if contact else {}
    if own:
        return 200, Binary(bytes(own[-1]["content"]), "application/pdf")
    created = parse_instant(invoice["created_at"])
    age = time.time() - _epoch(created)
    if age < req.app.settings.pdf_delay or req.app.faults.pick_pdf_missing():
        raise not_found("PDF (not generated yet)", invoice["id"])
    return 200, Binary(pdf.invoice_pdf(invoice, account, effective), "application/pdf")


def _epoch(iso):
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Binary(bytes):
    """An answer's raw bytes with their content type."""

    def __new__(cls, content, content_type):
        self = super().__new__(cls, content)
        self.content_type = content_type
        return self


def download_attachment(req):
    """The legal XML's exact bytes, as generated when the invoice reached `sent`."""
    with req.app.store.tx() as db:
        attachment = db.attachment(to_int(req.params["id"], "attachment"))
    if attachment is None or attachment["filename"] != unquote(req.params["filename"]):
        raise not_found("attachment", req.params["id"])
    if attachment.get("kind") == "legal":
        return 200, bytes(attachment["content"])
    extension = "." + attachment["filename"].rsplit(".", 1)[-1].lower()
    return 200, Binary(bytes(attachment["content"]),
                       MIME_TYPES.get(extension, "application/octet-stream"))
