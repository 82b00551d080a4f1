"""The original clients' sockets (seed 000's `/workflow/{id}/websocket` and
`/notifications/{email}/websocket`), included by project/routing.py before Harbor's own."""

from . import notifications, workflows

websocket_urlpatterns = [
    *workflows.websocket_urlpatterns,
    *notifications.websocket_urlpatterns,
]
