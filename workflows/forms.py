from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from project.accounts.access import tenants_for
from project.accounts.models import normalize_email

from .access import templates_for
from .models import Participant, TemplateParticipant, Workflow, WorkflowTemplate

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


class TemplateChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, template):
        return f"{template.name} ({template.tenant.name})"


class WorkflowForm(forms.Form):
    title = forms.CharField(max_length=Workflow._meta.get_field("title").max_length)
    tenant = forms.ModelChoiceField(queryset=None, empty_label=None)
    #: Only when the user's tenants have templates.
    template = TemplateChoiceField(
        queryset=None,
        required=False,
        empty_label="No template",
        help_text="Its participants join and its first message is posted. Leave the title empty to use the template's.",
    )
    participants = forms.CharField(
        required=False,
        help_text="Optional: email addresses of teammates in the tenant, separated by commas. They join as editors.",
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants_for(user)
        templates = templates_for(user).prefetch_related(None).order_by("tenant__name", "name")
        if templates.exists():
            self.fields["template"].queryset = templates
            self.fields["title"].required = False
            self.fields["title"].help_text = "Optional with a template."
        else:
            del self.fields["template"]

    def clean(self):
        data = super().clean()
        template, tenant = data.get("template"), data.get("tenant")
        if "title" in data and not data["title"] and not template:
            self.add_error("title", "Give the workflow a title, or pick a template.")
        if template and tenant and template.tenant_id != tenant.pk:
            self.add_error("template", f"“{template.name}” is a template of {template.tenant.name}: pick that tenant.")
        return data

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


class ReadStateForm(forms.Form):
    """The thread page's mute switch and its "mark unread from here"."""

    muted = forms.TypedChoiceField(choices=[("true", "Mute"), ("false", "Unmute")], coerce=lambda v: v == "true", required=False, empty_value=None)
    unread_from = forms.IntegerField(min_value=1, required=False)

    def clean(self):
        data = super().clean()
        if data.get("muted") is None and data.get("unread_from") is None:
            raise forms.ValidationError("Choose to mute, unmute or mark unread.")
        return data


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


class TemplateForm(forms.Form):
    """A workflow template, as its owners and admins write it on the page."""

    name = forms.CharField(max_length=WorkflowTemplate._meta.get_field("name").max_length)
    title_pattern = forms.CharField(
        max_length=WorkflowTemplate._meta.get_field("title_pattern").max_length,
        help_text=WorkflowTemplate._meta.get_field("title_pattern").help_text,
        initial="{date}",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    participants = forms.CharField(
        label="Default participants",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text="One per line: a member's email and a role, editor or viewer (editor if left out), "
        "e.g. “bob@example.com viewer”.",
    )
    first_message = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Posted by whoever starts the workflow. For a checklist, write one item per line.",
    )

    @classmethod
    def initial_for(cls, template: WorkflowTemplate) -> dict:
        lines = [f"{p.user.email} {p.role}" for p in template.participants.all()]
        fields = ("name", "title_pattern", "description", "first_message")
        return {**{name: getattr(template, name) for name in fields}, "participants": "\n".join(lines)}

    def clean_participants(self) -> list[tuple[str, str]]:
        roles = {role for role, _ in TemplateParticipant.ROLES}
        pairs = []
        for line in self.cleaned_data["participants"].splitlines():
            words = line.replace(",", " ").split()
            if not words:
                continue
            email, role = normalize_email(words[0]), (words[1].lower() if len(words) > 1 else Role.EDITOR)
            try:
                validate_email(email)
            except ValidationError:
                raise ValidationError(f"“{words[0]}” is not an email address.", code="invalid") from None
            if len(words) > 2 or role not in roles:
                raise ValidationError(f"“{line.strip()}”: the role is editor or viewer.", code="invalid")
            pairs.append((email, role))
        return pairs
