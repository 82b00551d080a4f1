"""The subscriptions REST API: thin views over access.py (404 for anything not yours) and
services.py (every write)."""

from django.db.models import Count, Max
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from project.api import CursorPagination, PolledList, validated

from . import services
from .access import accounts_for, feed_for, get_account, get_subscription, subscriptions_for
from .models import FeedItem
from .serializers import (
    AccountSerializer,
    FeedItemSerializer,
    FeedQuerySerializer,
    PollScheduleSerializer,
    SubscriptionCreateSerializer,
    SubscriptionSerializer,
    SubscriptionUpdateSerializer,
)


class OldestFirst(CursorPagination):
    ordering = ("created_at", "id")


class NewestFirst(CursorPagination):
    """By `sort_at`, which FeedView annotates: `published_at`, or when the provider gave none
    the time Harbor found the item (a cursor cannot point at a null)."""

    ordering = ("-sort_at", "-id")


class SubscriptionListView(generics.ListAPIView):
    """Your subscriptions, oldest first; POST follows a show, artist, playlist or channel."""

    serializer_class = SubscriptionSerializer
    pagination_class = OldestFirst

    def get_queryset(self):
        return subscriptions_for(self.request.user)

    @extend_schema(request=SubscriptionCreateSerializer, responses={201: SubscriptionSerializer})
    def post(self, request):
        data = validated(SubscriptionCreateSerializer, request.data)
        account = get_account(request.user, data["account"])
        subscription = services.add_subscription(account, data["kind"], data["external_id"], data["title"])
        return Response(SubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)


class SubscriptionDetailView(APIView):
    @extend_schema(responses=SubscriptionSerializer)
    def get(self, request, subscription_id):
        return Response(SubscriptionSerializer(get_subscription(request.user, subscription_id)).data)

    @extend_schema(request=SubscriptionUpdateSerializer, responses=SubscriptionSerializer)
    def patch(self, request, subscription_id):
        subscription = get_subscription(request.user, subscription_id)
        data = validated(SubscriptionUpdateSerializer, request.data)
        return Response(SubscriptionSerializer(services.set_subscription_enabled(subscription, data["enabled"])).data)

    @extend_schema(responses={204: None})
    def delete(self, request, subscription_id):
        services.delete_subscription(get_subscription(request.user, subscription_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountListView(generics.ListAPIView):
    """Your connected provider accounts (connect one in the browser: /subscriptions/accounts/)."""

    serializer_class = AccountSerializer
    pagination_class = OldestFirst

    def get_queryset(self):
        return accounts_for(self.request.user)


class FeedView(PolledList, generics.ListAPIView):
    """Items found in your subscriptions, newest first; `since` keeps only those published after it.
    A 304 to `If-None-Match` while unchanged."""

    serializer_class = FeedItemSerializer
    pagination_class = NewestFirst

    def list_version(self) -> str:
        """The feed publishes no events: the poller only inserts items (never updates one) and
        deleting a subscription deletes its items, so the newest id and the count say whether
        it changed; both come from the (user, …) index without reading an item."""
        found = FeedItem.objects.filter(user=self.request.user).aggregate(newest=Max("id"), count=Count("id"))
        return f"f{found['newest'] or 0}.{found['count']}"

    def get_queryset(self):
        query = validated(FeedQuerySerializer, self.request.query_params)
        items = feed_for(self.request.user).annotate(sort_at=Coalesce("published_at", "created_at"))
        if "since" in query:
            items = items.filter(published_at__gt=query["since"])
        return items

    @extend_schema(parameters=[FeedQuerySerializer])
    def get(self, request):
        return super().get(request)


class PollNowView(APIView):
    """Poll your subscriptions at the next run of poll_subscriptions (rate limited)."""

    throttle_scope = "poll_now"

    @extend_schema(request=None, responses={202: PollScheduleSerializer})
    def post(self, request):
        schedule = services.poll_now(request.user)
        return Response(PollScheduleSerializer(schedule).data, status=status.HTTP_202_ACCEPTED)
