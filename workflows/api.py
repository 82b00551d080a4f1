"""The workflow REST API. Each view reaches its workflow through workflows.access (404 for
anything the caller may not see), validates with a serializer and writes through
workflows.services, whose PermissionDenied / ValidationError / Conflict the project's exception
handler turns into 403 / 400 / 409."""

from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from project.accounts.access import get_membership
from project.api import validated

from . import services
from .access import get_workflow_access, workflows_for
from .models import Participant
from .serializers import (
    CustomEventSerializer,
    HistoryEventSerializer,
    MediaUploadSerializer,
    MessagePageByWorkflowIdSerializer,
    MessagePageQuerySerializer,
    MessagePageSerializer,
    MessageSerializer,
    NewMessageByWorkflowIdSerializer,
    NewMessageSerializer,
    NewParticipantSerializer,
    ParticipantSerializer,
    WorkflowCreateSerializer,
    WorkflowDetailSerializer,
    WorkflowFilterSerializer,
    WorkflowSerializer,
    WorkflowUpdateSerializer,
)


def workflow_detail(request, access, status_code=status.HTTP_200_OK) -> Response:
    prefetch_related_objects(
        [access.workflow], Prefetch("participants", queryset=Participant.objects.select_related("user")), "completed_by"
    )
    serializer = WorkflowDetailSerializer(access.workflow, context={"request": request, "access": access})
    return Response(serializer.data, status=status_code)


class WorkflowListView(generics.ListAPIView):
    """The caller's workflows, newest first; POST starts one with the caller as initiator."""

    serializer_class = WorkflowSerializer

    def get_queryset(self):
        filters = validated(WorkflowFilterSerializer, self.request.query_params, request=self.request)
        workflows = workflows_for(self.request.user).select_related("initiator", "completed_by")
        if "status" in filters:
            workflows = workflows.filter(status=filters["status"])
        if "tenant" in filters:
            workflows = workflows.filter(tenant_id=filters["tenant"])
        return workflows.order_by("-created_at", "-id")

    @extend_schema(parameters=[WorkflowFilterSerializer])
    def get(self, request):
        return super().get(request)

    @extend_schema(request=WorkflowCreateSerializer, responses={201: WorkflowDetailSerializer})
    def post(self, request):
        data = validated(WorkflowCreateSerializer, request.data)
        membership = get_membership(request.user, data["tenant_id"])
        participants = [(p["email"], p["role"]) for p in data["participants"]]
        workflow = services.create_workflow(membership.tenant, request.user, data["title"], participants)
        return workflow_detail(request, get_workflow_access(request.user, workflow.pk), status.HTTP_201_CREATED)


class WorkflowDetailView(APIView):
    """PUT and PATCH both change only the fields sent."""

    @extend_schema(responses=WorkflowDetailSerializer)
    def get(self, request, workflow_id):
        return workflow_detail(request, get_workflow_access(request.user, workflow_id))

    @extend_schema(request=WorkflowUpdateSerializer, responses=WorkflowDetailSerializer)
    def patch(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        changes = validated(WorkflowUpdateSerializer, request.data)
        # One request, one outcome: a rename followed by a refused status change is undone.
        with transaction.atomic():
            if "title" in changes:
                services.update_workflow(access, changes["title"])
            if "status" in changes:
                services.set_status(access, changes["status"])
        return workflow_detail(request, access)

    @extend_schema(request=WorkflowUpdateSerializer, responses=WorkflowDetailSerializer)
    def put(self, request, workflow_id):
        return self.patch(request, workflow_id)

    @extend_schema(responses={204: None})
    def delete(self, request, workflow_id):
        services.delete_workflow(get_workflow_access(request.user, workflow_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class HistoryView(generics.GenericAPIView):
    """The workflow's audit trail, oldest first."""

    serializer_class = HistoryEventSerializer

    @extend_schema(responses=HistoryEventSerializer(many=True))
    def get(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        events = access.workflow.history.select_related("performed_by", "initiator_snapshot").order_by("id")
        page = self.paginate_queryset(events)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ParticipantsView(APIView):
    @extend_schema(request=NewParticipantSerializer, responses={201: ParticipantSerializer})
    def post(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        data = validated(NewParticipantSerializer, request.data)
        participant = services.add_participant(access, data["email"], data["role"])
        return Response(ParticipantSerializer(participant).data, status=status.HTTP_201_CREATED)


class ParticipantDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, workflow_id, email):
        services.remove_participant(get_workflow_access(request.user, workflow_id), email)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageEndpoint(APIView):
    """What the nested and the original message routes share."""

    def message_page(self, request, access, query) -> Response:
        """Messages after the cursor, oldest first, in a constant number of queries."""
        after, limit = query.get("after"), query["limit"]
        messages = access.workflow.messages.select_related("sender").order_by("id")
        if after is not None:
            messages = messages.filter(pk__gt=after)
        batch = list(messages[: limit + 1])
        page = batch[:limit]
        return Response(
            {
                "results": MessageSerializer(page, many=True, context={"request": request}).data,
                "cursor": page[-1].pk if page else after,
                "has_more": len(batch) > limit,
            }
        )

    def post_message(self, request, access, content) -> Response:
        message = services.post_message(access, content)
        return Response(MessageSerializer(message, context={"request": request}).data, status=status.HTTP_201_CREATED)


class MessagesView(MessageEndpoint):
    @extend_schema(
        operation_id="api_workflow_messages_list",
        parameters=[MessagePageQuerySerializer],
        responses=MessagePageSerializer,
    )
    def get(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        return self.message_page(request, access, validated(MessagePageQuerySerializer, request.query_params))

    @extend_schema(request=NewMessageSerializer, responses={201: MessageSerializer})
    def post(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        return self.post_message(request, access, validated(NewMessageSerializer, request.data)["content"])


class MessagesByQueryView(MessageEndpoint):
    """The original routes: the workflow is named by `workflowId`."""

    @extend_schema(
        operation_id="api_workflow_messages_by_workflow_id_list",
        parameters=[MessagePageByWorkflowIdSerializer],
        responses=MessagePageSerializer,
    )
    def get(self, request):
        query = validated(MessagePageByWorkflowIdSerializer, request.query_params)
        return self.message_page(request, get_workflow_access(request.user, query["workflowId"]), query)

    @extend_schema(
        operation_id="api_workflow_messages_by_workflow_id_create",
        request=NewMessageByWorkflowIdSerializer,
        responses={201: MessageSerializer},
    )
    def post(self, request):
        data = validated(NewMessageByWorkflowIdSerializer, request.data)
        return self.post_message(request, get_workflow_access(request.user, data["workflowId"]), data["content"])


class MediaUploadView(APIView):
    """Share a file: stores it and posts the `share_link` message that links to it."""

    parser_classes = [MultiPartParser]

    @extend_schema(request=MediaUploadSerializer, responses={201: MessageSerializer})
    def post(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        uploaded = validated(MediaUploadSerializer, request.data)["file"]
        message = services.share_file(access, uploaded)
        return Response(MessageSerializer(message, context={"request": request}).data, status=status.HTTP_201_CREATED)


class CustomEventView(APIView):
    """The original `/workflow/{id}/notification` route: push your own event, `custom.<type>`,
    to the workflow's sockets."""

    @extend_schema(request=CustomEventSerializer, responses={202: None})
    def post(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        event = validated(CustomEventSerializer, request.data)
        services.push_custom_event(access, event["type"], event["data"])
        return Response(status=status.HTTP_202_ACCEPTED)
