"""The admin's shared pieces: pages scoped to the accounts an admin works for, and the
pages only a superuser opens.

An admin who is not a superuser sees and changes only what belongs to the accounts they work
for (`Account.users`): the rows listed, the rows opened by id, and the choices a form offers
(an account, a buyer, a service) come from those accounts alone. Who works for an account, who
is a superuser, the groups and their permissions, and the sign-in records are a superuser's.
"""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _

from core.selectors import accounts_for


class AccountScopedAdmin(admin.ModelAdmin):
    """Rows of the signed-in admin's accounts only. `account_path`: the lookup from the model to
    its account (`"account"`, `"buyer__account"`, `"pk"` for the account itself). `add_title`:
    the add page's title as French says it ("Nouvel acheteur public", where Django's would be
    "Ajout de acheteur public")."""

    account_path = "account"
    add_title = None

    def add_view(self, request, form_url="", extra_context=None):
        if self.add_title:
            extra_context = {"title": self.add_title, **(extra_context or {})}
        return super().add_view(request, form_url, extra_context)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.account_path}__in": accounts_for(request.user)})

    def _scoped_choices(self, db_field, request, kwargs) -> None:
        """A choice of a scoped model (an account, a buyer...) offers that model's rows the
        admin may see, and a posted id outside them is refused as an invalid choice."""
        if "queryset" in kwargs:
            return
        related = self.admin_site._registry.get(db_field.remote_field.model)
        if isinstance(related, AccountScopedAdmin):
            kwargs["queryset"] = related.get_queryset(request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class SuperuserOnlyAdmin:
    """A page only superusers open (mixed into the page's own admin class, whose own refusals
    still stand)."""

    @staticmethod
    def _superuser(request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self._superuser(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._superuser(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return self._superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self._superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._superuser(request) and super().has_delete_permission(request, obj)


class ScopedUserAdmin(UserAdmin):
    """Users: an admin who is not a superuser sees the people of their accounts and may correct
    a name or an e-mail address; rights (superuser, staff, groups, permissions) and new users
    are a superuser's."""

    PRIVILEGES = ("is_superuser", "is_staff", "groups", "user_permissions", "is_active")

    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url,
                                {"title": _("Nouvel utilisateur"), **(extra_context or {})})

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(accounts__in=accounts_for(request.user)).distinct()

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [name for name in self.PRIVILEGES if name not in fields]
        return fields

    def has_add_permission(self, request):
        return request.user.is_superuser and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        # Another user's password is a superuser's to set; one's own is changed by the usual
        # "change password" page.
        if not request.user.is_superuser:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        return super().user_change_password(request, id, form_url)


class SuperuserGroupAdmin(SuperuserOnlyAdmin, GroupAdmin):
    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url,
                                {"title": _("Nouveau groupe"), **(extra_context or {})})


admin.site.unregister(User)
# The sign-in records name every account's users and addresses: a superuser's.
for _model, _model_admin in list(admin.site._registry.items()):
    if _model._meta.app_label == "axes":
        admin.site.unregister(_model)
        admin.site.register(_model, type(type(_model_admin).__name__,
                                         (SuperuserOnlyAdmin, type(_model_admin)), {}))

admin.site.register(User, ScopedUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, SuperuserGroupAdmin)

# The admin speaks of the product, not of Django.
admin.site.site_header = _("Factures Chorus Pro — administration")
admin.site.site_title = _("Factures Chorus Pro")
admin.site.index_title = _("Acheteurs, services, comptes et utilisateurs")
