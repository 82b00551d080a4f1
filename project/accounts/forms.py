from datetime import timedelta

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, SetPasswordMixin, UsernameField
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from . import lockout
from .models import Membership, Tenant, User, normalize_email

DUPLICATE_EMAIL = "An account with this email address already exists."


class NewAccountForm(SetPasswordMixin, forms.Form):
    """A display name and a password twice, checked against the account's address
    (`account_email()`), for every way of creating an account."""

    display_name = forms.CharField(
        label="Display name",
        max_length=User._meta.get_field("display_name").max_length,
        required=False,
        help_text="Optional: how teammates see you.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password1, password2 = SetPasswordMixin.create_password_fields()

    def account_email(self) -> str:
        raise NotImplementedError

    def clean(self):
        super().clean()
        self.validate_passwords()
        # An unsaved user, so the similarity validator can compare the password with the email.
        user = User(email=self.account_email(), display_name=self.cleaned_data.get("display_name", ""))
        self.validate_password_for_user(user)
        return self.cleaned_data


class RegisterForm(NewAccountForm):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))
    field_order = ["email", "display_name", "password1", "password2"]

    def clean_email(self):
        email = normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email=email).exists():
            raise ValidationError(DUPLICATE_EMAIL, code="duplicate_email")
        return email

    def account_email(self) -> str:
        return self.cleaned_data.get("email", "")


class InvitationSignUpForm(NewAccountForm):
    """Signing up through an invitation: the address is the invited one, not typed."""

    def __init__(self, email, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def account_email(self) -> str:
        return self.email


class LockoutFormMixin:
    """For an AuthenticationForm: a locked-out (email, client address) pair is told so instead
    of "wrong password". The authentication backend refuses such a pair and counts failures
    whichever form asks; this only checks first, to say why."""

    def clean(self):
        email = self.cleaned_data.get("username")
        if email and lockout.is_locked_out(email, lockout.client_address(self.request)):
            raise ValidationError(lockout.locked_out_message(email, lockout.client_address(self.request)), code="locked_out")
        return super().clean()

    @property
    def is_locked_out(self) -> bool:
        return self.has_error(NON_FIELD_ERRORS, "locked_out")


class LoginForm(LockoutFormMixin, AuthenticationForm):
    """Django's login form with the email as username."""

    username = UsernameField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class AdminLoginForm(LockoutFormMixin, AdminAuthenticationForm):
    """The admin's login form (staff only), under the same lockout."""


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where the token is used, e.g. “CI deploys”.")
    expires_in_days = forms.IntegerField(
        label="Expires after (days)",
        min_value=1,
        max_value=3650,
        required=False,
        help_text="Leave empty for a token that never expires.",
    )

    def expires_in(self) -> timedelta | None:
        days = self.cleaned_data["expires_in_days"]
        return timedelta(days=days) if days else None


class TenantForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name"]


class InviteForm(forms.Form):
    email = forms.EmailField(help_text="We email them a link to join; without a Harbor account, they create one through it.")
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)
