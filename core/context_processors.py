"""What every page's menu needs: which parts of the site the signed-in user's roles open."""

from core.roles import ADMINS, FINANCE, STAFF, user_roles


def menu(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    roles = user_roles(user)
    return {"nav": {
        "invoices": bool(roles),
        "create": bool(roles & {STAFF, ADMINS}),
        "worklist": bool(roles),
        "ageing": bool(roles),
        "archive": bool(roles & {FINANCE, ADMINS}),
        "buyers": bool(roles),
        "exports": bool(roles),
        "admin": user.is_staff,
    }}
