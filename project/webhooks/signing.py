"""Standard Webhooks signatures (https://www.standardwebhooks.com/): framework-free.

A secret is `whsec_` + base64 of 24 random bytes. Each request carries `webhook-id`,
`webhook-timestamp` (Unix seconds) and `webhook-signature`: space-separated `v1,<base64 of
HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>`, one per valid secret (two during a rotation),
so a receiver holding either secret verifies the request."""

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secrets_: list[str], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(secret, webhook_id, timestamp, body) for secret in secrets_),
    }
