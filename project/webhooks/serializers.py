"""Shapes of the webhooks API: validation and representation only; writes go through services."""

from rest_framework import serializers

from project.serializers import StrictSerializer

from .models import Delivery, Endpoint
from .services import SUBSCRIBABLE


class EndpointSerializer(serializers.ModelSerializer):
    """An endpoint, the same in every response; its secret only in the answer that made it."""

    tenant_id = serializers.CharField(read_only=True)
    event_types = serializers.ListField(child=serializers.CharField(), help_text="Empty: every type a webhook can receive.")
    cursor = serializers.SerializerMethodField(help_text="The id of the last event handled, as a string.")
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True)

    class Meta:
        model = Endpoint
        fields = ["id", "tenant_id", "url", "description", "event_types", "status", "disabled_reason", "cursor",
                  "attempts", "failing_since", "next_attempt_at", "last_error", "last_delivery_at",
                  "previous_secret_expires_at", "created_by", "created_at", "updated_at"]
        read_only_fields = fields

    def get_cursor(self, endpoint) -> str:
        return str(endpoint.cursor)


class EndpointWithSecretSerializer(serializers.Serializer):
    endpoint = EndpointSerializer()
    secret = serializers.CharField(help_text="`whsec_…`: shown this once; Harbor keeps it encrypted.")


class DeliverySerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    endpoint_id = serializers.CharField(read_only=True)
    event_id = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = ["id", "endpoint_id", "kind", "status", "webhook_id", "event_type", "event_id", "attempt",
                  "response_status", "response_excerpt", "error", "duration_ms", "created_at"]
        read_only_fields = fields

    def get_event_id(self, delivery) -> str | None:
        return None if delivery.event_id is None else str(delivery.event_id)


class EndpointCreateSerializer(StrictSerializer):
    url = serializers.CharField(max_length=2000)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE), required=False,
                                        default=list, max_length=len(SUBSCRIBABLE))


class EndpointUpdateSerializer(StrictSerializer):
    url = serializers.CharField(max_length=2000, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE), required=False,
                                        max_length=len(SUBSCRIBABLE))
    status = serializers.ChoiceField(choices=[Endpoint.Status.ACTIVE, Endpoint.Status.PAUSED], required=False)
