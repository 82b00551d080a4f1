from django.urls import path

from . import api, views

api_urlpatterns = [
    path("notifications", api.NotificationListView.as_view(), name="api-notifications"),
    path("notifications/preferences", api.PreferencesView.as_view(), name="api-notification-preferences"),
    path("notifications/<int:notification_id>", api.NotificationDetailView.as_view(), name="api-notification"),
    path("notifications/<int:notification_id>/read", api.NotificationReadView.as_view(), name="api-notification-read"),
]

page_urlpatterns = [
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/read/", views.mark_read, name="notification_read"),
    path("notifications/delete/", views.delete, name="notification_delete"),
    path("notifications/preferences/", views.preferences, name="notification_preferences"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="notification_unsubscribe"),
]
