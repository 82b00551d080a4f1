"""Seed a benchmark database through Harbor's services (never raw rows), in its own process,
and read back what a benchmark did (`poller_outcome`).

    python -m bench.seed <scenario> < parameters.json   → one JSON line on stdout

Runs with the environment `bench/harness.py` prepares (DATABASE_URL of the benchmark database).
Users get no password (an unusable one): sockets authenticate with tickets and HTTP with API
tokens, and hashing a thousand passwords would take minutes.
"""

import json
import os
import sys

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


@scenario
def fanout(sockets: int, users: int) -> dict:
    """One workflow with `users` participants (the poster among them) and one socket ticket per
    socket, tickets shared round-robin among the users."""
    from django.db import transaction

    from project.accounts import services as accounts
    from project.accounts.models import Membership
    from workflows import services as workflows

    with transaction.atomic():
        poster = accounts.register_user("poster@bench.example", None, display_name="Poster")
        tenant = accounts.create_tenant(poster, "Bench")
        owner = Membership.objects.get(user=poster, tenant=tenant)
        people = [poster]
        for index in range(1, users):
            user = accounts.register_user(f"user{index}@bench.example", None, display_name=f"User {index}")
            accounts.add_member(tenant, owner, user.email)
            people.append(user)
        workflow = workflows.create_workflow(tenant, poster, "Fan-out", [(user.email, "editor") for user in people[1:]])
        _, token = accounts.issue_api_token(poster, "bench")
        tickets = [accounts.issue_ws_ticket(people[index % len(people)])[1] for index in range(sockets)]
    return {"workflow_id": workflow.pk, "token": token, "tickets": tickets}


@scenario
def messages(count: int) -> dict:
    """One workflow with `count` messages and a token of its initiator."""
    from project.accounts import services as accounts
    from workflows import services as workflows
    from workflows.access import get_workflow_access

    reader = accounts.register_user("reader@bench.example", None, display_name="Reader")
    tenant = accounts.create_tenant(reader, "Reads")
    workflow = workflows.create_workflow(tenant, reader, "Reads")
    access = get_workflow_access(reader, workflow.pk)
    for index in range(count):
        workflows.post_message(access, f"Message {index}: " + "lorem ipsum dolor sit amet " * 4)
    _, token = accounts.issue_api_token(reader, "bench")
    return {"workflow_id": workflow.pk, "token": token}


@scenario
def queue(pending: int, authors: int = 200) -> dict:
    """A queue stream with `pending` human messages from `authors` people (priorities 0-10 mixed),
    a bot with an API token and a producer with one. The first message of each author goes through
    `post_message`; the rest are copies of it made in bulk (the same row `post_message` writes, minus
    the event nobody is connected to receive), since the raw-SQL baseline drains tens of thousands."""
    from django.utils import timezone

    from project.accounts import services as accounts
    from project.accounts.models import User
    from queue_app import services as queue
    from queue_app.models import QueueMessage, now_ms

    people = [User(email=f"author{index}@bench.example", display_name=f"Author {index}") for index in range(authors)]
    for person in people:
        person.set_unusable_password()
    people = User.objects.bulk_create(people)
    templates = [queue.post_message(person, f"Question from {person.display_name}") for person in people]
    timestamp, now = now_ms(), timezone.now()
    QueueMessage.objects.bulk_create(
        [
            QueueMessage(
                text=f"Question {index}: how do I get from here to there?",
                username=templates[index % authors].username,
                author=people[index % authors],
                priority=index % 11,
                timestamp=timestamp + index // 100,
                available_at=now,
            )
            for index in range(max(0, pending - authors))
        ],
        batch_size=5000,
    )
    bot = queue.make_bot(accounts.register_user("bot@bench.example", None, display_name="Bot"))
    producer = accounts.register_user("producer@bench.example", None, display_name="Producer")
    return {
        "bot_token": accounts.issue_api_token(bot, "bench")[1],
        "producer_token": accounts.issue_api_token(producer, "bench")[1],
    }


@scenario
def poller(users: int, items: int) -> dict:
    """`users` users (bench/poller.py's plan: even ones Spotify, odd ones YouTube), each with one
    connected account and 3 subscriptions, all due now. The accounts are what
    `services.complete_connect` stores after an OAuth dance (tokens encrypted by the model's own
    `set_tokens`, valid for a day), built in bulk: the dance is HTTP per user and would make
    seeding the run. Subscriptions and schedules go through `services.add_subscription`.
    `items` is the fake provider's business; it is only echoed."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from bench.poller import access_token, account_id, provider_of, targets
    from project.accounts import services as accounts
    from subscriptions import services as subscriptions
    from subscriptions.models import ProviderAccount

    now = timezone.now()
    with transaction.atomic():
        people = [accounts.register_user(f"listener{index}@bench.example", None, display_name=f"Listener {index}")
                  for index in range(users)]
        rows = []
        for index, user in enumerate(people):
            provider = provider_of(index)
            account = ProviderAccount(
                user=user, provider=provider, external_id=account_id(index), display_name=f"Listener {index}",
                scopes="read", status=ProviderAccount.Status.ACTIVE, last_refresh_at=now, updated_at=now,
            )
            account.set_tokens(access_token(index), f"rt-bench-{index}", now + timedelta(days=1))
            rows.append(account)
        ProviderAccount.objects.bulk_create(rows, batch_size=1000)
        for index, account in enumerate(rows):
            for kind, target in targets(index):
                subscriptions.add_subscription(account, kind, target, title=f"{kind} {target}")
    return {"users": users, "subscriptions": 3 * users, "items_per_subscription": items}


@scenario
def poller_outcome(items: int) -> dict:
    """What `poll_subscriptions` left in the database (read only), for bench/poller.py's checks."""
    from collections import Counter

    from django.db.models import Count, F, Sum

    from notifications.models import Notification
    from subscriptions.models import FeedItem, PollRun, PollSchedule, Subscription

    # An item counts for its subscription only if it is that subscription's own (the fake's ids
    # start with the target's id) and in the feed of that subscription's user.
    own = (
        FeedItem.objects.filter(user_id=F("subscription__account__user_id"),
                                external_id__startswith=F("subscription__external_id"))
        .values("subscription_id").annotate(n=Count("id")).values_list("n", flat=True)
    )
    per_subscription = Counter(own)
    notifications = Counter(
        Notification.objects.filter(kind="subscriptions.new_items").values_list("recipient_id", flat=True)
    )
    return {
        "users_polled": PollSchedule.objects.filter(
            last_finished_at__isnull=False, consecutive_failures=0, last_error="", last_items_found=3 * items
        ).count(),
        "polled_once": PollRun.objects.aggregate(users=Sum("users_polled"))["users"] or 0,
        "poll_runs": PollRun.objects.count(),
        "subscriptions_polled": Subscription.objects.filter(last_polled_at__isnull=False, last_error="",
                                                            enabled=True).count(),
        "items": FeedItem.objects.count(),
        "own_items_per_subscription": {str(n): count for n, count in sorted(per_subscription.items())},
        "subscriptions_with_exactly_their_items": per_subscription[items],
        "notified": sum(1 for count in notifications.values() if count == 1),
        "notifications": sum(notifications.values()),
        "leased": PollSchedule.objects.filter(locked_until__isnull=False).count(),
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    name = sys.argv[1]
    if name not in SCENARIOS:
        sys.exit(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    parameters = json.loads(sys.stdin.read() or "{}")
    print(json.dumps(SCENARIOS[name](**parameters)))


# --- bench/mix.py and bench/idle.py (issue 17) ---------------------------------------------


@scenario
def rooms(workflows: int, participants: int, sockets_per_person: int = 1, tickets_per_socket: int = 3) -> dict:
    """`workflows` workflows of `participants` people each (nobody in two), all in one tenant as
    a team would be; every person has an API token (they post) and `sockets_per_person` sockets
    (tabs), each with `tickets_per_socket` tickets (single use: a retried handshake needs a
    fresh one). Returns, per workflow, its id, its people's tokens and, per socket, its tickets."""
    from django.db import transaction

    from project.accounts import services as accounts
    from project.accounts.models import Membership
    from workflows import services as workflows_services

    rooms = []
    with transaction.atomic():
        owner = accounts.register_user("owner@bench.example", None, display_name="Owner")
        tenant = accounts.create_tenant(owner, "Bench")
        membership = Membership.objects.get(user=owner, tenant=tenant)
        for room in range(workflows):
            people = []
            for seat in range(participants):
                email = f"r{room}p{seat}@bench.example"
                people.append(accounts.register_user(email, None, display_name=f"Room {room} person {seat}"))
                accounts.add_member(tenant, membership, email)
            workflow = workflows_services.create_workflow(
                tenant, people[0], f"Room {room}", [(person.email, "editor") for person in people[1:]]
            )
            rooms.append({
                "workflow_id": workflow.pk,
                "tokens": [accounts.issue_api_token(person, "bench")[1] for person in people],
                "tickets": [[accounts.issue_ws_ticket(person)[1] for _ in range(tickets_per_socket)]
                            for person in people for _ in range(sockets_per_person)],
            })
    return {"rooms": rooms}

# --- bench/webhooks.py (issue 20) -----------------------------------------------------------

@scenario
def webhooks(endpoints: int, events: int, receiver_url: str, payload_file: str) -> dict:
    """A tenant with `endpoints` webhook endpoints at `receiver_url`/e<n>, registered first (an
    endpoint starts from now), then `events` events in the tenant (a workflow and its messages).
    Writes to `payload_file` what each endpoint is due, in order, as JSON lines {"url",
    "headers", "body"} signed as deliver_webhooks signs them: the plain client's work list."""
    import time

    from project.accounts import services as accounts
    from project.accounts.models import Membership
    from project.realtime.models import Event
    from project.webhooks import services as webhooks
    from project.webhooks import signing
    from project.webhooks.payloads import event_payload
    from workflows import services as workflows
    from workflows.access import get_workflow_access

    owner = accounts.register_user("webhooks-owner@bench.example", None, display_name="Owner")
    tenant = accounts.create_tenant(owner, "Bench")
    membership = Membership.objects.get(user=owner, tenant=tenant)
    made = [webhooks.create_endpoint(membership, f"{receiver_url}/e{n}")[0] for n in range(endpoints)]
    workflow = workflows.create_workflow(tenant, owner, "Bench")
    access = get_workflow_access(owner, workflow.pk)
    for n in range(events - 1):
        workflows.post_message(access, f"message {n}")
    rows = list(Event.objects.filter(tenant_id=tenant.pk).order_by("id"))
    with open(payload_file, "w") as out:
        for endpoint in made:
            keys = webhooks.signing_secrets(endpoint)
            for event in rows:
                body = json.dumps(event_payload(event), separators=(",", ":"), ensure_ascii=False).encode()
                headers = {**signing.headers(keys, str(event.pk), int(time.time()), body),
                           "Content-Type": "application/json"}
                out.write(json.dumps({"url": endpoint.url, "headers": headers, "body": body.decode()}) + "\n")
    return {"endpoints": len(made), "events": len(rows), "deliveries": len(made) * len(rows)}


if __name__ == "__main__":
    main()
