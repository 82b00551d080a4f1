"""Harbor's queue REST API (docs/api.md, "Queue"). Thin views: a serializer validates, and
queue_app.services does the work; its ValidationError / Conflict / PermissionDenied / NotFound
become 400 / 409 / 403 / 404 through the project's exception handler. The original clients'
routes (`/api/comments`, `/api/queue/pending|claim|complete`) are project/original/comments.py.

The worker routes (claims, complete, fail, release, heartbeat, and the batches: completions,
failures, releases) need a bot or staff
(`IsQueueWorker`); they skip the per-user throttle, as a bot's pace is set by its own
concurrency and one bot user may run many workers."""

from functools import cached_property

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.pagination import Cursor
from rest_framework.response import Response
from rest_framework.views import APIView

from project.accounts.access import get_membership
from project.accounts.models import Membership
from project.api import CursorPagination, PolledList, exception_handler, validated

from . import examples, services, tenant_providers
from .models import stream_group
from .serializers import (
    BatchResultsSerializer,
    ClaimedMessageSerializer,
    ClaimListSerializer,
    CompletionsResultsSerializer,
    CompletionsSerializer,
    FailuresSerializer,
    PartialsSerializer,
    TenantProviderInputSerializer,
    TenantProviderSerializer,
    ConnectionTestSerializer,
    tenant_provider_data,
    ReleasesSerializer,
    claim_list_data,
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


class MessagesView(PolledList, generics.ListAPIView):
    """A stream, oldest first: the public one, or a tenant's with `tenant_id` (members only).
    POST posts to it."""

    serializer_class = QueueMessageSerializer
    pagination_class = OldestFirst

    @cached_property
    def query(self) -> dict:
        return validated(StreamQuerySerializer, self.request.query_params)

    @cached_property
    def tenant(self):
        return services.stream_tenant(self.request.user, self.query.get("tenant_id"))

    def list_group(self) -> str:
        # Every change to a stream's messages publishes to the stream's group (queue_app.services).
        return stream_group(self.tenant.pk if self.tenant else None)

    def get_queryset(self):
        return services.stream(self.tenant, status=self.query.get("status"), entity=self.query.get("entity"))

    @extend_schema(parameters=[StreamQuerySerializer])
    def get(self, request):
        """A 304 to `If-None-Match` while the stream is unchanged."""
        return super().get(request)

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
    """A claim of a named message (`message_id`), of the best claimable one, or with `limit` of
    up to that many (a list)."""

    @extend_schema(
        request=ClaimSerializer,
        examples=examples.CLAIM,
        responses={
            200: OpenApiResponse(ClaimListSerializer, description="With limit: the claims (maybe none)."),
            201: ClaimedMessageSerializer,
            204: OpenApiResponse(description="Nothing to claim (without message_id or limit)."),
            409: OpenApiResponse(description="The message is not pending, or waits for its retry backoff."),
        },
    )
    def post(self, request):
        data = validated(ClaimSerializer, request.data)
        limit = data.get("limit")
        claimed = services.claim_many(data["worker_id"], limit or 1, data["entities"], data["lease_seconds"],
                                      message_id=data.get("message_id"), claimant=request.user)
        if limit:
            return Response(claim_list_data(claimed, limit))
        if not claimed:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(claimed_data(claimed[0]), status=status.HTTP_201_CREATED)


def single(outcome: services.Outcome) -> services.Outcome:
    """A single-message route's claim: its error is the request's."""
    if outcome.error:
        raise outcome.error
    return outcome


def batch_results(outcomes: list[services.Outcome], *, replies: bool = False) -> dict:
    """Per-claim results in the list envelope; each error in the API's error shape and status, as
    the single-message route would have answered it (project.api.exception_handler)."""
    results = []
    for outcome in outcomes:
        item = {"id": outcome.message_id, "status": 200, "message": None, "error": None}
        if outcome.error:
            response = exception_handler(outcome.error, {})
            item.update(status=response.status_code, error=response.data["error"])
        else:
            item["message"] = message_data(outcome.message)
        if replies:
            item["reply"] = message_data(outcome.reply) if outcome.reply else None
        results.append(item)
    return {"results": results, "next_cursor": None, "has_more": False}


class CompleteView(WorkerView):
    @extend_schema(request=CompleteSerializer, responses={200: CompletedSerializer, 409: NOT_HELD}, examples=examples.COMPLETE)
    def post(self, request, id):
        data = validated(CompleteSerializer, request.data)
        [outcome], following = services.complete_many(
            data["worker_id"],
            [services.Completion(id, data["claim_token"], data["reply"], data["username"], data["color"])],
            claim_next=1 if data["next"] else 0,
            next_entities=data["entities"],
            lease_seconds=data["lease_seconds"],
            claimant=request.user,
        )
        single(outcome)
        return Response(completed_data(outcome.message, outcome.reply, following[0] if following else None))


class FailView(WorkerView):
    @extend_schema(request=FailSerializer, responses={200: QueueMessageSerializer, 409: NOT_HELD})
    def post(self, request, id):
        data = validated(FailSerializer, request.data)
        [outcome] = services.fail_many(data["worker_id"], [services.Failure(id, data["claim_token"], data["error"])])
        return Response(message_data(single(outcome).message))


class ReleaseView(WorkerView):
    @extend_schema(request=HeldClaimSerializer, responses={200: QueueMessageSerializer, 409: NOT_HELD})
    def post(self, request, id):
        data = validated(HeldClaimSerializer, request.data)
        [outcome] = services.release_many(data["worker_id"], [services.HeldClaim(id, data["claim_token"])])
        return Response(message_data(single(outcome).message))


class CompletionsView(WorkerView):
    """Complete a batch of claims in one transaction (each with its reply), and claim up to `next`
    more. A claim that is not held any more is its own result's error, not the request's."""

    @extend_schema(request=CompletionsSerializer, responses={200: CompletionsResultsSerializer},
                   examples=examples.COMPLETIONS)
    def post(self, request):
        data = validated(CompletionsSerializer, request.data)
        completions = [services.Completion(c["id"], c["claim_token"], c["reply"], c["username"], c["color"])
                       for c in data["claims"]]
        outcomes, following = services.complete_many(
            data["worker_id"], completions, claim_next=data["next"], next_entities=data["entities"],
            lease_seconds=data["lease_seconds"], claimant=request.user,
        )
        return Response({"completed": batch_results(outcomes, replies=True),
                         "next": claim_list_data(following, data["next"])})


class FailuresView(WorkerView):
    """Fail a batch of claims in one transaction (per-claim results, as completions)."""

    @extend_schema(request=FailuresSerializer, responses={200: BatchResultsSerializer})
    def post(self, request):
        data = validated(FailuresSerializer, request.data)
        failures = [services.Failure(c["id"], c["claim_token"], c["error"], c["permanent"], c["retry_after_seconds"],
                                     c["deferred"]) for c in data["claims"]]
        return Response(batch_results(services.fail_many(data["worker_id"], failures)))


class PartialsView(WorkerView):
    """A remote bot's streamed answers so far, relayed live to the stream's sockets as
    `streaming` frames (never stored as replies, never in the event log). Claims not held any
    more are skipped; 204."""

    @extend_schema(request=PartialsSerializer, responses={204: None})
    def post(self, request):
        data = validated(PartialsSerializer, request.data)
        services.stream_partials(data["worker_id"], [services.Partial(c["id"], c["claim_token"], c["partial_text"])
                                                     for c in data["claims"]])
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReleasesView(WorkerView):
    """Release a batch of claims in one transaction (per-claim results, as completions)."""

    @extend_schema(request=ReleasesSerializer, responses={200: BatchResultsSerializer})
    def post(self, request):
        data = validated(ReleasesSerializer, request.data)
        held = [services.HeldClaim(c["id"], c["claim_token"]) for c in data["claims"]]
        return Response(batch_results(services.release_many(data["worker_id"], held)))


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


# --- A tenant's own provider (docs/queue.md) ------------------------------------------------

def _owner(request, tenant_id):
    return get_membership(request.user, tenant_id, roles=(Membership.Role.OWNER,))


def _wire_errors(exc: DjangoValidationError) -> DjangoValidationError:
    """The service's model fields as the request's (the key's column is `api_key_encrypted`)."""
    if hasattr(exc, "error_dict"):
        return DjangoValidationError({("api_key" if k == "api_key_encrypted" else k): v
                                      for k, v in exc.message_dict.items()})
    return exc


class TenantProviderView(APIView):
    """The provider, model, base URL and key that bots inside Harbor answer the tenant's stream
    with (owners only). PUT replaces the settings (`api_key` omitted keeps the saved key);
    DELETE returns the stream to the server's provider. The key is never returned."""

    @extend_schema(responses={200: TenantProviderSerializer})  # 404: none set (the server's provider)
    def get(self, request, tenant_id):
        row = tenant_providers.get_settings(_owner(request, tenant_id))
        if row is None:
            raise Http404
        return Response(tenant_provider_data(row))

    @extend_schema(request=TenantProviderInputSerializer, responses={200: TenantProviderSerializer})
    def put(self, request, tenant_id):
        membership = _owner(request, tenant_id)
        data = validated(TenantProviderInputSerializer, request.data)
        try:
            row = tenant_providers.set_provider(membership, **data)
        except DjangoValidationError as exc:
            raise _wire_errors(exc) from None
        return Response(tenant_provider_data(row))

    @extend_schema(responses={204: None})
    def delete(self, request, tenant_id):
        tenant_providers.remove_provider(_owner(request, tenant_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TenantProviderTestView(APIView):
    """One real call with the saved settings: the provider's answer, or its own error."""

    @extend_schema(request=None, responses={200: ConnectionTestSerializer})
    def post(self, request, tenant_id):
        return Response(tenant_providers.test_connection(_owner(request, tenant_id)))
