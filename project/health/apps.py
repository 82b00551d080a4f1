from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "project.health"
    label = "health"
