from django.contrib import admin

from .models import DigestSchedule, Notification, Preference


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "kind", "title", "read_at", "email_state"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter), "email_state"]
    search_fields = ["recipient__email", "title"]
    raw_id_fields = ["recipient", "tenant"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at"]


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "in_app", "email"]
    list_filter = ["kind", "in_app", "email"]
    search_fields = ["user__email"]
    raw_id_fields = ["user"]


@admin.register(DigestSchedule)
class DigestScheduleAdmin(admin.ModelAdmin):
    list_display = ["user", "last_digest_at", "next_digest_at", "last_message_id"]
    search_fields = ["user__email", "last_message_id"]
    raw_id_fields = ["user"]
    readonly_fields = ["last_digest_at", "last_message_id"]
