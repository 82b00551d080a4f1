from channels.db import database_sync_to_async

from project.realtime.consumers import CLOSE_FORBIDDEN, RealtimeConsumer

from .access import get_membership


class UserEventsConsumer(RealtimeConsumer):
    """`ws/user/`: events addressed to the connected user (`user.<id>`)."""

    async def get_groups(self, user):
        return [user.group]


class TenantEventsConsumer(RealtimeConsumer):
    """`ws/tenants/<tenant_id>/`: a tenant's events, for its members only."""

    async def get_groups(self, user):
        self.tenant_id = self.scope["url_route"]["kwargs"]["tenant_id"]
        membership = await database_sync_to_async(get_membership)(user, self.tenant_id)
        return [membership.tenant.group]

    async def handle_event(self, frame):
        await super().handle_event(frame)
        if frame["type"] == "tenant.member_removed" and frame["data"].get("user_id") == self.user.pk:
            await self.close(code=CLOSE_FORBIDDEN)
