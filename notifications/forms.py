from django import forms

from .models import EMAIL_KINDS, Kind

#: The email checkbox of a kind is named after it with this prefix (`email-workflow.mention`).
EMAIL_PREFIX = "email-"


class MarkReadForm(forms.Form):
    """Without `id`, every unread notification."""

    id = forms.IntegerField(min_value=1, required=False)


class PreferencesForm(forms.Form):
    """One checkbox per kind of notification, and one per kind that can be emailed."""

    def __init__(self, *args, enabled: dict[str, bool], emailed: dict[str, bool], **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Kind.choices)
        for kind, label in Kind.choices:
            self.fields[kind] = forms.BooleanField(label=label, required=False, initial=enabled[kind])
        for kind in EMAIL_KINDS:
            self.fields[EMAIL_PREFIX + kind] = forms.BooleanField(
                label=labels[kind], required=False, initial=emailed[kind]
            )

    def in_app_fields(self):
        return [self[kind] for kind in Kind.values]

    def email_fields(self):
        return [self[EMAIL_PREFIX + kind] for kind in EMAIL_KINDS]

    def in_app_choices(self) -> dict[str, bool]:
        return {kind: self.cleaned_data[kind] for kind in Kind.values}

    def email_choices(self) -> dict[str, bool]:
        return {kind: self.cleaned_data[EMAIL_PREFIX + kind] for kind in EMAIL_KINDS}
