"""The workflow templates REST API, under the tenant they belong to: every member of the tenant
reads them (to start a workflow from one, `POST /api/workflows {"template_id"}`), its owners and
admins write them. A tenant or a template that is not the caller's is a 404."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from project.accounts.access import get_membership
from project.accounts.models import Membership
from project.api import CursorPagination, validated

from . import examples, templates_service
from .access import get_template, templates_for
from .serializers import WorkflowTemplateCreateSerializer, WorkflowTemplateSerializer, WorkflowTemplateUpdateSerializer


class ByName(CursorPagination):
    ordering = ("name",)  # unique in a tenant


def _changes(data: dict) -> dict:
    """A request body's fields in the service's terms."""
    if "participants" in data:
        data = {**data, "participants": [(p["email"], p["role"]) for p in data["participants"]]}
    return data


class WorkflowTemplateListView(generics.ListAPIView):
    """The tenant's workflow templates by name; POST adds one (owners and admins)."""

    serializer_class = WorkflowTemplateSerializer
    pagination_class = ByName

    def get_queryset(self):
        membership = get_membership(self.request.user, self.kwargs["tenant_id"])
        return templates_for(self.request.user).filter(tenant_id=membership.tenant_id)

    @extend_schema(
        request=WorkflowTemplateCreateSerializer,
        responses={201: WorkflowTemplateSerializer},
        examples=examples.CREATE_TEMPLATE,
    )
    def post(self, request, tenant_id):
        membership = get_membership(request.user, tenant_id, roles=Membership.MANAGER_ROLES)
        data = validated(WorkflowTemplateCreateSerializer, request.data)
        template = templates_service.create_template(membership, **_changes(data))
        return Response(WorkflowTemplateSerializer(get_template(request.user, template.pk)).data, status=status.HTTP_201_CREATED)


class WorkflowTemplateDetailView(APIView):
    """PATCH changes only the fields sent."""

    @extend_schema(responses=WorkflowTemplateSerializer)
    def get(self, request, tenant_id, template_id):
        return Response(WorkflowTemplateSerializer(get_template(request.user, template_id, tenant_id)).data)

    @extend_schema(request=WorkflowTemplateUpdateSerializer, responses=WorkflowTemplateSerializer)
    def patch(self, request, tenant_id, template_id):
        membership = get_membership(request.user, tenant_id, roles=Membership.MANAGER_ROLES)
        template = get_template(request.user, template_id, tenant_id)
        templates_service.update_template(membership, template, **_changes(validated(WorkflowTemplateUpdateSerializer, request.data)))
        return Response(WorkflowTemplateSerializer(get_template(request.user, template.pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, tenant_id, template_id):
        membership = get_membership(request.user, tenant_id, roles=Membership.MANAGER_ROLES)
        templates_service.delete_template(membership, get_template(request.user, template_id, tenant_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
