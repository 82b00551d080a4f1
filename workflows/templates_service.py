"""Every write to a workflow template, and starting a workflow from one.

A template belongs to one tenant; its owners and admins write it (`membership` is the caller's
Membership of that tenant, from project.accounts.access.get_membership). Refusals are
ValidationErrors keyed by the template's fields (`name`, `title_pattern`, `participants`,
`first_message`) and PermissionDenied, as in workflows.services."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from project.accounts.models import Membership, User, normalize_email

from . import services
from .access import get_workflow_access
from .models import TemplateParticipant, Workflow, WorkflowTemplate, validate_title_pattern

TEMPLATE_ROLES = {role for role, _ in TemplateParticipant.ROLES}
TITLE_MAX_LENGTH = Workflow._meta.get_field("title").max_length
DUPLICATE_NAME = "Another template of this tenant has this name."
#: What a template's fields may hold; first_message as any message (WORKFLOW_MESSAGE_MAX_LENGTH).
LIMITS = {"name": 120, "title_pattern": 200, "description": 2000}


def render_title(pattern: str, today=None) -> str:
    """The title a workflow started today gets; `{date}` is the only placeholder."""
    today = today or timezone.localdate()
    return pattern.replace("{date}", today.isoformat()).strip()[:TITLE_MAX_LENGTH].strip()


def create_template(membership: Membership, name: str, title_pattern: str, description: str = "",
                    first_message: str = "", participants=()) -> WorkflowTemplate:
    """`participants`: (email, role) pairs; each a member of the tenant, role editor or viewer."""
    _require_manager(membership)
    template = WorkflowTemplate(tenant=membership.tenant, created_by=membership.user)
    with transaction.atomic():
        _apply(template, {"name": name, "title_pattern": title_pattern, "description": description,
                          "first_message": first_message, "participants": participants})
    return template


def update_template(membership: Membership, template: WorkflowTemplate, **changes) -> WorkflowTemplate:
    """Changes only what is given; `participants`, when given, replaces the list."""
    _require_manager(membership, template)
    with transaction.atomic():
        _apply(template, changes)
    return template


def delete_template(membership: Membership, template: WorkflowTemplate) -> None:
    """Workflows started from it keep everything it gave them."""
    _require_manager(membership, template)
    template.delete()


def start_workflow(template: WorkflowTemplate, initiator: User, title: str = "", participants=()) -> Workflow:
    """A workflow of the template's tenant with its participants, and its first message posted
    by `initiator` through workflows.services (so history, events and mentions follow as for any
    other). `title` replaces the pattern's; `participants` ((email, role) pairs) are added to
    the template's, and one the template also names takes the role given here. Default
    participants who have left the tenant since are skipped. One transaction: a refusal keeps
    nothing."""
    title = (title or "").strip() or render_title(template.title_pattern)
    members = template.participants.filter(
        user__is_active=True, user__memberships__tenant_id=template.tenant_id
    ).select_related("user")
    chosen = {p.user.email: p.role for p in members}
    chosen.update({normalize_email(email): role for email, role in participants})
    with transaction.atomic():
        workflow = services.create_workflow(template.tenant, initiator, title, list(chosen.items()))
        if template.first_message.strip():
            services.post_message(get_workflow_access(initiator, workflow.pk), template.first_message)
    return workflow


def _require_manager(membership: Membership, template: WorkflowTemplate | None = None) -> None:
    if template is not None and template.tenant_id != membership.tenant_id:
        raise PermissionDenied("This template belongs to another tenant.")
    if membership.role not in Membership.MANAGER_ROLES:
        raise PermissionDenied("Only the tenant's owners and admins manage workflow templates.")


def _apply(template: WorkflowTemplate, changes: dict) -> None:
    """Check and save `changes` to `template` (new or not); call inside a transaction."""
    errors = {}
    for field in ("name", "title_pattern", "description", "first_message"):
        if field in changes:
            setattr(template, field, (changes[field] or "").strip())
    for field, limit in {**LIMITS, "first_message": settings.WORKFLOW_MESSAGE_MAX_LENGTH}.items():
        if len(getattr(template, field)) > limit:
            errors[field] = f"At most {limit} characters."
    for field in ("name", "title_pattern"):
        if not getattr(template, field):
            errors[field] = "This field is required."
    if "title_pattern" in changes and "title_pattern" not in errors:
        try:
            validate_title_pattern(template.title_pattern)
        except ValidationError as error:
            errors["title_pattern"] = error.messages
    duplicate = WorkflowTemplate.objects.filter(tenant_id=template.tenant_id, name__iexact=template.name)
    if "name" in changes and duplicate.exclude(pk=template.pk).exists():
        errors["name"] = DUPLICATE_NAME
    if "participants" in changes:
        try:
            chosen = _participants(template.tenant_id, changes["participants"])
        except ValidationError as error:
            errors["participants"] = error.messages
    if errors:
        raise ValidationError(errors)

    template.updated_at = timezone.now()
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:  # the same name saved by someone else since the check above
        raise ValidationError({"name": DUPLICATE_NAME}) from None
    if "participants" in changes:
        template.participants.all().delete()
        TemplateParticipant.objects.bulk_create(
            TemplateParticipant(template=template, user=user, role=role) for user, role in chosen
        )


def _participants(tenant_id: str, pairs) -> list[tuple[User, str]]:
    """(email, role) pairs → (member, role), the last role given for an address winning."""
    roles = {}
    for email, role in pairs:
        if role not in TEMPLATE_ROLES:
            raise ValidationError(f"“{role}” is not a role: a participant is an editor or a viewer.")
        roles[normalize_email(email)] = role
    members = {
        user.email: user
        for user in User.objects.filter(email__in=roles, is_active=True, memberships__tenant_id=tenant_id)
    }
    if strangers := [email for email in roles if email not in members]:
        raise ValidationError(f"Not a member of this tenant: {', '.join(strangers)}.")
    return [(members[email], role) for email, role in roles.items()]

