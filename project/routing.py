"""Every WebSocket route, one list per app."""

from project.accounts.routing import websocket_urlpatterns as accounts_sockets

websocket_urlpatterns = [*accounts_sockets]
