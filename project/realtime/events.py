"""Every event type Harbor publishes, in one place: `publish()` refuses any other, so a typo or
a new event nobody documented fails the tests instead of reaching clients. Names are
`<resource>.<past-tense verb>`; docs/realtime.md lists the same table (a test compares them).

Frames that are never stored (`ready`, `pong`, `error`, `typing`, `presence`, `streaming`,
`replay.truncated`) are the socket protocol's, not events, and are not here."""

EVENT_TYPES: dict[str, str] = {
    # Sent to no client: each socket of the group checks its credential and rights again.
    "access.changed": "a right of the group's sockets ended (membership, participation, password, token, session)",
    # accounts
    "tenant_member.added": "someone joined a tenant (to the tenant and to them)",
    "tenant_member.removed": "someone left or was removed from a tenant (to the tenant and to them)",
    "tenant_member.updated": "an owner changed someone's role in a tenant (to the tenant and to them)",
    # workflows
    "workflow.created": "a workflow was started",
    "workflow.updated": "a workflow was renamed",
    "workflow.completed": "a workflow was completed",
    "workflow.reopened": "a completed or cancelled workflow was reopened",
    "workflow.cancelled": "a workflow was cancelled",
    "workflow.deleted": "a workflow was deleted",
    "participant.added": "someone was added to a workflow",
    "participant.removed": "someone left or was removed from a workflow",
    "message.created": "a message or a shared file was posted to a workflow",
    "message.updated": "its author edited a message (`edited_at` set)",
    "message.deleted": "its author deleted a message (no content, `deleted_at` set)",
    "read_state.updated": "the user read a workflow, marked it unread or muted it (to them: every tab and device)",
    # notifications
    "notification.created": "a notification for the user",
    "notification_count.changed": "the user's unread count changed (read, cleared)",
    # queue
    "queue_message.created": "a message was posted to a queue stream",
    "queue_message.claimed": "a worker claimed a queue message (processing)",
    "queue_message.answered": "a bot completed a queue message with its reply (the message and the reply)",
    "queue_message.completed": "a worker completed a queue message without a reply",
    "queue_message.failed": "a worker gave a claim back after a failure (pending after a backoff, or failed: a dead letter)",
    "queue_message.released": "a worker handed a claim back untouched (pending)",
    "queue_message.requeued": "a claim's lease expired: the message is pending again, or failed when out of attempts",
    "queue_message.retried": "staff put a dead letter back in the queue (pending)",
}

#: Families whose suffix the caller chooses: `custom.<type>` from POST /api/workflows/{id}/events
#: (and seed 000's /workflow/{id}/notification), `<type>` being the client's own name.
EVENT_TYPE_FAMILIES: dict[str, str] = {
    "custom.": "a client's own event pushed to a workflow's sockets",
}


def is_registered(event_type: str) -> bool:
    return event_type in EVENT_TYPES or any(
        event_type.startswith(prefix) and len(event_type) > len(prefix) for prefix in EVENT_TYPE_FAMILIES
    )


#: The event types that may leave Harbor in outgoing webhooks (project/webhooks), and only
#: when published with a tenant (a tenant's own groups: its members, workflows, queue stream).
#: Never the personal or protocol ones: `access.changed` (credentials), `read_state.updated`
#: and `notification.*` (one person's), which go to user, session and credential groups.
WEBHOOK_EVENT_TYPES: tuple[str, ...] = (
    "tenant_member.added",
    "tenant_member.removed",
    "tenant_member.updated",
    "workflow.created",
    "workflow.updated",
    "workflow.completed",
    "workflow.reopened",
    "workflow.cancelled",
    "workflow.deleted",
    "participant.added",
    "participant.removed",
    "message.created",
    "message.updated",
    "message.deleted",
    "queue_message.created",
    "queue_message.claimed",
    "queue_message.answered",
    "queue_message.completed",
    "queue_message.failed",
    "queue_message.released",
    "queue_message.requeued",
    "queue_message.retried",
)
#: Families that may leave too: a workflow's `custom.<type>` events.
WEBHOOK_EVENT_FAMILIES: tuple[str, ...] = ("custom.",)


def may_leave_harbor(event_type: str) -> bool:
    return event_type in WEBHOOK_EVENT_TYPES or any(
        event_type.startswith(prefix) and len(event_type) > len(prefix) for prefix in WEBHOOK_EVENT_FAMILIES
    )
