import time

from channels.db import database_sync_to_async
from django.conf import settings

from project.realtime.consumers import CLOSE_FORBIDDEN, RealtimeConsumer

from .access import get_workflow_access

#: Events after which this socket's user may no longer be here.
_ENDING_EVENTS = {"participant.removed", "workflow.deleted"}
TYPING_WINDOW_SECONDS = 10


class WorkflowConsumer(RealtimeConsumer):
    """`ws/workflow/<id>/` (and the original `/workflow/<id>/websocket`): a workflow's events,
    typing and presence, for those who may read it. Client → server: ``{"type": "typing"}``."""

    async def get_groups(self, user):
        self.workflow_id = self.scope["url_route"]["kwargs"]["workflow_id"]
        access = await database_sync_to_async(get_workflow_access)(user, self.workflow_id)
        self.presence_group = access.workflow.group
        self._typing_sent: list[float] = []
        return [access.workflow.group]

    async def handle_event(self, frame):
        await super().handle_event(frame)
        if frame["type"] in _ENDING_EVENTS and not await self._still_allowed():
            await self.close(code=CLOSE_FORBIDDEN)

    async def handle_message(self, content):
        # scope["user"] was frozen at connect: check the membership again on every action.
        if not await self._still_allowed():
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if content["type"] != "typing":
            await super().handle_message(content)
            return
        now = time.monotonic()
        self._typing_sent = [t for t in self._typing_sent if now - t < TYPING_WINDOW_SECONDS]
        if len(self._typing_sent) >= settings.WORKFLOW_TYPING_LIMIT:
            return  # dropped quietly: typing is a hint, not data
        self._typing_sent.append(now)
        await self.send_transient(self.presence_group, "typing", {"user": self.user.email}, include_self=False)

    @database_sync_to_async
    def _still_allowed(self) -> bool:
        from django.http import Http404

        try:
            return get_workflow_access(self.user, self.workflow_id).can_read
        except Http404:
            return False
