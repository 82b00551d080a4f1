from django import forms

from .services import SUBSCRIBABLE


class EndpointForm(forms.Form):
    url = forms.CharField(label="URL", max_length=2000, help_text="https:// — Harbor POSTs each event here, signed.")
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in SUBSCRIBABLE], required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every type.")
