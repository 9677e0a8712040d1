from django import forms

from .models import ChatChannel, ChatEvent


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(choices=ChatChannel.Kind.choices)
    name = forms.CharField(max_length=100, help_text="What people call the channel, e.g. #payments-releases")
    # A password input: the secret URL is never sent back to the browser, not even on a form error.
    webhook_url = forms.CharField(
        label="Incoming webhook URL", max_length=2000, widget=forms.PasswordInput(render_value=False),
        help_text="The URL Slack (Incoming Webhooks) or Teams (Workflows: post to a channel when a webhook "
                  "request is received) gave you. Stored encrypted; shown masked.")
    events = forms.MultipleChoiceField(choices=ChatEvent.choices, widget=forms.CheckboxSelectMultiple,
                                       label="Events this channel receives")
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, editing: ChatChannel | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if editing is not None:
            field = self.fields["webhook_url"]
            field.required = False
            field.help_text = f"Stored: {editing.webhook_hint}. Leave blank to keep it; paste a new URL to replace it."
