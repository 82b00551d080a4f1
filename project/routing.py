"""Every WebSocket route, one list per app; any other path closes with 4404.
Ids in paths are public ids (letters and digits): anything else is no route at all."""

from django.urls import re_path

from notifications.routing import websocket_urlpatterns as notifications_sockets
from project.accounts.routing import websocket_urlpatterns as accounts_sockets
from project.original.routing import websocket_urlpatterns as original_sockets
from project.realtime.consumers import NotFoundConsumer
from queue_app.routing import websocket_urlpatterns as queue_sockets
from workflows.routing import websocket_urlpatterns as workflows_sockets

websocket_urlpatterns = [
    *original_sockets,
    *accounts_sockets,
    *workflows_sockets,
    *notifications_sockets,
    *queue_sockets,
    re_path(r"", NotFoundConsumer.as_asgi()),
]
