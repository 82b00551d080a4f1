from project.realtime.consumers import RealtimeConsumer

#: What the notification socket forwards from the user's group.
NOTIFICATION_EVENTS = frozenset({"notification.created", "notification_count.changed"})


class NotificationConsumer(RealtimeConsumer):
    """`ws/notifications/`: the user's own notification events (``notification.created``,
    ``notification_count.changed``), not the rest of their group's."""

    def allowed_groups(self, user):
        return [user.group]

    async def handle_event(self, frame):
        if frame["type"] in NOTIFICATION_EVENTS:
            await super().handle_event(frame)
