from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "project.webhooks"
    label = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from project.health.registry import register_check

        from .delivery import webhooks_health

        # Not required: a dead endpoint or worker delays integrations, never Harbor itself.
        register_check("webhooks", webhooks_health, required=False)
