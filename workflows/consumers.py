import time

from channels.db import database_sync_to_async
from django.conf import settings

from project.realtime.consumers import RealtimeConsumer

from .access import get_workflow_access

TYPING_WINDOW_SECONDS = 10


class WorkflowConsumer(RealtimeConsumer):
    """`ws/workflow/<id>/` (and seed 000's `/workflow/<id>/websocket`): a workflow's events,
    typing and presence, for those who may read it. Client → server: ``{"type": "typing"}``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._typing_sent: list[float] = []

    async def get_groups(self, user):
        self.workflow_id = self.scope["url_route"]["kwargs"]["workflow_id"]
        access = await database_sync_to_async(get_workflow_access)(user, self.workflow_id)
        self.presence_group = access.workflow.group
        return [access.workflow.group]

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
