from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "project.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_out

        from . import schema  # noqa: F401  registers the bearer scheme with drf-spectacular
        from . import services

        user_logged_out.connect(services.session_logged_out, dispatch_uid="harbor.session_logged_out")
