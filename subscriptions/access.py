"""The one way to reach accounts, subscriptions and feed items: a user's own, 404 for anything
else (pages and API alike)."""

from django.http import Http404

from .models import FeedItem, ProviderAccount, Subscription


def accounts_for(user):
    return ProviderAccount.objects.filter(user=user)


def get_account(user, account_id) -> ProviderAccount:
    account = accounts_for(user).filter(pk=account_id).select_related("user").first()
    if account is None:
        raise Http404
    return account


def subscriptions_for(user):
    return Subscription.objects.filter(account__user=user).select_related("account")


def get_subscription(user, subscription_id) -> Subscription:
    subscription = subscriptions_for(user).filter(pk=subscription_id).first()
    if subscription is None:
        raise Http404
    return subscription


def feed_for(user):
    """Newest first; the index (user, -published_at, -id) serves it."""
    return FeedItem.objects.filter(user=user).select_related("subscription").order_by("-published_at", "-id")
