from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from simple_history.admin import SimpleHistoryAdmin

from releaseportal.admin import AuditedAdminMixin

from .models import ApiToken, Team, TeamMembership, User


@admin.register(User)
class UserAdmin(AuditedAdminMixin, BaseUserAdmin, SimpleHistoryAdmin):
    list_display = ("username", "email", "kind", "is_active", "is_superuser")
    list_filter = ("kind", "is_active", "groups")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Release Portal", {"fields": ("kind", "owner_team")}))


class MembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ("name", "slug", "lead")
    search_fields = ("name", "slug")
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ("name", "user", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = ("prefix", "token_hash", "last_used_at", "created_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "prefix")

    def has_add_permission(self, request):
        return False  # tokens are minted in the profile page or with create_api_token, shown once
