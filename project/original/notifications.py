"""Seed 000's original notification clients (../shared/seeds/000_*.txt): `GET
/notifications/{email}/check` → `{unread, latest}`, `POST /notifications/{email}/clear
{ids?}` → `{cleared, unread}` and the socket `/notifications/{email}/websocket`, in the shapes
those routes had before Harbor's own API moved to docs/api.md's vocabulary: integer ids, and
the count pushed as `notification.count`. The email must be the caller's own: any other is a
404 (4403 on the socket). Translated to and from notifications.services here."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.urls import path, re_path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import services
from notifications.consumers import NotificationConsumer
from notifications.serializers import NotificationSerializer
from project.accounts.models import normalize_email
from project.api import validated

#: How many ids one clear may name.
MAX_IDS = 1000
#: Harbor's event type → the one the original socket sends.
FRAME_TYPES = {"notification.created": "notification.created", "notification_count.changed": "notification.count"}


def original_notification(data: dict) -> dict:
    return {**data, "id": int(data["id"])}


class OriginalNotificationSerializer(NotificationSerializer):
    """Documents `original_notification()`."""

    id = serializers.IntegerField(read_only=True)

    def to_representation(self, notification):
        return original_notification(super().to_representation(notification))


class CheckSerializer(serializers.Serializer):
    unread = serializers.IntegerField()
    latest = OriginalNotificationSerializer(many=True)


class ClearSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=MAX_IDS,
        help_text="Mark only these read; without it, all.",
    )


class ClearResultSerializer(serializers.Serializer):
    cleared = serializers.IntegerField(help_text="How many changed from unread to read.")
    unread = serializers.IntegerField()


def require_own_email(request, email: str) -> None:
    if normalize_email(email) != request.user.email:
        raise NotFound()


class CheckView(APIView):
    """The unread count and the newest notifications."""

    @extend_schema(responses=CheckSerializer, operation_id="original_notifications_check")
    def get(self, request, email: str):
        require_own_email(request, email)
        latest = services.latest(request.user, settings.NOTIFICATIONS_CHECK_LATEST)
        return Response(
            {"unread": services.unread_count(request.user), "latest": OriginalNotificationSerializer(latest, many=True).data}
        )


class ClearView(APIView):
    """Mark all (or `ids`) read; open tabs get the new count."""

    @extend_schema(
        request=ClearSerializer, responses=ClearResultSerializer, operation_id="original_notifications_clear"
    )
    def post(self, request, email: str):
        require_own_email(request, email)
        data = validated(ClearSerializer, request.data)
        cleared, unread = services.mark_read(request.user, data.get("ids"))
        return Response({"cleared": cleared, "unread": unread})


class OriginalNotificationConsumer(NotificationConsumer):
    def allowed_groups(self, user):
        if normalize_email(self.scope["url_route"]["kwargs"]["email"]) != user.email:
            raise PermissionDenied
        return super().allowed_groups(user)

    async def handle_event(self, frame):
        if frame["type"] not in FRAME_TYPES:
            return
        data = frame["data"]
        if "notification" in data:
            data = {**data, "notification": original_notification(data["notification"])}
        await self.send_json({**frame, "type": FRAME_TYPES[frame["type"]], "data": data})


urlpatterns = [
    # The page's bell (templates/base.html) reads its count here too, by this name.
    path("notifications/<str:email>/check", CheckView.as_view(), name="notifications_check"),
    path("notifications/<str:email>/clear", ClearView.as_view(), name="notifications_clear"),
]

websocket_urlpatterns = [
    re_path(r"^notifications/(?P<email>[^/]+)/websocket/?$", OriginalNotificationConsumer.as_asgi()),
]
