"""The webhooks REST API, under the tenant: its owners and admins register endpoints, read
their delivery logs, redeliver and send test events. Other members get 403, anyone else 404."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from project.api import CursorPagination, validated

from . import services
from .access import get_delivery, get_endpoint, manage
from .models import Delivery, Endpoint
from .serializers import (
    DeliverySerializer,
    EndpointCreateSerializer,
    EndpointSerializer,
    EndpointUpdateSerializer,
    EndpointWithSecretSerializer,
)


class Oldest(CursorPagination):
    ordering = ("created_at", "id")


class Newest(CursorPagination):
    ordering = "-id"


class EndpointListView(generics.ListAPIView):
    """The tenant's endpoints, oldest first; POST registers one and answers its secret once."""

    serializer_class = EndpointSerializer
    pagination_class = Oldest

    def get_queryset(self):
        membership = manage(self.request.user, self.kwargs["tenant_id"])
        return Endpoint.objects.filter(tenant_id=membership.tenant_id).select_related("created_by")

    @extend_schema(request=EndpointCreateSerializer, responses={201: EndpointWithSecretSerializer})
    def post(self, request, tenant_id):
        membership = manage(request.user, tenant_id)
        endpoint, secret = services.create_endpoint(membership, **validated(EndpointCreateSerializer, request.data))
        return Response({"endpoint": EndpointSerializer(endpoint).data, "secret": secret}, status=status.HTTP_201_CREATED)


class EndpointDetailView(APIView):
    """PATCH changes only the fields sent; `status: active` resumes from the cursor."""

    @extend_schema(responses=EndpointSerializer)
    def get(self, request, tenant_id, endpoint_id):
        return Response(EndpointSerializer(get_endpoint(manage(request.user, tenant_id), endpoint_id)).data)

    @extend_schema(request=EndpointUpdateSerializer, responses=EndpointSerializer)
    def patch(self, request, tenant_id, endpoint_id):
        membership = manage(request.user, tenant_id)
        endpoint = get_endpoint(membership, endpoint_id)
        changes = validated(EndpointUpdateSerializer, request.data)
        return Response(EndpointSerializer(services.update_endpoint(membership, endpoint, **changes)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, tenant_id, endpoint_id):
        membership = manage(request.user, tenant_id)
        services.delete_endpoint(membership, get_endpoint(membership, endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecretView(APIView):
    @extend_schema(request=None, responses=EndpointWithSecretSerializer)
    def post(self, request, tenant_id, endpoint_id):
        """A new secret, shown once; the previous one still signs for WEBHOOK_SECRET_ROTATION_SECONDS."""
        membership = manage(request.user, tenant_id)
        endpoint, secret = services.rotate_secret(membership, get_endpoint(membership, endpoint_id))
        return Response({"endpoint": EndpointSerializer(endpoint).data, "secret": secret})


class TestEventView(APIView):
    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request, tenant_id, endpoint_id):
        """Queue a `webhook.test` delivery (sent by deliver_webhooks, whatever the status)."""
        membership = manage(request.user, tenant_id)
        delivery = services.send_test_event(membership, get_endpoint(membership, endpoint_id))
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryListView(generics.ListAPIView):
    """The endpoint's delivery log, newest first."""

    serializer_class = DeliverySerializer
    pagination_class = Newest

    def get_queryset(self):
        endpoint = get_endpoint(manage(self.request.user, self.kwargs["tenant_id"]), self.kwargs["endpoint_id"])
        return Delivery.objects.filter(endpoint=endpoint)


class RedeliverView(APIView):
    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request, tenant_id, endpoint_id, delivery_id):
        """Queue the same body with the same `webhook-id` again; 409 when its event was pruned."""
        membership = manage(request.user, tenant_id)
        delivery = get_delivery(get_endpoint(membership, endpoint_id), delivery_id)
        return Response(DeliverySerializer(services.redeliver(membership, delivery)).data, status=status.HTTP_202_ACCEPTED)
