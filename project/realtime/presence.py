"""Presence rows: one per open socket that tracks presence. A row whose socket died without
closing (a killed process) stops counting once its last ping is older than PRESENCE_TTL."""

from datetime import timedelta

from channels.db import database_sync_to_async
from django.utils import timezone

from .models import Presence

#: Sockets ping every 25 s; two missed pings and the user is gone.
PRESENCE_TTL = timedelta(seconds=60)


@database_sync_to_async
def join(group: str, channel_name: str, user) -> None:
    Presence.objects.update_or_create(channel_name=channel_name, defaults={"group": group, "user": user})


@database_sync_to_async
def touch(channel_name: str) -> None:
    Presence.objects.filter(channel_name=channel_name).update(last_seen=timezone.now())


@database_sync_to_async
def leave(channel_name: str) -> None:
    Presence.objects.filter(channel_name=channel_name).delete()


@database_sync_to_async
def users_in(group: str) -> list[str]:
    cutoff = timezone.now() - PRESENCE_TTL
    Presence.objects.filter(group=group, last_seen__lt=cutoff).delete()
    emails = Presence.objects.filter(group=group).values_list("user__email", flat=True).distinct()
    return sorted(emails)
