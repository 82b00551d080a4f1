"""The workflow REST API. Each view reaches its workflow through workflows.access (404 for
anything the caller may not see), validates with a serializer and writes through
workflows.services, whose PermissionDenied / ValidationError / Conflict the project's exception
handler turns into 403 / 400 / 409. Seed 000's original routes are project.original.workflows."""

from django.db import transaction
from django.db.models import Prefetch, prefetch_related_objects
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from project.accounts.access import get_membership
from project.api import CursorPagination, PolledList, validated
from project.sql import IdPages

from . import examples, reading, services, templates_service
from .access import get_template, get_workflow_access, workflows_for
from .models import Message, Participant
from .serializers import (
    CustomEventSerializer,
    HistoryEventSerializer,
    MediaUploadSerializer,
    MessageSerializer,
    NewWorkflowMessageSerializer,
    NewWorkflowSerializer,
    NewParticipantSerializer,
    ParticipantSerializer,
    ReadStateSerializer,
    ReadStateUpdateSerializer,
    WorkflowDetailSerializer,
    WorkflowFilterSerializer,
    WorkflowSerializer,
    WorkflowUpdateSerializer,
)


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")


class OldestFirst(CursorPagination):
    """By id, which only grows: `next_cursor` of the last page fetches what is added later."""

    ordering = ("id",)


def workflow_detail_data(request, access) -> dict:
    prefetch_related_objects(
        [access.workflow], Prefetch("participants", queryset=Participant.objects.select_related("user")), "completed_by"
    )
    return WorkflowDetailSerializer(access.workflow, context={"request": request, "access": access}).data


def filtered_workflows(user, filters: dict):
    """`filters` checked by WorkflowFilterSerializer; shared with the original route."""
    workflows = workflows_for(user).select_related("initiator", "completed_by")
    if "status" in filters:
        workflows = workflows.filter(status=filters["status"])
    if "tenant_id" in filters:
        workflows = workflows.filter(tenant_id=filters["tenant_id"])
    return workflows


def create_workflow(request, data) -> services.WorkflowAccess:
    """`data` checked by NewWorkflowSerializer, or by WorkflowCreateSerializer for the original
    route, which shares this."""
    membership = get_membership(request.user, data["tenant_id"])
    participants = [(p["email"], p["role"]) for p in data["participants"]]
    if template_id := data.get("template_id"):  # NewWorkflowSerializer's
        template = get_template(request.user, template_id, tenant_id=membership.tenant_id)
        workflow = templates_service.start_workflow(template, request.user, data.get("title", ""), participants)
    else:
        workflow = services.create_workflow(membership.tenant, request.user, data["title"], participants)
    return get_workflow_access(request.user, workflow.pk)


def update_workflow(access, changes: dict) -> None:
    """`changes` checked by WorkflowUpdateSerializer; shared with the original route."""
    # One request, one outcome: a rename followed by a refused status change is undone.
    with transaction.atomic():
        if "title" in changes:
            services.update_workflow(access, changes["title"])
        if "status" in changes:
            services.set_status(access, changes["status"])


class WorkflowListView(generics.ListAPIView):
    """The caller's workflows, newest first; POST starts one with the caller as initiator."""

    serializer_class = WorkflowSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        filters = validated(WorkflowFilterSerializer, self.request.query_params, request=self.request)
        return filtered_workflows(self.request.user, filters)

    @extend_schema(parameters=[WorkflowFilterSerializer])
    def get(self, request):
        return super().get(request)

    @extend_schema(request=NewWorkflowSerializer, responses={201: WorkflowDetailSerializer}, examples=examples.CREATE_WORKFLOW)
    def post(self, request):
        access = create_workflow(request, validated(NewWorkflowSerializer, request.data))
        return Response(workflow_detail_data(request, access), status=status.HTTP_201_CREATED)


class WorkflowDetailView(APIView):
    """PATCH changes only the fields sent."""

    @extend_schema(responses=WorkflowDetailSerializer)
    def get(self, request, workflow_id):
        return Response(workflow_detail_data(request, get_workflow_access(request.user, workflow_id)))

    @extend_schema(request=WorkflowUpdateSerializer, responses=WorkflowDetailSerializer)
    def patch(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        update_workflow(access, validated(WorkflowUpdateSerializer, request.data))
        return Response(workflow_detail_data(request, access))

    @extend_schema(responses={204: None})
    def delete(self, request, workflow_id):
        services.delete_workflow(get_workflow_access(request.user, workflow_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class HistoryView(generics.ListAPIView):
    """The workflow's audit trail, oldest first."""

    serializer_class = HistoryEventSerializer
    pagination_class = OldestFirst

    def get_queryset(self):
        access = get_workflow_access(self.request.user, self.kwargs["workflow_id"])
        return access.workflow.history.select_related("performed_by", "initiator_snapshot")


class ByActivity(CursorPagination):
    ordering = ("-activity_at", "-id")  # annotated by reading.read_states


class ReadStatesView(generics.ListAPIView):
    """The caller's read state of every workflow they take part in, most recently active first."""

    serializer_class = ReadStateSerializer
    pagination_class = ByActivity

    def get_queryset(self):
        return reading.read_states(self.request.user)


class ReadStateView(APIView):
    """The caller's read cursor and mute of one workflow (participants only)."""

    @extend_schema(responses=ReadStateSerializer)
    def get(self, request, workflow_id):
        return Response(ReadStateSerializer(reading.read_state(get_workflow_access(request.user, workflow_id))).data)

    @extend_schema(request=ReadStateUpdateSerializer, responses=ReadStateSerializer)
    def patch(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        participant = reading.update_read_state(access, **validated(ReadStateUpdateSerializer, request.data))
        return Response(ReadStateSerializer(participant).data)


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


#: get_queryset's list, paged by SQL written once (project.sql.IdPages).
MESSAGE_PAGES = IdPages(Message, "workflow", related=("sender", "media_file"))


class MessagesView(PolledList, generics.ListAPIView):
    """The workflow's messages, oldest first: keep `next_cursor` to fetch the ones posted later,
    and send a page's ETag back as `If-None-Match` to get a 304 while nothing changed."""

    serializer_class = MessageSerializer
    pagination_class = OldestFirst

    @cached_property
    def access(self):
        return get_workflow_access(self.request.user, self.kwargs["workflow_id"])

    def list_group(self) -> str:
        return self.access.workflow.group

    def get_queryset(self):
        return self.access.workflow.messages.select_related("sender", "media_file")

    def paged_rows(self):
        return MESSAGE_PAGES.under(self.access.workflow.pk)

    @extend_schema(examples=examples.LIST_MESSAGES)
    def get(self, request, workflow_id):
        return super().get(request, workflow_id)

    @extend_schema(request=NewWorkflowMessageSerializer, responses={201: MessageSerializer}, examples=examples.POST_MESSAGE)
    def post(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        message = services.post_message(access, validated(NewWorkflowMessageSerializer, request.data)["content"])
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class MessageDetailView(APIView):
    """One's own message: edit its text, or delete it (the author only; others get 403)."""

    @extend_schema(request=NewWorkflowMessageSerializer, responses=MessageSerializer)
    def patch(self, request, workflow_id, message_id):
        access = get_workflow_access(request.user, workflow_id)
        content = validated(NewWorkflowMessageSerializer, request.data)["content"]
        return Response(MessageSerializer(services.edit_message(access, message_id, content)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, workflow_id, message_id):
        services.delete_message(get_workflow_access(request.user, workflow_id), message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MediaUploadView(APIView):
    """Share a file: stores it and posts the `share_link` message that links to it."""

    parser_classes = [MultiPartParser]

    @extend_schema(request=MediaUploadSerializer, responses={201: MessageSerializer})
    def post(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        uploaded = validated(MediaUploadSerializer, request.data)["file"]
        message = services.share_file(access, uploaded)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class CustomEventView(APIView):
    """Push your own event, `custom.<type>`, to the workflow's sockets."""

    @extend_schema(request=CustomEventSerializer, responses={202: None})
    def post(self, request, workflow_id):
        access = get_workflow_access(request.user, workflow_id)
        event = validated(CustomEventSerializer, request.data)
        services.push_custom_event(access, event["type"], event["data"])
        return Response(status=status.HTTP_202_ACCEPTED)
