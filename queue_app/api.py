"""Harbor's queue REST API (docs/api.md, "Queue"). Thin views: a serializer validates, and
queue_app.services does the work; its ValidationError / Conflict / PermissionDenied / NotFound
become 400 / 409 / 403 / 404 through the project's exception handler. The original clients'
routes (`/api/comments`, `/api/queue/pending|claim|complete`) are project/original/comments.py.

The worker routes (claims, complete, fail, release, heartbeat) need a bot or staff
(`IsQueueWorker`); they skip the per-user throttle, as a bot's pace is set by its own
concurrency and one bot user may run many workers."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.pagination import Cursor
from rest_framework.response import Response
from rest_framework.views import APIView

from project.api import CursorPagination, conditional_get, validated
from project.realtime.versions import list_version

from . import examples, services
from .models import stream_group
from .serializers import (
    ClaimedMessageSerializer,
    ClaimSerializer,
    CompletedSerializer,
    CompleteSerializer,
    FailSerializer,
    HeartbeatSerializer,
    HeldClaimSerializer,
    NewQueueMessageSerializer,
    QueueMessageSerializer,
    StreamQuerySerializer,
    claimed_data,
    completed_data,
    message_data,
)

NOT_HELD = OpenApiResponse(description="The message is not processing under this worker and claim token.")


class OldestFirst(CursorPagination):
    """A stream in reading order. `next_cursor` of the last page fetches what is posted later,
    which is how a client polls the stream."""

    ordering = ("timestamp", "id")

    def cursor_after(self, message) -> str:
        """The cursor a client would hold after reading up to `message` (the stream page starts
        its polling fallback from it)."""
        self.base_url = ""
        position = self._get_position_from_instance(message, self.ordering)
        return self._token(self.encode_cursor(Cursor(offset=0, reverse=False, position=position)))


class IsQueueWorker(permissions.BasePermission):
    message = "Only bots (the queue_app.work_queue permission) and staff work the queue."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and services.is_bot(request.user))


class IsStaff(permissions.BasePermission):
    message = "Only staff retry dead letters."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class WorkerView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsQueueWorker]
    throttle_classes = []


class MessagesView(generics.ListAPIView):
    """A stream, oldest first: the public one, or a tenant's with `tenant_id` (members only).
    POST posts to it."""

    serializer_class = QueueMessageSerializer
    pagination_class = OldestFirst

    def get_queryset(self):
        query = validated(StreamQuerySerializer, self.request.query_params)
        tenant = services.stream_tenant(self.request.user, query.get("tenant_id"))
        return services.stream(tenant, status=query.get("status"), entity=query.get("entity"))

    @extend_schema(parameters=[StreamQuerySerializer])
    def get(self, request):
        """A 304 to `If-None-Match` while the stream is unchanged: every change to a stream's
        messages publishes to the stream's group (queue_app.services)."""
        query = validated(StreamQuerySerializer, request.query_params)
        tenant = services.stream_tenant(request.user, query.get("tenant_id"))

        def page():
            messages = services.stream(tenant, status=query.get("status"), entity=query.get("entity"))
            return self.get_paginated_response(self.get_serializer(self.paginate_queryset(messages), many=True).data)

        return conditional_get(request, list_version(stream_group(tenant.pk if tenant else None)), page)

    @extend_schema(request=NewQueueMessageSerializer, responses={201: QueueMessageSerializer}, examples=examples.POST_MESSAGE)
    def post(self, request):
        data = validated(NewQueueMessageSerializer, request.data)
        text = data.pop("text")
        message = services.post_message(request.user, text, **data)
        return Response(message_data(message), status=status.HTTP_201_CREATED)


class MessageView(APIView):
    @extend_schema(responses=QueueMessageSerializer)
    def get(self, request, id):
        return Response(message_data(services.get_message(request.user, id)))


class ClaimsView(WorkerView):
    """A claim of a named message (`message_id`), or of the best claimable one."""

    @extend_schema(
        request=ClaimSerializer,
        examples=examples.CLAIM,
        responses={
            201: ClaimedMessageSerializer,
            204: OpenApiResponse(description="Nothing to claim (without message_id)."),
            409: OpenApiResponse(description="The message is not pending, or waits for its retry backoff."),
        },
    )
    def post(self, request):
        data = validated(ClaimSerializer, request.data)
        if data.get("message_id"):
            message = services.claim(data["message_id"], data["worker_id"], data["lease_seconds"], claimant=request.user)
        else:
            message = services.claim_next(data["worker_id"], data["entities"], data["lease_seconds"], claimant=request.user)
            if message is None:
                return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(claimed_data(message), status=status.HTTP_201_CREATED)


class CompleteView(WorkerView):
    @extend_schema(request=CompleteSerializer, responses={200: CompletedSerializer, 409: NOT_HELD}, examples=examples.COMPLETE)
    def post(self, request, id):
        data = validated(CompleteSerializer, request.data)
        message, reply, following = services.complete(
            id,
            data["worker_id"],
            data["claim_token"],
            data["reply"],
            username=data["username"],
            color=data["color"],
            next_entities=data["entities"],
            claim_next_message=data["next"],
            lease_seconds=data["lease_seconds"],
            claimant=request.user,
        )
        return Response(completed_data(message, reply, following))


class FailView(WorkerView):
    @extend_schema(request=FailSerializer, responses={200: QueueMessageSerializer, 409: NOT_HELD})
    def post(self, request, id):
        data = validated(FailSerializer, request.data)
        return Response(message_data(services.fail(id, data["worker_id"], data["error"], data["claim_token"])))


class ReleaseView(WorkerView):
    @extend_schema(request=HeldClaimSerializer, responses={200: QueueMessageSerializer, 409: NOT_HELD})
    def post(self, request, id):
        data = validated(HeldClaimSerializer, request.data)
        return Response(message_data(services.release(id, data["worker_id"], data["claim_token"])))


class HeartbeatView(WorkerView):
    @extend_schema(request=HeartbeatSerializer, responses={200: QueueMessageSerializer, 409: NOT_HELD})
    def post(self, request, id):
        data = validated(HeartbeatSerializer, request.data)
        message = services.heartbeat(id, data["worker_id"], data["claim_token"], data["lease_seconds"])
        return Response(message_data(message))


class RetryView(APIView):
    """Staff put a dead letter back in the queue. No claim token: a failed message has no
    holder, and staff act on it as its owners, as the admin action does."""

    permission_classes = [permissions.IsAuthenticated, IsStaff]

    @extend_schema(request=None, responses={200: QueueMessageSerializer, 409: OpenApiResponse(description="Not failed.")})
    def post(self, request, id):
        return Response(message_data(services.retry(id, request.user)))
