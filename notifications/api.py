"""The notifications API: a user only ever reaches their own notifications. Seed 000's
original `check` and `clear` routes are project.original.notifications."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from project.api import CursorPagination, PolledList, validated

from . import services
from .models import Notification
from .serializers import (
    BulkDeleteSerializer,
    DeletedSerializer,
    NotificationFilterSerializer,
    NotificationSerializer,
    PreferencesSerializer,
    ReadResultSerializer,
)


class NewestFirst(CursorPagination):
    ordering = ("-id",)


class NotificationListView(PolledList, generics.ListAPIView):
    """The caller's notifications, newest first (a 304 to `If-None-Match` while unchanged)."""

    serializer_class = NotificationSerializer
    pagination_class = NewestFirst

    def list_group(self) -> str:
        # Every write to a user's notifications publishes to their group (notifications.services).
        return self.request.user.group

    def get_queryset(self):
        filters = validated(NotificationFilterSerializer, self.request.query_params)
        notifications = Notification.objects.filter(recipient=self.request.user)
        if filters["unread"] is not None:
            notifications = notifications.filter(read_at__isnull=filters["unread"])
        return notifications

    @extend_schema(parameters=[NotificationFilterSerializer])
    def get(self, request):
        return super().get(request)

    @extend_schema(operation_id="api_notifications_read_destroy", parameters=[BulkDeleteSerializer], responses={200: DeletedSerializer})
    def delete(self, request):
        """Clear the list: every notification already read (`?read=true`, required)."""
        validated(BulkDeleteSerializer, request.query_params)
        return Response({"deleted": services.delete(request.user)})


class NotificationDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, notification_id: int):
        if not services.delete(request.user, [notification_id]):
            raise NotFound()
        return Response(status=204)


class NotificationReadView(APIView):
    @extend_schema(request=None, responses=ReadResultSerializer)
    def post(self, request, notification_id: int):
        notification = Notification.objects.filter(recipient=request.user, pk=notification_id).first()
        if notification is None:
            raise NotFound()
        _, unread = services.mark_read(request.user, [notification.pk])
        notification.refresh_from_db(fields=["read_at"])
        return Response({"notification": NotificationSerializer(notification).data, "unread": unread})


class PreferencesView(APIView):
    """Which kinds of notification the caller receives, in the app and by email; PATCH changes
    the kinds it names."""

    @extend_schema(responses=PreferencesSerializer)
    def get(self, request):
        return Response(self.preferences(request.user))

    @extend_schema(request=PreferencesSerializer, responses=PreferencesSerializer)
    def patch(self, request):
        preferences = PreferencesSerializer(data=request.data, partial=True)  # `{}` changes nothing
        preferences.is_valid(raise_exception=True)
        with transaction.atomic():
            services.set_preferences(request.user, preferences.validated_data.get("kinds", {}))
            services.set_email_preferences(request.user, preferences.validated_data.get("email_kinds", {}))
        return Response(self.preferences(request.user))

    @staticmethod
    def preferences(user) -> dict:
        return {"kinds": services.enabled_kinds(user), "email_kinds": services.emailed_kinds(user)}
