"""Every write to a workflow goes through here. Each call writes the change, its history row
and publishes its real-time event in one transaction. Events carry each resource's one shape,
the output serializers of workflows.serializers."""

import logging
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone

from notifications.models import Kind
from notifications.services import notify
from project.accounts.models import Membership, Tenant, User, normalize_email
from project.accounts.services import Conflict, recheck_user_access
from project.realtime.services import ACCESS_CHANGED, publish

from . import reading
from .models import HistoryEvent, MediaFile, Message, Participant, Workflow, message_pk, new_share_token
from .serializers import MessageSerializer, ParticipantSerializer, WorkflowSerializer
from .thumbnails import thumbnail_of

Status = Workflow.Status
Role = Participant.Role


class WorkflowAccess:
    """What one user may do with one workflow."""

    def __init__(self, workflow: Workflow, user: User, participant: Participant | None, tenant_role: str | None):
        self.workflow = workflow
        self.user = user
        self.participant = participant
        self.tenant_role = tenant_role

    @property
    def is_tenant_manager(self) -> bool:
        return self.tenant_role in Membership.MANAGER_ROLES

    @property
    def can_read(self) -> bool:
        return self.participant is not None or self.is_tenant_manager

    @property
    def can_write(self) -> bool:
        """Post messages, share files, add participants, rename, push custom events."""
        return self.participant is not None and self.participant.role in Participant.WRITER_ROLES

    @property
    def can_manage(self) -> bool:
        """Complete, reopen, cancel, delete, remove participants."""
        return self.workflow.initiator_id == self.user.pk or self.is_tenant_manager

    def require(self, capability: str) -> None:
        if not getattr(self, f"can_{capability}"):
            raise PermissionDenied(f"Your role in this workflow does not allow this ({capability}).")


def _record(workflow: Workflow, event_type: str, actor: User, event: str, data: dict | None = None, **details):
    """The history row and the real-time event of one change; call inside its transaction."""
    HistoryEvent.objects.create(
        workflow=workflow,
        event_type=event_type,
        performed_by=actor,
        details=details,
        tenant_id_snapshot=workflow.tenant_id,
        initiator_snapshot_id=workflow.initiator_id,
        title=workflow.title,
        status=workflow.status,
        created_at=workflow.created_at,
        updated_at=workflow.updated_at,
        completed_at=workflow.completed_at,
        deleted_at=workflow.deleted_at,
    )
    publish(workflow.group, event, {"workflow": WorkflowSerializer(workflow).data, "by": actor.email, **(data or {})},
            tenant=workflow.tenant_id)


def _notify(workflow: Workflow, actor: User, kind: str, title: str, body: str = "", recipients=None, **payload):
    """Notify the workflow's participants (or `recipients`) of `actor`'s change; never the actor.

    After the change commits, in a transaction of its own: the change's own event reaches the
    workflow's sockets first, instead of waiting for a notification row per participant (a
    thousand of them cost more than the message itself). A rolled-back change notifies nobody;
    a process that dies in between loses the notifications, never the change."""
    if recipients is None:
        recipients = reading.reachable_participants(workflow)
    gone = kind == Kind.WORKFLOW_DELETED
    link = reverse("workflow_list" if gone else "workflow_detail", args=() if gone else (workflow.pk,))
    transaction.on_commit(
        lambda: notify(
            recipients,
            kind,
            title=title,
            body=body,
            link=link,
            payload={"workflow_id": workflow.pk, "by": actor.email, **payload},
            tenant_id=workflow.tenant_id,
            actor=actor,
        ),
        robust=True,
    )


def _tenant_member(tenant: Tenant, email: str) -> User:
    user = User.objects.filter(
        email=normalize_email(email), is_active=True, memberships__tenant=tenant
    ).first()
    if user is None:
        raise ValidationError({"email": f"{email} is not a member of this workflow's tenant."})
    return user


def create_workflow(tenant: Tenant, initiator: User, title: str, participants: list[tuple[str, str]] = ()) -> Workflow:
    """`participants`: (email, role) pairs besides the initiator; each must be a tenant member."""
    if not Membership.objects.filter(tenant=tenant, user=initiator).exists():
        raise PermissionDenied("You are not a member of this tenant.")
    with transaction.atomic():
        workflow = Workflow.objects.create(tenant=tenant, initiator=initiator, title=title)
        Participant.objects.create(workflow=workflow, user=initiator, role=Role.INITIATOR)
        _record(workflow, HistoryEvent.Type.CREATED, initiator, "workflow.created")
        for email, role in participants:
            if role == Role.INITIATOR:
                raise ValidationError({"role": "A workflow has one initiator."})
            if normalize_email(email) != initiator.email:
                _add_participant(workflow, initiator, _tenant_member(tenant, email), role)
    return workflow


def update_workflow(access: WorkflowAccess, title: str) -> Workflow:
    access.require("write")
    workflow = access.workflow
    with transaction.atomic():
        old_title, workflow.title, workflow.updated_at = workflow.title, title, timezone.now()
        workflow.save(update_fields=["title", "updated_at"])
        _record(workflow, HistoryEvent.Type.UPDATED, access.user, "workflow.updated", old_title=old_title)
    return workflow


def set_status(access: WorkflowAccess, status: str) -> Workflow:
    """active → completed | cancelled, and completed | cancelled → active (reopen)."""
    access.require("manage")
    workflow = access.workflow
    if status == workflow.status:
        return workflow
    if status != Status.ACTIVE and workflow.status != Status.ACTIVE:
        raise Conflict(f"A {workflow.status} workflow must be reopened first.")
    now = timezone.now()
    with transaction.atomic():
        workflow.status, workflow.updated_at = status, now
        if status == Status.COMPLETED:
            workflow.completed_at, workflow.completed_by = now, access.user
            history, event = HistoryEvent.Type.COMPLETED, "workflow.completed"
        elif status == Status.CANCELLED:
            history, event = HistoryEvent.Type.CANCELLED, "workflow.cancelled"
        else:
            workflow.completed_at = workflow.completed_by = None
            history, event = HistoryEvent.Type.REOPENED, "workflow.reopened"
        workflow.save(update_fields=["status", "updated_at", "completed_at", "completed_by"])
        _record(workflow, history, access.user, event)
        if status == Status.COMPLETED:
            _notify(workflow, access.user, Kind.WORKFLOW_COMPLETED, f"{access.user.get_full_name()} completed “{workflow.title}”")
    return workflow


def delete_workflow(access: WorkflowAccess) -> None:
    """Soft delete: hidden from everyone, kept with its history."""
    access.require("manage")
    workflow = access.workflow
    with transaction.atomic():
        workflow.deleted_at = workflow.updated_at = timezone.now()
        workflow.deleted_by = access.user
        workflow.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
        _record(workflow, HistoryEvent.Type.DELETED, access.user, "workflow.deleted")
        _notify(workflow, access.user, Kind.WORKFLOW_DELETED, f"{access.user.get_full_name()} deleted “{workflow.title}”")
        publish(workflow.group, ACCESS_CHANGED, {"reason": "workflow_deleted"})
        # Its files go once the deletion is committed (a rolled-back delete keeps them). One
        # batch here keeps the request short on a remote storage; `manage.py
        # purge_deleted_files` removes the rest and whatever a failure left behind.
        transaction.on_commit(lambda: purge_deleted_files(workflow_id=workflow.pk, max_batches=1), robust=True)


logger = logging.getLogger(__name__)
#: Files removed from storage per batch (one query and one UPDATE a batch).
PURGE_BATCH_SIZE = 100


def purge_deleted_files(
    workflow_id: str | None = None, batch_size: int | None = None, max_batches: int | None = None,
    media_file_id: int | None = None,
) -> int:
    """Remove from storage the files shared in deleted workflows or by deleted messages (one
    workflow's, one file, or every one), a batch at a time; returns how many went. The MediaFile rows stay, for the history,
    with an empty file name. A file is deleted before its name is cleared, so a crash in between
    only means deleting it again next time (deleting a missing file is no error)."""
    batch_size = batch_size or PURGE_BATCH_SIZE
    storage = MediaFile._meta.get_field("file").storage
    files = MediaFile.objects.filter(
        Q(messages__workflow__deleted_at__isnull=False) | Q(messages__deleted_at__isnull=False)
    ).exclude(file="")
    if workflow_id is not None:
        files = files.filter(messages__workflow_id=workflow_id)
    if media_file_id is not None:
        files = files.filter(pk=media_file_id)
    purged, batches, failed = 0, 0, []
    while max_batches is None or batches < max_batches:
        batch = list(files.exclude(pk__in=failed).order_by("pk").values_list("pk", "file", "thumbnail").distinct()[:batch_size])
        if not batch:
            break
        batches += 1
        done = []
        for pk, name, thumbnail in batch:
            try:
                storage.delete(name)
                if thumbnail:
                    storage.delete(thumbnail)
            except Exception:  # one unreachable file must not stop the others; the next run retries it
                logger.exception("could not delete %s (media file %s) from storage", name, pk)
                failed.append(pk)
            else:
                done.append(pk)
        purged += MediaFile.objects.filter(pk__in=done).update(file="", thumbnail="")
    return purged


def add_participant(access: WorkflowAccess, email: str, role: str = Role.EDITOR) -> Participant:
    access.require("write")
    if role == Role.INITIATOR:
        raise ValidationError({"role": "A workflow has one initiator."})
    user = _tenant_member(access.workflow.tenant, email)
    with transaction.atomic():
        return _add_participant(access.workflow, access.user, user, role)


def _add_participant(workflow: Workflow, actor: User, user: User, role: str) -> Participant:
    try:
        with transaction.atomic():
            # What was said before they joined is not news to them (as in a Slack channel).
            participant = Participant.objects.create(
                workflow=workflow, user=user, role=role, last_read_message_id=workflow.last_message_id or 0
            )
    except IntegrityError:
        raise Conflict(f"{user.email} already takes part in this workflow.") from None
    recheck_user_access(user.pk, "participation_started")  # their inbox sockets follow it now
    data = {"participant": ParticipantSerializer(participant).data}
    _record(workflow, HistoryEvent.Type.PARTICIPANT_ADDED, actor, "participant.added", data, email=user.email, role=role)
    title = f"{actor.get_full_name()} added you to “{workflow.title}”"
    _notify(workflow, actor, Kind.WORKFLOW_PARTICIPANT_ADDED, title, f"Your role: {role}.", recipients=[user], role=role)
    return participant


def remove_participant(access: WorkflowAccess, email: str) -> None:
    """Managers remove anyone but the initiator; a participant may leave."""
    workflow = access.workflow
    participant = workflow.participants.select_related("user").filter(user__email=normalize_email(email)).first()
    if participant is None:
        raise Participant.DoesNotExist("Not a participant of this workflow.")
    if participant.user_id != access.user.pk:
        access.require("manage")
    if participant.role == Role.INITIATOR:
        raise Conflict("The initiator cannot leave or be removed.")
    with transaction.atomic():
        participant.delete()
        data = {"participant": ParticipantSerializer(participant).data}
        _record(workflow, HistoryEvent.Type.PARTICIPANT_REMOVED, access.user, "participant.removed", data, email=participant.user.email)
        recheck_user_access(participant.user_id, "participation_ended")


def post_message(access: WorkflowAccess, content: str) -> Message:
    access.require("write")
    content = _clean_content(content)
    _require_open(access.workflow)
    with transaction.atomic():
        message = Message.objects.create(workflow=access.workflow, sender=access.user, content=content)
        _posted(access, message)
        if mentioned := reading.mentioned_participants(access.workflow, access.user, content):
            title = f"{access.user.get_full_name()} mentioned you in “{access.workflow.title}”"
            _notify(access.workflow, access.user, Kind.WORKFLOW_MENTION, title, content, recipients=mentioned,
                    message_id=str(message.pk))
    return message


def edit_message(access: WorkflowAccess, message_id, content: str) -> Message:
    """Its author changes a message's text (while they may still write and the workflow is
    open); everyone sees it as edited. Mentions added by an edit notify nobody."""
    message = _own_message(access, message_id)
    if message.message_type != Message.Type.TEXT:
        raise Conflict("Only a text message can be edited; delete a shared file's message instead.")
    content = _clean_content(content)
    with transaction.atomic():
        message.content = content
        message.edited_at = timezone.now()
        message.save(update_fields=["content", "edited_at"])
        _record(access.workflow, HistoryEvent.Type.MESSAGE_EDITED, access.user, "message.updated",
                {"message": MessageSerializer(message).data}, message_id=str(message.pk))
    return message


def delete_message(access: WorkflowAccess, message_id) -> Message:
    """Its author deletes a message: it keeps its place with no content (a shared file's link
    stops working), and everyone sees "deleted" where it was."""
    message = _own_message(access, message_id)
    with transaction.atomic():
        message.content = ""
        message.share_token = None
        message.deleted_at = timezone.now()
        message.save(update_fields=["content", "share_token", "deleted_at"])
        _record(access.workflow, HistoryEvent.Type.MESSAGE_DELETED, access.user, "message.deleted",
                {"message": MessageSerializer(message).data}, message_id=str(message.pk))
        if message.media_file_id:  # a shared file goes with its message, once that is committed
            transaction.on_commit(lambda: purge_deleted_files(media_file_id=message.media_file_id), robust=True)
    return message


def _own_message(access: WorkflowAccess, message_id) -> Message:
    """A live message of this workflow that the caller wrote: Message.DoesNotExist (a 404) for
    another workflow's or a deleted one, PermissionDenied for someone else's."""
    access.require("write")
    pk = message_pk(message_id)
    if pk is None:
        raise Message.DoesNotExist("No such message.")
    message = access.workflow.messages.select_related("sender", "media_file").get(pk=pk, deleted_at__isnull=True)
    if message.sender_id != access.user.pk:
        raise PermissionDenied("Only its author edits or deletes a message.")
    _require_open(access.workflow)
    return message


def _clean_content(content: str) -> str:
    content = (content or "").strip()
    if not content:
        raise ValidationError({"content": "A message cannot be empty."})
    if len(content) > settings.WORKFLOW_MESSAGE_MAX_LENGTH:
        raise ValidationError({"content": f"Messages are limited to {settings.WORKFLOW_MESSAGE_MAX_LENGTH} characters."})
    return content


def share_file(access: WorkflowAccess, uploaded) -> Message:
    """Store an uploaded file and post the `share_link` message that references it.

    `uploaded` is a Django UploadedFile. Its name is kept only as metadata: the stored name is
    random, so no uploader-chosen path ever reaches the storage backend."""
    access.require("write")
    _require_open(access.workflow)
    if uploaded.size > settings.MEDIA_MAX_UPLOAD_BYTES:
        raise ValidationError({"file": f"Files are limited to {filesizeformat(settings.MEDIA_MAX_UPLOAD_BYTES)}."})
    content_type = (uploaded.content_type or "").split(";")[0].strip().lower()
    if content_type not in settings.MEDIA_ALLOWED_TYPES:
        raise ValidationError({"file": f"Files of type {content_type or 'unknown'} are not accepted."})
    original_name = Path(uploaded.name or "file").name[:255] or "file"
    media = MediaFile(
        tenant=access.workflow.tenant,
        uploader=access.user,
        original_name=original_name,
        content_type=content_type,
        size=uploaded.size,
    )
    thumbnail = thumbnail_of(uploaded) if content_type.startswith("image/") else None
    try:
        with transaction.atomic():
            media.file.save(original_name, uploaded, save=False)
            if thumbnail is not None:
                media.thumbnail.save(f"{original_name}.webp", thumbnail, save=False)
            media.save()
            message = Message.objects.create(
                workflow=access.workflow,
                sender=access.user,
                message_type=Message.Type.SHARE_LINK,
                content=original_name,
                media_file=media,
                share_token=new_share_token(),
            )
            _posted(access, message)
    except Exception:
        # The files are stored before the rows; without them nobody could ever reach or delete them.
        for stored in (media.file, media.thumbnail):
            if stored.name:
                stored.storage.delete(stored.name)
        raise
    return message


def push_custom_event(access: WorkflowAccess, event_type: str, data: dict) -> None:
    """A client's own event, `custom.<type>`: the type is the client's, so it is a family in
    the registry rather than one name (seed 000's `/workflow/{id}/notification`)."""
    access.require("write")
    publish(access.workflow.group, f"custom.{event_type}", {"by": access.user.email, "payload": data},
            tenant=access.workflow.tenant_id)


def _posted(access: WorkflowAccess, message: Message) -> None:
    """What every new message does, whatever the number of participants: it becomes the
    workflow's latest (its preview and sort key in lists) and reaches the workflow's sockets.
    Unread counts follow from the read cursors (workflows.reading): nothing per participant."""
    Workflow.objects.filter(pk=access.workflow.pk).update(last_message=message, last_activity_at=message.created_at)
    publish(access.workflow.group, "message.created", {"message": MessageSerializer(message).data},
            tenant=access.workflow.tenant_id)


def _require_open(workflow: Workflow) -> None:
    if workflow.status != Status.ACTIVE:
        raise Conflict(f"This workflow is {workflow.status}; it takes no new messages.")

