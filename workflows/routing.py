from django.urls import re_path

from . import consumers

websocket_urlpatterns = [
    re_path(r"^ws/workflow/(?P<workflow_id>[A-Za-z0-9]+)/$", consumers.WorkflowConsumer.as_asgi()),
    re_path(r"^ws/inbox/$", consumers.InboxConsumer.as_asgi()),
]
