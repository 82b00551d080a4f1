"""The poller engine, driven in-process against the fake provider."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.utils import timezone

from notifications.models import Notification
from project.accounts import services as accounts
from project.resilience import breaker
from subscriptions import services
from subscriptions.models import FeedItem, PollRun, PollSchedule, ProviderAccount, Subscription
from subscriptions.poller import Poller

from .conftest import connect
from .fake_provider import FakeProvider

pytestmark = pytest.mark.django_db


def make_due(*users):
    PollSchedule.objects.filter(user__in=users).update(next_poll_at=timezone.now() - timedelta(seconds=1))


def schedule_of(user):
    return PollSchedule.objects.get(user=user)


@pytest.fixture
def alice_spotify(alice, fake):
    account = connect(alice, fake)
    fake.add_item("spotify_show", "show1", "ep1", "2026-11-01").add_item("spotify_show", "show1", "ep2", "2026-11-02")
    services.add_subscription(account, "spotify_show", "show1", "A show")
    return account


def test_polling_twice_stores_each_item_once(alice, alice_spotify, fake):
    summary = Poller().run_once()
    assert (summary.users_polled, summary.items_found, summary.failures) == (1, 2, 0)
    items = list(FeedItem.objects.filter(user=alice).order_by("published_at"))
    assert [(i.external_id, i.title, i.published_at.day) for i in items] == [("ep1", "ep1", 1), ("ep2", "ep2", 2)]
    assert items[0].url == "https://open.spotify.com/x/ep1" and items[0].raw["id"] == "ep1"

    make_due(alice)
    assert Poller().run_once().items_found == 0  # same answer (a 304 on its ETag)
    fake.add_item("spotify_show", "show1", "ep3", "2026-11-03")
    Subscription.objects.update(etag="", cursor="")  # even without ETag and cursor, nothing duplicates
    make_due(alice)
    assert Poller().run_once().items_found == 1
    assert FeedItem.objects.filter(user=alice).count() == 3


def test_a_poll_reschedules_after_the_interval_and_records_the_run(alice, alice_spotify):
    Poller(worker="test-worker").run_once()
    schedule = schedule_of(alice)
    assert schedule.locked_until is None and schedule.locked_by == ""
    assert schedule.next_poll_at - schedule.last_finished_at == timedelta(seconds=schedule.interval_seconds)
    assert (schedule.last_items_found, schedule.consecutive_failures) == (2, 0)
    run = PollRun.objects.get()
    assert (run.worker, run.users_polled, run.items_found, run.failures) == ("test-worker", 1, 2, 0)
    assert Poller().run_once().users_polled == 0  # not due any more


def test_cursors_advance_for_playlists(alice, fake):
    account = connect(alice, fake)
    fake.add_item("spotify_playlist", "pl1", "t1", "2026-11-01T10:00:00Z")
    services.add_subscription(account, "spotify_playlist", "pl1")
    Poller().run_once()
    assert Subscription.objects.get().cursor == "1"
    fake.add_item("spotify_playlist", "pl1", "t2", "2026-11-02T10:00:00Z")
    make_due(alice)
    assert Poller().run_once().items_found == 1
    assert Subscription.objects.get().cursor == "2"
    assert fake.api_calls("/v1/playlists")[-1]["path"] == "/v1/playlists/pl1/tracks"


def test_youtube_channels_are_read_from_their_uploads_playlist(alice, fake):
    account = connect(alice, fake, "youtube")
    fake.add_item("youtube_channel", "UCabc", "vid1", "2026-11-01T12:00:00Z", "First video")
    services.add_subscription(account, "youtube_channel", "UCabc")
    assert Poller().run_once().items_found == 1
    item = FeedItem.objects.get()
    assert (item.title, item.url) == ("First video", "https://www.youtube.com/watch?v=vid1")


def test_a_429_is_retried_after_its_retry_after(alice, alice_spotify, fake, settings):
    settings.RETRY_MAX_ATTEMPTS = 2
    fake.script("/v1/shows", 429, headers={"Retry-After": "0"})
    summary = Poller().run_once()
    assert (summary.items_found, summary.failures) == (2, 0)
    assert len(fake.api_calls("/v1/shows")) == 2


def test_a_long_retry_after_reschedules_the_user_then_without_counting_a_failure(alice, alice_spotify, fake):
    fake.script("/v1/shows", 429, headers={"Retry-After": "3600"})
    summary = Poller().run_once()
    assert (summary.items_found, summary.failures) == (0, 0)
    schedule = schedule_of(alice)
    assert schedule.consecutive_failures == 0
    assert timedelta(minutes=59) < schedule.next_poll_at - timezone.now() <= timedelta(hours=1)


def test_failures_back_off_exponentially_and_success_resets(alice, alice_spotify, fake, settings):
    settings.BREAKER_FAILURE_THRESHOLD = 100
    fake.down = True
    waits = []
    for _ in range(3):
        make_due(alice)
        assert Poller().run_once().failures == 1
        schedule = schedule_of(alice)
        waits.append(round((schedule.next_poll_at - schedule.last_finished_at).total_seconds()))
    assert waits == [60, 120, 240]
    assert schedule.consecutive_failures == 3 and "HTTP 503" in schedule.last_error
    assert "HTTP 503" in Subscription.objects.get().last_error
    fake.down = False
    make_due(alice)
    Poller().run_once()
    schedule = schedule_of(alice)
    assert (schedule.consecutive_failures, schedule.last_error) == (0, "")
    assert schedule.next_poll_at - schedule.last_finished_at == timedelta(seconds=1800)


def test_a_subscription_that_cannot_exist_is_disabled_not_retried(alice, alice_spotify):
    services.add_subscription(alice_spotify, "spotify_artist", "gone")
    summary = Poller().run_once()
    assert (summary.items_found, summary.failures) == (2, 0)
    gone = Subscription.objects.get(external_id="gone")
    assert not gone.enabled and "HTTP 404" in gone.last_error


def test_the_per_user_rate_limit_defers_the_rest_to_the_next_minute(alice, alice_spotify, fake, settings):
    settings.SUBSCRIPTIONS_USER_CALLS_PER_MINUTE = 2
    for show in ("show2", "show3"):
        fake.add_item("spotify_show", show, f"{show}-ep", "2026-11-01")
        services.add_subscription(alice_spotify, "spotify_show", show)
    Poller().run_once()
    assert len(fake.api_calls("/v1/shows")) == 2
    schedule = schedule_of(alice)
    assert schedule.rate_window_calls == 2
    assert schedule.next_poll_at == schedule.rate_window_started_at + timedelta(minutes=1)
    make_due(alice)  # pretend the minute is over for scheduling, but the window is not
    Poller().run_once()
    assert len(fake.api_calls("/v1/shows")) == 2  # still inside the window: no call


def test_an_expiring_token_is_refreshed_by_the_poll(alice, fake):
    fake.expires_in = 60
    account = connect(alice, fake)
    fake.add_item("spotify_show", "show1", "ep1", "2026-11-01")
    services.add_subscription(account, "spotify_show", "show1")
    fake.expire_all_access_tokens()  # the provider already stopped accepting the old token
    assert Poller().run_once().items_found == 1
    assert [r["grant_type"] for r in fake.token_requests] == ["authorization_code", "refresh_token"]


def test_accounts_that_need_reauth_are_skipped(alice, alice_spotify, fake):
    fake.expires_in = 60
    account = connect(alice, fake, account_id="second")
    services.add_subscription(account, "spotify_show", "show1")
    fake.refresh.clear()
    summary = Poller().run_once()
    assert (summary.items_found, summary.failures) == (2, 0)  # alice's first account still polled
    account.refresh_from_db()
    assert account.status == "needs_reauth"


def listeners(fake, count, shows, *, prefix="listener"):
    """`count` users, each with a Spotify account following `shows` shows of one new episode."""
    users = []
    for n in range(count):
        user = accounts.register_user(f"{prefix}{n}@example.com", None)
        account = connect(user, fake)
        for show in range(shows):
            target = f"{prefix}{n}-show{show}"
            fake.add_item("spotify_show", target, f"{target}-ep", "2026-11-01")
            services.add_subscription(account, "spotify_show", target)
        users.append(user)
    return users


def test_a_batch_costs_the_same_queries_for_two_users_or_six_with_three_times_the_subscriptions(
        fake, settings, django_assert_num_queries):
    """Claim (select, update, read back), subscriptions, the items' insert, the cursors,
    notify_many's three, the release, the claim that finds nobody more, the run's row: 12, and
    the test's savepoints around the three transactions (6). The breaker, trusted for the whole
    test, adds none."""
    settings.BREAKER_CACHE_SECONDS = 3600
    warm_up = listeners(fake, 1, 1, prefix="warm")
    few, many = listeners(fake, 2, 1, prefix="few"), listeners(fake, 6, 3, prefix="many")
    PollSchedule.objects.update(next_poll_at=timezone.now() + timedelta(hours=1))
    make_due(*warm_up)
    Poller().run_once()  # the breaker's row is read once per process
    make_due(*few)
    with django_assert_num_queries(18):
        assert Poller().run_once().items_found == 2
    make_due(*many)
    with django_assert_num_queries(18):
        summary = Poller().run_once()
    assert (summary.users_polled, summary.items_found, summary.failures) == (6, 18, 0)
    assert FeedItem.objects.filter(user__in=many).count() == 18
    assert not Subscription.objects.filter(account__user__in=many, last_polled_at__isnull=True).exists()
    assert Notification.objects.filter(recipient__in=many, kind="subscriptions.new_items").count() == 6
    assert not PollSchedule.objects.filter(locked_until__isnull=False).exists()


@pytest.mark.django_db(transaction=True)  # the pool's threads use their own connections
def test_users_in_several_batches_are_each_polled_once_and_recorded_in_one_run(fake):
    users = listeners(fake, 7, 2)
    summary = Poller(concurrency=3, batch_size=2, worker="batched").run_once()
    assert (summary.users_polled, summary.items_found, summary.failures) == (7, 14, 0)
    assert sorted(summary.users) == sorted(user.pk for user in users)
    assert sorted(fake.calls_per_account("/v1/shows").values()) == [2] * 7
    assert FeedItem.objects.count() == 14
    run = PollRun.objects.get()
    assert (run.worker, run.users_polled, run.items_found) == ("batched", 7, 14)
    assert set(PollSchedule.objects.values_list("last_items_found", "locked_by")) == {(2, "")}


@pytest.mark.django_db(transaction=True)  # the pool's threads use their own connections
def test_worker_threads_keep_their_sqlite_connection_between_users_and_close_it_at_the_end(fake, settings):
    """The threads make the provider calls; the database work of a healthy poll is the main
    thread's. A thread that needs a connection (here: the breaker's bookkeeping, every call,
    BREAKER_CACHE_SECONDS=0) keeps it from one user to the next on SQLite and returns it to the
    pool after each user on PostgreSQL; the run closes what the threads kept."""
    settings.BREAKER_CACHE_SECONDS = 0
    listeners(fake, 6, 1)
    opened = []

    def on_created(sender, connection, **kwargs):
        if threading.current_thread().name.startswith("poll"):
            opened.append(connection)

    connection_created.connect(on_created)
    try:
        summary = Poller(concurrency=2).run_once()
    finally:
        connection_created.disconnect(on_created)
    assert (summary.users_polled, summary.items_found, summary.failures) == (6, 6, 0)
    assert opened and all(wrapper.connection is None for wrapper in opened)  # nothing left open
    if connection.vendor == "sqlite":
        assert len(opened) <= 2  # one per thread, not one per user
    else:
        assert len(opened) == 6  # PostgreSQL (CONN_MAX_AGE=0): back to the pool after each user


@pytest.mark.django_db(transaction=True)  # the pool's threads use their own connections
def test_a_batch_polled_for_longer_than_its_lease_keeps_it(fake, settings):
    """Leases are renewed while a batch's polls run: another run cannot take its users."""
    settings.SUBSCRIPTIONS_POLL_LEASE_SECONDS = 1
    users = listeners(fake, 2, 3)
    fake.delay = 0.4  # three calls each: 1.2 s per user, longer than the lease
    outcome = {}

    def poll():
        try:
            outcome["summary"] = Poller(concurrency=2).run_once()
        finally:
            connections.close_all()  # this thread's own

    run = threading.Thread(target=poll)
    run.start()
    try:
        time.sleep(1.1)
        taken = Poller(worker="other").claim(10)
    finally:
        run.join(30)
    assert taken == []
    assert outcome["summary"].users_polled == 2
    assert sorted(fake.calls_per_account("/v1/shows").values()) == [3, 3]
    assert FeedItem.objects.filter(user__in=users).count() == 6


def test_a_user_whose_items_cannot_be_stored_costs_only_their_own_poll(alice, bob, fake):
    """The batch's transaction fails on one user's item (the database refuses it); the batch is
    then written user by user: bob's items, cursors and notification are kept, alice's poll is
    released as failed with its cursor unmoved, to be tried again after the backoff."""
    for user, title in ((alice, "poison"), (bob, "fine")):
        account = connect(user, fake)
        fake.add_item("spotify_show", f"show-{user.pk}", f"ep-{user.pk}", "2026-11-01", title)
        services.add_subscription(account, "spotify_show", f"show-{user.pk}")
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("CREATE TRIGGER refuse_poison BEFORE INSERT ON subscriptions_feeditem "
                           "WHEN NEW.title = 'poison' BEGIN SELECT RAISE(ABORT, 'poison refused'); END")
        else:
            cursor.execute("CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                           "IF NEW.title = 'poison' THEN RAISE EXCEPTION 'poison refused'; END IF; RETURN NEW; "
                           "END $$")
            cursor.execute("CREATE TRIGGER refuse_poison BEFORE INSERT ON subscriptions_feeditem "
                           "FOR EACH ROW EXECUTE FUNCTION refuse_poison()")
    summary = Poller().run_once()
    assert (summary.users_polled, summary.items_found, summary.failures) == (2, 1, 1)
    assert list(FeedItem.objects.values_list("user__email", flat=True)) == ["bob@example.com"]
    assert Subscription.objects.get(account__user=bob).etag != ""
    assert Subscription.objects.get(account__user=alice).etag == ""  # its cursor did not move
    assert list(Notification.objects.values_list("recipient__email", flat=True)) == ["bob@example.com"]
    failed = schedule_of(alice)
    assert failed.consecutive_failures == 1 and "poison refused" in failed.last_error
    assert failed.locked_by == "" and failed.next_poll_at - failed.last_finished_at == timedelta(seconds=60)
    assert schedule_of(bob).consecutive_failures == 0


def test_a_401_first_tries_one_refresh_and_then_polls_with_the_new_token(alice, fake):
    account = connect(alice, fake)  # the token is far from expiry
    fake.add_item("spotify_show", "show1", "ep1", "2026-11-01")
    services.add_subscription(account, "spotify_show", "show1")
    fake.access.clear()  # the provider revoked the access token, not the grant
    assert Poller().run_once().items_found == 1
    assert [r["grant_type"] for r in fake.token_requests] == ["authorization_code", "refresh_token"]
    assert ProviderAccount.objects.get(user=alice).status == "active"
    assert not Notification.objects.filter(kind="subscriptions.account_error").exists()


def test_a_refused_access_token_asks_the_user_to_reconnect_and_the_others_are_kept(alice, bob, fake):
    for user in (alice, bob):
        account = connect(user, fake)
        fake.add_item("spotify_show", f"show-{user.pk}", f"ep-{user.pk}", "2026-11-01")
        services.add_subscription(account, "spotify_show", f"show-{user.pk}")
    del fake.access[next(token for token, who in fake.access.items() if who == f"spotify-{alice.pk}")]
    # ... and its refresh token too: the one refresh a 401 earns is refused.
    del fake.refresh[next(token for token, who in fake.refresh.items() if who == f"spotify-{alice.pk}")]
    summary = Poller().run_once()
    assert (summary.users_polled, summary.items_found, summary.failures) == (2, 1, 0)
    assert ProviderAccount.objects.get(user=alice).status == "needs_reauth"
    assert ProviderAccount.objects.get(user=bob).status == "active"
    assert sorted(Notification.objects.values_list("recipient__email", "kind")) == [
        ("alice@example.com", "subscriptions.account_error"), ("bob@example.com", "subscriptions.new_items")]


def test_one_provider_down_opens_its_breaker_and_the_others_are_still_polled(alice, bob, mallory, settings):
    spotify, youtube = FakeProvider().start(), FakeProvider().start()
    try:
        settings.SUBSCRIPTION_PROVIDERS = {**spotify.settings_for("spotify"), **youtube.settings_for("youtube")}
        settings.RETRY_MAX_ATTEMPTS = 1
        settings.BREAKER_FAILURE_THRESHOLD = 2
        for user in (alice, bob):
            account = connect(user, spotify)
            spotify.add_item("spotify_show", "s", "ep", "2026-11-01")
            for n in range(2):
                services.add_subscription(account, "spotify_show", f"s{n}")
        account = connect(mallory, youtube, "youtube")
        youtube.add_item("youtube_playlist", "PL1", "v1", "2026-11-01T00:00:00Z")
        services.add_subscription(account, "youtube_playlist", "PL1")
        spotify.down = True
        PollSchedule.objects.filter(user=mallory).update(next_poll_at=timezone.now() + timedelta(seconds=5))
        summary = Poller().run_once()  # alice and bob first; mallory is not due yet
        mallory_schedule = PollSchedule.objects.filter(user=mallory)
        mallory_schedule.update(next_poll_at=timezone.now())
        summary2 = Poller().run_once()
        assert (summary.users_polled, summary.failures) == (2, 2)
        assert len(spotify.api_calls("/v1/shows")) == 2  # then the breaker failed the rest fast
        assert breaker.snapshot("spotify")["breaker"] == "open"
        assert (summary2.users_polled, summary2.items_found, summary2.failures) == (1, 1, 0)
        assert "CircuitOpen" in PollSchedule.objects.get(user=bob).last_error
    finally:
        spotify.stop()
        youtube.stop()


def test_user_filter_polls_only_that_user_even_when_not_due(alice, bob, fake):
    for user in (alice, bob):
        account = connect(user, fake)
        services.add_subscription(account, "spotify_show", "show1")
    fake.add_item("spotify_show", "show1", "ep1", "2026-11-01")
    PollSchedule.objects.update(next_poll_at=timezone.now() + timedelta(hours=1))
    summary = Poller(user_ids=[bob.pk]).run_once()
    assert summary.users == [bob.pk]
    assert FeedItem.objects.filter(user=bob).count() == 1 and not FeedItem.objects.filter(user=alice).exists()


def test_a_user_leased_by_another_run_is_not_claimed(alice, alice_spotify):
    other = Poller(worker="other")
    assert [s.user_id for s in other.claim(10)] == [alice.pk]
    assert Poller(worker="me").claim(10) == []
    PollSchedule.objects.update(locked_until=timezone.now() - timedelta(seconds=1))  # the other run died
    assert [s.user_id for s in Poller(worker="me").claim(10)] == [alice.pk]


def test_new_items_and_account_errors_notify_the_user(alice, alice_spotify, fake):
    Poller().run_once()
    sent = Notification.objects.filter(recipient=alice)
    assert [(n.kind, n.title, n.link, n.payload) for n in sent] == [
        ("subscriptions.new_items", "2 new items in your feed", "/subscriptions/feed/", {"count": 2})]
    make_due(alice)
    Poller().run_once()  # nothing new: no second notification
    assert sent.count() == 1
    services.add_subscription(connect(alice, fake, account_id="second"), "spotify_show", "show1")
    ProviderAccount.objects.filter(external_id="second").update(expires_at=timezone.now())
    fake.refresh.clear()
    make_due(alice)
    Poller().run_once()
    assert [n.kind for n in sent.order_by("id")] == ["subscriptions.new_items", "subscriptions.account_error"]


def test_a_proxy_from_the_environment_carries_the_provider_calls(alice, fake, settings, monkeypatch):
    """The provider clients read requests' environment (proxies, CA bundle) once per process
    instead of on every call: it still applies. The fake serves as the proxy of a host that
    does not exist."""
    monkeypatch.setenv("HTTP_PROXY", fake.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    account = connect(alice, fake)
    settings.SUBSCRIPTION_PROVIDERS = {
        **settings.SUBSCRIPTION_PROVIDERS,
        "spotify": {**settings.SUBSCRIPTION_PROVIDERS["spotify"], "api_base_url": "http://api.spotify.invalid"},
    }
    fake.add_item("spotify_show", "show1", "ep1", "2026-11-01")
    services.add_subscription(account, "spotify_show", "show1")
    assert Poller().run_once().items_found == 1
    assert [call["path"] for call in fake.api_calls("/v1/shows")] == ["/v1/shows/show1/episodes"]


def test_a_run_that_lost_a_lease_leaves_the_new_holder_alone(alice, bob, fake):
    """A lease that expired mid-poll and was taken by another run: what was found is stored (the
    unique key keeps items single), but the release does not touch the other run's lease."""
    for user in (alice, bob):
        account = connect(user, fake)
        fake.add_item("spotify_show", f"show-{user.pk}", f"ep-{user.pk}", "2026-11-01")
        services.add_subscription(account, "spotify_show", f"show-{user.pk}")
    mine = Poller(worker="slow")
    polls = mine.load(mine.claim(10))
    for poll in polls:
        mine.poll_user(poll)
    taken_until = timezone.now() + timedelta(minutes=5)
    PollSchedule.objects.filter(user=alice).update(locked_by="other", locked_until=taken_until)
    mine.write(polls)
    assert FeedItem.objects.count() == 2
    assert (schedule_of(alice).locked_by, schedule_of(alice).locked_until) == ("other", taken_until)
    assert (schedule_of(bob).locked_by, schedule_of(bob).locked_until, schedule_of(bob).last_items_found) == ("", None, 1)
