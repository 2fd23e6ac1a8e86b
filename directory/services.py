"""Public buyers: look them up in the B2Brouter directory and register them as Chorus Pro contacts.

No function here holds a transaction open across an HTTP call: the directory is read first, the
rows are written in one short transaction, and B2Brouter is called afterwards, each outcome
recorded on the row (`sync_state`, `sync_error`, `remote_contact_id`).
"""

import logging
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import b2brouter
from b2brouter import payloads
from core.cache import cache_get, cache_set, count_in_window
from core.enqueue import enqueue_on_commit
from core.gateway import b2brouter_client, lookup_turn
from directory import channels
from directory.identifiers import (
    InvalidIdentifier,
    is_public_siren,
    siret_or_siren_validate,
    siret_validate,
)
from directory.models import (
    CHORUS_DOCUMENT_TYPE,
    CHORUS_TRANSPORT,
    RESERVED_SERVICE_CODE,
    Buyer,
    Service,
    SyncState,
)

logger = logging.getLogger(__name__)


class DirectoryError(Exception):
    """A lookup that could not give an answer; `message` is meant for the user.

    `kind`: "invalid" (the SIRET or service code is wrong), "unknown" (no such entity),
    "unavailable" (the directory cannot be reached), "timeout" (it did not answer in time),
    "throttled" (too many lookups just now: try again shortly).
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


def identifier_clean(value: str) -> str:
    """A SIRET's 14 digits or a SIREN's 9. Raises DirectoryError(kind="invalid")."""
    try:
        return siret_or_siren_validate(value)
    except InvalidIdentifier as exc:
        raise DirectoryError(exc.message, kind="invalid") from exc


def by_siren_only(siren: str) -> DirectoryError:
    """What a lookup by SIREN answers: B2Brouter documents its directory by SIRET only."""
    return DirectoryError(
        _("L'annuaire se consulte par SIRET. Pour l'entreprise de SIREN %(siren)s, saisissez son "
          "identité ci-dessous (ou cherchez le SIRET de son siège).") % {"siren": siren},
        kind="unknown")


def _cache_key(siret: str) -> str:
    return f"directory:fr:0009:{siret}"


def _timed_out(exc: BaseException) -> bool:
    return isinstance(exc, b2brouter.Timeout)


# Remembered for a SIRET the directory does not know (a typo asked again is no call).
_UNKNOWN = "unknown"


def _unknown(siret: str) -> DirectoryError:
    return DirectoryError(
        _("Aucune entité publique ni entreprise n'a le SIRET %(siret)s dans l'annuaire.")
        % {"siret": siret}, kind="unknown")


def _may_look_up(user) -> bool:
    """A person sends at most DIRECTORY_LOOKUPS_PER_MINUTE lookups a minute to B2Brouter (those
    answered from the cache do not count)."""
    count = count_in_window(f"directory:lookups:{user.pk}", 60)
    return count is None or count <= settings.DIRECTORY_LOOKUPS_PER_MINUTE


def directory_lookup(*, siret: str, fresh: bool = False, user=None) -> dict:
    """The directory entry of a French public entity, cached for DIRECTORY_CACHE_SECONDS (an
    unknown SIRET for DIRECTORY_UNKNOWN_CACHE_SECONDS).

    `fresh=True` skips the cached copy (and refreshes it). A lookup that reaches B2Brouter takes
    its turn within the lookups' share of the rate limit (`core.gateway.lookup_turn`) and, for a
    `user` at a page, counts against their lookups a minute. Raises DirectoryError: invalid SIRET
    (no HTTP call), unknown SIRET, too many lookups ("throttled"), directory unavailable, or
    timeout. Never writes a row.
    """
    siret = siret_clean(siret)
    if not fresh:
        entry = cache_get(_cache_key(siret))
        if entry == _UNKNOWN:
            raise _unknown(siret)
        if entry is not None:
            return entry
    if user is not None and not _may_look_up(user):
        raise DirectoryError(_("Beaucoup de recherches en peu de temps : réessayez dans une "
                               "minute."), kind="throttled")
    if not lookup_turn():
        raise DirectoryError(_("L'annuaire est très demandé en ce moment ; réessayez dans "
                               "quelques secondes."), kind="throttled")
    try:
        entry = b2brouter_client().directory_lookup(siret)
    except b2brouter.NotFound as exc:
        cache_set(_cache_key(siret), _UNKNOWN, settings.DIRECTORY_UNKNOWN_CACHE_SECONDS)
        raise _unknown(siret) from exc
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
    if not isinstance(entry, dict) or not str(entry.get("name") or "").strip():
        # An answer without the entity (a lookup still pending, an unexpected body).
        logger.warning("directory lookup siret=%s answered no entity", siret)
        raise DirectoryError(
            _("L'annuaire n'a pas donné de fiche pour ce SIRET ; réessayez dans un instant."),
            kind="unavailable")
    answered = "".join(str(entry.get("cin_value") or "").split())
    if answered and answered != siret:
        # Never take another entity's details for this one.
        logger.warning("directory lookup siret=%s answered for %s", siret, answered)
        raise DirectoryError(
            _("L'annuaire a répondu pour un autre SIRET (%(other)s) : rien n'est repris.")
            % {"other": answered}, kind="unavailable")
    cache_set(_cache_key(siret), entry, settings.DIRECTORY_CACHE_SECONDS)
    return entry


# What the directory publishes beyond the entity's identity (sandbox convenience, see
# docs/b2brouter-contract.md "Directory"): Chorus Pro's flags and the entity's services. When an
# entry does not carry them, the buyer's own settings and typed-in service codes stand in.
FLAG_NAMES = ("service_code_required", "engagement_required",
              "service_code_or_engagement_required", "payment_status_not_reported")
_SERVICE_CODE = re.compile(r"[A-Za-z0-9_./-]+( [A-Za-z0-9_./-]+)*")
SERVICE_CODE_MAX = 100


def entry_lists_services(entry: dict) -> bool:
    """True when the entry says which services the entity has (possibly none)."""
    return isinstance((entry.get("chorus") or {}).get("services"), list)


def entry_services(entry: dict, *, active_only: bool = True) -> list[dict]:
    """The services of a directory entry a supplier may invoice (FACTURES_PUBLIQUES left out);
    empty when the entry lists none."""
    services = (entry.get("chorus") or {}).get("services") or []
    return [s for s in services if isinstance(s, dict) and s.get("code")
            and s.get("code") != RESERVED_SERVICE_CODE
            and (s.get("active", True) or not active_only)]


def entry_flags(entry: dict) -> dict | None:
    """Chorus Pro's flags for the entity as the entry publishes them; None when it does not."""
    chorus = entry.get("chorus")
    if not isinstance(chorus, dict) or not any(name in chorus for name in FLAG_NAMES):
        return None
    return {name: bool(chorus.get(name)) for name in FLAG_NAMES}


def _entry_codes(entry: dict) -> dict:
    """The transport and document type the entry gives for invoices (documented, per document
    kind), else the guide's Chorus Pro settings."""
    invoice = entry.get("Invoice") if isinstance(entry.get("Invoice"), dict) else {}
    return {
        "transport_type_code": invoice.get("transport_type_code") or CHORUS_TRANSPORT,
        "document_type_code": invoice.get("document_type_code") or CHORUS_DOCUMENT_TYPE,
    }


def service_code_clean(value: str) -> str:
    """A service code as typed, checked for form: 1 to 100 letters, digits, `_ . / -`, single
    spaces between words, not FACTURES_PUBLIQUES. Raises DirectoryError(kind="invalid")."""
    code = (value or "").strip()
    if not code:
        raise DirectoryError(_("Saisissez un code service."), kind="invalid")
    if len(code) > SERVICE_CODE_MAX:
        raise DirectoryError(_("Un code service compte au plus %(max)d caractères.")
                             % {"max": SERVICE_CODE_MAX}, kind="invalid")
    if code == RESERVED_SERVICE_CODE:
        raise DirectoryError(_("FACTURES_PUBLIQUES est réservé aux factures entre entités "
                               "publiques : un fournisseur ne peut pas l'utiliser."), kind="invalid")
    if not _SERVICE_CODE.fullmatch(code):
        raise DirectoryError(
            _("« %(code)s » n'a pas la forme d'un code service Chorus Pro (lettres sans accent, "
              "chiffres et _ . / -).") % {"code": code}, kind="invalid")
    return code


def service_codes_split(text: str) -> list[str]:
    """Codes typed in one field, separated by spaces, commas or semicolons."""
    return [code for code in re.split(r"[\s,;]+", text or "") if code]


def _flags(entry: dict) -> dict:
    flags = entry_flags(entry)
    if flags is None:
        return {}
    return {**flags, "flags_from_directory": True}


def _buyer_fields(entry: dict) -> dict:
    """What the buyer takes from a directory entry; the Chorus flags only when it has them (a
    company has none)."""
    public = channels.entry_is_public(entry)
    return {
        "name": entry.get("name", "") or "",
        "address": entry.get("address", "") or "",
        "city": entry.get("city", "") or "",
        "postalcode": entry.get("postalcode", "") or "",
        "country": (entry.get("country") or "fr").lower(),
        "vat_number": entry.get("tin_value", "") or "",
        "public_sector": public,
        **channels.contact_codes(entry, public=public),
        **(_flags(entry) if public else {**_typed_flags(None), "flags_from_directory": True}),
    }


def _service_fields(item: dict) -> dict:
    return {
        "name": item.get("name", "") or "",
        "active": bool(item.get("active", True)),
        "engagement_required": bool(item.get("engagement_required", False)),
        "directory_confirmed": True,
    }


@dataclass(frozen=True)
class ChosenService:
    code: str
    fields: dict


def _choose_services(entry: dict | None, codes) -> list[ChosenService]:
    """The services to create for `codes` (None: every service the entry lists). A code the
    entry lists active is confirmed by it; one it lists closed is refused; any other is taken
    as typed, checked for form, "not confirmed by the directory". Raises DirectoryError."""
    listed = {s["code"]: s for s in entry_services(entry, active_only=False)} if entry else {}
    if codes is None:
        return [ChosenService(code, _service_fields(item)) for code, item in listed.items()]
    chosen, seen = [], set()
    for raw in codes:
        code = service_code_clean(raw)
        if code in seen:
            continue
        seen.add(code)
        item = listed.get(code)
        if item is not None and not item.get("active", True):
            raise DirectoryError(_("%(code)s : service fermé dans l'annuaire Chorus Pro.")
                                 % {"code": code}, kind="invalid")
        fields = _service_fields(item) if item else {"directory_confirmed": False}
        chosen.append(ChosenService(code, fields))
    return chosen


@dataclass(frozen=True)
class BuyerDetails:
    """A buyer as a person types it when the directory cannot tell (no entry, or unreachable):
    its identity and Chorus Pro's rules as they know them."""

    name: str
    address: str = ""
    postalcode: str = ""
    city: str = ""
    vat_number: str = ""
    service_code_required: bool = False
    engagement_required: bool = False
    service_code_or_engagement_required: bool = False
    payment_status_not_reported: bool = False


def _save_buyer(*, account, siret: str, fields: dict, chosen: list[ChosenService]) -> Buyer:
    with transaction.atomic():
        buyer, _created = Buyer.objects.update_or_create(account=account, siret=siret,
                                                         defaults=fields)
        for item in chosen:
            Service.objects.update_or_create(buyer=buyer, code=item.code, defaults=item.fields)
    return buyer


def buyer_create_from_directory(*, account, siret: str, service_codes=None,
                                flags: dict | None = None, entry: dict | None = None) -> Buyer:
    """Creates (or refreshes) the buyer and its services from the directory entry.

    `service_codes=None` takes every service the directory lists (FACTURES_PUBLIQUES excepted);
    otherwise those codes (see `_choose_services`: typed codes the directory does not list are
    kept, unconfirmed). `flags` are the user's Chorus Pro rules, used when the entry publishes
    none. `entry`: the directory's answer, read already (outside the caller's transaction).
    Raises DirectoryError before anything is written: no half-made buyer.
    """
    entry = entry if entry is not None else directory_lookup(siret=siret)
    chosen = _choose_services(entry, service_codes) if channels.entry_is_public(entry) else []
    fields = {**_buyer_fields(entry), "directory_checked_at": timezone.now()}
    if not fields.get("flags_from_directory"):
        fields.update(_typed_flags(flags))
    return _save_buyer(account=account, siret=siret_clean(entry.get("cin_value") or siret),
                       fields=fields, chosen=chosen)


def _typed_flags(flags: dict | None) -> dict:
    flags = flags or {}
    return {**{name: bool(flags.get(name)) for name in FLAG_NAMES}, "flags_from_directory": False}


def buyer_create_by_hand(*, account, siret: str, details: BuyerDetails,
                         service_codes=(), company: bool = False) -> Buyer:
    """Creates the buyer from what a person typed, for an entity the directory does not list or
    while it is unreachable: an admin who knows the buyer is never blocked. The SIRET is still
    checked (checksum); its services are typed codes, not confirmed by the directory. A company
    may be given by its SIREN alone (its contact then identified by scheme 0002). Raises
    DirectoryError (nothing written) when the SIRET, the name or a code is wrong, or a public
    SIREN is typed as a company."""
    siret = identifier_clean(siret) if company else siret_clean(siret)
    if company and is_public_siren(siret):
        raise DirectoryError(_("Ce SIREN est celui d'une entité publique (il commence par 1 ou "
                               "2) : créez-la comme entité publique, ses factures passent par "
                               "Chorus Pro."), kind="invalid")
    if not details.name.strip():
        raise DirectoryError(_("Saisissez la raison sociale de l'acheteur."), kind="invalid")
    chosen = [] if company else _choose_services(None, list(service_codes))
    fields = {
        "name": details.name.strip(), "address": details.address.strip(),
        "postalcode": details.postalcode.strip(), "city": details.city.strip(),
        "vat_number": details.vat_number.strip(), "country": "fr", "public_sector": not company,
        "by_siren": len(siret) == 9,
        **channels.contact_codes({}, public=not company),
        **_typed_flags({} if company else {name: getattr(details, name) for name in FLAG_NAMES}),
    }
    return _save_buyer(account=account, siret=siret, fields=fields, chosen=chosen)


def service_add_from_directory(*, buyer: Buyer, code: str) -> Service:
    """Adds (or refreshes) one service under an existing buyer: confirmed when the directory
    lists it active, taken as typed (unconfirmed) when the directory does not list it or cannot
    be reached. Raises DirectoryError for a malformed code or one the directory lists closed."""
    try:
        entry = directory_lookup(siret=buyer.siret)
    except DirectoryError as exc:
        if exc.kind == "invalid":
            raise
        entry = None  # no entry, or no answer: the typed code stands, unconfirmed
    [item] = _choose_services(entry, [code])
    service, _created = Service.objects.update_or_create(buyer=buyer, code=item.code,
                                                         defaults=item.fields)
    return service


_CONTACT_FIELDS = ("name", "address", "city", "postalcode", "country", "public_sector",
                   "vat_number", "transport_type_code", "document_type_code")
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
    """Reads the entity afresh from the directory and updates the buyer's identity, and its
    flags and services where the entry publishes them: a confirmed service the directory no
    longer lists becomes inactive, a typed one it now lists becomes confirmed; flags the entry
    does not publish stay the buyer's own. New directory services are reported, not added.
    Raises DirectoryError (nothing written)."""
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
        elif name == "flags_from_directory":
            result.changes.append(_("règles Chorus Pro désormais lues dans l'annuaire"))
        else:
            result.changes.append(f"{Buyer._meta.get_field(name).verbose_name} : « {old} » → « {value} »")
        if name in _CONTACT_FIELDS:
            result.contact_changed = True
        setattr(buyer, name, value)
    lists_services = entry_lists_services(entry)
    listed = {s["code"]: s for s in entry_services(entry, active_only=False)}
    with transaction.atomic():
        buyer.directory_checked_at = timezone.now()
        buyer.save()
        for service in buyer.services.all():
            item = listed.pop(service.code, None)
            if item:
                wanted = _service_fields(item)
            elif lists_services and service.directory_confirmed:
                wanted = {"active": False}
            else:
                continue  # typed in by hand, or the entry lists no services: left as it is
            diff = {k: v for k, v in wanted.items() if getattr(service, k) != v}
            if not diff:
                continue
            if diff.get("active") is False:
                result.changes.append(_("service %(code)s : fermé dans l'annuaire") % {"code": service.code})
            elif diff.get("directory_confirmed"):
                result.changes.append(_("service %(code)s : confirmé par l'annuaire") % {"code": service.code})
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
    return channels.contact_data(buyer)


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
        integration_code=service.integration_code,
    )


def _compact(value) -> str:
    return "".join(str(value or "").split())


def _same_id(value, expected) -> bool:
    try:
        return value is not None and int(value) == int(expected)
    except (TypeError, ValueError):
        return False


def _code_agrees(contact: dict, integration_code: str) -> bool:
    """A contact that carries an integration code must carry ours."""
    theirs = contact.get("integration_code")
    return theirs in (None, "") or theirs == integration_code


def is_buyer_contact(contact: dict, buyer: Buyer) -> bool:
    """True when a contact B2Brouter listed is this buyer's: the entity itself (no parent),
    with the buyer's SIRET, and our integration code if it carries one."""
    return (not contact.get("parent_id")
            and _compact(contact.get("cin_value")) == channels.contact_identity(buyer)[1]
            and _code_agrees(contact, buyer.integration_code))


def is_unit_contact(contact: dict, service: Service, parent_id: int) -> bool:
    """True when a contact B2Brouter listed is this service's organisational unit: under the
    buyer's contact, with the service code (or, when the answer does not show the code, our
    integration code)."""
    if not _same_id(contact.get("parent_id"), parent_id):
        return False
    code = contact.get("cin1_value")
    if code not in (None, ""):
        return str(code) == service.code and _code_agrees(contact, service.integration_code)
    return contact.get("integration_code") == service.integration_code


def _find_contact(client, account_id: int, obj, matches) -> dict | None:
    """The contact B2Brouter already has for `obj`, found by its integration code and checked
    with `matches`; never one another of our rows already uses. An exact integration-code match
    is preferred over a contact that only carries the same identity."""
    found = [c for c in client.iter_contacts(account_id, integration_code=obj.integration_code)
             if matches(c)]
    if not found:
        return None
    taken = set(type(obj).objects.filter(remote_contact_id__in=[c.get("id") for c in found])
                .exclude(pk=obj.pk).values_list("remote_contact_id", flat=True))
    free = [c for c in found if c.get("id") not in taken]
    exact = [c for c in free if c.get("integration_code") == obj.integration_code]
    return (exact or free or [None])[0]


class ContactConflict(b2brouter.RejectedError):
    """The B2Brouter contact found or created for a row is already another row's, or is not
    the contact asked for."""


def _check_created(contact: dict, obj, agrees) -> dict:
    """The answer to a create is checked like a listed contact: a contact that contradicts what
    was sent (another SIRET, another parent or code) is not taken."""
    if not isinstance(contact, dict) or contact.get("id") is None or not agrees(contact):
        message = _("B2Brouter a répondu avec un autre contact que celui demandé pour %(obj)s "
                    ": il n'est pas repris.") % {"obj": obj}
        raise ContactConflict(message, code="contact_mismatch")
    return contact


def error_text(exc: b2brouter.B2BrouterError) -> str:
    """A B2Brouter error as the user reads it in `sync_error` (never the API key)."""
    if isinstance(exc, ContactConflict):
        return exc.message
    if isinstance(exc, b2brouter.RejectedError):
        # The documented 422 names no field: its message says what is wrong.
        detail = "; ".join(f"{name} : {', '.join(messages)}"
                           for name, messages in exc.field_errors.items()) or exc.message
        return _("B2Brouter refuse le contact — %(detail)s") % {"detail": detail}
    if isinstance(exc, b2brouter.TransientError):
        return _("B2Brouter injoignable (%(error)s) ; nouvel essai automatique.") % {"error": exc}
    return _("Erreur B2Brouter : %(error)s") % {"error": exc}


def _mark(obj, *, remote_id=None, error: str = "", clear_remote: bool = False) -> None:
    """Records the outcome of a call on the row. Raises ContactConflict (recorded as the row's
    error) when `remote_id` is already another row's contact: two buyers never share one."""
    model = type(obj)
    fields = {"sync_error": error, "sync_state": SyncState.FAILED if error else SyncState.SYNCED}
    if remote_id is not None:
        fields["remote_contact_id"] = remote_id
    if clear_remote:
        fields["remote_contact_id"] = None
    if not error:
        fields["synced_at"] = timezone.now()
    try:
        with transaction.atomic():
            model.objects.filter(pk=obj.pk).update(**fields)
    except IntegrityError as exc:
        other = model.objects.filter(remote_contact_id=remote_id).exclude(pk=obj.pk).first()
        message = _("Le contact B2Brouter %(id)s est déjà celui de « %(other)s » : il n'est pas "
                    "repris. Vérifiez les deux fiches.") % {"id": remote_id, "other": other}
        model.objects.filter(pk=obj.pk).update(sync_error=message, sync_state=SyncState.FAILED)
        obj.sync_error, obj.sync_state = message, SyncState.FAILED
        raise ContactConflict(message, code="contact_conflict") from exc
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


def registration_lock_seconds() -> int:
    """How long a registration may hold its lock: one B2Brouter call's timeout and a margin
    (a registration is a lookup and a create; the holder releases it as soon as it is done).
    A worker killed while holding it delays the others by this much, no more."""
    return int(settings.B2BROUTER_TIMEOUT) + 5


@contextmanager
def _registering(obj):
    """One registration at a time per buyer or service, across workers (an atomic cache add:
    Redis in production). Without it, two workers could both find no contact and both create
    one. Raises RegistrationInProgress when another worker holds it."""
    key = f"directory:registering:{obj._meta.label_lower}:{obj.pk}"
    token = uuid.uuid4().hex
    if not cache.add(key, token, registration_lock_seconds()):
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
        contact = _find_contact(client, account_id, buyer,
                                lambda c: is_buyer_contact(c, buyer))
        if contact is None:
            contact = _check_created(
                client.create_contact(account_id, payloads.contact_body(_contact_data(buyer))),
                buyer, lambda c: not c.get("parent_id") and (
                    not c.get("cin_value")
                    or _compact(c["cin_value"]) == channels.contact_identity(buyer)[1]))
    except b2brouter.B2BrouterError as exc:
        _mark(buyer, error=error_text(exc))
        raise
    _mark(buyer, remote_id=contact["id"])
    _annuaire_seen(buyer, contact)
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
        contact = _find_contact(client, account_id, service,
                                lambda c: is_unit_contact(c, service, parent_id))
        if contact is None:
            contact = _check_created(
                client.create_contact(
                    account_id, payloads.org_unit_body(_org_unit_data(service, parent_id))),
                service, lambda c: (c.get("parent_id") is None
                                    or _same_id(c.get("parent_id"), parent_id)) and (
                    c.get("cin1_value") in (None, "") or str(c["cin1_value"]) == service.code))
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


REGISTER_TASK = "directory.buyer_register"


def buyer_register_later(*, buyer_id: int) -> None:
    """Enqueues the registration task (by name) once the current transaction commits; a broker
    that is down leaves the row failed, for the admin or a later attempt to retry."""
    enqueue_on_commit(REGISTER_TASK, buyer_id)


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


# ---- the reform's directory (companies) -----------------------------------------------------


def _annuaire_seen(buyer: Buyer, contact: dict) -> None:
    """Records where B2Brouter says a company stands in the reform's directory."""
    if buyer.public_sector:
        return
    state = channels.annuaire_from(contact)
    if state is None:
        return
    Buyer.objects.filter(pk=buyer.pk).update(annuaire=state, annuaire_checked_at=timezone.now())
    buyer.annuaire = state


def buyer_annuaire_refresh(*, buyer: Buyer) -> str:
    """Reads the company's contact at B2Brouter for its standing in the directory
    (`in_dgfip_annuaire`, checked by B2Brouter in the background after the contact is made).
    Returns the state (unchanged when B2Brouter cannot be read now)."""
    if buyer.public_sector or not buyer.remote_contact_id:
        return buyer.annuaire
    try:
        contact = b2brouter_client().get_contact(buyer.remote_contact_id)
    except b2brouter.B2BrouterError as exc:
        logger.warning("buyer %s: contact not read (%s)", buyer.pk, exc)
        return buyer.annuaire
    if _same_id(contact.get("id"), buyer.remote_contact_id):
        _annuaire_seen(buyer, contact)
    return buyer.annuaire
