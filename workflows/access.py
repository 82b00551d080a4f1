"""The one way to reach a workflow: tenant-scoped through project.accounts.access, visible to
its participants and to its tenant's owners and admins, 404 for everyone else."""

from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import Http404

from project.accounts.access import get_for_user, scope_to_user
from project.accounts.models import Membership, Tenant, User
from project.sql import Columns

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


_ACCESS = {}


def _access_statement():
    """The access check's one statement, built once: the workflow (not deleted) in a tenant the
    user is a member of, where they take part or manage the tenant, with its tenant, initiator,
    the user's participation (if any) and their tenant role. The same rule as workflows_for."""
    if "sql" not in _ACCESS:
        quote = connection.ops.quote_name
        columns = {
            "workflow": Columns(Workflow, "w"),
            "tenant": Columns(Tenant, "t"),
            "initiator": Columns(User, "i"),
            "participant": Columns(Participant, "p"),
        }
        managers = ", ".join(f"'{role}'" for role in Membership.MANAGER_ROLES)
        _ACCESS["columns"] = columns
        _ACCESS["sql"] = (
            f"SELECT {', '.join(c.sql for c in columns.values())}, m.{quote('role')} "
            f"FROM {quote(Workflow._meta.db_table)} w "
            f"JOIN {quote(Membership._meta.db_table)} m ON m.{quote('tenant_id')} = w.{quote('tenant_id')} AND m.{quote('user_id')} = %s "
            f"JOIN {quote(Tenant._meta.db_table)} t ON t.{quote('id')} = w.{quote('tenant_id')} "
            f"JOIN {quote(User._meta.db_table)} i ON i.{quote('id')} = w.{quote('initiator_id')} "
            f"LEFT JOIN {quote(Participant._meta.db_table)} p ON p.{quote('workflow_id')} = w.{quote('id')} AND p.{quote('user_id')} = %s "
            f"WHERE w.{quote('id')} = %s AND w.{quote('deleted_at')} IS NULL "
            f"AND (p.{quote('id')} IS NOT NULL OR m.{quote('role')} IN ({managers}))"
        )
    return _ACCESS["sql"], _ACCESS["columns"]


def get_workflow_access(user, workflow_id) -> WorkflowAccess:
    """What `user` may do with workflow `workflow_id`, or Http404 if they may not see it.
    One statement written once (project.sql): it runs on every workflow request and socket, and
    the queryset it replaced (four subqueries annotated) cost half a POST's CPU to compose."""
    if user is None or not user.is_authenticated:
        raise Http404
    sql, columns = _access_statement()
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk, str(workflow_id)])
        row = cursor.fetchone()
    if row is None:
        raise Http404
    values, parts = list(row), {}
    for name, part in columns.items():
        parts[name], values = part.load(values[: part.width]), values[part.width :]
    workflow, participant = parts["workflow"], parts["participant"]
    workflow.tenant = parts["tenant"]
    workflow.initiator = parts["initiator"]
    if participant is not None:
        participant.workflow = workflow
        participant.user = user
    return WorkflowAccess(workflow, user, participant, values[0])


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
