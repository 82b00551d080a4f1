from project.realtime.consumers import RealtimeConsumer

from .access import get_membership


class UserEventsConsumer(RealtimeConsumer):
    """`ws/user/`: events addressed to the connected user (`user.<id>`)."""

    def allowed_groups(self, user):
        return [user.group]


class TenantEventsConsumer(RealtimeConsumer):
    """`ws/tenants/<tenant_id>/`: a tenant's events, for its members only."""

    def allowed_groups(self, user):
        return [get_membership(user, self.scope["url_route"]["kwargs"]["tenant_id"]).tenant.group]
