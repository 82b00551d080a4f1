import time

from django.conf import settings

from project.realtime.consumers import RealtimeConsumer

from .access import get_workflow_access, workflow_accesses, workflows_for

TYPING_WINDOW_SECONDS = 10


class WorkflowConsumer(RealtimeConsumer):
    """`ws/workflow/<id>/` (and seed 000's `/workflow/<id>/websocket`): a workflow's events,
    typing and presence, for those who may read it. Client → server: ``{"type": "typing"}``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._typing_sent: list[float] = []

    def allowed_groups(self, user):
        return [get_workflow_access(user, self.workflow_id).workflow.group]

    @classmethod
    def allowed_groups_many(cls, checks):
        accesses = workflow_accesses((user, socket.workflow_id) for socket, user in checks)
        answers = [accesses.get((user.pk, str(socket.workflow_id))) for socket, user in checks]
        return [[access.workflow.group] if access else None for access in answers]

    @property
    def workflow_id(self) -> str:
        return self.scope["url_route"]["kwargs"]["workflow_id"]

    @property
    def presence_group(self):
        return self.subscribed[0] if self.subscribed else None

    async def handle_message(self, content):
        if content["type"] != "typing":
            await super().handle_message(content)
            return
        now = time.monotonic()
        self._typing_sent = [t for t in self._typing_sent if now - t < TYPING_WINDOW_SECONDS]
        if len(self._typing_sent) >= settings.WORKFLOW_TYPING_LIMIT:
            return  # dropped quietly: typing is a hint, not data
        self._typing_sent.append(now)
        await self.send_transient(self.presence_group, "typing", {"user": self.user.email}, include_self=False)


#: What an inbox socket forwards: enough for lists and badges, not a thread's typing or presence.
INBOX_EVENTS = frozenset({
    "message.created", "message.updated", "message.deleted", "read_state.updated", "workflow.updated", "workflow.completed", "workflow.reopened",
    "workflow.cancelled", "workflow.deleted", "participant.added", "participant.removed",
})
#: The most recently active workflows an inbox socket follows (lists show the newest first).
INBOX_WORKFLOW_LIMIT = 200


class InboxConsumer(RealtimeConsumer):
    """`ws/inbox/`: the workflow list's and the home page's live feed — new messages of every
    workflow the user takes part in (their unread counts and previews) and the user's own
    `read_state.updated`, so a workflow read in one tab clears in every other. It follows the
    user's participations as they change: added to a workflow, it joins its group; removed, it
    leaves it (the `access.changed` of either reaches the user's sockets)."""

    def allowed_groups(self, user):
        return [user.group, *_participated_groups(user)]

    async def follow(self, groups):
        await self._leave([group for group in self.subscribed if group not in groups])
        if not await self._join([group for group in groups if group not in self.subscribed]):
            return False
        self.subscribed = groups
        return True

    async def handle_event(self, frame):
        if frame["type"] in INBOX_EVENTS:
            await super().handle_event(frame)

    async def realtime_transient(self, message):
        """Typing and presence are for the thread's own page."""


def _participated_groups(user) -> list[str]:
    """Tenant-scoped as every workflow read is: a participant who left the tenant follows nothing."""
    workflows = workflows_for(user).filter(participants__user=user).order_by("-last_activity_at").values_list("pk", flat=True)
    return [f"workflow.{pk}" for pk in workflows[:INBOX_WORKFLOW_LIMIT]]
