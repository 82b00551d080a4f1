import pytest
from django.test import override_settings

from project.accounts.models import ApiToken

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db


def obtain_token(api_client, email="alice@example.com", password=PASSWORD, **extra):
    return api_client.post("/api/auth/token", {"email": email, "password": password, **extra}, format="json")


def test_register_login_token_call_revoke_then_401(client, api_client):
    """The whole journey of a new REST user."""
    response = client.post(
        "/accounts/register/",
        {"email": "Newbie@Example.com", "display_name": "Newbie", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200

    issued = obtain_token(api_client, email="newbie@example.com", name="laptop")
    assert issued.status_code == 201
    raw = issued.json()["token"]
    assert issued.json()["name"] == "laptop"

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    tenants = api_client.get("/api/tenants")
    assert tenants.status_code == 200
    [own] = tenants.json()["results"]
    assert own["role"] == "owner"

    token_id = issued.json()["id"]
    assert api_client.delete(f"/api/auth/tokens/{token_id}").status_code == 200
    after = api_client.get("/api/tenants")
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "authentication_failed"
    assert after["WWW-Authenticate"].startswith("Bearer")


def test_only_the_hash_of_a_token_is_stored(api_client, alice):
    raw = obtain_token(api_client).json()["token"]
    token = ApiToken.objects.get()
    assert raw not in {token.key_hash, token.prefix}
    assert raw.startswith(token.prefix)


def test_tokens_listing_never_shows_secrets(alice_api, alice):
    listed = alice_api.get("/api/auth/tokens").json()["results"]
    assert len(listed) == 1
    assert "token" not in listed[0] and "key_hash" not in listed[0]


def test_a_user_cannot_revoke_someone_elses_token(alice_api, mallory_api, mallory):
    mallorys = ApiToken.objects.get(user=mallory)
    response = alice_api.delete(f"/api/auth/tokens/{mallorys.pk}")
    assert response.status_code == 404
    assert mallory_api.get("/api/tenants").status_code == 200


def test_an_expired_token_is_refused(api_client, alice):
    from datetime import timedelta

    from django.utils import timezone

    raw = obtain_token(api_client, expires_in_days=1).json()["token"]
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/api/tenants").status_code == 401


def test_bad_credentials_get_401_json(api_client, alice):
    response = obtain_token(api_client, password="wrong")
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "authentication_failed",
        "message": "Invalid email or password.",
        "fields": {},
    }


def test_a_missing_field_is_named_in_the_error(api_client):
    response = api_client.post("/api/auth/token", {"email": "not-an-email"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"email", "password"}


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_repeated_failures_get_429_even_with_the_right_password(api_client, alice):
    for _ in range(3):
        assert obtain_token(api_client, password="wrong").status_code == 401
    locked = obtain_token(api_client)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "throttled"
    # Another account from the same address is not locked out.
    assert obtain_token(api_client, email="nobody@example.com").status_code == 401


def test_anonymous_api_calls_get_401(api_client):
    response = api_client.get("/api/tenants")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_malformed_authorization_header_gets_401(api_client, alice):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    assert api_client.get("/api/tenants").status_code == 401


def test_session_auth_needs_csrf_for_writes(alice):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get("/api/tenants").status_code == 200
    response = browser.post("/api/tenants", {"name": "Sneaky"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_a_ws_ticket_is_issued_to_bearer_clients(alice_api):
    response = alice_api.post("/api/ws-ticket")
    assert response.status_code == 201
    assert len(response.json()["ticket"]) >= 40
