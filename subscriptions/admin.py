"""Read-mostly admin. Token columns are never among the fields: an account shows only whether
its token is present or expired."""

from django.contrib import admin

from .models import FeedItem, PollRun, PollSchedule, ProviderAccount, Subscription


class ReadOnlyAdmin(admin.ModelAdmin):
    """Changes go through subscriptions.services (schedules through the poller)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProviderAccount)
class ProviderAccountAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "user", "provider", "status", "token_state", "expires_at", "last_refresh_at"]
    list_filter = ["provider", "status"]
    search_fields = ["user__email", "display_name", "external_id"]
    list_select_related = ["user"]
    fields = ["id", "user", "provider", "external_id", "display_name", "scopes", "status", "last_error",
              "token_state", "expires_at", "last_refresh_at", "created_at", "updated_at"]
    readonly_fields = fields

    @admin.display(description="Token")
    def token_state(self, account):
        return account.token_state


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "account", "enabled", "last_polled_at", "last_error"]
    list_filter = ["kind", "enabled"]
    search_fields = ["external_id", "title", "account__user__email"]
    list_select_related = ["account"]
    readonly_fields = [f.name for f in Subscription._meta.fields]


@admin.register(FeedItem)
class FeedItemAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "user", "subscription", "published_at", "created_at"]
    search_fields = ["title", "external_id", "user__email"]
    list_select_related = ["user", "subscription"]
    readonly_fields = [f.name for f in FeedItem._meta.fields]


@admin.register(PollSchedule)
class PollScheduleAdmin(ReadOnlyAdmin):
    list_display = ["user", "next_poll_at", "interval_seconds", "locked_by", "locked_until", "last_finished_at",
                    "last_duration_ms", "last_items_found", "consecutive_failures"]
    list_filter = [("locked_until", admin.EmptyFieldListFilter)]
    search_fields = ["user__email", "locked_by"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in PollSchedule._meta.fields]


@admin.register(PollRun)
class PollRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "worker", "users_polled", "items_found", "failures", "duration_ms"]
    readonly_fields = [f.name for f in PollRun._meta.fields]
