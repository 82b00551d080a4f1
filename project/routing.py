"""Every WebSocket route, one list per app."""

from project.accounts.routing import websocket_urlpatterns as accounts_sockets
from queue_app.routing import websocket_urlpatterns as queue_sockets
from workflows.routing import websocket_urlpatterns as workflows_sockets

websocket_urlpatterns = [*accounts_sockets, *workflows_sockets, *queue_sockets]
