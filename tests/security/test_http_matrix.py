"""Every HTTP API route × every persona → the expected status, from one table. A route with
no row fails `test_every_api_route_has_a_row`."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLResolver, get_resolver
from rest_framework.views import APIView

from .conftest import PERSONAS, client_for

pytestmark = pytest.mark.django_db

#: Routes outside DRF that answer scripts as well as browsers (a digest's unsubscribe link is
#: POSTed by mail providers: RFC 8058).
NON_DRF_ROUTES = {"health", "share", "notification_unsubscribe"}


def expect(anonymous, outsider, non_participant, viewer, editor, initiator, staff):
    return dict(zip(PERSONAS, (anonymous, outsider, non_participant, viewer, editor, initiator, staff)))


EVERYONE = expect(200, 200, 200, 200, 200, 200, 200)
SIGNED_IN = expect(401, 200, 200, 200, 200, 200, 200)
TENANT_READ = expect(401, 404, 200, 200, 200, 200, 404)
#: Members who are not owners or admins may not manage members.
TENANT_MANAGE = expect(401, 404, 403, 403, 403, 403, 404)
WORKFLOW_READ = expect(401, 404, 404, 200, 200, 200, 404)
EDITOR_ONLY = expect(401, 404, 404, 404, 200, 404, 404)
QUEUE_WORKER = expect(401, 403, 403, 403, 403, 403, 200)
QUEUE_WORKER_404 = expect(401, 403, 403, 403, 403, 403, 404)

# (url name, method, path, body, expected by persona)
MATRIX = [
    ("api-token", "post", "/api/auth/token", {}, expect(400, 400, 400, 400, 400, 400, 400)),
    ("api-token-list", "get", "/api/auth/tokens", None, SIGNED_IN),
    ("api-token-revoke", "delete", "/api/auth/tokens/{editor_token}", None, EDITOR_ONLY),
    ("api-ws-ticket", "post", "/api/ws-ticket", None, expect(401, 201, 201, 201, 201, 201, 201)),
    ("api-tenants", "get", "/api/tenants", None, SIGNED_IN),
    ("api-tenants", "post", "/api/tenants", {"name": "Mine"}, expect(401, 201, 201, 201, 201, 201, 201)),
    ("api-tenant-members", "get", "/api/tenants/{tenant}/members", None, TENANT_READ),
    # Only owners change roles (none of these personas is one of Acme's).
    ("api-tenant-members", "patch", "/api/tenants/{tenant}/members", {"email": "{newcomer_email}", "role": "admin"}, TENANT_MANAGE),
    ("api-tenant-invitations", "get", "/api/tenants/{tenant}/invitations", None, TENANT_MANAGE),
    ("api-tenant-invitations", "post", "/api/tenants/{tenant}/invitations", {"email": "outsider@example.com"}, TENANT_MANAGE),
    ("api-tenant-invitation", "delete", "/api/tenants/{tenant}/invitations/{invitation}", None, TENANT_MANAGE),
    ("api-tenant-invitation-resend", "post", "/api/tenants/{tenant}/invitations/{invitation}/resend", None, TENANT_MANAGE),
    # Pending invitations to one's own verified address: none of these personas has one.
    ("api-invitations", "get", "/api/invitations", None, SIGNED_IN),
    ("api-invitation-accept", "post", "/api/invitations/{invitation}/accept", None, expect(401, 404, 404, 404, 404, 404, 404)),
    ("api-tenant-members", "delete", "/api/tenants/{tenant}/members?email={newcomer_email}", None, TENANT_MANAGE),
    ("api-workflows", "get", "/api/workflows", None, SIGNED_IN),
    ("api-workflows", "post", "/api/workflows", {"tenant_id": "{tenant}", "title": "New"}, expect(401, 404, 201, 201, 201, 201, 404)),
    ("api-workflow", "get", "/api/workflows/{workflow}", None, WORKFLOW_READ),
    ("api-workflow", "patch", "/api/workflows/{workflow}", {"title": "Renamed"}, expect(401, 404, 404, 403, 200, 200, 404)),
    ("api-workflow", "patch", "/api/workflows/{workflow}", {"status": "completed"}, expect(401, 404, 404, 403, 403, 200, 404)),
    ("api-workflow", "delete", "/api/workflows/{workflow}", None, expect(401, 404, 404, 403, 403, 204, 404)),
    ("api-workflow-history", "get", "/api/workflows/{workflow}/history", None, WORKFLOW_READ),
    ("api-workflow-participants", "post", "/api/workflows/{workflow}/participants", {"email": "{newcomer_email}"}, expect(401, 404, 404, 403, 201, 201, 404)),
    # A participant may leave; only managers remove others.
    ("api-workflow-participant", "delete", "/api/workflows/{workflow}/participants/{viewer_email}", None, expect(401, 404, 404, 204, 403, 204, 404)),
    ("api-workflow-messages", "get", "/api/workflows/{workflow}/messages", None, WORKFLOW_READ),
    ("api-workflow-messages", "post", "/api/workflows/{workflow}/messages", {"content": "Hi"}, expect(401, 404, 404, 403, 201, 201, 404)),
    # Only its author (the editor) edits or deletes a message.
    ("api-workflow-message", "patch", "/api/workflows/{workflow}/messages/{editor_message}", {"content": "Edited"}, expect(401, 404, 404, 403, 200, 403, 404)),
    ("api-workflow-message", "delete", "/api/workflows/{workflow}/messages/{editor_message}", None, expect(401, 404, 404, 403, 204, 403, 404)),
    ("api-workflow-media", "post", "/api/workflows/{workflow}/media", "file", expect(401, 404, 404, 403, 201, 201, 404)),
    ("api-workflow-events", "post", "/api/workflows/{workflow}/events", {"type": "ping"}, expect(401, 404, 404, 403, 202, 202, 404)),
    # A read state is a participant's own: the others get the workflow's 404.
    ("api-workflow-read-state", "get", "/api/workflows/{workflow}/read_state", None, expect(401, 404, 404, 200, 200, 200, 404)),
    ("api-workflow-read-state", "patch", "/api/workflows/{workflow}/read_state", {"muted": True}, expect(401, 404, 404, 200, 200, 200, 404)),
    ("api-read-states", "get", "/api/read_states", None, SIGNED_IN),
    # Any member of the tenant starts a workflow from its template; its owners and admins (none of these) write them.
    ("api-workflows", "post", "/api/workflows", {"tenant_id": "{tenant}", "template_id": "{template}"}, expect(401, 404, 201, 201, 201, 201, 404)),
    ("api-workflow-templates", "get", "/api/tenants/{tenant}/workflow_templates", None, TENANT_READ),
    ("api-workflow-templates", "post", "/api/tenants/{tenant}/workflow_templates", {"name": "Weekly", "title_pattern": "Weekly {{date}}"}, TENANT_MANAGE),
    ("api-workflow-template", "get", "/api/tenants/{tenant}/workflow_templates/{template}", None, TENANT_READ),
    ("api-workflow-template", "patch", "/api/tenants/{tenant}/workflow_templates/{template}", {"name": "Renamed"}, TENANT_MANAGE),
    ("api-workflow-template", "delete", "/api/tenants/{tenant}/workflow_templates/{template}", None, TENANT_MANAGE),
    # Seed 000's original routes (project/original/).
    ("original-workflows", "get", "/api/workflow", None, SIGNED_IN),
    ("original-workflows", "post", "/api/workflow", {"tenant_id": "{tenant}", "title": "New"}, expect(401, 404, 201, 201, 201, 201, 404)),
    ("original-workflow", "get", "/api/workflow/{workflow}", None, WORKFLOW_READ),
    ("original-workflow", "put", "/api/workflow/{workflow}", {"status": "completed"}, expect(401, 404, 404, 403, 403, 200, 404)),
    ("original-workflow-messages", "get", "/api/workflow/messages?workflowId={workflow}", None, WORKFLOW_READ),
    ("original-workflow-messages", "post", "/api/workflow/messages", {"workflowId": "{workflow}", "content": "Hi"}, expect(401, 404, 404, 403, 201, 201, 404)),
    ("original-workflow-notification", "post", "/workflow/{workflow}/notification", {"type": "ping"}, expect(401, 404, 404, 403, 202, 202, 404)),
    ("share", "get", "/share/{share_token}", None, expect(302, 404, 404, 200, 200, 200, 404)),
    ("api-notifications", "get", "/api/notifications", None, SIGNED_IN),
    ("api-notification-preferences", "get", "/api/notifications/preferences", None, SIGNED_IN),
    ("api-notification-preferences", "patch", "/api/notifications/preferences", {"kinds": {"queue.reply": False}}, SIGNED_IN),
    ("api-notification-read", "post", "/api/notifications/{notification}/read", None, EDITOR_ONLY),
    ("api-notifications", "delete", "/api/notifications?read=true", None, SIGNED_IN),
    ("api-notification", "delete", "/api/notifications/{notification}", None, expect(401, 404, 404, 404, 204, 404, 404)),
    # The signed token is the credential, whoever asks (signed in as someone else, or not at all).
    ("notification_unsubscribe", "get", "/notifications/unsubscribe/{unsubscribe_token}/", None, EVERYONE),
    ("notification_unsubscribe", "post", "/notifications/unsubscribe/{unsubscribe_token}/", None, EVERYONE),
    ("notification_unsubscribe", "post", "/notifications/unsubscribe/not-a-token/", None, expect(400, 400, 400, 400, 400, 400, 400)),
    ("notifications_check", "get", "/notifications/{editor_email}/check", None, EDITOR_ONLY),
    ("notifications_clear", "post", "/notifications/{editor_email}/clear", None, EDITOR_ONLY),
    ("api-subscriptions", "get", "/api/subscriptions", None, SIGNED_IN),
    (
        "api-subscriptions",
        "post",
        "/api/subscriptions",
        {"account": "{editor_account}", "kind": "spotify_artist", "external_id": "artist-1"},
        {**EDITOR_ONLY, "editor": 201},
    ),
    ("api-subscription", "get", "/api/subscriptions/{editor_subscription}", None, EDITOR_ONLY),
    ("api-subscription", "patch", "/api/subscriptions/{editor_subscription}", {"enabled": False}, EDITOR_ONLY),
    ("api-subscription", "delete", "/api/subscriptions/{editor_subscription}", None, {**EDITOR_ONLY, "editor": 204}),
    ("api-subscription-accounts", "get", "/api/subscriptions/accounts", None, SIGNED_IN),
    ("api-subscriptions-poll-now", "post", "/api/subscriptions/poll-now", None, expect(401, 202, 202, 202, 202, 202, 202)),
    ("api-feed", "get", "/api/feed", None, SIGNED_IN),
    ("api-queue-messages", "get", "/api/queue/messages", None, SIGNED_IN),
    ("api-queue-messages", "post", "/api/queue/messages", {"text": "Hi"}, expect(401, 201, 201, 201, 201, 201, 201)),
    ("api-queue-messages", "get", "/api/queue/messages?tenant_id={tenant}", None, TENANT_READ),
    ("api-queue-message", "get", "/api/queue/messages/nosuchmsg0", None, expect(401, 404, 404, 404, 404, 404, 404)),
    # Bots (the queue_app.work_queue permission) and staff work the queue; nobody here is a bot.
    ("api-queue-claims", "post", "/api/queue/claims", {"worker_id": "w1", "message_id": "nosuchmsg0"}, QUEUE_WORKER_404),
    ("api-queue-claims", "post", "/api/queue/claims", {"worker_id": "w1"}, expect(401, 403, 403, 403, 403, 403, 204)),
    ("api-queue-message-complete", "post", "/api/queue/messages/nosuchmsg0/complete", {"worker_id": "w1", "claim_token": "t"}, QUEUE_WORKER_404),
    ("api-queue-message-fail", "post", "/api/queue/messages/nosuchmsg0/fail", {"worker_id": "w1", "claim_token": "t", "error": "x"}, QUEUE_WORKER_404),
    ("api-queue-message-release", "post", "/api/queue/messages/nosuchmsg0/release", {"worker_id": "w1", "claim_token": "t"}, QUEUE_WORKER_404),
    # Batches answer 200 with one result per claim: here that claim's 404.
    ("api-queue-completions", "post", "/api/queue/completions", {"worker_id": "w1", "claims": [{"id": "nosuchmsg0", "claim_token": "t"}]}, QUEUE_WORKER),
    ("api-queue-failures", "post", "/api/queue/failures", {"worker_id": "w1", "claims": [{"id": "nosuchmsg0", "claim_token": "t", "error": "x"}]}, QUEUE_WORKER),
    ("api-queue-releases", "post", "/api/queue/releases", {"worker_id": "w1", "claims": [{"id": "nosuchmsg0", "claim_token": "t"}]}, QUEUE_WORKER),
    ("api-queue-partials", "post", "/api/queue/partials", {"worker_id": "w1", "claims": [{"id": "nosuchmsg0", "claim_token": "t", "partial_text": "x"}]}, expect(401, 403, 403, 403, 403, 403, 204)),
    # A tenant's own provider: its owners only (none of these personas is one of Acme's).
    ("api-tenant-queue-provider", "get", "/api/tenants/{tenant}/queue_provider", None, TENANT_MANAGE),
    ("api-tenant-queue-provider", "put", "/api/tenants/{tenant}/queue_provider", {"provider": "openai", "model": "m", "api_key": "k"}, TENANT_MANAGE),
    ("api-tenant-queue-provider", "delete", "/api/tenants/{tenant}/queue_provider", None, TENANT_MANAGE),
    ("api-tenant-queue-provider-test", "post", "/api/tenants/{tenant}/queue_provider/test", None, TENANT_MANAGE),
    ("api-queue-message-heartbeat", "post", "/api/queue/messages/nosuchmsg0/heartbeat", {"worker_id": "w1", "claim_token": "t"}, QUEUE_WORKER_404),
    ("api-queue-message-retry", "post", "/api/queue/messages/nosuchmsg0/retry", None, QUEUE_WORKER_404),
    # Seed 002's original routes (project/original/comments.py).
    ("original-comments", "get", "/api/comments?since=0", None, SIGNED_IN),
    ("original-comments", "post", "/api/comments", {"text": "Hi", "color": "169080199"}, expect(401, 201, 201, 201, 201, 201, 201)),
    ("original-queue-pending", "get", "/api/queue/pending", None, QUEUE_WORKER),
    ("original-queue-claim", "post", "/api/queue/claim", {"messageId": "nosuchmsg0", "workerId": "w1"}, QUEUE_WORKER_404),
    ("original-queue-complete", "post", "/api/queue/complete", {"messageId": "nosuchmsg0"}, QUEUE_WORKER_404),
    # Webhooks: the tenant's owners and admins only (none of these personas is one of Acme's).
    ("api-webhooks", "get", "/api/tenants/{tenant}/webhooks", None, TENANT_MANAGE),
    ("api-webhooks", "post", "/api/tenants/{tenant}/webhooks", {"url": "https://example.com/hook"}, TENANT_MANAGE),
    ("api-webhook", "get", "/api/tenants/{tenant}/webhooks/nosuchhook00", None, TENANT_MANAGE),
    ("api-webhook", "patch", "/api/tenants/{tenant}/webhooks/nosuchhook00", {"status": "paused"}, TENANT_MANAGE),
    ("api-webhook", "delete", "/api/tenants/{tenant}/webhooks/nosuchhook00", None, TENANT_MANAGE),
    ("api-webhook-rotate-secret", "post", "/api/tenants/{tenant}/webhooks/nosuchhook00/rotate_secret", None, TENANT_MANAGE),
    ("api-webhook-test", "post", "/api/tenants/{tenant}/webhooks/nosuchhook00/test", None, TENANT_MANAGE),
    ("api-webhook-deliveries", "get", "/api/tenants/{tenant}/webhooks/nosuchhook00/deliveries", None, TENANT_MANAGE),
    ("api-webhook-redeliver", "post", "/api/tenants/{tenant}/webhooks/nosuchhook00/deliveries/1/redeliver", None, TENANT_MANAGE),
    ("api-schema", "get", "/api/schema/", None, EVERYONE),
    ("api-docs", "get", "/api/docs/", None, EVERYONE),
    ("health", "get", "/health", None, EVERYONE),
]


def api_route_names() -> set[str]:
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            else:
                yield pattern

    names = set()
    for pattern in walk(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "cls", None)
        if (view_class and issubclass(view_class, APIView)) or pattern.name in NON_DRF_ROUTES:
            names.add(pattern.name)
    return names


def test_every_api_route_has_a_row():
    assert api_route_names() - {row[0] for row in MATRIX} == set()


def fill(value, world):
    if isinstance(value, str):
        return value.format(**world.values())
    if isinstance(value, dict):
        return {key: fill(item, world) for key, item in value.items()}
    return value


@pytest.mark.parametrize("name, method, path, body, expected", MATRIX, ids=[f"{r[1]} {r[2]}" for r in MATRIX])
def test_route_answers_each_persona_as_expected(world, name, method, path, body, expected):
    answered = {}
    for persona in PERSONAS:
        # Each persona meets the same world: whatever the previous one changed is rolled back.
        with transaction.atomic():
            answered[persona] = request(client_for(world, persona), method, fill(path, world), fill(body, world))
            transaction.set_rollback(True)
    assert answered == expected


def request(client, method: str, url: str, body) -> int:
    if body == "file":
        body = {"file": SimpleUploadedFile("a.txt", b"text", content_type="text/plain")}
        return getattr(client, method)(url, body, format="multipart").status_code
    if body is None:
        return getattr(client, method)(url).status_code
    return getattr(client, method)(url, body, format="json").status_code
