"""One failed-login lockout for every way in with a password: the login page, the admin's login
page and the token endpoint count failures together and refuse a locked-out (email, client
address) pair even with the right password."""

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY, authenticate
from django.urls import reverse

from project.accounts import services
from project.accounts.models import User

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db

WRONG = "wrong password"
#: The default window is 15 minutes, counted from the first failure.
LOCKED_OUT = "Too many failed attempts; try again in 15 minutes."


@pytest.fixture
def staff(db):
    user = services.register_user("staff@example.com", PASSWORD, display_name="Staff")
    User.objects.filter(pk=user.pk).update(is_staff=True)
    return user


def page_login(client, email, password=PASSWORD):
    return client.post(reverse("login"), {"username": email, "password": password})


def admin_login(client, email, password=PASSWORD):
    return client.post(reverse("admin:login"), {"username": email, "password": password, "next": "/admin/"})


def token_login(api_client, email, password=PASSWORD):
    return api_client.post("/api/auth/token", {"email": email, "password": password}, format="json")


def assert_admin_refuses_the_right_password(client, staff):
    response = admin_login(client, staff.email)
    assert response.status_code == 429
    assert LOCKED_OUT in response.text
    assert SESSION_KEY not in client.session
    assert client.get("/admin/")["Location"].startswith(reverse("admin:login"))
    assert client.get(reverse("tokens"))["Location"].startswith(reverse("login"))


def test_failures_on_the_login_page_lock_the_admin_login(client, staff):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert page_login(client, staff.email, WRONG).status_code == 200

    assert_admin_refuses_the_right_password(client, staff)


def test_failures_on_the_token_endpoint_lock_the_admin_login(client, api_client, staff):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert token_login(api_client, staff.email, WRONG).status_code == 401

    assert_admin_refuses_the_right_password(client, staff)


def test_failures_on_the_admin_login_lock_the_login_page_and_the_token_endpoint(client, api_client, staff):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert admin_login(client, staff.email, WRONG).status_code == 200

    page = page_login(client, staff.email)
    assert page.status_code == 429 and LOCKED_OUT in page.text
    assert SESSION_KEY not in client.session
    token = token_login(api_client, staff.email)
    assert token.status_code == 429 and token.json()["error"]["message"] == LOCKED_OUT
    assert 0 < token.json()["error"]["retry_after"] <= 901 and 0 < int(token["Retry-After"]) <= 900


def test_failures_add_up_across_entry_points(client, api_client, staff):
    admin_login(client, staff.email, WRONG)
    token_login(api_client, staff.email, WRONG)
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 2):
        page_login(client, staff.email, WRONG)

    assert admin_login(client, staff.email).status_code == 429


def test_a_success_on_the_admin_login_clears_the_count(client, staff):
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        page_login(client, staff.email, WRONG)
    assert admin_login(client, staff.email).status_code == 302
    client.post(reverse("admin:logout"))

    page_login(client, staff.email, WRONG)

    assert page_login(client, staff.email).status_code == 302


def test_authenticate_without_a_request_is_locked_out_too(staff):
    """The test client's login() and a shell call authenticate() with no request at all."""
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert authenticate(None, email=staff.email, password=WRONG) is None

    assert authenticate(None, email=staff.email, password=PASSWORD) is None
    assert authenticate(None, username=staff.email, password=PASSWORD) is None


def test_signing_up_logs_in_through_the_lockout_backend(client):
    client.post(
        reverse("register"),
        {"email": "new@example.com", "display_name": "", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert client.session["_auth_user_backend"] == "project.accounts.backends.LockoutModelBackend"
    assert client.get(reverse("home")).status_code == 200
