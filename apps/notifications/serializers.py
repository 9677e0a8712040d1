from rest_framework import serializers

from .models import ChatChannel, ChatDelivery, ChatEvent


class ChannelOut(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug")
    # The URL itself never leaves the portal: only its host and last four characters.
    webhook = serializers.CharField(source="webhook_hint")

    class Meta:
        model = ChatChannel
        fields = ["id", "team", "kind", "name", "webhook", "events", "enabled", "created_at", "updated_at"]


class ChannelIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ChatChannel.Kind.choices)
    name = serializers.CharField(max_length=100)
    webhook_url = serializers.CharField(max_length=2000, write_only=True)
    # Checked by the service, whose answer names the field and lists the events there are.
    events = serializers.ListField(child=serializers.CharField(max_length=30), allow_empty=False,
                                   help_text="Any of: " + ", ".join(ChatEvent.values))
    enabled = serializers.BooleanField(default=True)


class DeliveryOut(serializers.ModelSerializer):
    channel = serializers.IntegerField(source="channel_id")
    channel_name = serializers.CharField(source="channel.name")

    class Meta:
        model = ChatDelivery
        fields = ["id", "channel", "channel_name", "event", "target_type", "target_id", "target_repr", "title", "link",
                  "status", "attempts", "last_error", "last_status_code", "created_at", "last_attempt_at",
                  "finished_at"]
