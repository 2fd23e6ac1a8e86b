"""Public buyers: look them up in the B2Brouter directory and register them as Chorus Pro contacts.

No function here holds a transaction open across an HTTP call: the directory is read first, the
rows are written in one short transaction, and B2Brouter is called afterwards, each outcome
recorded on the row (`sync_state`, `sync_error`, `remote_contact_id`).
"""

import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import b2brouter
from b2brouter import payloads
from directory.identifiers import InvalidIdentifier, siret_validate
from directory.models import RESERVED_SERVICE_CODE, Buyer, Service, SyncState
from invoicing.gateway import b2brouter_client

logger = logging.getLogger(__name__)


class DirectoryError(Exception):
    """A lookup that could not give an answer; `message` is meant for the user.

    `kind`: "invalid" (the SIRET or service code is wrong), "unknown" (no such entity),
    "unavailable" (the directory cannot be reached), "timeout" (it did not answer in time).
    """

    def __init__(self, message: str, *, kind: str):
        super().__init__(message)
        self.message = message
        self.kind = kind


def siret_clean(value: str) -> str:
    """Returns the SIRET's 14 digits. Raises DirectoryError(kind="invalid") naming the fault."""
    try:
        return siret_validate(value)
    except InvalidIdentifier as exc:
        raise DirectoryError(exc.message, kind="invalid") from exc


def _cache_key(siret: str) -> str:
    return f"directory:fr:0009:{siret}"


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, b2brouter.Timeout)


def directory_lookup(*, siret: str, fresh: bool = False) -> dict:
    """The directory entry of a French public entity, cached for DIRECTORY_CACHE_SECONDS.

    `fresh=True` skips the cached copy (and refreshes it). Raises DirectoryError: invalid SIRET
    (no HTTP call), unknown SIRET, directory unavailable, or timeout. Never writes a row.
    """
    siret = siret_clean(siret)
    if not fresh:
        entry = cache.get(_cache_key(siret))
        if entry is not None:
            return entry
    try:
        entry = b2brouter_client().directory_lookup(siret)
    except b2brouter.NotFound as exc:
        raise DirectoryError(
            _("Aucune entité publique n'a le SIRET %(siret)s dans l'annuaire Chorus Pro.")
            % {"siret": siret}, kind="unknown") from exc
    except b2brouter.RejectedError as exc:
        raise DirectoryError(_("L'annuaire refuse ce SIRET : %(error)s") % {"error": exc.message},
                             kind="invalid") from exc
    except b2brouter.B2BrouterError as exc:
        if not _timed_out(exc):
            logger.warning("directory lookup siret=%s failed: %s", siret, exc)
            raise DirectoryError(
                _("L'annuaire est injoignable pour le moment ; réessayez dans un instant."),
                kind="unavailable") from exc
        raise DirectoryError(
            _("L'annuaire n'a pas répondu à temps ; réessayez dans un instant."), kind="timeout"
        ) from exc
    cache.set(_cache_key(siret), entry, settings.DIRECTORY_CACHE_SECONDS)
    return entry


def entry_services(entry: dict, *, active_only: bool = True) -> list[dict]:
    """The services of a directory entry a supplier may invoice (FACTURES_PUBLIQUES left out)."""
    services = (entry.get("chorus") or {}).get("services") or []
    return [s for s in services if s.get("code") != RESERVED_SERVICE_CODE
            and (s.get("active", True) or not active_only)]


def _flags(entry: dict) -> dict:
    chorus = entry.get("chorus") or {}
    return {
        "service_code_required": bool(chorus.get("service_code_required")),
        "engagement_required": bool(chorus.get("engagement_required")),
        "service_code_or_engagement_required": bool(chorus.get("service_code_or_engagement_required")),
        "payment_status_not_reported": bool(chorus.get("payment_status_not_reported")),
    }


def _buyer_fields(entry: dict) -> dict:
    return {
        "name": entry.get("name", ""),
        "address": entry.get("address", "") or "",
        "city": entry.get("city", "") or "",
        "postalcode": entry.get("postalcode", "") or "",
        "country": (entry.get("country") or "fr").lower(),
        "vat_number": entry.get("tin_value", "") or "",
        "public_sector": bool(entry.get("public_sector", True)),
        **_flags(entry),
    }


def _service_fields(item: dict) -> dict:
    return {
        "name": item.get("name", ""),
        "active": bool(item.get("active", True)),
        "engagement_required": bool(item.get("engagement_required", False)),
    }


def buyer_create_from_directory(*, account, siret: str, service_codes=None) -> Buyer:
    """Creates (or refreshes) the buyer and its services from the directory entry.

    `service_codes=None` takes every service the directory lists (FACTURES_PUBLIQUES excepted);
    otherwise only those codes, each of which must be an active service of the entity. Raises
    DirectoryError before anything is written (lookup failed, unknown code): no half-made buyer.
    """
    entry = directory_lookup(siret=siret)
    if service_codes is None:
        chosen = entry_services(entry, active_only=False)
    else:
        available = {s["code"]: s for s in entry_services(entry)}
        unknown = [code for code in service_codes if code not in available]
        if unknown:
            raise DirectoryError(
                _("%(codes)s : pas un service actif de cette entité dans l'annuaire.")
                % {"codes": ", ".join(unknown)}, kind="invalid")
        chosen = [available[code] for code in service_codes]
    with transaction.atomic():
        buyer, _created = Buyer.objects.update_or_create(
            account=account,
            siret=entry["cin_value"],
            defaults={**_buyer_fields(entry), "directory_checked_at": timezone.now()},
        )
        for item in chosen:
            Service.objects.update_or_create(buyer=buyer, code=item["code"],
                                             defaults=_service_fields(item))
    return buyer


def service_add_from_directory(*, buyer: Buyer, code: str) -> Service:
    """Adds (or refreshes) one of the entity's directory services under an existing buyer.

    Raises DirectoryError when the lookup fails or the code is not an active service.
    """
    entry = directory_lookup(siret=buyer.siret)
    item = next((s for s in entry_services(entry) if s["code"] == code), None)
    if item is None:
        raise DirectoryError(
            _("%(codes)s : pas un service actif de cette entité dans l'annuaire.") % {"codes": code},
            kind="invalid")
    service, _created = Service.objects.update_or_create(buyer=buyer, code=code,
                                                         defaults=_service_fields(item))
    return service


_CONTACT_FIELDS = ("name", "address", "city", "postalcode", "country", "public_sector")
_FLAG_LABELS = {
    "service_code_required": "code service obligatoire",
    "engagement_required": "n° d'engagement obligatoire",
    "service_code_or_engagement_required": "code service ou n° d'engagement obligatoire",
    "payment_status_not_reported": "statut de paiement non remonté",
}


@dataclass
class Recheck:
    """What a re-check against the directory changed (sentences for the user)."""

    changes: list[str] = field(default_factory=list)
    contact_changed: bool = False
    services_changed: list[Service] = field(default_factory=list)


def buyer_recheck(*, buyer: Buyer) -> Recheck:
    """Reads the entity afresh from the directory and updates the buyer's flags, identity and
    existing services; a service the directory no longer lists becomes inactive. New directory
    services are reported, not added. Raises DirectoryError (nothing written)."""
    entry = directory_lookup(siret=buyer.siret, fresh=True)
    result = Recheck()
    fields = _buyer_fields(entry)
    for name, value in fields.items():
        old = getattr(buyer, name)
        if old == value:
            continue
        if name in _FLAG_LABELS:
            state = _("désormais") if value else _("plus")
            result.changes.append(f"{_FLAG_LABELS[name]} : {state}")
        else:
            result.changes.append(f"{Buyer._meta.get_field(name).verbose_name} : « {old} » → « {value} »")
        if name in _CONTACT_FIELDS:
            result.contact_changed = True
        setattr(buyer, name, value)
    listed = {s["code"]: s for s in entry_services(entry, active_only=False)}
    with transaction.atomic():
        buyer.directory_checked_at = timezone.now()
        buyer.save()
        for service in buyer.services.all():
            item = listed.pop(service.code, None)
            wanted = _service_fields(item) if item else {"active": False}
            diff = {k: v for k, v in wanted.items() if getattr(service, k) != v}
            if not diff:
                continue
            if diff.get("active") is False:
                result.changes.append(_("service %(code)s : fermé dans l'annuaire") % {"code": service.code})
            else:
                result.changes.append(_("service %(code)s : mis à jour (%(fields)s)")
                                      % {"code": service.code, "fields": ", ".join(diff)})
            for k, v in diff.items():
                setattr(service, k, v)
            service.save()
            result.services_changed.append(service)
    for code, item in listed.items():
        if item.get("active", True):
            result.changes.append(_("nouveau service dans l'annuaire : %(code)s") % {"code": code})
    return result


# ---- B2Brouter contacts -------------------------------------------------------------------


def _contact_data(buyer: Buyer) -> payloads.ContactData:
    return payloads.ContactData(
        name=buyer.name,
        address=buyer.address,
        city=buyer.city,
        postalcode=buyer.postalcode,
        country=buyer.country,
        public_sector=buyer.public_sector,
        cin_value=buyer.siret,
    )


def _org_unit_data(service: Service, parent_id: int) -> payloads.OrgUnitData:
    buyer = service.buyer
    return payloads.OrgUnitData(
        parent_id=parent_id,
        name=service.name or service.code,
        address=buyer.address,
        city=buyer.city,
        postalcode=buyer.postalcode,
        country=buyer.country,
        service_code=service.code,
    )


def error_text(exc: b2brouter.B2BrouterError) -> str:
    """A B2Brouter error as the user reads it in `sync_error` (never the API key)."""
    if isinstance(exc, b2brouter.RejectedError) and exc.field_errors:
        detail = "; ".join(f"{name} : {', '.join(messages)}"
                           for name, messages in exc.field_errors.items())
        return _("B2Brouter refuse le contact — %(detail)s") % {"detail": detail}
    if isinstance(exc, b2brouter.TransientError):
        return _("B2Brouter injoignable (%(error)s) ; nouvel essai automatique.") % {"error": exc}
    return _("Erreur B2Brouter : %(error)s") % {"error": exc}


def _mark(obj, *, remote_id=None, error: str = "", clear_remote: bool = False) -> None:
    model = type(obj)
    fields = {"sync_error": error, "sync_state": SyncState.FAILED if error else SyncState.SYNCED}
    if remote_id is not None:
        fields["remote_contact_id"] = remote_id
    if clear_remote:
        fields["remote_contact_id"] = None
    if not error:
        fields["synced_at"] = timezone.now()
    model.objects.filter(pk=obj.pk).update(**fields)
    for name, value in fields.items():
        setattr(obj, name, value)


def _remote_exists(obj) -> bool:
    """False when B2Brouter no longer has the contact recorded on `obj` (deleted over there)."""
    try:
        b2brouter_client().get_contact(obj.remote_contact_id)
    except b2brouter.NotFound:
        logger.warning("%s %s: contact %s is gone at B2Brouter", type(obj).__name__, obj.pk,
                       obj.remote_contact_id)
        _mark(obj, clear_remote=True, error=_("Le contact n'existe plus chez B2Brouter."))
        return False
    return True


class RegistrationInProgress(b2brouter.TransientError):
    """Another worker is registering this contact right now: try again in a moment."""


REGISTRATION_LOCK_SECONDS = 60


@contextmanager
def _registering(obj):
    """One registration at a time per buyer or service, across workers (an atomic cache add:
    Redis in production). Without it, two workers could both find no contact and both create
    one. Raises RegistrationInProgress when another worker holds it."""
    key = f"directory:registering:{obj._meta.label_lower}:{obj.pk}"
    token = uuid.uuid4().hex
    if not cache.add(key, token, REGISTRATION_LOCK_SECONDS):
        raise RegistrationInProgress(f"{obj} is being registered by another worker")
    try:
        yield
    finally:
        if cache.get(key) == token:
            cache.delete(key)


def buyer_ensure_registered(*, buyer: Buyer, verify: bool = False) -> int:
    """Returns the buyer's B2Brouter contact id, creating the contact if it has none.

    Never duplicates: before creating, it looks for an existing contact with the same SIRET (a
    previous attempt whose answer was lost). `verify=True` also checks that a recorded contact
    still exists and recreates it if not. Raises b2brouter errors after recording them.
    """
    if buyer.remote_contact_id and not verify:
        return buyer.remote_contact_id
    with _registering(buyer):
        # Another worker may have finished just before we took the lock.
        buyer.remote_contact_id = Buyer.objects.values_list("remote_contact_id", flat=True).get(
            pk=buyer.pk)
        return _buyer_register_locked(buyer, verify)


def _buyer_register_locked(buyer: Buyer, verify: bool) -> int:
    try:
        if buyer.remote_contact_id and (not verify or _remote_exists(buyer)):
            return buyer.remote_contact_id
        client = b2brouter_client()
        account_id = buyer.account.remote_id
        if not account_id:
            raise b2brouter.B2BrouterError(
                _("Le compte %(account)s n'est pas encore enregistré chez B2Brouter.")
                % {"account": buyer.account})
        existing, _meta = client.list_contacts(account_id, cin_value=buyer.siret)
        match = next((c for c in existing if not c.get("parent_id")), None)
        contact = match or client.create_contact(account_id,
                                                 payloads.contact_body(_contact_data(buyer)))
    except b2brouter.B2BrouterError as exc:
        _mark(buyer, error=error_text(exc))
        raise
    _mark(buyer, remote_id=contact["id"])
    logger.info("buyer siret=%s registered as contact %s", buyer.siret, contact["id"])
    return contact["id"]


def service_ensure_registered(*, service: Service, verify: bool = False) -> int:
    """Returns the service's B2Brouter sub-contact id (parent_id + cin1 8017), creating it once
    (looked up by parent_id + cin1_value first). Raises b2brouter errors after recording them."""
    parent_id = buyer_ensure_registered(buyer=service.buyer, verify=verify)
    if service.remote_contact_id and not verify:
        return service.remote_contact_id
    with _registering(service):
        service.remote_contact_id = Service.objects.values_list(
            "remote_contact_id", flat=True).get(pk=service.pk)
        return _service_register_locked(service, parent_id, verify)


def _service_register_locked(service: Service, parent_id: int, verify: bool) -> int:
    try:
        if service.remote_contact_id and (not verify or _remote_exists(service)):
            return service.remote_contact_id
        client = b2brouter_client()
        account_id = service.buyer.account.remote_id
        existing, _meta = client.list_contacts(account_id, parent_id=parent_id,
                                               cin1_value=service.code)
        contact = existing[0] if existing else client.create_contact(
            account_id, payloads.org_unit_body(_org_unit_data(service, parent_id)))
    except b2brouter.B2BrouterError as exc:
        _mark(service, error=error_text(exc))
        raise
    _mark(service, remote_id=contact["id"])
    logger.info("service %s of siret=%s registered as contact %s", service.code,
                service.buyer.siret, contact["id"])
    return contact["id"]


def buyer_register(*, buyer: Buyer, verify: bool = False) -> None:
    """Registers the buyer and each of its active services at B2Brouter. Idempotent: what is
    registered stays as it is (checked to still exist when `verify`), nothing is created twice.
    Raises the first b2brouter error after recording it on the row."""
    buyer_ensure_registered(buyer=buyer, verify=verify)
    for service in buyer.services.filter(active=True):
        service.buyer = buyer
        service_ensure_registered(service=service, verify=verify)


def buyer_register_later(*, buyer_id: int) -> None:
    """Enqueues the registration task once the current transaction commits."""
    from directory.tasks import buyer_register_task

    def enqueue() -> None:
        try:
            buyer_register_task.delay(buyer_id)
        except Exception:  # the broker is down: the row stays failed, the admin can retry
            logger.exception("could not enqueue directory.buyer_register for buyer %s", buyer_id)

    transaction.on_commit(enqueue)


def buyer_register_now_or_later(*, buyer: Buyer, verify: bool = False) -> bool:
    """Tries to register the buyer and its services now; on a transient failure (B2Brouter down,
    answer lost) the task retries later. Returns True when everything is registered; otherwise
    the failure is recorded on the rows (`sync_state` failed, `sync_error`)."""
    try:
        buyer_register(buyer=buyer, verify=verify)
    except b2brouter.TransientError:
        buyer_register_later(buyer_id=buyer.pk)
        return False
    except b2brouter.B2BrouterError:
        return False
    return True


def buyer_push(*, buyer: Buyer) -> None:
    """Sends the buyer's current name, address and sector to its B2Brouter contact (PUT),
    registering it first if it has no contact yet. Raises b2brouter errors after recording."""
    if not buyer.remote_contact_id:
        buyer_ensure_registered(buyer=buyer)
        return
    try:
        b2brouter_client().update_contact(buyer.remote_contact_id,
                                          payloads.contact_body(_contact_data(buyer)))
    except b2brouter.B2BrouterError as exc:
        _mark(buyer, error=error_text(exc))
        raise
    _mark(buyer)


def service_push(*, service: Service) -> None:
    """Sends the service's name and code to its B2Brouter sub-contact (PUT), registering it first
    if it has none. Raises b2brouter errors after recording."""
    if not service.remote_contact_id:
        service_ensure_registered(service=service)
        return
    parent_id = buyer_ensure_registered(buyer=service.buyer)
    try:
        b2brouter_client().update_contact(
            service.remote_contact_id, payloads.org_unit_body(_org_unit_data(service, parent_id)))
    except b2brouter.B2BrouterError as exc:
        _mark(service, error=error_text(exc))
        raise
    _mark(service)
