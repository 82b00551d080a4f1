"""OpenAPI examples of the accounts API's main operations (real responses, secrets made up).
tests/project/test_api_vocabulary.py checks each against its schema."""

from drf_spectacular.utils import OpenApiExample

ISSUE_TOKEN = [
    OpenApiExample("A token for a script", request_only=True,
                   value={"email": "alice@example.com", "password": "correct horse battery staple", "name": "ci-bot"}),
    OpenApiExample(
        "The token, shown once",
        response_only=True,
        status_codes=["201"],
        value={
            "token": "hbr_qtuh3QMHqPfbdTdAH3c1UMzz8B4FnTyetPutBoRsUEE",
            "id": "2",
            "name": "ci-bot",
            "prefix": "hbr_qtuh3Q",
            "created_at": "2026-12-01T09:00:00.000000Z",
            "expires_at": None,
            "last_used_at": None,
            "revoked_at": None,
        },
    ),
]
