"""Where an invoice goes, and what that changes: Chorus Pro for a public buyer, the reform's
Plateforme Agréée (B2Brouter's DGFiP flow) for a French company. Each difference between the two
lives here, once, in the class named for its channel: what the invoice must carry before it
leaves (the pre-send checks), what its B2Brouter body adds, how its states read, and whether a
declaration to the tax administration follows it. Views, forms, services and templates ask the
invoice's channel (`of_invoice`, `of_buyer`); none of them tests `buyer.public_sector`.
"""

from __future__ import annotations

import re

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from invoicing import notes

CHORUS, COMPANY = "chorus", "company"


class Chorus:
    """A public buyer, through Chorus Pro (the Chorus guide's invoice: the mentions in
    `notes`, the routing data in buyer_reference / ponumber)."""

    code = CHORUS
    buyer_label = gettext_lazy("acheteur public")
    reports_to_tax_office = False
    # A refusal may be a routing return (corrected, resent under its number): Chorus Pro says.
    refusal_is_final = False
    state_labels: dict = {}
    # The progress bar's steps after "transmise à B2Brouter", and what the page says.
    steps = (gettext_lazy("déposée chez Chorus Pro"), gettext_lazy("mise à disposition"),
             gettext_lazy("service fait"), gettext_lazy("mise en paiement"))
    # The three mentions a new invoice starts with (Code de la commande publique R2192-31 and
    # D2192-35, Code de commerce D441-5); the #PMD# / #PMT# / #AAB# codes are BR-FR-05's.
    default_notes = (
        "#PMD#En cas de retard de paiement, intérêts moratoires au taux de la BCE majoré de 8 "
        "points (art. R2192-31 du code de la commande publique).\n"
        "#PMT#Indemnité forfaitaire pour frais de recouvrement : 40 € (art. D2192-35 du code de "
        "la commande publique, art. D441-5 du code de commerce).\n"
        "#AAB#Pas d'escompte pour paiement anticipé.")
    queued = gettext_lazy("%(what)s %(number)s : en file d'envoi vers Chorus Pro.")
    send_button = gettext_lazy("Envoyer à Chorus Pro")
    send_confirm = gettext_lazy("Envoyer à Chorus Pro ? Une fois envoyée, elle ne se modifie "
                                "plus : seul un avoir la corrige.")
    rejected = gettext_lazy("Rejetée par Chorus Pro : elle ne peut plus être corrigée. Annulez-la "
                            "par un avoir et émettez une nouvelle facture, sous un nouveau "
                            "numéro.")
    error = gettext_lazy("Le dépôt a échoué : corrigez la facture, puis renvoyez-la sous le même "
                         "numéro (le document en erreur est supprimé chez B2Brouter).")

    def problems(self, invoice, problems: dict) -> None:
        """Nothing beyond the checks every invoice passes (`checks`)."""

    def body_fields(self, invoice) -> dict:
        return {"notes": invoice.notes}

    def reports_payment(self, invoice) -> bool:
        """Chorus Pro reports the public buyer's payment itself: nothing to tell B2Brouter."""
        return False

    def state_label(self, state: str) -> str | None:
        return None


# BR-FR-02: an invoice number holds only A-Z a-z 0-9 + - _ / (no space), so that both
# channels share one sequence within Chorus Pro's 20 characters.
_REFORM_NUMBER = re.compile(r"^[A-Za-z0-9+\-_/]*$")


class Company:
    """A French company, through B2Brouter as Plateforme Agréée (FR-GUIDE): the three mentions
    as B2Brouter's fields, the account activated from the invoice's date, a declaration to the
    tax administration (a tax report) after it."""

    code = COMPANY
    buyer_label = gettext_lazy("entreprise")
    reports_to_tax_office = True
    # A company's refusal (CDAR 210) is final: a credit note, then a new invoice.
    refusal_is_final = True
    steps = (gettext_lazy("déposée sur la plateforme"),
             gettext_lazy("enregistrée par l'administration fiscale"),
             gettext_lazy("approuvée par l'acheteur"), gettext_lazy("encaissement signalé"))
    # Between companies: Code de commerce L441-10 (penalties: the ECB rate plus 10 points unless
    # agreed otherwise, at least three times the legal interest rate) and D441-5 (40 €).
    default_notes = (
        "#PMD#En cas de retard de paiement, pénalités au taux de la BCE majoré de 10 points "
        "(art. L441-10 du code de commerce).\n"
        "#PMT#Indemnité forfaitaire pour frais de recouvrement : 40 € (art. L441-10 et D441-5 "
        "du code de commerce).\n"
        "#AAB#Pas d'escompte pour paiement anticipé.")
    queued = gettext_lazy("%(what)s %(number)s : en file d'envoi vers la plateforme agréée.")
    send_button = gettext_lazy("Envoyer à l'entreprise")
    send_confirm = gettext_lazy("Envoyer par la plateforme agréée, avec sa déclaration à "
                                "l'administration fiscale ? Une fois envoyée, elle ne se modifie "
                                "plus : seul un avoir la corrige.")
    rejected = gettext_lazy("Refusée par l'entreprise : elle ne peut plus être corrigée. "
                            "Annulez-la par un avoir et émettez une nouvelle facture, sous un "
                            "nouveau numéro.")
    error = gettext_lazy("Rejetée par la plateforme ou par l'administration fiscale (motif "
                         "ci-dessus) : corrigez la facture, puis renvoyez-la sous le même "
                         "numéro.")
    state_labels = {
        "sending": gettext_lazy("envoi en cours vers la plateforme"),
        "sent": gettext_lazy("déposée sur la plateforme"),
        "registered": gettext_lazy("enregistrée par l'administration fiscale"),
        "accepted": gettext_lazy("approuvée par l'acheteur"),
        "refused": gettext_lazy("refusée par l'acheteur"),
        "allegedly_paid": gettext_lazy("encaissement signalé"),
        "paid": gettext_lazy("encaissement déclaré"),
        "error": gettext_lazy("rejetée par la plateforme"),
    }

    def problems(self, invoice, problems: dict) -> None:
        account = invoice.account
        start = account.bills_companies_from()
        if start is None:
            _add(problems, "buyer", _(
                "Votre compte n'est pas encore activé pour facturer des entreprises : un "
                "administrateur l'active depuis l'administration (Comptes > Activer la "
                "facturation aux entreprises)."))
        elif invoice.issue_date and invoice.issue_date < start:
            _add(problems, "issue_date", _(
                "Les factures aux entreprises partent à partir du %(date)s (date d'activation du "
                "compte) : datez celle-ci de ce jour ou d'après.")
                % {"date": formats.date_format(start, "DATE_FORMAT")})
        typed = notes.split(invoice.notes)
        for name, message in (
                ("penalties", _("Obligatoire sur une facture à une entreprise : le taux des "
                                "pénalités de retard.")),
                ("recovery", _("Obligatoire sur une facture à une entreprise : l'indemnité "
                               "forfaitaire de 40 € pour frais de recouvrement.")),
                ("discount", _("Obligatoire sur une facture à une entreprise : les conditions "
                               "d'escompte, ou « Pas d'escompte pour paiement anticipé »."))):
            if not typed[name].strip():
                _add(problems, name, message)
        if not invoice.operation_category:
            _add(problems, "operation_category", _(
                "Indiquez s'il s'agit de livraisons de biens, de prestations de services ou des "
                "deux (mention obligatoire)."))
        if invoice.number and not _REFORM_NUMBER.match(invoice.number):
            _add(problems, "number", _("Sur une facture à une entreprise, le numéro ne contient "
                                       "que des lettres sans accent, des chiffres et + - _ / "
                                       "(pas d'espace)."))
        buyer = invoice.buyer
        if buyer is not None and len(buyer.siren) != 9:
            _add(problems, "buyer", _("Le SIREN de cette entreprise manque : complétez sa fiche."))

    def reports_payment(self, invoice) -> bool:
        """The reform asks the supplier to report the payment (212 "Encaissée") of services
        taxed on receipts: services or mixed, without the option for VAT on debits (DECISION:
        a mixed invoice is reported whole; B2Brouter documents no split per VAT rate)."""
        return (invoice.operation_category in ("services", "mixed")
                and not invoice.vat_on_debits)

    def body_fields(self, invoice) -> dict:
        """The three mentions as B2Brouter's DGFiP fields (DECISION in docs/b2brouter-contract.md:
        penalties -> remittance_information (PMD), recovery indemnity -> payment_method_text
        (PMT), discount -> payment_terms (AAB), the codes BR-FR-05 gives them); the other notes,
        and the mentions B2Brouter has no field for, as notes."""
        typed = notes.split(invoice.notes)
        return {
            "remittance_information": typed["penalties"],
            "payment_method_text": typed["recovery"],
            "payment_terms": typed["discount"],
            "notes": "\n".join(filter(None, [typed["notes"], *company_mentions(invoice)])),
        }

    def state_label(self, state: str) -> str | None:
        label = self.state_labels.get(state)
        return str(label) if label else None


def with_own_defaults(channel, text: str) -> str:
    """The notes with each mention still as another channel's default replaced by this
    channel's (a buyer chosen after the form filled the public buyer's defaults gets the Code
    de commerce's); a mention someone typed stays as typed."""
    mine = notes.split(channel.default_notes)
    typed = notes.split(text)
    for other in _CHANNELS.values():
        if other is channel:
            continue
        theirs = notes.split(other.default_notes)
        for name in ("penalties", "recovery", "discount"):
            if typed[name] == theirs[name]:
                typed[name] = mine[name]
    return notes.compose(**typed)


def company_mentions(invoice) -> list[str]:
    """The mentions an invoice to a company carries that B2Brouter documents no field for
    (DECISION): the category of operation, the delivery address when there is one, the option
    for VAT on debits; each an `#AAI#` note (general information), in French as the invoice."""
    from django.utils import translation

    from core.models import Operation

    lines = []
    with translation.override("fr"):
        if invoice.operation_category:
            label = Operation(invoice.operation_category).label
            lines.append(f"#AAI#Catégorie de l'opération : {label}")
        if (invoice.delivery_address or "").strip():
            lines.append("#AAI#Adresse de livraison : "
                         + " ".join(invoice.delivery_address.split()))
        if invoice.vat_on_debits:
            lines.append("#AAI#Option pour le paiement de la taxe d'après les débits")
    return lines


def _add(problems: dict, key: str, message: str) -> None:
    problems.setdefault(key, []).append(message)


_CHANNELS = {CHORUS: Chorus(), COMPANY: Company()}


def of_buyer(buyer) -> Chorus | Company:
    """The channel of invoices to this buyer (a public buyer's without one)."""
    return _CHANNELS[COMPANY if buyer is not None and not buyer.public_sector else CHORUS]


def of_invoice(invoice) -> Chorus | Company:
    """The invoice's channel: its buyer's (read from the claim's `buyer_public_sector` when
    there, so that sending reads no buyer it does not need)."""
    public = getattr(invoice, "buyer_public_sector", None)
    if public is not None:
        return _CHANNELS[CHORUS if public else COMPANY]
    return of_buyer(invoice.buyer if invoice.buyer_id else None)


def by_code(code: str) -> Chorus | Company:
    return _CHANNELS.get(code, _CHANNELS[CHORUS])
