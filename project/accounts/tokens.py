from django.contrib.auth.tokens import PasswordResetTokenGenerator


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset-token scheme (HMAC, timestamp, PASSWORD_RESET_TIMEOUT) for the link that
    confirms an email address. The hash covers the address and whether it is verified, so a link
    stops working once used or once the address changes."""

    key_salt = "project.accounts.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        verified = "" if user.email_verified_at is None else user.email_verified_at.replace(microsecond=0, tzinfo=None)
        return f"{user.pk}{user.email}{verified}{timestamp}"


email_verification_token = EmailVerificationTokenGenerator()
