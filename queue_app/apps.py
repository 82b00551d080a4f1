from django.apps import AppConfig


class QueueAppConfig(AppConfig):
    name = "queue_app"
    verbose_name = "Queue"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from project.health.registry import register_check

        from .health import queue_health

        # Not required: a queue nobody answers is a degraded Harbor, not a down one.
        register_check("queue", queue_health, required=False)
