from django.contrib import admin

from .models import Notification, Preference


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "kind", "title", "read_at"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["recipient__email", "title"]
    raw_id_fields = ["recipient", "tenant"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at"]


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "in_app"]
    list_filter = ["kind", "in_app"]
    search_fields = ["user__email"]
    raw_id_fields = ["user"]
