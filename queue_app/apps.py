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

        from project.realtime.dispatcher import register_transient_source

        from .services import streaming_since

        # Embedded mode: a bot in another process cannot reach the in-memory layer; the
        # server's dispatcher reads the partial answers it wrote to the messages' rows.
        register_transient_source(streaming_since)
