"""Every WebSocket route, one list per app."""

from notifications.routing import websocket_urlpatterns as notifications_sockets
from project.accounts.routing import websocket_urlpatterns as accounts_sockets
from queue_app.routing import websocket_urlpatterns as queue_sockets
from workflows.routing import websocket_urlpatterns as workflows_sockets

websocket_urlpatterns = [*accounts_sockets, *workflows_sockets, *notifications_sockets, *queue_sockets]
