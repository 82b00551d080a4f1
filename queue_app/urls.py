from django.urls import path

from . import api, views

# The original routes, unchanged for existing clients.
api_urlpatterns = [
    path("comments", api.CommentsView.as_view(), name="api-comments"),
    path("queue/pending", api.PendingView.as_view(), name="api-queue-pending"),
    path("queue/claim", api.ClaimView.as_view(), name="api-queue-claim"),
    path("queue/claim-next", api.ClaimNextView.as_view(), name="api-queue-claim-next"),
    path("queue/complete", api.CompleteView.as_view(), name="api-queue-complete"),
    path("queue/fail", api.FailView.as_view(), name="api-queue-fail"),
    path("queue/release", api.ReleaseView.as_view(), name="api-queue-release"),
    path("queue/heartbeat", api.HeartbeatView.as_view(), name="api-queue-heartbeat"),
    path("queue/retry", api.RetryView.as_view(), name="api-queue-retry"),
]

page_urlpatterns = [
    path("queue/", views.stream_page, name="queue_stream"),
]
