from django.urls import path, re_path

from . import consumers

websocket_urlpatterns = [
    path("ws/notifications/", consumers.NotificationConsumer.as_asgi()),
    # The original route.
    re_path(r"^notifications/(?P<email>[^/]+)/websocket/?$", consumers.NotificationConsumer.as_asgi()),
]
