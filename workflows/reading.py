"""Read cursors: what each participant has read of each workflow, and so what is unread.

A participant's cursor is the id of the last message they have read; their unread messages are
the ones after it that others wrote. Posting a message writes nothing per participant: the
counts are read from the cursors (Zulip's and Slack's model). Moving a cursor, or muting, tells
the user's own sockets (`read_state.updated`), so every tab and device shows the same counts."""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from notifications import services as notifications
from project.accounts.models import Membership, User
from project.realtime.services import publish

from .models import Message, Participant, message_pk
from .serializers import ReadStateSerializer

#: `@**Name**` (Zulip's syntax): a participant named by display name or email.
MENTION = re.compile(r"@\*\*([^*\n]{1,200})\*\*")


def read_states(user: User) -> QuerySet[Participant]:
    """`user`'s participations, each with `unread_count`: one query, a count per workflow over
    the message index (workflow, id)."""
    unread = (
        Message.objects.filter(
            workflow=OuterRef("workflow_id"), id__gt=OuterRef("last_read_message_id"), deleted_at__isnull=True
        )
        .exclude(sender=user)
        .order_by()
        .values("workflow")
        .annotate(count=Count("id"))
        .values("count")
    )
    return (
        # Tenant-scoped as every read is: a participation outlives no membership.
        Participant.objects.filter(
            user=user,
            workflow__deleted_at__isnull=True,
            workflow__tenant_id__in=Membership.objects.filter(user=user).values("tenant_id"),
        )
        .annotate(
            unread_count=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)),
            activity_at=F("workflow__last_activity_at"),
        )
        .order_by("-activity_at", "-id")
    )


def total_unread(user: User) -> int:
    """Unread messages over every workflow `user` takes part in and has not muted."""
    return read_states(user).filter(muted=False).aggregate(total=Coalesce(Sum("unread_count"), 0))["total"]


def read_state(access) -> Participant:
    """The caller's read state of the workflow of `access` (a WorkflowAccess); only
    participants have one."""
    if access.participant is None:
        raise Participant.DoesNotExist("Only participants have a read state.")
    return read_states(access.user).get(pk=access.participant.pk)


def update_read_state(access, *, last_read_message_id=..., muted=None) -> Participant:
    """Move the caller's cursor to a message of this workflow (None: nothing read), and/or mute.
    The cursor moves either way: "mark as unread" moves it back. The user's sockets hear of it."""
    participant = read_state(access)
    changes = {}
    if last_read_message_id is not ...:
        if last_read_message_id is None:
            changes["last_read_message_id"] = 0
        else:
            pk = message_pk(last_read_message_id)
            if pk is None or not access.workflow.messages.filter(pk=pk).exists():
                raise ValidationError({"last_read_message_id": "No such message in this workflow."})
            changes["last_read_message_id"] = pk
    if muted is not None:
        changes["muted"] = muted
    with transaction.atomic():
        Participant.objects.filter(pk=participant.pk).update(**changes)
        participant = read_state(access)
        publish(
            access.user.group,
            "read_state.updated",
            {"read_state": ReadStateSerializer(participant).data, "total_unread": total_unread(access.user)},
        )
        if "last_read_message_id" in changes and participant.unread_count == 0:
            notifications.mark_workflow_read(access.user, access.workflow.pk)
    return participant


def mark_unread_from(access, message_id) -> Participant:
    """"Mark as unread" from a message: the cursor moves to the message before it."""
    pk = message_pk(message_id)
    if pk is None or not access.workflow.messages.filter(pk=pk).exists():
        raise ValidationError({"unread_from": "No such message in this workflow."})
    before = access.workflow.messages.filter(pk__lt=pk).order_by("-pk").values_list("pk", flat=True).first()
    return update_read_state(access, last_read_message_id=before)


def reachable_participants(workflow) -> QuerySet[User]:
    """The participants who may still hear of `workflow`: a participation outlives no
    membership, so someone who left the tenant (or was removed) is told nothing more of it."""
    return User.objects.filter(participations__workflow=workflow, memberships__tenant_id=workflow.tenant_id)


def mentioned_participants(workflow, author: User, content: str) -> list[User]:
    """The participants `content` mentions (`@**Display Name**` or `@**email**`), the author
    excepted. A name nobody in the workflow has mentions nobody: it reveals nothing either."""
    names = {name.strip().casefold() for name in MENTION.findall(content)}
    if not names:
        return []
    participants = reachable_participants(workflow).exclude(pk=author.pk)
    return [user for user in participants.only("pk", "email", "display_name")
            if user.email.casefold() in names or user.display_name.casefold() in names]
