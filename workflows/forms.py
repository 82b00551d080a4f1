from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from project.accounts.access import tenants_for
from project.accounts.models import normalize_email

from .models import Participant, Workflow

Role = Participant.Role
#: The roles a participant can be given; a workflow has exactly one initiator.
ADDABLE_ROLES = [(Role.EDITOR, Role.EDITOR.label), (Role.VIEWER, Role.VIEWER.label)]


class WorkflowFilterForm(forms.Form):
    """The list page's GET filters; an invalid value is ignored rather than refused."""

    status = forms.ChoiceField(choices=[("", "Any status"), *Workflow.Status.choices], required=False)
    tenant = forms.ModelChoiceField(queryset=None, required=False, empty_label="All tenants")

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants_for(user)


class WorkflowForm(forms.Form):
    title = forms.CharField(max_length=Workflow._meta.get_field("title").max_length)
    tenant = forms.ModelChoiceField(queryset=None, empty_label=None)
    participants = forms.CharField(
        required=False,
        help_text="Optional: email addresses of teammates in the tenant, separated by commas. They join as editors.",
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants_for(user)

    def clean_participants(self) -> list[str]:
        emails = []
        for email in self.cleaned_data["participants"].split(","):
            if not (email := normalize_email(email)) or email in emails:
                continue
            try:
                validate_email(email)
            except ValidationError:
                raise ValidationError(f"“{email}” is not an email address.", code="invalid") from None
            emails.append(email)
        return emails


class MessageForm(forms.Form):
    content = forms.CharField(
        label="Message",
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text="Enter sends, Shift+Enter starts a new line. Type @ to mention someone.",
    )


class DeleteMessageForm(forms.Form):
    """Deleting one's own message asks nothing more: the button is the confirmation."""


class UploadForm(forms.Form):
    file = forms.FileField(label="Share a file")


class ParticipantForm(forms.Form):
    email = forms.EmailField(help_text="A member of this workflow's tenant.")
    role = forms.ChoiceField(choices=ADDABLE_ROLES, initial=Role.EDITOR)


class RemoveParticipantForm(forms.Form):
    email = forms.EmailField()


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Workflow.Status.choices)


class DeleteForm(forms.Form):
    confirm = forms.BooleanField(label="Yes, delete this workflow for everyone")
