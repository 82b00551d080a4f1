"""OpenAPI examples of the workflow API's main operations (real responses, ids made up).
tests/project/test_api_vocabulary.py checks each against its schema."""

from drf_spectacular.utils import OpenApiExample

ALICE = {"email": "alice@example.com", "display_name": "Alice"}
WORKFLOW = {
    "id": "qTKumR7kx5Bd",
    "tenant_id": "TMTwezQEWtXh",
    "title": "Launch plan",
    "status": "active",
    "initiator": "alice@example.com",
    "created_at": "2026-12-01T09:30:00.000000Z",
    "updated_at": "2026-12-01T09:30:00.000000Z",
    "completed_at": None,
    "completed_by": None,
    "participants": [
        {**ALICE, "role": "initiator", "joined_at": "2026-12-01T09:30:00.000000Z"},
        {"email": "bob@example.com", "display_name": "Bob", "role": "editor", "joined_at": "2026-12-01T09:30:00.000000Z"},
    ],
    "capabilities": {"can_write": True, "can_manage": True},
}
MESSAGE = {
    "id": "41",
    "workflow_id": "qTKumR7kx5Bd",
    "sender": "alice@example.com",
    "sender_name": "Alice",
    "message_type": "text",
    "content": "Draft is ready for review.",
    "share_token": None,
    "share_url": None,
    "created_at": "2026-12-01T09:31:12.345678Z",
    "edited_at": None,
    "deleted_at": None,
    "file": None,
}

CREATE_WORKFLOW = [
    OpenApiExample(
        "A workflow with one editor",
        request_only=True,
        value={"tenant_id": "TMTwezQEWtXh", "title": "Launch plan", "participants": [{"email": "bob@example.com", "role": "editor"}]},
    ),
    OpenApiExample("The new workflow", response_only=True, status_codes=["201"], value=WORKFLOW),
]
POST_MESSAGE = [
    OpenApiExample("A text message", request_only=True, value={"content": "Draft is ready for review."}),
    OpenApiExample("The stored message", response_only=True, status_codes=["201"], value=MESSAGE),
]
LIST_MESSAGES = [
    # One item: drf-spectacular wraps it in the list envelope, with the envelope's own examples.
    OpenApiExample("One page, and the cursor that fetches what comes later", response_only=True, value=MESSAGE),
]
TEMPLATE = {
    "id": "Rk2vQm8TzW4p",
    "tenant_id": "TMTwezQEWtXh",
    "name": "Release",
    "title_pattern": "Release {date}",
    "description": "Everything a release needs, in order.",
    "participants": [{"email": "bob@example.com", "display_name": "Bob", "role": "viewer"}],
    "first_message": "- [ ] Changelog\n- [ ] Tag the release\n- [ ] Announce",
    "created_by": "alice@example.com",
    "created_at": "2026-12-01T09:00:00.000000Z",
    "updated_at": "2026-12-01T09:00:00.000000Z",
}

CREATE_WORKFLOW.insert(1, OpenApiExample(
    "From a template (its title pattern gives the title)",
    request_only=True,
    value={"tenant_id": "TMTwezQEWtXh", "template_id": "Rk2vQm8TzW4p"},
))
CREATE_TEMPLATE = [
    OpenApiExample(
        "A release checklist",
        request_only=True,
        value={key: TEMPLATE[key] for key in ("name", "title_pattern", "description", "first_message")}
        | {"participants": [{"email": "bob@example.com", "role": "viewer"}]},
    ),
    OpenApiExample("The new template", response_only=True, status_codes=["201"], value=TEMPLATE),
]
