"""VAT as Chorus Pro's buyers take it: which categories, rates and exemption codes an invoice may
carry, so that its legal XML passes the EN 16931 rules (chorus-domain.md §1.6, "VAT categories").

- S (standard): a French rate (mainland 20, 10, 5.5, 2.1; Corsica 13, 0.9; overseas 8.5, 1.75,
  1.05), never 0.
- Z (zero rated): rate 0, no exemption.
- E (exempt), AE (reverse charge), G (export outside the EU): rate 0 and an exemption code from
  the CEF VATEX list (BT-121, sent to B2Brouter as the tax's `comment`, which its French guide
  reads as a VATEX code) with its text (BT-120).
- K (intra-EU supply) needs the delivery date and the deliver-to country (BR-IC-11/12) and a
  buyer in another member state: B2Brouter documents no field for either, and Chorus Pro's
  buyers are French. Refused, with the way out.
- O (not subject to VAT) forbids the seller's and the buyer's VAT numbers in the XML (BR-O-02),
  which B2Brouter writes from the account and the contact. Refused, with the way out.
"""

from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

S, Z, E, AE, K, G, O = "S", "Z", "E", "AE", "K", "G", "O"  # noqa: E741 - UNCL5305 codes

STANDARD_RATES = tuple(Decimal(r) for r in ("20", "10", "5.5", "2.1", "13", "0.9", "8.5", "1.75",
                                            "1.05"))
WITH_EXEMPTION = frozenset({E, AE, G})
REFUSED = frozenset({K, O})

# The VATEX codes offered per category, with the text that goes with each (BT-120). The codes
# are those of the CEF VATEX list the EN 16931 rules check (BR-CL-22).
EXEMPTION_CODES: dict[str, list[tuple[str, str]]] = {
    E: [
        ("VATEX-FR-FRANCHISE", gettext_lazy("TVA non applicable, art. 293 B du CGI (franchise en base)")),
        ("VATEX-FR-CGI261-1", gettext_lazy("Exonération de TVA, art. 261-1 du CGI")),
        ("VATEX-FR-CGI261-2", gettext_lazy("Exonération de TVA, art. 261-2 du CGI")),
        ("VATEX-FR-CGI261-3", gettext_lazy("Exonération de TVA, art. 261-3 du CGI")),
        ("VATEX-FR-CGI261-4", gettext_lazy("Exonération de TVA, art. 261-4 du CGI "
                                           "(santé, enseignement, formation)")),
        ("VATEX-FR-CGI261-5", gettext_lazy("Exonération de TVA, art. 261-5 du CGI")),
        ("VATEX-FR-CGI261-7", gettext_lazy("Exonération de TVA, art. 261-7 du CGI "
                                           "(organismes sans but lucratif)")),
        ("VATEX-FR-CGI261-8", gettext_lazy("Exonération de TVA, art. 261-8 du CGI")),
        ("VATEX-FR-CGI261A", gettext_lazy("Exonération de TVA, art. 261 A du CGI")),
        ("VATEX-FR-CGI261B", gettext_lazy("Exonération de TVA, art. 261 B du CGI")),
        ("VATEX-FR-CGI261C-1", gettext_lazy("Exonération de TVA, art. 261 C-1° du CGI "
                                            "(opérations financières)")),
        ("VATEX-FR-CGI261D-1", gettext_lazy("Exonération de TVA, art. 261 D-1° du CGI")),
        ("VATEX-FR-CGI261D-4", gettext_lazy("Exonération de TVA, art. 261 D-4° du CGI "
                                            "(locations meublées)")),
        ("VATEX-FR-CGI261E-1", gettext_lazy("Exonération de TVA, art. 261 E-1° du CGI")),
        ("VATEX-FR-CGI275", gettext_lazy("Exonération de TVA, art. 275 du CGI")),
        ("VATEX-FR-CGI295", gettext_lazy("Exonération de TVA, art. 295 du CGI (outre-mer)")),
        ("VATEX-EU-132", gettext_lazy("Exonération, art. 132 de la directive 2006/112/CE "
                                      "(activités d'intérêt général)")),
        ("VATEX-EU-143", gettext_lazy("Exonération, art. 143 de la directive 2006/112/CE")),
        ("VATEX-EU-148", gettext_lazy("Exonération, art. 148 de la directive 2006/112/CE")),
        ("VATEX-EU-151", gettext_lazy("Exonération, art. 151 de la directive 2006/112/CE")),
        ("VATEX-EU-309", gettext_lazy("Exonération, art. 309 de la directive 2006/112/CE")),
    ],
    AE: [
        ("VATEX-FR-AE", gettext_lazy("Autoliquidation, art. 283 du CGI")),
        ("VATEX-EU-AE", gettext_lazy("Autoliquidation")),
    ],
    G: [
        ("VATEX-EU-G", gettext_lazy("Exportation hors UE, exonération art. 262 I du CGI")),
    ],
}
CODE_TEXT = {code: text for codes in EXEMPTION_CODES.values() for code, text in codes}
# B2Brouter's French guide: an E line with this code is written as zero rated (Z) in the XML.
FRANCHISE = "VATEX-FR-FRANCHISE"
FRANCHISE_MENTION = "293 B"


def exemption_code_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The codes, grouped by category, for a select."""
    names = {E: _("E — exonéré"), AE: _("AE — autoliquidation"), G: _("G — export hors UE")}
    return [("", "—")] + [(str(names[category]), [(code, f"{code} — {text}") for code, text in codes])
                          for category, codes in EXEMPTION_CODES.items()]


def default_code(category: str) -> str:
    """The code proposed for a category with a single obvious one (AE, G); else none."""
    return {AE: "VATEX-FR-AE", G: "VATEX-EU-G"}.get(category, "")


def xml_category(category: str, exemption_code: str) -> str:
    """The category the legal XML carries for a line (an E franchise is written Z)."""
    return Z if category == E and exemption_code == FRANCHISE else category


def line_problems(category: str, rate: Decimal | None, exemption_code: str,
                  exemption_reason: str) -> dict[str, str]:
    """What is wrong with a line's VAT, by the line field it concerns ({} when nothing)."""
    problems: dict[str, str] = {}
    if category == K:
        problems["vat_category"] = _(
            "Livraison intracommunautaire (K) : l'acheteur doit être établi dans un autre État "
            "membre, avec la date et le pays de livraison, ce que Chorus Pro ne reçoit pas ici. "
            "Choisissez S, ou E avec son code d'exonération.")
        return problems
    if category == O:
        problems["vat_category"] = _(
            "Hors champ de la TVA (O) : la facture ne devrait porter aucun n° de TVA, or ceux du "
            "fournisseur et de l'acheteur y figurent. Choisissez E avec son code d'exonération "
            "(ex. franchise en base, art. 293 B du CGI).")
        return problems
    if rate is None:
        problems["vat_rate"] = _("Le taux de TVA est obligatoire.")
        return problems
    if category == S:
        if rate not in STANDARD_RATES:
            problems["vat_rate"] = _(
                "Taux de TVA français : 20, 10, 5,5 ou 2,1 % (Corse : 13 ou 0,9 % ; outre-mer : "
                "8,5, 1,75 ou 1,05 %).")
    elif rate != 0:
        problems["vat_rate"] = _("La catégorie %(category)s demande un taux nul.") % {
            "category": category}
    if category in WITH_EXEMPTION:
        allowed = {code for code, _text in EXEMPTION_CODES[category]}
        if not exemption_code:
            problems["exemption_code"] = _(
                "La catégorie %(category)s demande un code d'exonération (VATEX).") % {
                "category": category}
        elif exemption_code not in allowed:
            problems["exemption_code"] = _(
                "Ce code ne correspond pas à la catégorie %(category)s.") % {"category": category}
    elif exemption_code:
        problems["exemption_code"] = _("Pas de code d'exonération pour la catégorie %(category)s.") % {
            "category": category}
    return problems


def invoice_problems(categories_and_codes: list[tuple[str, str]], notes: str
                     ) -> list[tuple[str, str]]:
    """What is wrong with the VAT of the invoice as a whole: (field, message) pairs."""
    problems = []
    for category in sorted(WITH_EXEMPTION):
        codes = {code for cat, code in categories_and_codes if cat == category and code}
        if len(codes) > 1:  # one VAT breakdown per category and rate, with one exemption
            problems.append(("__all__", _("Les lignes %(category)s portent des codes d'exonération "
                              "différents (%(codes)s) : une facture n'en donne qu'un par "
                              "catégorie. Faites une facture par motif.")
                            % {"category": category, "codes": ", ".join(sorted(codes))}))
    if any(code == FRANCHISE for _category, code in categories_and_codes) and \
            FRANCHISE_MENTION not in (notes or ""):
        problems.append(("notes", _("Franchise en base : ajoutez aux mentions « TVA non "
                                    "applicable, art. 293 B du CGI ».")))
    return problems
