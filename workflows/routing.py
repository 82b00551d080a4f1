from django.urls import path, re_path

from . import consumers

websocket_urlpatterns = [
    path("ws/workflow/<str:workflow_id>/", consumers.WorkflowConsumer.as_asgi()),
    # The original route.
    re_path(r"^workflow/(?P<workflow_id>[A-Za-z0-9]+)/websocket/?$", consumers.WorkflowConsumer.as_asgi()),
]
