from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "project.mail"
    label = "mail"
    verbose_name = "Email"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from project.health.registry import register_check

        from .delivery import mail_health

        # Not required: mail that waits is a degraded Harbor, not a down one.
        register_check("mail", mail_health, required=False)
