from functools import wraps
from http import HTTPStatus

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from . import services
from .forms import AdminLoginForm
from .models import ApiToken, Invitation, Membership, Tenant, User


def _locked_out_is_429(login_view):
    """The admin's login view answering 429 to a locked-out pair, as /accounts/login/ does.
    Wrapping the one view: replacing the default site would take an AdminConfig in
    INSTALLED_APPS for a status code."""

    @wraps(login_view)
    def view(request, extra_context=None):
        response = login_view(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if getattr(form, "is_locked_out", False):
            response.status_code = HTTPStatus.TOO_MANY_REQUESTS
        return response

    return view


admin.site.login_form = AdminLoginForm
# Before the admin's URLs are built (they take `admin.site.login` when first resolved).
admin.site.login = _locked_out_is_429(admin.site.login)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "display_name", "is_staff", "is_active", "email_verified_at", "date_joined"]
    search_fields = ["email", "display_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("display_name",)}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined", "email_verified_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    # A deleted user's sockets find no user when they check their credential again (4401).
    def delete_model(self, request, obj):
        user_id = obj.pk
        super().delete_model(request, obj)
        _memberships_changed([user_id], "user_deleted")

    def delete_queryset(self, request, queryset):
        user_ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        _memberships_changed(user_ids, "user_deleted")


def _memberships_changed(user_ids, reason: str = "membership_changed") -> None:
    """Admins edit memberships, and delete tenants and users, directly: a removed, moved or
    demoted member's sockets check their rights again, as after `services.remove_member`."""
    for user_id in {user_id for user_id in user_ids if user_id is not None}:
        services.recheck_user_access(user_id, reason)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "created_at"]
    search_fields = ["name", "id", "memberships__user__email"]
    inlines = [MembershipInline]

    def save_formset(self, request, form, formset, change):
        touched = [f for f in formset.initial_forms if f.has_changed() or f in formset.deleted_forms]
        super().save_formset(request, form, formset, change)
        if formset.model is Membership:
            _memberships_changed([f.initial.get("user") for f in touched])

    # Deleting a tenant deletes its memberships (a tenant with workflows cannot be deleted).
    def delete_model(self, request, obj):
        user_ids = list(obj.memberships.values_list("user_id", flat=True))
        super().delete_model(request, obj)
        _memberships_changed(user_ids)

    def delete_queryset(self, request, queryset):
        user_ids = list(Membership.objects.filter(tenant__in=queryset).values_list("user_id", flat=True))
        super().delete_queryset(request, queryset)
        _memberships_changed(user_ids)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and form.has_changed():
            _memberships_changed([form.initial.get("user"), obj.user_id])

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        _memberships_changed([obj.user_id])

    def delete_queryset(self, request, queryset):
        user_ids = list(queryset.values_list("user_id", flat=True))
        super().delete_queryset(request, queryset)
        _memberships_changed(user_ids)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by their owners; admins see metadata (never the hash) and revoke."""

    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__email", "prefix"]
    fields = ["user", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        """Revoked, never deleted: a revocation is what closes the token's sockets and ends its
        poll passes (project.polls), and the row stays as the record of it."""
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            services.revoke_api_token(token)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "tenant", "role", "invited_by", "sent_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["email", "tenant__name"]
    readonly_fields = ["tenant", "email", "invited_by", "token_hash", "created_at", "sent_at", "expires_at", "accepted_at", "accepted_by"]
    fields = [*readonly_fields[:3], "role", *readonly_fields[3:], "revoked_at"]
    autocomplete_fields = []
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # invitations are sent from the tenant's page or the API, with their email

    @admin.action(description="Revoke the selected invitations")
    def revoke(self, request, queryset):
        from django.utils import timezone

        count = queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} invitation(s).")

