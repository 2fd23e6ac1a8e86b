"""Our company's B2Brouter account: found (by its VAT number) or created, once."""

from b2brouter import payloads
from core.gateway import b2brouter_client
from core.models import Account


def account_from_remote(*, remote_id: int) -> Account:
    """Retrieves a B2Brouter account by id and stores (or refreshes) it locally."""
    remote = b2brouter_client().get_account(remote_id)
    account, _created = Account.objects.update_or_create(
        remote_id=remote["id"],
        defaults={
            "name": remote.get("name") or "",
            "vat_number": remote.get("tin_value") or "",
            "siret": remote.get("cin_value") or "",
            "address": remote.get("address") or "",
            "city": remote.get("city") or "",
            "postalcode": remote.get("postalcode") or "",
            "province": remote.get("province") or "",
            "country": (remote.get("country") or "fr").lower(),
            "email": remote.get("email") or "",
            "rounding_method": remote.get("rounding_method") or "half_up",
        },
    )
    return account


def account_register(*, account: Account) -> Account:
    """Gives a local account its B2Brouter id: the existing account with the same VAT number, or a
    new one (as the guide creates it). Idempotent."""
    if account.remote_id:
        return account
    client = b2brouter_client()
    remote = next((a for a in client.iter_accounts() if a.get("tin_value") == account.vat_number), None)
    if remote is None:
        remote = client.create_account(payloads.account_body(payloads.AccountData(
            name=account.name,
            tin_value=account.vat_number,
            # the SIRET under its scheme, so that the legal XML names the seller by its SIRET
            cin_value=account.siret,
            cin_scheme="0009" if account.siret else "",
            address=account.address,
            city=account.city,
            postalcode=account.postalcode,
            province=account.province,
            country=account.country,
            email=account.email,
            rounding_method=account.rounding_method,
        )))
    Account.objects.filter(pk=account.pk).update(remote_id=remote["id"])
    account.remote_id = remote["id"]
    return account
