from django.apps import AppConfig


class ResilienceConfig(AppConfig):
    name = "project.resilience"
    label = "resilience"
    default_auto_field = "django.db.models.BigAutoField"
