from django import forms

from .models import Kind


class MarkReadForm(forms.Form):
    """Without `id`, every unread notification."""

    id = forms.IntegerField(min_value=1, required=False)


class PreferencesForm(forms.Form):
    """One checkbox per kind of notification."""

    def __init__(self, *args, enabled: dict[str, bool], **kwargs):
        super().__init__(*args, **kwargs)
        for kind, label in Kind.choices:
            self.fields[kind] = forms.BooleanField(label=label, required=False, initial=enabled[kind])
