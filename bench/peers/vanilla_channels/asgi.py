import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peers.vanilla_channels.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (after Django's setup)
from django.urls import path  # noqa: E402

from .consumers import BroadcastConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {"http": django_asgi_app, "websocket": URLRouter([path("ws/", BroadcastConsumer.as_asgi())])}
)
