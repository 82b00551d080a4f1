from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "project.health"
    label = "health"

    def ready(self):
        from . import checks
        from .registry import register_check

        register_check("database", checks.database)
        register_check("channel_layer", checks.channel_layer)
        register_check("cache", checks.cache_check)
        # An open breaker means one outside service is failing; Harbor itself still serves.
        register_check("dependencies", checks.dependencies, required=False)
