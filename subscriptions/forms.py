from django import forms

from .models import Subscription


class SubscriptionForm(forms.Form):
    account = forms.ChoiceField(label="Account")
    kind = forms.ChoiceField(choices=Subscription.Kind.choices)
    external_id = forms.CharField(label="Id", max_length=255,
                                  help_text="The show, artist, playlist or channel id from its link.")
    title = forms.CharField(max_length=255, required=False, help_text="Optional: a name for your list.")

    def __init__(self, accounts, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.accounts = {account.pk: account for account in accounts}
        self.fields["account"].choices = [(a.pk, f"{a.provider}: {a.display_name}") for a in accounts]

    def clean_account(self):
        return self.accounts[self.cleaned_data["account"]]  # choices already limit it to the user's
