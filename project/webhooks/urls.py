from django.urls import path

from . import api, views

api_urlpatterns = [
    path("tenants/<str:tenant_id>/webhooks", api.EndpointListView.as_view(), name="api-webhooks"),
    path("tenants/<str:tenant_id>/webhooks/<str:endpoint_id>", api.EndpointDetailView.as_view(), name="api-webhook"),
    path("tenants/<str:tenant_id>/webhooks/<str:endpoint_id>/rotate_secret", api.RotateSecretView.as_view(),
         name="api-webhook-rotate-secret"),
    path("tenants/<str:tenant_id>/webhooks/<str:endpoint_id>/test", api.TestEventView.as_view(), name="api-webhook-test"),
    path("tenants/<str:tenant_id>/webhooks/<str:endpoint_id>/deliveries", api.DeliveryListView.as_view(),
         name="api-webhook-deliveries"),
    path("tenants/<str:tenant_id>/webhooks/<str:endpoint_id>/deliveries/<int:delivery_id>/redeliver",
         api.RedeliverView.as_view(), name="api-webhook-redeliver"),
]

page_urlpatterns = [
    path("tenants/<str:tenant_id>/webhooks/", views.endpoint_list, name="webhooks"),
    path("tenants/<str:tenant_id>/webhooks/<str:endpoint_id>/", views.endpoint_detail, name="webhook_detail"),
    path("tenants/<str:tenant_id>/webhooks/<str:endpoint_id>/<str:action>/", views.endpoint_action, name="webhook_action"),
    path("tenants/<str:tenant_id>/webhooks/<str:endpoint_id>/deliveries/<int:delivery_id>/redeliver/",
         views.redeliver, name="webhook_redeliver"),
]
