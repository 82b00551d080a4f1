from channels.db import database_sync_to_async

from project.realtime.consumers import RealtimeConsumer

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
