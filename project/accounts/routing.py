from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/user/", consumers.UserEventsConsumer.as_asgi()),
    path("ws/tenants/<str:tenant_id>/", consumers.TenantEventsConsumer.as_asgi()),
]
