from django.urls import path

from . import api, views

api_urlpatterns = [
    path("subscriptions", api.SubscriptionListView.as_view(), name="api-subscriptions"),
    path("subscriptions/accounts", api.AccountListView.as_view(), name="api-subscription-accounts"),
    path("subscriptions/poll-now", api.PollNowView.as_view(), name="api-subscriptions-poll-now"),
    path("subscriptions/<str:subscription_id>", api.SubscriptionDetailView.as_view(), name="api-subscription"),
    path("feed", api.FeedView.as_view(), name="api-feed"),
]

page_urlpatterns = [
    path("subscriptions/", views.subscription_list, name="subscriptions_list"),
    path("subscriptions/accounts/", views.account_list, name="subscriptions_accounts"),
    path("subscriptions/connect/<str:provider>/", views.connect, name="subscriptions_connect"),
    path("subscriptions/callback/", views.callback, name="subscriptions_callback"),
    path("subscriptions/accounts/<str:account_id>/disconnect/", views.disconnect, name="subscriptions_disconnect"),
    path("subscriptions/<str:subscription_id>/toggle/", views.toggle_subscription, name="subscriptions_toggle"),
    path("subscriptions/<str:subscription_id>/delete/", views.delete_subscription, name="subscriptions_delete"),
    path("subscriptions/poll-now/", views.poll_now, name="subscriptions_poll_now"),
    path("subscriptions/feed/", views.feed, name="subscriptions_feed"),
]
