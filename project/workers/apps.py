from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "project.workers"
    label = "workers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from project.health.registry import register_check

        from .services import health_check

        # Not required: a dead worker delays background work but the site still serves.
        register_check("workers", health_check, required=False)
