"""The queue REST API, on the original routes (`/api/comments`, `/api/queue/...`). Thin views:
a serializer validates, queue_app.services does the work; its ValidationError / Conflict /
PermissionDenied become 400 / 409 / 403 through the project's exception handler.

The worker endpoints (pending, claim, claim-next, complete, fail, release, heartbeat) need a
bot or staff (`IsQueueWorker`); they skip the per-user throttle, as a bot's pace is set by its
own concurrency and one bot user may run many workers."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from project.api import validated

from . import services
from .serializers import (
    ClaimedMessageSerializer,
    ClaimNextSerializer,
    ClaimSerializer,
    CommentsPageSerializer,
    CommentsQuerySerializer,
    CompletedSerializer,
    CompleteSerializer,
    CreatedCommentSerializer,
    FailSerializer,
    HeartbeatSerializer,
    HeldClaimSerializer,
    NewCommentSerializer,
    PendingQuerySerializer,
    QueueMessageSerializer,
    RetrySerializer,
)


def _entities(data) -> list[str] | None:
    entities = list(data.get("entities") or [])
    if data.get("entity"):
        entities.append(data["entity"])
    return entities or None


def claimed(message) -> dict:
    return {**services.message_data(message, with_token=True), "thread": services.thread_of(message)}


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


class CommentsView(APIView):
    """The stream: the public one, or a tenant's with `tenantId` (members only)."""

    @extend_schema(parameters=[CommentsQuerySerializer], responses=CommentsPageSerializer)
    def get(self, request):
        query = validated(CommentsQuerySerializer, request.query_params)
        tenant = services.stream_tenant(request.user, query.get("tenantId"))
        messages = services.list_messages(tenant, query.get("since"), query["limit"])
        return Response(
            {
                "results": [services.message_data(m) for m in messages],
                "cursor": messages[-1].timestamp if messages else query.get("since"),
            }
        )

    @extend_schema(request=NewCommentSerializer, responses={201: CreatedCommentSerializer})
    def post(self, request):
        data = validated(NewCommentSerializer, request.data)
        message = services.post_message(
            request.user,
            data["text"],
            username=data["username"],
            color=data["color"],
            tenant_id=data["tenantId"],
            priority=data["priority"],
            entity=data["entity"],
            reply_to=data["replyTo"],
            message_type=data["messageType"],
        )
        return Response(
            {"id": message.id, "timestamp": message.timestamp, "status": message.status}, status=status.HTTP_201_CREATED
        )


class PendingView(WorkerView):
    @extend_schema(parameters=[PendingQuerySerializer], responses=QueueMessageSerializer(many=True))
    def get(self, request):
        query = validated(PendingQuerySerializer, request.query_params)
        messages = services.pending(query["limit"], _entities(query))
        return Response([services.message_data(m) for m in messages])


class ClaimView(WorkerView):
    @extend_schema(request=ClaimSerializer, responses={200: ClaimedMessageSerializer, 409: OpenApiResponse(description="Not pending.")})
    def post(self, request):
        data = validated(ClaimSerializer, request.data)
        message = services.claim(data["messageId"], data["workerId"], data["leaseSeconds"])
        return Response(claimed(message))


class ClaimNextView(WorkerView):
    @extend_schema(request=ClaimNextSerializer, responses={200: ClaimedMessageSerializer, 204: OpenApiResponse(description="Nothing to claim.")})
    def post(self, request):
        data = validated(ClaimNextSerializer, request.data)
        message = services.claim_next(data["workerId"], _entities(data), data["leaseSeconds"])
        if message is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(claimed(message))


class CompleteView(WorkerView):
    @extend_schema(request=CompleteSerializer, responses={200: CompletedSerializer, 409: OpenApiResponse(description="Not processing under this claim.")})
    def post(self, request):
        data = validated(CompleteSerializer, request.data)
        message, reply, following = services.complete(
            data["messageId"],
            data["workerId"],
            data["claimToken"],
            data["reply"],
            username=data["username"],
            color=data["color"],
            next_entities=_entities(data),
            claim_next_message=data["next"],
            lease_seconds=data["leaseSeconds"],
        )
        return Response(
            {
                "message": services.message_data(message),
                "reply": services.message_data(reply) if reply else None,
                "next": claimed(following) if following else None,
            }
        )


class FailView(WorkerView):
    @extend_schema(request=FailSerializer, responses={200: QueueMessageSerializer, 409: OpenApiResponse(description="Not processing under this claim.")})
    def post(self, request):
        data = validated(FailSerializer, request.data)
        message = services.fail(data["messageId"], data["workerId"], data["error"], data["claimToken"])
        return Response(services.message_data(message))


class ReleaseView(WorkerView):
    @extend_schema(request=HeldClaimSerializer, responses={200: QueueMessageSerializer, 409: OpenApiResponse(description="Not processing under this claim.")})
    def post(self, request):
        data = validated(HeldClaimSerializer, request.data)
        message = services.release(data["messageId"], data["workerId"], data["claimToken"])
        return Response(services.message_data(message))


class HeartbeatView(WorkerView):
    @extend_schema(request=HeartbeatSerializer, responses={200: QueueMessageSerializer, 409: OpenApiResponse(description="Not processing under this claim.")})
    def post(self, request):
        data = validated(HeartbeatSerializer, request.data)
        message = services.heartbeat(data["messageId"], data["workerId"], data["claimToken"], data["leaseSeconds"])
        return Response(services.message_data(message))


class RetryView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsStaff]

    @extend_schema(request=RetrySerializer, responses={200: QueueMessageSerializer, 409: OpenApiResponse(description="Not failed.")})
    def post(self, request):
        data = validated(RetrySerializer, request.data)
        return Response(services.message_data(services.retry(data["messageId"], request.user)))
