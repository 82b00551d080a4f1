from django.core.exceptions import PermissionDenied

from project.accounts.models import normalize_email
from project.realtime.consumers import RealtimeConsumer


class NotificationConsumer(RealtimeConsumer):
    """`ws/notifications/` and the original `notifications/<email>/websocket`: the user's own
    notification events (``notification.created``, ``notification.count``). The original route
    names the user; any other address is refused with 4403."""

    async def get_groups(self, user):
        email = self.scope["url_route"]["kwargs"].get("email")
        if email is not None and normalize_email(email) != user.email:
            raise PermissionDenied
        return [user.group]

    async def handle_event(self, frame):
        if frame["type"].startswith("notification."):
            await super().handle_event(frame)
