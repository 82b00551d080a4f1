"""Seed 000's original clients (logosophe's workflow system, ../shared/seeds/000_*.txt): the
routes it names, served with the shapes those routes had before Harbor moved its own API to
docs/api.md's vocabulary, which is what the seed's clients rely on where the seed is silent:

- `GET|POST /api/workflow` (a page-numbered `{count, next, previous, results}` list, `?status=`,
  `?tenant=`), `GET|PUT /api/workflow/{id}` (PUT changes only what is sent);
- `GET|POST /api/workflow/messages`, the workflow named by `workflowId`: `{results, cursor,
  has_more}` after the message id `after`; messages with integer ids and an absolute `share_url`;
- `POST /workflow/{id}/notification {type, data}` → 202, sockets get `custom.<type>`;
- the socket `/workflow/{id}/websocket`: Harbor's workflow socket with messages in that shape.

Everything is translated to and from workflows.services and workflows.api's helpers here."""

from django.urls import path, re_path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from project.api import PageNumberPagination, validated
from project.serializers import QuerySerializer
from workflows import api as harbor
from workflows.access import get_workflow_access
from workflows.consumers import WorkflowConsumer
from workflows.serializers import (
    CustomEventSerializer,
    MessageSerializer,
    NewWorkflowMessageSerializer,
    WorkflowCreateSerializer,
    WorkflowDetailSerializer,
    WorkflowFilterSerializer,
    WorkflowSerializer,
    WorkflowUpdateSerializer,
)
from workflows.services import post_message, push_custom_event

#: Message ids are 64-bit; a larger cursor is a client bug, not "nothing yet".
MAX_CURSOR = 2**63 - 1
MAX_PAGE = 200


def original_message(data: dict, build_absolute_uri=None) -> dict:
    """Harbor's message shape → the original one: an integer id and, over HTTP, an absolute link."""
    message = {**data, "id": int(data["id"])}
    if build_absolute_uri and message["share_url"]:
        message["share_url"] = build_absolute_uri(message["share_url"])
    return message


class OriginalWorkflowSerializer(WorkflowSerializer):
    """Harbor's workflow shape, in its own schema component: this list's envelope is another."""


class OriginalWorkflowFilterSerializer(WorkflowFilterSerializer):
    tenant_id = None
    tenant = serializers.CharField(max_length=16, required=False, help_text="A tenant id of yours.")

    def validate_tenant(self, tenant_id):
        return self.validate_tenant_id(tenant_id)


class OriginalMessageSerializer(MessageSerializer):
    """Documents `original_message()`."""

    id = serializers.IntegerField(read_only=True)
    share_url = serializers.URLField(read_only=True, allow_null=True, help_text="The absolute link to a shared file.")

    def to_representation(self, message):
        return original_message(super().to_representation(message), self.context["request"].build_absolute_uri)


class MessagePageQuerySerializer(QuerySerializer):
    workflowId = serializers.CharField()
    after = serializers.IntegerField(
        min_value=0, max_value=MAX_CURSOR, required=False, help_text="Only messages after this cursor (a message id)."
    )
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=50)


class MessagePageSerializer(serializers.Serializer):
    results = OriginalMessageSerializer(many=True)
    cursor = serializers.IntegerField(
        allow_null=True, help_text="Pass as `after` for the next page: the last id returned, or your `after`."
    )
    has_more = serializers.BooleanField()


class NewMessageByWorkflowIdSerializer(NewWorkflowMessageSerializer):
    workflowId = serializers.CharField()


class WorkflowListView(generics.ListAPIView):
    serializer_class = OriginalWorkflowSerializer
    pagination_class = PageNumberPagination

    def get_queryset(self):
        filters = validated(OriginalWorkflowFilterSerializer, self.request.query_params, request=self.request)
        if "tenant" in filters:
            filters["tenant_id"] = filters.pop("tenant")
        return harbor.filtered_workflows(self.request.user, filters).order_by("-created_at", "-id")

    @extend_schema(parameters=[OriginalWorkflowFilterSerializer])
    def get(self, request):
        return super().get(request)

    @extend_schema(request=WorkflowCreateSerializer, responses={201: WorkflowDetailSerializer})
    def post(self, request):
        access = harbor.create_workflow(request, validated(WorkflowCreateSerializer, request.data))
        return Response(harbor.workflow_detail_data(request, access), status=status.HTTP_201_CREATED)


class WorkflowDetailView(APIView):
    @extend_schema(responses=WorkflowDetailSerializer)
    def get(self, request, workflow_id):
        return Response(harbor.workflow_detail_data(request, get_workflow_access(request.user, workflow_id)))

    @extend_schema(request=WorkflowUpdateSerializer, responses=WorkflowDetailSerializer)
    def put(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        harbor.update_workflow(access, validated(WorkflowUpdateSerializer, request.data))
        return Response(harbor.workflow_detail_data(request, access))


class MessagesView(APIView):
    @extend_schema(
        operation_id="original_workflow_messages_list",
        parameters=[MessagePageQuerySerializer],
        responses=MessagePageSerializer,
    )
    def get(self, request):
        """The messages after `after`, oldest first, in a constant number of queries."""
        query = validated(MessagePageQuerySerializer, request.query_params)
        access = get_workflow_access(request.user, query["workflowId"])
        after, limit = query.get("after"), query["limit"]
        messages = access.workflow.messages.select_related("sender", "media_file").order_by("id")
        if after is not None:
            messages = messages.filter(pk__gt=after)
        batch = list(messages[: limit + 1])
        page = batch[:limit]
        return Response(
            {
                "results": OriginalMessageSerializer(page, many=True, context={"request": request}).data,
                "cursor": page[-1].pk if page else after,
                "has_more": len(batch) > limit,
            }
        )

    @extend_schema(
        operation_id="original_workflow_messages_create",
        request=NewMessageByWorkflowIdSerializer,
        responses={201: OriginalMessageSerializer},
    )
    def post(self, request):
        data = validated(NewMessageByWorkflowIdSerializer, request.data)
        message = post_message(get_workflow_access(request.user, data["workflowId"]), data["content"])
        return Response(
            OriginalMessageSerializer(message, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class CustomEventView(APIView):
    @extend_schema(request=CustomEventSerializer, responses={202: None})
    def post(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        event = validated(CustomEventSerializer, request.data)
        push_custom_event(access, event["type"], event["data"])
        return Response(status=status.HTTP_202_ACCEPTED)


class OriginalWorkflowConsumer(WorkflowConsumer):
    """`/workflow/{id}/websocket`: Harbor's workflow socket, messages in the original shape."""

    async def handle_event(self, frame):
        if frame["type"] == "message.created":
            frame = {**frame, "data": {**frame["data"], "message": original_message(frame["data"]["message"])}}
            await self.send_json(frame)
        else:
            await super().handle_event(frame)


urlpatterns = [
    path("api/workflow", WorkflowListView.as_view(), name="original-workflows"),
    path("api/workflow/messages", MessagesView.as_view(), name="original-workflow-messages"),
    path("api/workflow/<str:workflow_id>", WorkflowDetailView.as_view(), name="original-workflow"),
    path("workflow/<str:workflow_id>/notification", CustomEventView.as_view(), name="original-workflow-notification"),
]

websocket_urlpatterns = [
    re_path(r"^workflow/(?P<workflow_id>[A-Za-z0-9]+)/websocket/?$", OriginalWorkflowConsumer.as_asgi()),
]
