from django.http import HttpResponse
from django.urls import path
from rest_framework import generics, serializers

from workflows.models import MediaFile, Message


class MediaFileSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name")
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = MediaFile
        fields = ["name", "size", "content_type", "thumbnail_url"]

    def get_thumbnail_url(self, media):
        return None


class MessageSerializer(serializers.ModelSerializer):
    """The fields of Harbor's page, the tutorial's way."""

    sender = serializers.EmailField(source="sender.email", read_only=True, allow_null=True)
    sender_name = serializers.CharField(source="sender.get_full_name", read_only=True, allow_null=True)
    share_url = serializers.SerializerMethodField()
    file = MediaFileSerializer(source="media_file", read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = ["id", "workflow_id", "sender", "sender_name", "message_type", "content", "share_token",
                  "share_url", "created_at", "edited_at", "deleted_at", "file"]

    def get_share_url(self, message):
        return f"/share/{message.share_token}" if message.share_token else None


class MessageList(generics.ListAPIView):
    """A workflow's messages, for its participants (the tutorial's "filtering against the
    current user")."""

    serializer_class = MessageSerializer

    def get_queryset(self):
        return (
            Message.objects.filter(workflow_id=self.kwargs["workflow_id"], workflow__participants__user=self.request.user)
            .select_related("sender", "media_file")
            .order_by("id")
        )


urlpatterns = [
    path("api/workflows/<str:workflow_id>/messages", MessageList.as_view()),
    path("health", lambda request: HttpResponse("ok\n")),
]
