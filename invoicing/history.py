"""What each line of an invoice's history says, in the reader's language.

A history row records what happened as data: a `code` from the list below and its `params`
(numbers, names, counts). It is worded only when read (`event_text`), in the language of the
page, so that the same history reads in French and in English. Rows written before the codes
hold a French `message`, shown as it is. Words that came from elsewhere (B2Brouter's or Chorus
Pro's reasons, a file's name) are values, never translated.
"""

from django.utils.translation import gettext_lazy as _

TEXTS = {
    "created": _("Créée"),
    "issued": _("Émise sous le numéro %(number)s, envoi demandé"),
    "send_asked": _("Envoi demandé"),
    "submitting": _("Transmission à B2Brouter (essai %(attempt)s)"),
    "created_remotely": _("Créée chez B2Brouter"),
    "created_remotely_unsent": _("Créée chez B2Brouter, pas encore envoyée : ses pièces jointes "
                                 "d'abord"),
    "already_sent": _("Déjà envoyée chez B2Brouter : la réponse à l'envoi s'était perdue"),
    "found_after_interruption": _("Trouvée chez B2Brouter sous son numéro : un essai précédent, "
                                  "interrompu, l'avait déposée"),
    "adopted_duplicate": _("Numéro déjà pris chez B2Brouter (422 parameter_taken) : la facture "
                           "qu'un essai précédent, interrompu, avait déposée est reprise"),
    "attachment_already_there": _("Pièce jointe déjà chez B2Brouter : %(name)s"),
    "attachment_sent": _("Pièce jointe envoyée : %(name)s"),
    "sent_with_attachments": _("Envoyée avec ses pièces jointes"),
    "resent": _("Corrigée et envoyée à nouveau"),
    "failed_deposit_deleted": _("Document en erreur supprimé chez B2Brouter avant renvoi"),
    "failed_deposit_already_deleted": _("Document en erreur déjà supprimé chez B2Brouter"),
    "resend_refused": _("B2Brouter n'accepte pas de renvoyer cette facture corrigée "
                        "(%(error)s). Émettez un avoir et une nouvelle facture, ou corrigez-la "
                        "sur le portail Chorus Pro."),
    "exchange_interrupted": _("Échange interrompu, il sera repris : %(error)s"),
    "legal_archived": _("XML légal archivé, sha256=%(sha256)s"),
    "acknowledged": _("Acquittée"),
    "pdf_not_a_pdf": _("Réponse de B2Brouter qui n'est pas un PDF : non gardée"),
    "pdf_archived": _("PDF archivé, sha256=%(sha256)s"),
    "legal_url_refused": _("Adresse du XML légal refusée (elle n'est pas chez B2Brouter) : "
                           "%(url)s. Rien n'a été téléchargé."),
    "legal_xml_refused": _("XML légal refusé, rien n'a été archivé : le fichier reçu n'est pas "
                           "celui de cette facture (%(problems)s). Adresse : %(url)s"),
    "legal_xml_differs": _("XML légal différent de la facture : %(problems)s"),
    "unknown_state": _("État B2Brouter inconnu : « %(state)s » (l'état de la facture ne change "
                       "pas)"),
    "remote_news": _("Statut ou motif communiqué par B2Brouter"),
    "draft_changed": _("Brouillon modifié"),
    "copied_from": _("Brouillon copié de %(source)s"),
    "routing_fixed": _("Acheminement corrigé : service %(service)s, engagement %(po_number)s"),
    "attachment_added": _("Pièce jointe ajoutée : %(name)s"),
    "attachment_removed": _("Pièce jointe retirée : %(name)s"),
    "credit_note_prepared": _("Avoir préparé (brouillon n° %(draft)s)"),
    "credit_note_changed": _("Avoir modifié"),
    "replacement_prepared": _("Remplacement préparé : avoir et nouvelle facture (brouillons "
                              "n° %(credit_note)s et %(replacement)s)"),
    "tax_report_new": _("Déclaration à l'administration fiscale créée par B2Brouter"),
    "tax_report_sent": _("Déclaration transmise à l'administration fiscale"),
    "tax_report_acknowledged": _("Déclaration reçue par l'administration fiscale"),
    "tax_report_registered": _("Déclaration enregistrée par l'administration fiscale"),
    "tax_report_refused": _("Déclaration refusée par l'administration fiscale : %(reason)s"),
    "tax_report_error": _("Déclaration en erreur : %(reason)s"),
    "tax_report_annulled": _("Déclaration annulée"),
    "payment_recorded": _("Paiement reçu enregistré : %(amount)s € le %(date)s (%(means)s)"),
    "payment_reversed": _("Paiement de %(amount)s € du %(date)s annulé (contre-passation)"),
    "payment_reported": _("Encaissement déclaré à B2Brouter (payée le %(date)s)"),
    "payment_report_refused": _("B2Brouter refuse la déclaration d'encaissement : %(error)s"),
    "reminder_sent": _("Relance n° %(rank)s envoyée à %(to)s"),
    "account_not_registered": _(
        "Le compte « %(account)s » n'est pas encore enregistré chez B2Brouter : aucune facture "
        "ne peut en partir. Un administrateur l'enregistre (Administration → Comptes → action "
        "« Enregistrer chez B2Brouter »), puis envoyez-la."),
}


def event_text(event) -> str:
    """The line's words in the active language (a row from before the codes: its message)."""
    code = getattr(event, "code", None)
    if not code or code not in TEXTS:
        return event.message
    params = dict(event.params or {})
    _written_the_readers_way(params)
    if isinstance(params.get("problems"), list):
        params["problems"] = " ; ".join(str(p) for p in params["problems"])
    try:
        return str(TEXTS[code]) % params
    except (KeyError, TypeError, ValueError):
        return event.message or code



def _written_the_readers_way(params: dict) -> None:
    """An amount ("1250.00") and a date ("2026-12-03") kept as data, written as the page's
    language writes them ("1 250,00", "3 décembre 2026")."""
    import contextlib
    import datetime
    from decimal import Decimal, InvalidOperation

    from django.utils import formats

    if "amount" in params:
        with contextlib.suppress(InvalidOperation, ValueError):
            params["amount"] = formats.number_format(Decimal(str(params["amount"])), 2,
                                                     use_l10n=True, force_grouping=True)
    if isinstance(params.get("date"), str):
        with contextlib.suppress(ValueError):
            params["date"] = formats.date_format(datetime.date.fromisoformat(params["date"]),
                                                 "DATE_FORMAT")
