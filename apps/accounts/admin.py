from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group

from apps.audit.admin_base import PortalAdmin, ReadOnlyInline

from .models import ApiToken, Team, TeamMembership, User
from .services import api_token_revoke


@admin.register(User)
class UserAdmin(PortalAdmin, BaseUserAdmin):
    """People and service accounts are maintained here; nobody is deleted (the trail names them):
    deactivate instead."""

    admin_writes = ("add", "change")
    list_display = ("username", "email", "kind", "is_active", "is_superuser")
    list_filter = ("kind", "is_active", "groups")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Release Portal", {"fields": ("kind", "owner_team")}))

    def user_change_password(self, request, id, form_url=""):
        with self.acting_admin(request):
            return super().user_change_password(request, id, form_url)


# Roles are Django groups defined in code (apps.accounts.roles); who holds one is set on the user.
admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(PortalAdmin):
    list_display = ("name",)
    search_fields = ("name",)


class MembershipInline(ReadOnlyInline, admin.TabularInline):
    """Joining or leaving a team goes through team_membership_add/remove: leaving tells access
    reviews to flag what the person held through the team."""

    model = TeamMembership
    extra = 0
    fields = ("user", "role")
    readonly_fields = ("user", "role")


@admin.register(Team)
class TeamAdmin(PortalAdmin):
    admin_writes = ("add", "change")
    list_display = ("name", "slug", "lead")
    search_fields = ("name", "slug")
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(PortalAdmin):
    """Tokens are minted in the profile page or with create_api_token (shown once) and revoked
    through api_token_revoke; their scopes and expiry are never edited."""

    list_display = ("name", "user", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "prefix")
    exclude = ("token_hash",)
    actions = ["revoke_selected"]

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_apitoken")

    @admin.action(permissions=["revoke"], description="Revoke the selected tokens")
    def revoke_selected(self, request, queryset):
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token, actor=request.user, reason="revoked in the admin")
            revoked += 1
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)
