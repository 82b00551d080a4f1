from django.http import Http404

from project.realtime.consumers import RealtimeConsumer, query_param

from . import services
from .models import stream_group


class QueueConsumer(RealtimeConsumer):
    """`ws/queue/` (the public stream) or `ws/queue/?tenant=<id>` (a tenant's, members only):
    every new message, reply and status change of the stream as `queue_message.*` events
    (project/realtime/events.py)."""

    def allowed_groups(self, user):
        try:
            tenant = services.stream_tenant(user, self.tenant_id)
        except services.NotFound:
            raise Http404 from None  # closes with 4403
        return [stream_group(tenant.pk if tenant else None)]

    def access_key(self):
        return (type(self), self.tenant_id)

    @property
    def tenant_id(self) -> str | None:
        return query_param(self.scope, "tenant") or None
