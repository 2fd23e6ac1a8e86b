"""Who gets what: every URL of the project, walked from the resolver, as anonymous, staff,
finance, admin and a user of another account.

Each URL is classified in `EXPECTED` (by URL name) or, for the Django admin's per-model pages,
by `ADMIN_MODELS`: a URL added without saying who may see it fails `test_every_url_is_classified`.
"""

import datetime
import hashlib
import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.models import ExportJob
from core.roles import ADMINS, FINANCE, STAFF
from directory.models import Buyer
from invoicing.models import Invoice, InvoiceAttachment, InvoicePdf, LegalDocument
from invoicing.models import InvoiceState as S
from invoicing.services import drafts
from tests.factories import (
    AccountFactory,
    BuyerFactory,
    InvoiceFactory,
    ServiceFactory,
    UserFactory,
)
from tests.invoicing.helpers import user_in
from tests.support.urls import Route, all_routes

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "staff", "finance", "admin", "other")
LOGIN = "login"  # redirected to the sign-in page
ADMIN_LOGIN = "admin-login"  # redirected to the admin's sign-in page
ALL_405 = (405,) * 5


def _readers(other=404):
    return (LOGIN, 200, 200, 200, other)


# anonymous, staff, finance, admin (superuser), admin of another account: the answer to a GET.
EXPECTED: dict[str, tuple] = {
    "home": _readers(200),
    "health": (200,) * 5,  # public machine endpoint
    "login": (200,) * 5,
    "logout": ALL_405,  # a POST only
    "news_read": ALL_405,
    "invoicing:export_csv": _readers(200),  # another account's user: its own, empty list
    "invoicing:export_xlsx": _readers(200),
    "set_language": (302,) * 5,  # back where the user came from
    "b2brouter_webhook": ALL_405,  # public machine endpoint, signed POST only
    "invoicing:list": _readers(200),
    "invoicing:create": (LOGIN, 200, 403, 200, 200),
    "invoicing:bulk_send": ALL_405,
    "invoicing:form_totals": ALL_405,
    "invoicing:form_line": (LOGIN, 200, 403, 200, 200),
    "invoicing:form_routing": (LOGIN, 200, 403, 200, 200),
    "invoicing:detail": _readers(),
    "invoicing:edit": (LOGIN, 200, 403, 200, 404),
    "invoicing:send": ALL_405,
    "invoicing:progress": (LOGIN, 302, 302, 302, 404),  # not htmx: to the detail page
    "invoicing:print": _readers(),
    "invoicing:legal_view": _readers(),
    "invoicing:legal_xml": _readers(),
    "invoicing:pdf": _readers(),
    "invoicing:fix": (LOGIN, 302, 403, 302, 404),  # a draft is no routing return: to its page
    "invoicing:credit_note": (LOGIN, 302, 403, 302, 404),  # a draft is not credited: to its page
    "invoicing:credit_note_edit": (LOGIN, 302, 403, 302, 404),  # not a credit note: its form
    "invoicing:replace": ALL_405,
    "invoicing:copy": ALL_405,
    "invoicing:discard": ALL_405,
    "invoicing:attachment_add": ALL_405,
    "invoicing:attachment": _readers(),
    "invoicing:attachment_delete": ALL_405,
    "finance:archive": (LOGIN, 403, 200, 200, 200),
    "finance:archive_download": (LOGIN, 403, 200, 200, 404),
    "finance:archive_pdf": (LOGIN, 403, 200, 200, 404),
    "finance:archive_zip": (LOGIN, 403, 200, 200, 200),
    "finance:worklist": _readers(200),
    "finance:ageing": _readers(200),
    "finance:invoice_payments": _readers(),
    "finance:balance": _readers(200),
    "finance:buyer_figures": _readers(200),
    "finance:buyer_transfer": ALL_405,
    "finance:invoice_reminder": _readers(),
    "finance:statements": (LOGIN, 403, 200, 200, 200),
    "finance:books": (LOGIN, 403, 200, 200, 200),
    "finance:payment_reverse": ALL_405,
    "directory:lookup": _readers(200),
    "directory:buyers": _readers(200),
    "directory:buyer_detail": _readers(),
    "directory:service_add": ALL_405,
    "directory:buyer_register": ALL_405,
    "core:export_list": _readers(200),  # another account's user: its own, empty list
    "core:export_create": ALL_405,
    "core:export_detail": _readers(),
    "core:export_download": _readers(),
    "admin:index": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, ADMIN_LOGIN),
    "admin:login": (200, 200, 200, 302, 200),  # signed in but not staff: asked to sign in again
    "admin:logout": (302, 302, 302, 405, 302),  # not staff: to the admin's index (then sign-in)
    "admin:password_change": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, ADMIN_LOGIN),
    "admin:password_change_done": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, ADMIN_LOGIN),
    "admin:autocomplete": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403, ADMIN_LOGIN),
    "admin:jsi18n": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, ADMIN_LOGIN),
    "admin:view_on_site": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404, ADMIN_LOGIN),
    "admin:app_list": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, ADMIN_LOGIN),
    "admin/(?P<url>.*)$": (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404, ADMIN_LOGIN),
}

# The Django admin's pages of each registered model: only the admin (staff, superuser) gets in.
ADMIN_MODELS = {
    "auth_group": Group, "auth_user": None, "axes_accessattempt": AccessAttempt,
    "axes_accesslog": AccessLog, "axes_accessfailurelog": AccessFailureLog,
    "core_account": None, "invoicing_invoice": Invoice, "invoicing_legaldocument": LegalDocument,
    "invoicing_invoicepdf": InvoicePdf, "directory_buyer": Buyer, "directory_service": None,
}
ADMIN_PAGES = {"changelist": 200, "add": 200, "history": 200, "delete": 200, "change": 200,
               "": 302, "password_change": 200,
               "reform": 200}  # an account's activation for invoices to companies  # "": the object's bare URL, to its change page
# What even the admin may not do: the archive is read-only; sign-in records are not typed in.
ADMIN_REFUSED = {"admin:invoicing_legaldocument_add": 403,
                 # a service is added on its buyer's page
                 "admin:directory_service_add": 403,
                 # invoices are made and numbered in the application; an issued one (the
                 # world's invoice is numbered) is never deleted
                 "admin:invoicing_invoice_add": 403, "admin:invoicing_invoice_delete": 403,
                 "admin:invoicing_legaldocument_delete": 403,
                 "admin:invoicing_invoicepdf_add": 403, "admin:invoicing_invoicepdf_delete": 403,
                 "admin:axes_accessattempt_add": 403, "admin:axes_accesslog_add": 403,
                 "admin:axes_accessfailurelog_add": 403}
_ADMIN_MODEL_URL = re.compile(r"^admin:(?P<model>[a-z]+_[a-z]+?)_(?P<page>changelist|add|history|"
                              r"delete|change|password_change|reform)$")
_ADMIN_BARE = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/<path:object_id>/$")


def _admin_model_page(key: str) -> tuple[str, str] | None:
    """(model key, page) for an admin per-model URL of a registered model, else None."""
    if match := _ADMIN_MODEL_URL.match(key):
        model, page = match["model"], match["page"]
    elif match := _ADMIN_BARE.match(key):
        model, page = f"{match['app']}_{match['model']}", ""
    else:
        return None
    if model not in ADMIN_MODELS or (page == "password_change" and model != "auth_user") or (
            page == "reform" and model != "core_account"):
        return None
    return model, page


def expected(key: str) -> tuple:
    if key in EXPECTED:
        return EXPECTED[key]
    if _admin_model_page(key) is None:
        raise KeyError(key)
    _model, page = _admin_model_page(key)
    return (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_REFUSED.get(key, ADMIN_PAGES[page]),
            ADMIN_LOGIN)


def test_every_url_is_classified():
    unknown = []
    for route in all_routes():
        try:
            expected(route.key)
        except KeyError:
            unknown.append(f"{route.key} ({route.route})")
    assert not unknown, "URLs nobody said who may see; add them to EXPECTED: " + ", ".join(unknown)
    stale = set(EXPECTED) - {route.key for route in all_routes()}
    assert not stale, f"EXPECTED names URLs that no longer exist: {stale}"


# --- The world the walk runs in ------------------------------------------------------------------

@pytest.fixture
def world(b2b):
    account = AccountFactory(name="Ours SAS", invoice_number_prefix="A-")
    other_account = AccountFactory(name="Theirs SAS", siret="73282932000074")
    buyer = BuyerFactory(account=account)
    service = ServiceFactory(buyer=buyer)
    invoice = InvoiceFactory(account=account, buyer=buyer, service=service, number="A-00001")
    attachment = drafts.attachment_add(invoice=invoice,
                                       upload=SimpleUploadedFile("bon.pdf", b"%PDF-1.4 bon"))
    content = b"<Invoice/>"
    document = LegalDocument.objects.create(
        invoice=invoice, submission_round=1, content=content, size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), content_type="application/xml",
        source_url="/attachments/download/1")
    pdf = b"%PDF-1.4 the invoice"
    invoice_pdf = InvoicePdf.objects.create(invoice=invoice, submission_round=1, content=pdf, size=len(pdf),
                              sha256=hashlib.sha256(pdf).hexdigest())
    users = {
        "staff": user_in(STAFF, account),
        "finance": user_in(FINANCE, account),
        "admin": user_in(ADMINS, account, is_staff=True, is_superuser=True),
        # An admin of their own account: every role, but none of our rows.
        "other": user_in(ADMINS, other_account),
    }
    AccessAttempt.objects.create(username="someone", ip_address="127.0.0.9", failures_since_start=1,
                                 get_data="", post_data="", http_accept="", path_info="/login/")
    AccessLog.objects.create(username="someone", ip_address="127.0.0.9", http_accept="",
                             path_info="/login/")
    AccessFailureLog.objects.create(username="someone", ip_address="127.0.0.9", http_accept="",
                                    path_info="/login/", locked_out=False)
    object_ids = {
        "auth_group": Group.objects.get(name=STAFF).pk, "auth_user": users["staff"].pk,
        "axes_accessattempt": AccessAttempt.objects.get().pk,
        "axes_accesslog": AccessLog.objects.get().pk,
        "axes_accessfailurelog": AccessFailureLog.objects.get().pk,
        "core_account": account.pk, "invoicing_invoice": invoice.pk,
        "invoicing_legaldocument": document.pk, "invoicing_invoicepdf": invoice_pdf.pk,
        "directory_buyer": buyer.pk,
        "directory_service": service.pk,
    }
    export = ExportJob.objects.create(kind="invoices.csv", account_ids=[account.pk],
                                      created_by=users["staff"], status="ready",
                                      file_name="factures.csv")
    export.file.save(f"access-{export.pk}.csv", ContentFile(b"\xef\xbb\xbfNum\n"), save=True)
    from finance.models import Payment

    payment = Payment.objects.create(invoice=invoice, account=account, amount=10,
                                     received_on=datetime.date.today())
    return {"account": account, "invoice": invoice, "buyer": buyer, "attachment": attachment,
            "document": document, "export": export, "users": users, "object_ids": object_ids,
            "payment": payment}


def _values(route: Route, world: dict) -> dict:
    """Real ids for the route's parameters."""
    key = route.key
    pk = world["invoice"].pk
    if key in ("finance:invoice_payments", "finance:invoice_reminder"):
        pk = world["invoice"].pk
    elif key == "finance:payment_reverse":
        pk = world["payment"].pk
    elif key.startswith("finance:"):
        pk = world["document"].pk
    elif key.startswith("directory:"):
        pk = world["buyer"].pk
    elif key.startswith("core:"):
        pk = world["export"].pk
    values = {"pk": pk, "attachment_pk": world["attachment"].pk, "app_label": "directory",
              "url": "nowhere/", "id": world["users"]["staff"].pk,
              "content_type_id": ContentType.objects.get_for_model(Invoice).pk,
              "object_id": world["invoice"].pk}
    if page := _admin_model_page(key):
        values["object_id"] = world["object_ids"][page[0]]
        values["pk"] = world["object_ids"][page[0]]
    return values


def _client(world: dict, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world["users"][role])
    return client


def _check(response, want, url: str, role: str) -> None:
    got = response.status_code
    where = f"{role} {response.request['REQUEST_METHOD']} {url}: {got}"
    if want == LOGIN:
        assert got == 302 and response.url.startswith("/login/?next="), where
    elif want == ADMIN_LOGIN:
        assert got == 302 and response.url.startswith("/admin/login/?next="), where
    else:
        assert got == want, where


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_as_expected(world, role):
    client = _client(world, role)
    for route in all_routes():
        url = route.fill(_values(route, world))
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        _check(response, expected(route.key)[ROLES.index(role)], url, role)


def test_health_is_public_and_tells_no_secret(client, b2b):
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.content.decode()
    for secret in (settings.B2BROUTER_API_KEY, settings.B2BROUTER_WEBHOOK_SECRET,
                   settings.SECRET_KEY, settings.B2BROUTER_API_URL):
        assert secret not in body
    assert response.json() == {"status": "ok"}  # the details are for operators


def test_health_details_are_for_operators_only(client, b2b, settings):
    import secrets

    settings.HEALTH_TOKEN = secrets.token_hex(16)
    calls = b2b.control("GET", "/_sandbox/stats")["total"]
    assert client.get("/health/").json() == {"status": "ok"}
    assert client.get("/health/", HTTP_AUTHORIZATION="Bearer wrong").json() == {"status": "ok"}
    assert b2b.control("GET", "/_sandbox/stats")["total"] == calls  # no B2Brouter call for them
    detailed = client.get("/health/", HTTP_AUTHORIZATION=f"Bearer {settings.HEALTH_TOKEN}")
    assert detailed.json() == {"status": "ok", "checks": {
        "database": "ok", "broker": "ok", "b2brouter": "ok"}}
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert set(client.get("/health/").json()["checks"]) == {"database", "broker", "b2brouter"}


# --- POSTs by the wrong role -------------------------------------------------------------------------

# For each URL that takes a POST: what the roles that may not act get (the others act, which the
# feature tests cover).
POST_REFUSED: dict[str, dict[str, object]] = {
    "news_read": {"anonymous": LOGIN},  # any role marks its own news read
    "invoicing:create": {"anonymous": LOGIN, "finance": 403},
    "invoicing:edit": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "invoicing:bulk_send": {"anonymous": LOGIN, "finance": 403},
    "invoicing:form_totals": {"anonymous": LOGIN, "finance": 403},
    "invoicing:send": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "invoicing:fix": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "invoicing:credit_note": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "invoicing:credit_note_edit": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "invoicing:replace": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "invoicing:copy": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "invoicing:discard": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "invoicing:attachment_add": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "invoicing:attachment_delete": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "directory:buyers": {"anonymous": LOGIN, "finance": 403},
    "directory:service_add": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "directory:buyer_register": {"anonymous": LOGIN, "finance": 403, "other": 404},
    "b2brouter_webhook": {"anonymous": 401, "finance": 401},  # unsigned
    "core:export_create": {"anonymous": LOGIN, "finance": 403, "other": 403},  # no such export
    # staff read an invoice's payments; finance records and reverses them
    "finance:invoice_payments": {"anonymous": LOGIN, "staff": 403, "other": 404},
    "finance:payment_reverse": {"anonymous": LOGIN, "staff": 403, "other": 404},
    "finance:invoice_reminder": {"anonymous": LOGIN, "other": 404},
    "finance:statements": {"anonymous": LOGIN, "staff": 403},
    "finance:buyer_transfer": {"anonymous": LOGIN, "staff": 403, "other": 404},
}


@pytest.mark.parametrize("key", sorted(POST_REFUSED))
def test_the_wrong_role_cannot_post(world, key):
    route = next(route for route in all_routes() if route.key == key)
    url = route.fill(_values(route, world))
    invoice_before = Invoice.objects.values().get(pk=world["invoice"].pk)
    rows_before = (Invoice.objects.count(), Buyer.objects.count(), InvoiceAttachment.objects.count())
    for role, want in POST_REFUSED[key].items():
        response = _client(world, role).post(url, {"ids": [world["invoice"].pk],
                                                    "siret": world["buyer"].siret, "code": "X"})
        _check(response, want, url, role)
    assert Invoice.objects.values().get(pk=world["invoice"].pk) == invoice_before
    assert (Invoice.objects.count(), Buyer.objects.count(),
            InvoiceAttachment.objects.count()) == rows_before


def test_every_url_that_takes_a_post_is_in_the_post_table():
    """Each URL that does not refuse a POST outright (405) says who may post."""
    takes_post = {key for key, answers in EXPECTED.items() if answers != ALL_405 and
                  not key.startswith("admin") and key not in ("login", "set_language")}
    get_only = {"home", "health", "invoicing:list", "invoicing:export_csv", "invoicing:export_xlsx",
                "invoicing:form_line", "invoicing:form_routing",
                "invoicing:detail", "invoicing:progress", "invoicing:print",
                "invoicing:legal_view", "invoicing:legal_xml", "invoicing:pdf",
                "invoicing:attachment", "finance:archive", "finance:archive_download",
                "finance:archive_pdf", "finance:archive_zip",
                "finance:worklist", "finance:ageing", "finance:balance", "finance:books",
                "finance:buyer_figures",
                "directory:lookup", "directory:buyer_detail",
                "core:export_list", "core:export_detail", "core:export_download"}
    post_only = {key for key, answers in EXPECTED.items() if answers == ALL_405} - {
        "logout", "admin:logout"}
    assert takes_post - get_only | post_only == set(POST_REFUSED)


@pytest.mark.parametrize("key", ["home", "invoicing:list", "invoicing:detail", "finance:archive",
                                 "directory:lookup", "directory:buyer_detail", "health"])
def test_read_only_urls_refuse_a_post(world, key):
    route = next(route for route in all_routes() if route.key == key)
    client = _client(world, "admin")
    assert client.post(route.fill(_values(route, world))).status_code == 405


def test_a_user_without_role_sees_nothing(world):
    client = Client()
    client.force_login(user_in(None, world["account"]))
    for key in ("home", "invoicing:detail", "finance:archive", "directory:buyers",
                "directory:buyer_detail"):
        route = next(route for route in all_routes() if route.key == key)
        assert client.get(route.fill(_values(route, world))).status_code == 403, key


def test_another_accounts_draft_stays_untouched_by_its_admin(world):
    """The other account's admin posts every action on our invoice: 404 each time."""
    invoice = world["invoice"]
    client = _client(world, "other")
    for key in ("invoicing:send", "invoicing:credit_note", "invoicing:replace",
                "invoicing:discard"):
        route = next(route for route in all_routes() if route.key == key)
        assert client.post(route.fill(_values(route, world))).status_code == 404
    invoice.refresh_from_db()
    assert invoice.state == S.DRAFT
