"""Public buyers: the SIRET lookup widget, the buyer list and detail pages.

Thin views: they check the role and the account, call a service or selector, and render either
the whole page or, for htmx, the partial of the same template. Every action also works as a
plain form post (no JavaScript).
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

import b2brouter
from core.roles import ADMINS, ALL, STAFF, has_role
from core.selectors import accounts_for
from directory import channels, selectors, services
from directory.forms import BuyerCreateForm, LookupForm, ServiceAddForm, details_from, flags_from
from directory.models import Annuaire, Buyer

WIDGET = "directory/_buyer_lookup.html#buyer-lookup"


def role_required(*roles):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied(_("Votre rôle ne permet pas cette action."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _can_edit(user) -> bool:
    return has_role(user, STAFF, ADMINS)


def _service_choices(entry: dict, exclude=()) -> list[tuple[str, str]]:
    choices = []
    for item in services.entry_services(entry):
        if item["code"] in exclude:
            continue
        label = f"{item['code']} — {item.get('name', '')}"
        if item.get("engagement_required"):
            label += " " + _("(n° d'engagement obligatoire)")
        choices.append((item["code"], label))
    return choices


# Lookup failures after which the person may still create the buyer by hand.
_NO_ANSWER = ("unknown", "unavailable", "timeout")


def _widget_context(request, *, siret: str = "", target: str = "", lookup_form=None,
                    create_form=None, error=None, buyer: Buyer | None = None) -> dict:
    """Everything the widget partial shows for `siret` (already validated) or its error."""
    user = request.user
    lookup = {"siret": siret, "error": error, "entry": None, "buyers": [], "buyer": buyer,
              "create_form": None, "add_forms": {}, "manual": False, "flags": None}
    by_siren = len(siret) == 9
    if siret and error is None:
        try:
            if by_siren:  # B2Brouter documents its directory by SIRET only
                raise services.by_siren_only(siret)
            lookup["entry"] = services.directory_lookup(siret=siret, user=user)
        except services.DirectoryError as exc:
            lookup["error"] = exc
    if siret:
        lookup["buyers"] = list(selectors.buyers_with_siret(user=user, siret=siret))
        if lookup["buyers"] and lookup["error"] is not None and lookup["error"].kind == "unknown":
            lookup["error"] = None  # the buyer exists (typed by hand): "not found" no longer
    # The buyer to choose on the page the widget sits in (the invoice form): the one just made,
    # or the only one found.
    lookup["chosen"] = buyer or (lookup["buyers"][0] if len(lookup["buyers"]) == 1 else None)
    entry = lookup["entry"]
    lookup["company"] = by_siren or (bool(entry) and not channels.entry_is_public(entry))
    if entry and not lookup["company"]:
        lookup["flags"] = services.entry_flags(entry)
        lookup["lists_services"] = services.entry_lists_services(entry)
    failed = lookup["error"] is not None and lookup["error"].kind in _NO_ANSWER
    if (entry or (siret and failed)) and _can_edit(user):
        have = {b.account_id for b in lookup["buyers"]}
        accounts = accounts_for(user).exclude(pk__in=have)
        if accounts.exists():
            lookup["manual"] = entry is None
            lookup["create_form"] = create_form or BuyerCreateForm(
                accounts=accounts,
                service_choices=_service_choices(entry) if entry else [],
                manual=entry is None, ask_flags=bool(entry) and lookup["flags"] is None,
                company=lookup["company"],
                initial={"siret": siret, "target": target, "account": accounts.first()},
            )
        for existing in lookup["buyers"]:
            if not existing.public_sector:
                continue  # a company has no services to add
            choices = _service_choices(entry, exclude={s.code for s in existing.services.all()}) \
                if entry else []
            lookup["add_forms"][existing.pk] = ServiceAddForm(
                service_choices=choices, initial={"target": target})
    lookup["add_form_list"] = [(b, lookup["add_forms"].get(b.pk)) for b in lookup["buyers"]]
    return {
        "lookup_form": lookup_form or LookupForm(initial={"siret": siret, "target": target}),
        "lookup": lookup,
        "buyer_target_form": target,
        "can_edit": _can_edit(user),
    }


def _render_widget(request, context: dict, *, page: str = "directory/lookup.html") -> HttpResponse:
    if request.htmx:
        return render(request, WIDGET, context)
    return render(request, page, context)


@require_GET
@login_required
@role_required(*ALL)
def lookup(request) -> HttpResponse:
    """`GET /directory/lookup/?siret=`: the entity, its flags and services, and what to do next."""
    form = LookupForm(request.GET or None)
    if not form.is_bound:
        return _render_widget(request, _widget_context(request, lookup_form=form))
    if not form.is_valid():
        return _render_widget(request, _widget_context(
            request, lookup_form=form, target=form.data.get("target", "")))
    return _render_widget(request, _widget_context(
        request, siret=form.cleaned_data["siret"], target=form.cleaned_data["target"],
        lookup_form=form))


@require_http_methods(["GET", "POST"])
@login_required
def buyers(request) -> HttpResponse:
    """`GET /directory/buyers/?q=`: the account's buyers; `POST`: create one from the directory."""
    if request.method == "POST":
        return _buyer_create(request)
    if not has_role(request.user, *ALL):
        raise PermissionDenied
    query = request.GET.get("q", "")
    context = {
        "buyers": selectors.buyer_list(user=request.user, query=query)[:200],
        "query": query,
        **_widget_context(request),
    }
    if request.htmx and request.htmx.target == "buyer-table":
        return render(request, "directory/buyer_list.html#buyer-table", context)
    return render(request, "directory/buyer_list.html", context)


def _buyer_create(request) -> HttpResponse:
    if not _can_edit(request.user):
        raise PermissionDenied(_("Seuls les rôles « staff » et « admins » créent des acheteurs."))
    target = request.POST.get("target", "")[:64]
    manual = request.POST.get("manual") in ("1", "True", "true", "on")
    try:
        siret = services.identifier_clean(request.POST.get("siret", ""))
        if len(siret) == 9:
            manual = True  # a SIREN: a company typed by hand
        entry = None if manual else services.directory_lookup(siret=siret)
    except services.DirectoryError as exc:
        lookup_form = LookupForm({"siret": request.POST.get("siret", ""), "target": target})
        if exc.kind in _NO_ANSWER:  # offered: create it by hand
            return _render_widget(request, _widget_context(
                request, siret=services.identifier_clean(request.POST.get("siret", "")),
                target=target, lookup_form=lookup_form, error=exc))
        return _render_widget(request, _widget_context(
            request, siret="", target=target, lookup_form=lookup_form, error=exc))
    have = selectors.buyers_with_siret(user=request.user, siret=siret).values("account_id")
    company = len(siret) == 9 or (bool(entry) and not channels.entry_is_public(entry))
    form = BuyerCreateForm(request.POST, accounts=accounts_for(request.user).exclude(pk__in=have),
                           service_choices=_service_choices(entry) if entry and not company
                           else [], manual=manual, company=company,
                           ask_flags=bool(entry) and services.entry_flags(entry) is None)
    if not form.is_valid():
        return _render_widget(request, _widget_context(request, siret=siret, target=target,
                                                       create_form=form))
    try:
        if manual:
            buyer = services.buyer_create_by_hand(
                account=form.cleaned_data["account"], siret=siret,
                details=details_from(form.cleaned_data), service_codes=form.service_codes(),
                company=form.is_company())
        else:
            buyer = services.buyer_create_from_directory(
                account=form.cleaned_data["account"], siret=siret,
                service_codes=form.service_codes(), flags=flags_from(form.cleaned_data))
    except services.DirectoryError as exc:
        return _render_widget(request, _widget_context(request, siret=siret, target=target,
                                                       create_form=form, error=exc))
    if services.buyer_register_now_or_later(buyer=buyer):
        messages.success(request, _("%(name)s est créé et enregistré chez B2Brouter.")
                         % {"name": buyer.name})
    else:
        messages.warning(request, _("%(name)s est créé, mais pas encore enregistré chez B2Brouter.")
                         % {"name": buyer.name})
    if request.htmx:
        response = render(request, WIDGET, _widget_context(request, siret=siret, target=target,
                                                           buyer=buyer))
        return trigger_client_event(response, "buyerCreated")  # the list page reloads its table
    return redirect("directory:buyer_detail", pk=buyer.pk)


@require_GET
@login_required
@role_required(*ALL)
def buyer_detail(request, pk: int) -> HttpResponse:
    buyer = get_object_or_404(selectors.buyer_list(user=request.user), pk=pk)
    add_form = None
    if not buyer.public_sector:
        if buyer.annuaire in (Annuaire.UNKNOWN, Annuaire.PENDING):
            # B2Brouter checks the directory in the background after the contact is made.
            services.buyer_annuaire_refresh(buyer=buyer)
    elif _can_edit(request.user):
        try:
            entry = services.directory_lookup(siret=buyer.siret)
        except services.DirectoryError:
            entry = None
        choices = _service_choices(entry, exclude={s.code for s in buyer.services.all()}) \
            if entry else []
        add_form = ServiceAddForm(service_choices=choices)
    return render(request, "directory/buyer_detail.html", {
        "buyer": buyer, "services": buyer.services.all(), "add_form": add_form,
        "can_edit": _can_edit(request.user),
    })


@require_POST
@login_required
@role_required(STAFF, ADMINS)
def service_add(request, pk: int) -> HttpResponse:
    """`POST /directory/buyers/<pk>/services/`: add a service, picked among the directory's or
    typed (then "not confirmed by the directory")."""
    buyer = get_object_or_404(selectors.buyer_list(user=request.user), pk=pk)
    target = request.POST.get("target", "")[:64]
    form = ServiceAddForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("code", [])) or
                       _("Saisissez un code service."))
        return _after_buyer_action(request, buyer, target)
    try:
        service = services.service_add_from_directory(buyer=buyer, code=form.cleaned_data["code"])
    except services.DirectoryError as exc:
        messages.error(request, exc.message)
        return _after_buyer_action(request, buyer, target)
    unconfirmed = "" if service.directory_confirmed else " " + _("(non confirmé par l'annuaire)")
    try:
        services.service_ensure_registered(service=service)
        messages.success(request, _("Service %(code)s ajouté et enregistré chez B2Brouter.")
                         % {"code": service.code} + unconfirmed)
    except b2brouter.TransientError:
        services.buyer_register_later(buyer_id=buyer.pk)
        messages.warning(request, _("Service %(code)s ajouté ; l'enregistrement chez B2Brouter "
                                    "sera réessayé.") % {"code": service.code} + unconfirmed)
    except b2brouter.B2BrouterError:
        messages.error(request, _("Service %(code)s ajouté, mais B2Brouter l'a refusé.")
                       % {"code": service.code})
    return _after_buyer_action(request, buyer, target)


@require_POST
@login_required
@role_required(STAFF, ADMINS)
def buyer_register(request, pk: int) -> HttpResponse:
    """`POST /directory/buyers/<pk>/register/`: (re)try registering at B2Brouter now."""
    buyer = get_object_or_404(selectors.buyer_list(user=request.user), pk=pk)
    if services.buyer_register_now_or_later(buyer=buyer, verify=True):
        messages.success(request, _("%(name)s est enregistré chez B2Brouter.") % {"name": buyer.name})
    else:
        messages.error(request, _("L'enregistrement chez B2Brouter a échoué : voir l'erreur ci-dessous."))
    return _after_buyer_action(request, buyer, request.POST.get("target", "")[:64])


def _after_buyer_action(request, buyer: Buyer, target: str) -> HttpResponse:
    buyer.refresh_from_db()
    if request.htmx and request.htmx.target == "buyer-lookup":
        return render(request, WIDGET, _widget_context(request, siret=buyer.siret, target=target,
                                                       buyer=buyer))
    url = reverse("directory:buyer_detail", kwargs={"pk": buyer.pk})
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)
