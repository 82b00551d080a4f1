"""Shapes of the subscriptions API: validation and representation only. Tokens have no field
here at all, so no serializer can ever leak them."""

from rest_framework import serializers

from project.serializers import QuerySerializer, StrictSerializer

from .models import FeedItem, PollSchedule, ProviderAccount, Subscription


class AccountSerializer(serializers.ModelSerializer):
    token_state = serializers.ChoiceField(choices=["missing", "expired", "present"], read_only=True)

    class Meta:
        model = ProviderAccount
        fields = ["id", "provider", "external_id", "display_name", "scopes", "status", "last_error", "token_state",
                  "expires_at", "last_refresh_at", "created_at"]
        read_only_fields = fields


class SubscriptionSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account_id", read_only=True)
    provider = serializers.CharField(source="account.provider", read_only=True)

    class Meta:
        model = Subscription
        fields = ["id", "account", "provider", "kind", "external_id", "title", "enabled", "last_polled_at",
                  "last_error", "created_at"]
        read_only_fields = fields


class SubscriptionCreateSerializer(StrictSerializer):
    account = serializers.CharField(max_length=16, help_text="Id of one of your connected accounts.")
    kind = serializers.ChoiceField(choices=Subscription.Kind.choices)
    external_id = serializers.CharField(max_length=255, help_text="The show, artist, playlist or channel id.")
    title = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


class SubscriptionUpdateSerializer(StrictSerializer):
    enabled = serializers.BooleanField()


class FeedItemSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    subscription = serializers.CharField(source="subscription_id", read_only=True)
    kind = serializers.CharField(source="subscription.kind", read_only=True)

    class Meta:
        model = FeedItem
        fields = ["id", "subscription", "kind", "external_id", "title", "url", "published_at", "created_at"]
        read_only_fields = fields


class FeedQuerySerializer(QuerySerializer):
    since = serializers.DateTimeField(required=False, help_text="Only items published after this time (ISO 8601).")


class PollScheduleSerializer(serializers.ModelSerializer):
    class Meta:
        model = PollSchedule
        fields = ["next_poll_at", "interval_seconds", "last_started_at", "last_finished_at", "last_items_found",
                  "consecutive_failures"]
        read_only_fields = fields
