from django.urls import path

from . import api, views

# Harbor's own routes (docs/api.md); the original clients' are in project/original/comments.py.
api_urlpatterns = [
    path("queue/messages", api.MessagesView.as_view(), name="api-queue-messages"),
    path("queue/messages/<str:id>", api.MessageView.as_view(), name="api-queue-message"),
    path("queue/messages/<str:id>/complete", api.CompleteView.as_view(), name="api-queue-message-complete"),
    path("queue/messages/<str:id>/fail", api.FailView.as_view(), name="api-queue-message-fail"),
    path("queue/messages/<str:id>/release", api.ReleaseView.as_view(), name="api-queue-message-release"),
    path("queue/messages/<str:id>/heartbeat", api.HeartbeatView.as_view(), name="api-queue-message-heartbeat"),
    path("queue/messages/<str:id>/retry", api.RetryView.as_view(), name="api-queue-message-retry"),
    path("queue/claims", api.ClaimsView.as_view(), name="api-queue-claims"),
    path("queue/completions", api.CompletionsView.as_view(), name="api-queue-completions"),
    path("queue/failures", api.FailuresView.as_view(), name="api-queue-failures"),
    path("queue/releases", api.ReleasesView.as_view(), name="api-queue-releases"),
    path("queue/partials", api.PartialsView.as_view(), name="api-queue-partials"),
    path("tenants/<str:tenant_id>/queue_provider", api.TenantProviderView.as_view(), name="api-tenant-queue-provider"),
    path("tenants/<str:tenant_id>/queue_provider/test", api.TenantProviderTestView.as_view(),
         name="api-tenant-queue-provider-test"),
]

page_urlpatterns = [
    path("queue/", views.stream_page, name="queue_stream"),
    path("queue/bots/", views.bot_presence, name="queue_bots"),
    path("tenants/<str:tenant_id>/queue_provider/", views.tenant_provider_page, name="queue_tenant_provider"),
]
