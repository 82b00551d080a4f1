from django.contrib import admin

from .models import BouncedAddress, OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ["subject", "recipient_list", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["subject", "to", "message_id"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in OutgoingEmail._meta.fields]
    actions = ["send_again"]

    @admin.display(description="To")
    def recipient_list(self, email):
        return ", ".join(email.recipients)

    def has_add_permission(self, request):
        return False  # mail is written by Harbor, not typed in the admin

    @admin.action(description="Send again (failed emails go back to the outbox)")
    def send_again(self, request, queryset):
        from django.utils import timezone

        count = queryset.filter(status=OutgoingEmail.Status.FAILED).update(
            status=OutgoingEmail.Status.PENDING, next_attempt_at=timezone.now(), leased_until=None
        )
        self.message_user(request, f"{count} email(s) back in the outbox.")


@admin.register(BouncedAddress)
class BouncedAddressAdmin(admin.ModelAdmin):
    list_display = ["email", "bounced_at", "reason"]
    search_fields = ["email"]
    readonly_fields = ["email", "reason", "bounced_at"]

    def has_add_permission(self, request):
        return False
