"""Roles are Django groups. Staff fill in and send invoices; finance reads everything and downloads
the archive; admins do everything, Django admin included."""

STAFF = "staff"
FINANCE = "finance"
ADMINS = "admins"
ALL = (STAFF, FINANCE, ADMINS)


def user_roles(user) -> frozenset[str]:
    """The user's roles, read once per request (kept on the user object)."""
    if not user.is_authenticated:
        return frozenset()
    if user.is_superuser:
        return frozenset(ALL)
    cached = getattr(user, "_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ALL).values_list("name", flat=True))
        user._roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def role_required(*roles: str):
    """View decorator: signed-in users with one of `roles` (superusers always); others get 403,
    anonymous users the sign-in page."""
    from functools import wraps

    from django.contrib.auth.views import redirect_to_login
    from django.core.exceptions import PermissionDenied

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def throttled_username(request, credentials=None) -> str:
    """The username django-axes records for a sign-in attempt (`AXES_USERNAME_CALLABLE`): as
    typed, but storable whatever was typed. Its column holds 255 characters and PostgreSQL
    refuses NUL; Django's sign-in forms do not stop a longer name before `authenticate()`."""
    username = (credentials or {}).get("username")
    if username is None:
        username = request.POST.get("username", "")
    return str(username).replace("\x00", "")[:255]
