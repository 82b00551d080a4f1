from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from project.health.registry import register_check

        from .health import provider_check
        from .providers import providers

        for provider in providers():
            register_check(f"subscriptions.{provider.name}", provider_check(provider), required=False)
