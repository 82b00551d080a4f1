"""The notifications API. A user only ever reaches their own notifications: the original
routes carry the user's email, and any other address answers 404."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from project.accounts.models import normalize_email
from project.api import validated

from . import services
from .models import Notification
from .serializers import (
    CheckSerializer,
    ClearResultSerializer,
    ClearSerializer,
    NotificationFilterSerializer,
    NotificationSerializer,
    PreferencesSerializer,
    ReadResultSerializer,
)


def require_own_email(request, email: str) -> None:
    if normalize_email(email) != request.user.email:
        raise NotFound()


class NotificationListView(generics.ListAPIView):
    """The caller's notifications, newest first."""

    serializer_class = NotificationSerializer

    def get_queryset(self):
        filters = validated(NotificationFilterSerializer, self.request.query_params)
        notifications = Notification.objects.filter(recipient=self.request.user)
        if filters["unread"] is not None:
            notifications = notifications.filter(read_at__isnull=filters["unread"])
        return notifications.order_by("-created_at", "-id")

    @extend_schema(parameters=[NotificationFilterSerializer])
    def get(self, request):
        return super().get(request)


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
    """Which kinds of notification the caller receives; PATCH changes the kinds it names."""

    @extend_schema(responses=PreferencesSerializer)
    def get(self, request):
        return Response(services.enabled_kinds(request.user))

    @extend_schema(request=PreferencesSerializer, responses=PreferencesSerializer)
    def patch(self, request):
        return Response(services.set_preferences(request.user, validated(PreferencesSerializer, request.data)))


class CheckView(APIView):
    """The original `check` route: the unread count and the newest notifications."""

    @extend_schema(responses=CheckSerializer, operation_id="notifications_check")
    def get(self, request, email: str):
        require_own_email(request, email)
        latest = services.latest(request.user, settings.NOTIFICATIONS_CHECK_LATEST)
        return Response(
            {"unread": services.unread_count(request.user), "latest": NotificationSerializer(latest, many=True).data}
        )


class ClearView(APIView):
    """The original `clear` route: mark all (or `ids`) read; open tabs get the new count."""

    @extend_schema(request=ClearSerializer, responses=ClearResultSerializer, operation_id="notifications_clear")
    def post(self, request, email: str):
        require_own_email(request, email)
        data = validated(ClearSerializer, request.data)
        cleared, unread = services.mark_read(request.user, data.get("ids"))
        return Response({"cleared": cleared, "unread": unread})
