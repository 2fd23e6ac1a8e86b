"""Pre-send checks: the rules that make B2Brouter or Chorus Pro reject an invoice, checked here first.

`invoice_problems` is a pure function (no query beyond the relations it is handed, no write): it
returns `{field: [messages]}`, empty when the invoice may be sent. Keys are the invoice form's field
names, `lines-<i>-<field>` for the i-th line (the formset's own names, so each message lands beside
its field) and `__all__` for the whole invoice. Drafts may be saved with problems; sending may not.

A buyer or service not yet registered at B2Brouter is not a problem: the worker registers them.
"""

import re
from collections.abc import Sequence
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import iban as stdnum_iban

from invoicing import channels, totals, vat
from invoicing.lines import Line
from invoicing.models import Invoice, InvoiceLine

# B2Brouter's rule for invoice numbers (docs/b2brouter-contract.md, "number").
NUMBER_MAX_LENGTH = 20
_NUMBER_CHARS = re.compile(r"^[A-Za-z0-9 \-+_/]*$")
MAX_DECIMALS = 6


def number_problems(number: str) -> list[str]:
    """What is wrong with an invoice number under B2Brouter's rules (empty list: nothing)."""
    if not number:
        return [_("Le numéro est obligatoire.")]
    problems = []
    if len(number) > NUMBER_MAX_LENGTH:
        problems.append(_("Au plus %(max)d caractères (%(length)d ici).")
                        % {"max": NUMBER_MAX_LENGTH, "length": len(number)})
    if not _NUMBER_CHARS.match(number):
        problems.append(_("Seuls les lettres sans accent, les chiffres, l'espace et - + _ / sont "
                          "permis."))
    if number != number.strip():
        problems.append(_("Pas d'espace au début ni à la fin."))
    if "  " in number:
        problems.append(_("Pas deux espaces de suite."))
    return problems


def iban_problem(value: str) -> str | None:
    try:
        stdnum_iban.validate(value)
    except Exception:  # stdnum raises ValidationError subclasses; any of them means "invalid"
        return _("Cet IBAN n'est pas valide (longueur ou clé de contrôle).")
    return None


def decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _add(problems: dict, key: str, message: str) -> None:
    problems.setdefault(key, []).append(message)


def invoice_problems(invoice: Invoice, lines: Sequence[InvoiceLine | Line] | None = None
                     ) -> dict[str, list[str]]:
    """Everything that would make this invoice rejected, by field.

    `lines` defaults to the invoice's stored lines; the form passes its unsaved ones. The buyer and
    service are read from the invoice's relations (`select_related` them to avoid queries).
    """
    if lines is None:
        lines = list(invoice.lines.all())
    problems: dict[str, list[str]] = {}

    if invoice.number:  # a draft has none: it gets one when issued
        for message in number_problems(invoice.number):
            _add(problems, "number", message)

    _routing_problems(invoice, problems)
    _date_problems(invoice, problems)
    _payment_problems(invoice, problems)
    _line_problems(lines, problems)
    for key, message in vat.invoice_problems(
            [(line.vat_category, getattr(line, "exemption_code", "")) for line in lines],
            invoice.notes):
        _add(problems, key, message)

    if invoice.kind == Invoice.Kind.CREDIT_NOTE and not invoice.credited_invoice_id:
        _add(problems, "__all__", _("Un avoir doit indiquer la facture qu'il corrige."))
    if invoice.buyer_id:
        channels.of_invoice(invoice).problems(invoice, problems)
    return problems


def _routing_problems(invoice: Invoice, problems: dict) -> None:
    buyer = invoice.buyer if invoice.buyer_id else None
    service = invoice.service if invoice.service_id else None
    if buyer is None:
        _add(problems, "buyer", _("Choisissez l'acheteur."))
        return
    if service is not None:
        if service.buyer_id != buyer.pk:
            _add(problems, "service", _("Ce service n'appartient pas à cet acheteur."))
        elif not service.active:
            _add(problems, "service", _("Ce service est inactif dans l'annuaire Chorus Pro : "
                                        "choisissez-en un autre."))
    po_number = (invoice.po_number or "").strip()
    if buyer.service_code_required and service is None:
        _add(problems, "service", _("Cet acheteur exige un code service."))
    if not po_number:
        if buyer.engagement_required:
            _add(problems, "po_number", _("Cet acheteur exige un numéro d'engagement."))
        elif service is not None and service.engagement_required:
            _add(problems, "po_number", _("Ce service exige un numéro d'engagement."))
    if (buyer.service_code_or_engagement_required and service is None and not po_number
            and "service" not in problems):
        _add(problems, "service", _("Cet acheteur exige un code service ou un numéro "
                                    "d'engagement : renseignez au moins l'un des deux."))


def _date_problems(invoice: Invoice, problems: dict) -> None:
    if invoice.issue_date is None:
        _add(problems, "issue_date", _("La date d'émission est obligatoire."))
    if invoice.due_date is None:
        _add(problems, "due_date", _("La date d'échéance est obligatoire."))
    if invoice.issue_date and invoice.due_date and invoice.due_date < invoice.issue_date:
        _add(problems, "due_date", _("L'échéance ne peut précéder la date d'émission."))
    if invoice.issue_date and invoice.issue_date > timezone.localdate():
        _add(problems, "issue_date", _("La date d'émission ne peut pas être dans le futur."))


def _payment_problems(invoice: Invoice, problems: dict) -> None:
    iban = (invoice.iban or "").strip()
    if iban:
        message = iban_problem(iban)
        if message:
            _add(problems, "iban", message)
    # A credit note pays nothing and an A2 invoice is already paid: no bank account needed.
    elif (invoice.kind == Invoice.Kind.INVOICE
          and invoice.billing_framework != Invoice.BillingFramework.A2):
        _add(problems, "iban", _("L'IBAN est obligatoire pour un paiement par virement."))


def _line_problems(lines: Sequence[InvoiceLine | Line], problems: dict) -> None:
    if not lines:
        _add(problems, "lines", _("Ajoutez au moins une ligne."))
        return
    for index, line in enumerate(lines):
        key = f"lines-{index}-"
        if not (line.description or "").strip():
            _add(problems, key + "description", _("La désignation est obligatoire."))
        for name in ("quantity", "unit_price"):
            value = getattr(line, name)
            if value is None:
                _add(problems, key + name, _("Ce montant est obligatoire."))
            elif decimals(value) > MAX_DECIMALS:
                _add(problems, key + name, _("Au plus 6 décimales."))
            elif value < 0:
                _add(problems, key + name, _("Pas de valeur négative."))
        for name, message in vat.line_problems(
                line.vat_category, line.vat_rate, getattr(line, "exemption_code", ""),
                line.exemption_reason).items():
            _add(problems, key + name, message)
    if any(key.startswith("lines-") for key in problems):
        return
    result = totals.compute(lines)
    if result.total <= 0:
        _add(problems, "lines", _("Le total de la facture doit être positif."))
