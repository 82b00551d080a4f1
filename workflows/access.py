"""The one way to reach a workflow: tenant-scoped through project.accounts.access, visible to
its participants and to its tenant's owners and admins, 404 for everyone else."""

from django.db.models import Exists, OuterRef, Prefetch, Q, Subquery
from django.http import Http404

from project.accounts.access import get_for_user, scope_to_user
from project.accounts.models import Membership

from .models import Participant, TemplateParticipant, Workflow, WorkflowTemplate
from .services import WorkflowAccess


def workflows_for(user):
    """The workflows `user` may read, not deleted."""
    scoped = scope_to_user(Workflow.objects.visible(), user)
    if not user.is_authenticated:
        return scoped
    managed_tenants = Membership.objects.filter(user=user, role__in=Membership.MANAGER_ROLES).values("tenant_id")
    # EXISTS, not a join on participants + DISTINCT: the join made every lookup read each
    # participant row of the workflow, 9 ms per socket connect with 1,000 participants
    # (bench/fanout.py); EXISTS is one index probe.
    own = Participant.objects.filter(workflow=OuterRef("pk"), user=user)
    return scoped.filter(Q(Exists(own)) | Q(tenant_id__in=managed_tenants))


def get_workflow_access(user, workflow_id) -> WorkflowAccess:
    """One query: the workflow with the caller's participation and tenant role annotated."""
    own = Participant.objects.filter(workflow=OuterRef("pk"), user=user).order_by()
    tenant_role = Membership.objects.filter(tenant=OuterRef("tenant_id"), user=user).order_by().values("role")[:1]
    workflow = (
        workflows_for(user)
        .select_related("tenant", "initiator")
        .annotate(
            participant_id=Subquery(own.values("pk")[:1]),
            participant_role=Subquery(own.values("role")[:1]),
            participant_joined_at=Subquery(own.values("joined_at")[:1]),
            tenant_role=Subquery(tenant_role),
        )
        .filter(pk=workflow_id)
        .first()
    )
    if workflow is None:
        raise Http404
    participant = None
    if workflow.participant_id:
        participant = Participant(
            pk=workflow.participant_id,
            workflow=workflow,
            user=user,
            role=workflow.participant_role,
            joined_at=workflow.participant_joined_at,
        )
    return WorkflowAccess(workflow, user, participant, workflow.tenant_role)


def templates_for(user):
    """The workflow templates of `user`'s tenants (any member may start a workflow from one),
    with what showing them needs."""
    return scope_to_user(_templates(), user)


def get_template(user, template_id, tenant_id=None) -> WorkflowTemplate:
    """One template of `user`'s tenants (of tenant `tenant_id` if given), or Http404."""
    lookup = {"pk": template_id} if tenant_id is None else {"pk": template_id, "tenant_id": tenant_id}
    return get_for_user(_templates(), user, **lookup)


def _templates():
    participants = Prefetch("participants", queryset=TemplateParticipant.objects.select_related("user"))
    return WorkflowTemplate.objects.select_related("tenant", "created_by").prefetch_related(participants)
