"""The one way to reach a workflow: tenant-scoped through project.accounts.access, visible to
its participants and to its tenant's owners and admins, 404 for everyone else."""

from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import Http404

from project.accounts.access import get_for_user, scope_to_user
from project.accounts.models import Membership, Tenant, User
from project.sql import Columns, prepared_cursor

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
#: Pairs per statement of a batch (SQLite's parameter limit is far above 2 × this).
ACCESS_BATCH = 500


def _access_statement(pairs: int):
    """The access check's one statement for `pairs` (user, workflow) pairs: the workflow (not
    deleted) in a tenant the user is a member of, where they take part or manage the tenant,
    with its tenant, initiator, the user's participation (if any) and their tenant role. The
    same rule as workflows_for. Built once per size."""
    if "columns" not in _ACCESS:
        _ACCESS["columns"] = {
            "workflow": Columns(Workflow, "w"),
            "tenant": Columns(Tenant, "t"),
            "initiator": Columns(User, "i"),
            "participant": Columns(Participant, "p"),
        }
    columns = _ACCESS["columns"]
    key = (connection.vendor, pairs)
    if key not in _ACCESS:
        quote = connection.ops.quote_name
        managers = ", ".join(f"'{role}'" for role in Membership.MANAGER_ROLES)
        # VALUES names its columns column1, column2 on both databases.
        _ACCESS[key] = (
            f"SELECT {', '.join(c.sql for c in columns.values())}, m.{quote('role')}, q.column1 "
            f"FROM (VALUES {', '.join(['(%s, %s)'] * pairs)}) q "
            f"JOIN {quote(Workflow._meta.db_table)} w ON w.{quote('id')} = q.column2 "
            f"JOIN {quote(Membership._meta.db_table)} m ON m.{quote('tenant_id')} = w.{quote('tenant_id')} AND m.{quote('user_id')} = q.column1 "
            f"JOIN {quote(Tenant._meta.db_table)} t ON t.{quote('id')} = w.{quote('tenant_id')} "
            f"JOIN {quote(User._meta.db_table)} i ON i.{quote('id')} = w.{quote('initiator_id')} "
            f"LEFT JOIN {quote(Participant._meta.db_table)} p ON p.{quote('workflow_id')} = w.{quote('id')} AND p.{quote('user_id')} = q.column1 "
            f"WHERE w.{quote('deleted_at')} IS NULL "
            f"AND (p.{quote('id')} IS NOT NULL OR m.{quote('role')} IN ({managers}))"
        )
    return _ACCESS[key], columns


def get_workflow_access(user, workflow_id) -> WorkflowAccess:
    """What `user` may do with workflow `workflow_id`, or Http404 if they may not see it.
    One statement written once (project.sql): it runs on every workflow request and socket, and
    the queryset it replaced (four subqueries annotated) cost half a POST's CPU to compose."""
    if user is None or not user.is_authenticated:
        raise Http404
    access = workflow_accesses([(user, workflow_id)]).get((user.pk, str(workflow_id)))
    if access is None:
        raise Http404
    return access


def workflow_accesses(pairs) -> dict[tuple[int, str], WorkflowAccess]:
    """`get_workflow_access` of many (user, workflow id) pairs, one statement per ACCESS_BATCH
    (a process re-checks its sockets in batches: project/realtime/access_sweep.py), keyed by
    (user id, workflow id); a pair whose user may not see the workflow is absent."""
    users, wanted = {}, []
    for user, workflow_id in pairs:
        users[user.pk] = user
        wanted.append((user.pk, str(workflow_id)))
    accesses = {}
    for start in range(0, len(wanted), ACCESS_BATCH):
        chunk = wanted[start : start + ACCESS_BATCH]
        sql, columns = _access_statement(len(chunk))
        with prepared_cursor() as cursor:
            cursor.execute(sql, [value for pair in chunk for value in pair])
            rows = cursor.fetchall()
        for row in rows:
            values, parts = list(row), {}
            for name, part in columns.items():
                parts[name], values = part.load(values[: part.width]), values[part.width :]
            tenant_role, user_id = values
            workflow, participant, user = parts["workflow"], parts["participant"], users[user_id]
            workflow.tenant = parts["tenant"]
            workflow.initiator = parts["initiator"]
            if participant is not None:
                participant.workflow = workflow
                participant.user = user
            accesses[(user_id, workflow.pk)] = WorkflowAccess(workflow, user, participant, tenant_role)
    return accesses


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
