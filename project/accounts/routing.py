from django.urls import path, re_path

from . import consumers

websocket_urlpatterns = [
    path("ws/user/", consumers.UserEventsConsumer.as_asgi()),
    re_path(r"^ws/tenants/(?P<tenant_id>[A-Za-z0-9]+)/$", consumers.TenantEventsConsumer.as_asgi()),
]
