from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from notifications.urls import api_urlpatterns as notifications_api
from notifications.urls import page_urlpatterns as notifications_pages
from project.accounts.urls import api_urlpatterns as accounts_api
from project.accounts.urls import page_urlpatterns as accounts_pages
from project.health.views import health, status_page
from queue_app.urls import api_urlpatterns as queue_api
from queue_app.urls import page_urlpatterns as queue_pages
from subscriptions.urls import api_urlpatterns as subscriptions_api
from subscriptions.urls import page_urlpatterns as subscriptions_pages
from project.webhooks.urls import api_urlpatterns as webhooks_api
from project.webhooks.urls import page_urlpatterns as webhooks_pages
from workflows.urls import api_urlpatterns as workflows_api
from workflows.urls import page_urlpatterns as workflows_pages

admin.site.site_header = "Harbor administration"
admin.site.site_title = "Harbor admin"
admin.site.index_title = "Harbor administration"

api_urlpatterns = [
    *accounts_api,
    *workflows_api,
    *subscriptions_api,
    *queue_api,
    *notifications_api,
    *webhooks_api,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its init script as a file of its own: the CSP allows no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
]

urlpatterns = [
    # Harbor's API first: Django tries the patterns in order, and the seeds' routes (a few under
    # api/, none that any of Harbor's matches) were tried, and missed, on every API request.
    path("api/", include(api_urlpatterns)),
    path("", include("project.original.urls")),
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("health/status/", status_page, name="health_status"),
    *accounts_pages,
    *workflows_pages,
    *subscriptions_pages,
    *queue_pages,
    *notifications_pages,
    *webhooks_pages,
]

handler400 = "project.api.json_400"
handler403 = "project.api.json_403"
handler404 = "project.api.json_404"
handler500 = "project.api.json_500"
