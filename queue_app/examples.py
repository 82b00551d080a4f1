"""OpenAPI examples of the queue's main operations (real responses, ids made up).
tests/project/test_api_vocabulary.py checks each against its schema."""

from drf_spectacular.utils import OpenApiExample

PENDING = {
    "id": "Z4MTSNbHKR",
    "tenant_id": None,
    "created_at": "2026-12-01T09:40:00.000000Z",
    "text": "Summarise this week's launch notes.",
    "username": "Alice",
    "color": "",
    "message_type": "human",
    "reply_to": None,
    "status": "pending",
    "priority": 5,
    "entity": "helper",
    "claimed_by": "",
    "claimed_at": None,
    "lease_expires_at": None,
    "available_at": "2026-12-01T09:40:00.000000Z",
    "attempts": 0,
    "completed_at": None,
    "last_error": "",
    "partial_text": "",
}
CLAIMED = {
    **PENDING,
    "status": "processing",
    "claimed_by": "bot-1",
    "claimed_at": "2026-12-01T09:40:01.000000Z",
    "lease_expires_at": "2026-12-01T09:41:01.000000Z",
}
COMPLETED = {**CLAIMED, "status": "complete", "lease_expires_at": None, "completed_at": "2026-12-01T09:40:05.000000Z"}
REPLY = {
    **PENDING,
    "id": "I0toeLqMGa",
    "created_at": "2026-12-01T09:40:05.000000Z",
    "text": "Three features shipped; two bugs fixed.",
    "username": "helper",
    "message_type": "ai",
    "reply_to": "Z4MTSNbHKR",
    "status": "complete",
    "priority": 0,
    "claimed_by": "bot-1",
    "available_at": "2026-12-01T09:40:05.000000Z",
    "completed_at": "2026-12-01T09:40:05.000000Z",
}

POST_MESSAGE = [
    OpenApiExample(
        "A question for the helper bot",
        request_only=True,
        value={"text": "Summarise this week's launch notes.", "entity": "helper", "priority": 5},
    ),
    OpenApiExample("The pending message", response_only=True, status_codes=["201"], value=PENDING),
]
CLAIM = [
    OpenApiExample("The next message of an entity", request_only=True, value={"worker_id": "bot-1", "entity": "helper"}),
    OpenApiExample(
        "The claimed message, its fencing token and its thread",
        response_only=True,
        status_codes=["201"],
        value={**CLAIMED, "claim_token": "jHif1YrRN2K5QDZDW9QDZQZ4MTSNbHKR", "thread": []},
    ),
]
COMPLETE = [
    OpenApiExample(
        "Completing with the bot's answer",
        request_only=True,
        value={"worker_id": "bot-1", "claim_token": "jHif1YrRN2K5QDZDW9QDZQZ4MTSNbHKR", "reply": "Three features shipped; two bugs fixed."},
    ),
    OpenApiExample("The message and its reply", response_only=True, value={"message": COMPLETED, "reply": REPLY, "next": None}),
]
COMPLETIONS = [
    OpenApiExample(
        "Two answers, and claim two more",
        request_only=True,
        value={
            "worker_id": "bot-1",
            "claims": [
                {"id": "Z4MTSNbHKR", "claim_token": "jHif1YrRN2K5QDZDW9QDZQZ4MTSNbHKR",
                 "reply": "Three features shipped; two bugs fixed."},
                {"id": "Q7vL2mXpTe", "claim_token": "jHif1YrRN2K5QDZDW9QDZQQ7vL2mXpTe", "reply": "Yes."},
            ],
            "next": 2,
        },
    ),
    OpenApiExample(
        "One completed, one whose lease had expired and was claimed again",
        response_only=True,
        value={
            "completed": {
                "results": [
                    {"id": "Z4MTSNbHKR", "status": 200, "message": COMPLETED, "reply": REPLY, "error": None},
                    {"id": "Q7vL2mXpTe", "status": 409, "message": None, "reply": None,
                     "error": {"code": "conflict", "fields": {},
                               "message": "This message is not processing under this claim (its lease may have expired)."}},
                ],
                "next_cursor": None,
                "has_more": False,
            },
            "next": {"results": [], "next_cursor": None, "has_more": False},
        },
    ),
]
