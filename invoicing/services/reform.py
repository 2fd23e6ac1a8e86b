"""The French e-invoicing reform through B2Brouter as Plateforme Agréée (FR-GUIDE): the account's
activation (its `dgfip` tax-report setting) and the declarations to the tax administration (tax
reports, Flux 1) that follow each invoice to a company, kept and followed to their end by
webhook and by polling. The only writer of `TaxReport` and of the account's reform fields.

Calls to B2Brouter are made outside any transaction; what they answer is checked to be what was
asked for before anything is written.
"""

import datetime
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import b2brouter
from b2brouter import payloads
from core.gateway import b2brouter_client
from core.models import Account, ReformState
from invoicing.models import Invoice, InvoiceEvent, TaxReport
from invoicing.services import events

logger = logging.getLogger(__name__)

# A tax report not at its end is read again after this long (webhooks first: B2Brouter sends
# one on terminal states only, FR-GUIDE), at most FOLLOW_BATCH per run.
FOLLOW_AFTER = datetime.timedelta(minutes=2)
FOLLOW_BATCH = 200
PUBLIC_SIREN = "SIREN 'Public'"


class ActivationRefused(Exception):
    """B2Brouter refused the activation; the message is for the admin who asked."""


def _readable(exc: b2brouter.B2BrouterError) -> str:
    message = str(getattr(exc, "message", "") or exc)
    if PUBLIC_SIREN in message:
        return _("B2Brouter refuse l'activation : ce SIREN est celui d'une entité publique. Les "
                 "entités publiques reçoivent leurs factures par Chorus Pro, pas par une "
                 "plateforme agréée.")
    if isinstance(exc, b2brouter.ValidationError):
        return _("B2Brouter refuse l'activation : %(message)s") % {"message": message}
    return _("B2Brouter n'a pas pu enregistrer le compte dans l'annuaire (%(message)s). Rien "
             "n'a été activé : réessayez plus tard.") % {"message": message}


def account_activate(*, account: Account, start_date: datetime.date, operation: str,
                     naf_code: str, enterprise_size: str, vat_exempt_reason: str = "",
                     email: str = "") -> Account:
    """Activates the account for invoices to French companies from `start_date`. Raises
    ActivationRefused (recorded on the account) when B2Brouter refuses or fails: then nothing is
    active. An account already activated at B2Brouter (an answer lost) is read back, not made
    twice."""
    if account.remote_id is None:
        raise ActivationRefused(_("Enregistrez d'abord le compte chez B2Brouter (action "
                                  "« Enregistrer chez B2Brouter »)."))
    client = b2brouter_client()
    body = payloads.tax_report_setting_body(payloads.TaxReportSettingData(
        start_date=start_date, type_operation=operation, naf_code=naf_code,
        enterprise_size=enterprise_size, reason_vat_exempt=vat_exempt_reason, email=email))
    try:
        try:
            setting = client.create_tax_report_setting(account.remote_id, body)
        except b2brouter.ValidationError as exc:
            if getattr(exc, "code", "") != "parameter_taken":
                raise
            setting = client.update_tax_report_setting(account.remote_id, body)
    except (b2brouter.RejectedError, b2brouter.TransientError) as exc:
        message = _readable(exc)
        Account.objects.filter(pk=account.pk).update(reform_state=ReformState.FAILED,
                                                     reform_error=message)
        account.reform_state, account.reform_error = ReformState.FAILED, message
        raise ActivationRefused(message) from exc
    return _adopt_setting(account, setting)


def account_reform_refresh(*, account: Account) -> Account:
    """Reads the account's setting at B2Brouter again (after a change made in B2Brouter's own
    screens): active when it is there and enabled, inactive when it is gone."""
    try:
        setting = b2brouter_client().get_tax_report_setting(account.remote_id)
    except b2brouter.NotFound:
        Account.objects.filter(pk=account.pk).update(reform_state=ReformState.INACTIVE)
        account.reform_state = ReformState.INACTIVE
        return account
    return _adopt_setting(account, setting)


def _adopt_setting(account: Account, setting: dict) -> Account:
    if setting.get("code") != "dgfip":
        raise ActivationRefused(_("B2Brouter a répondu par un autre réglage que celui demandé : "
                                  "rien n'a été changé."))
    try:
        start = datetime.date.fromisoformat(str(setting.get("start_date")))
    except ValueError as exc:
        raise ActivationRefused(_("B2Brouter n'a pas donné de date de début lisible.")) from exc
    active = setting.get("enabled", True) is not False
    fields = {
        "reform_state": ReformState.ACTIVE if active else ReformState.INACTIVE,
        "reform_start_date": start,
        "reform_operation": setting.get("type_operation") or account.reform_operation,
        "naf_code": str(setting.get("naf_code") or account.naf_code)[:2],
        "enterprise_size": setting.get("enterprise_size") or account.enterprise_size,
        "vat_exempt_reason": setting.get("reason_vat_exempt") or "",
        "reform_error": "",
        "reform_activated_at": account.reform_activated_at or timezone.now(),
    }
    Account.objects.filter(pk=account.pk).update(**fields)
    for name, value in fields.items():
        setattr(account, name, value)
    return account


# -- tax reports ------------------------------------------------------------------------------
def tax_reports_seen(invoice: Invoice, ids) -> int:
    """Keeps the tax reports B2Brouter names for the invoice (its `tax_report_ids`), in the
    caller's transaction; returns how many are new."""
    new = 0
    for value in ids or []:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            continue
        _report, created = TaxReport.objects.get_or_create(
            remote_id=value, defaults={"invoice": invoice,
                                       "submission_round": invoice.submission_round})
        if created:
            new += 1
            events.tax_report_event(invoice=invoice, state=TaxReport.State.NEW, reason="")
    return new


def tax_report_refresh(*, remote_id: int, source: str = InvoiceEvent.Source.POLL) -> str:
    """Reads one tax report at B2Brouter and records its state on our copy (and in its
    invoice's history). Returns the outcome: applied, unchanged, unknown (not one of ours)."""
    report = TaxReport.objects.filter(remote_id=remote_id).select_related("invoice").first()
    if report is None:
        return "unknown"
    remote = b2brouter_client().get_tax_report(remote_id)
    invoice_id = remote.get("invoice_id")
    if remote.get("id") != remote_id or (
            invoice_id and report.invoice.remote_id and invoice_id != report.invoice.remote_id):
        logger.warning("tax report %s: B2Brouter answered for another one, ignored", remote_id)
        return "ignored"
    return tax_report_apply(report_pk=report.pk, state=str(remote.get("state") or ""),
                            reason=_report_reason(remote))


def _report_reason(remote: dict) -> str:
    errors = remote.get("errors") or []
    texts = [str(e.get("error") or e.get("message") or "") if isinstance(e, dict) else str(e)
             for e in errors]
    return "; ".join(filter(None, texts)) or str(remote.get("notes") or "")


_ORDER = {"new": 0, "sent": 1, "acknowledged": 2, "registered": 3, "refused": 3, "error": 3,
          "annulled": 4}


def tax_report_apply(*, report_pk: int, state: str, reason: str = "") -> str:
    """Records a tax report's new state, forward only, with a line in its invoice's history."""
    if state not in TaxReport.State.values:
        return "ignored"
    with transaction.atomic():
        report = TaxReport.objects.select_for_update().select_related("invoice").get(pk=report_pk)
        report.checked_at = timezone.now()
        if state == report.state or _ORDER[state] < _ORDER[report.state]:
            report.save(update_fields=["checked_at"])
            return "unchanged"
        report.state, report.reason = state, reason[:2000]
        report.state_changed_at = timezone.now()
        report.save(update_fields=["state", "reason", "state_changed_at", "checked_at"])
        events.tax_report_event(invoice=report.invoice, state=state, reason=reason)
    return "applied"


def tax_reports_to_follow(*, now=None) -> list[int]:
    """The tax reports not at their end, not read for FOLLOW_AFTER: the polling's batch."""
    now = now or timezone.now()
    return list(TaxReport.objects.exclude(state__in=TaxReport.TERMINAL)
                .filter(models_q_due(now)).order_by("checked_at", "id")
                .values_list("remote_id", flat=True)[:FOLLOW_BATCH])


def models_q_due(now):
    from django.db.models import Q
    return Q(checked_at__isnull=True) | Q(checked_at__lt=now - FOLLOW_AFTER)


def tax_reports_follow() -> dict[str, int]:
    """Polling, the fallback of the webhooks: each tax report not at its end read again."""
    outcomes: dict[str, int] = {}
    for remote_id in tax_reports_to_follow():
        try:
            outcome = tax_report_refresh(remote_id=remote_id)
        except b2brouter.NotFound:
            outcome = "missing"
        except b2brouter.TransientError:
            outcome = "later"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
