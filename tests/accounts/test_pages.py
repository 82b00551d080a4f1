"""The server-rendered account, token and tenant pages, driven like a browser would."""

import re

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client, RequestFactory
from django.urls import reverse

from project.accounts import services
from project.accounts.context_processors import tenants
from project.accounts.models import ApiToken, Invitation, Membership, Tenant, User, session_group
from project.realtime.models import Event
from project.realtime.services import ACCESS_CHANGED

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another long passphrase 42"


def log_in(client, email, password=PASSWORD):
    return client.post(reverse("login"), {"username": email, "password": password})


def register(client, email, password=PASSWORD, **extra):
    data = {"email": email, "display_name": "", "password1": password, "password2": password, **extra}
    return client.post(reverse("register"), data)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def acme_owner(alice, acme):
    return Membership.objects.get(user=alice, tenant=acme)


# --- Registration ---------------------------------------------------------------------------


def test_it_registers_logs_in_and_lists_the_new_users_own_tenant(client):
    response = register(client, "Carol@Example.com", display_name="Carol")

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert "carol@example.com" in home.text
    [membership] = home.context["memberships"]
    assert membership.tenant.name == "Carol's team"
    assert membership.role == Membership.Role.OWNER
    assert 'href="%s"' % reverse("tenant_detail", args=[membership.tenant_id]) in home.text


def test_it_rejects_an_email_already_registered_in_another_case(client, alice):
    response = register(client, "ALICE@example.COM")

    assert response.status_code == 200
    assert "An account with this email address already exists." in response.context["form"].errors["email"]
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1
    assert SESSION_KEY not in client.session


def test_it_applies_djangos_password_validation(client):
    response = register(client, "dave@example.com", password="12345678")

    assert response.status_code == 200
    assert response.context["form"].errors["password2"]
    assert not User.objects.filter(email="dave@example.com").exists()


def test_it_sends_a_logged_in_user_from_register_to_home(client, alice):
    client.force_login(alice)

    response = client.get(reverse("register"))

    assert response.status_code == 302
    assert response["Location"] == reverse("home")


# --- Login, lockout, logout -----------------------------------------------------------------


def test_it_renders_the_login_page_with_an_email_field(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert '<label for="id_username">Email' in response.text
    assert 'type="email"' in response.text


def test_it_logs_in_with_the_email_in_any_case(client, alice):
    response = log_in(client, "Alice@Example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert "Signed in as <strong>alice@example.com</strong>" in client.get(reverse("home")).text


def test_it_shows_an_error_for_a_wrong_password(client, alice):
    response = log_in(client, alice.email, "wrong password")

    assert response.status_code == 200
    assert "Please enter a correct email and password." in response.text
    assert SESSION_KEY not in client.session


def test_it_refuses_even_the_right_password_after_too_many_failures(client, alice):
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert log_in(client, alice.email, "wrong password").status_code == 200

    response = log_in(client, alice.email, PASSWORD)

    assert response.status_code == 429
    assert "Too many failed attempts; try again in 15 minutes." in response.text
    assert SESSION_KEY not in client.session


def test_it_forgets_earlier_failures_after_a_successful_login(client, alice):
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        log_in(client, alice.email, "wrong password")
    assert log_in(client, alice.email, PASSWORD).status_code == 302
    client.post(reverse("logout"))

    log_in(client, alice.email, "wrong password")

    assert log_in(client, alice.email, PASSWORD).status_code == 302


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get(reverse("tokens"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse('tokens')}"


def test_it_does_not_log_out_on_get(client, alice):
    client.force_login(alice)

    response = client.get(reverse("logout"))

    assert response.status_code == 405
    assert client.get(reverse("home")).status_code == 200


def test_it_logs_out_on_post_and_closes_the_sessions_sockets(client, alice):
    client.force_login(alice)
    group = session_group(client.session.session_key)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(reverse("home")).status_code == 302
    assert Event.objects.filter(group=group, type=ACCESS_CHANGED).count() == 1


def test_it_changes_the_password(client, alice):
    client.force_login(alice)

    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    assert "Your password has been changed." in client.get(reverse("password_change_done")).text
    client.post(reverse("logout"))
    assert log_in(client, alice.email, PASSWORD).status_code == 200
    assert log_in(client, alice.email, NEW_PASSWORD).status_code == 302


# --- API tokens ------------------------------------------------------------------------------


def new_secret(response) -> str | None:
    found = re.findall(r'value="(hbr_[^"]+)"', response.text)
    assert len(found) <= 1
    return found[0] if found else None


def test_it_shows_a_new_token_once_and_the_token_works_until_revoked(client, alice):
    client.force_login(alice)

    response = client.post(reverse("tokens"), {"name": "laptop", "expires_in_days": "30"})

    assert response.status_code == 302 and response["Location"] == reverse("tokens")
    assert "hbr_" not in response.text
    page = client.get(reverse("tokens"))
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "Your new token “laptop”" in page.text
    raw = new_secret(page)
    token = ApiToken.objects.get(user=alice, name="laptop")
    assert raw.startswith(token.prefix)
    assert token.expires_at is not None
    listing = client.get(reverse("tokens")).text
    assert raw not in listing and "Your new token" not in listing
    assert f"{token.prefix}…" in listing

    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/tenants").status_code == 200

    response = client.post(reverse("token_revoke", args=[token.pk]), follow=True)

    assert "Revoked the token “laptop”." in messages_of(response)
    assert "Revoked" in response.text
    assert api.get("/api/tenants").status_code == 401


def test_reloading_the_page_that_shows_a_new_token_mints_no_second_one(client, alice):
    client.force_login(alice)

    shown = client.post(reverse("tokens"), {"name": "ci"}, follow=True)
    reloaded = client.get(reverse("tokens"))

    assert new_secret(shown) is not None
    assert new_secret(reloaded) is None
    assert ApiToken.objects.filter(user=alice).count() == 1
    assert "accounts.new_api_token" not in client.session  # Harbor keeps only the hash now


def test_the_new_token_has_a_copy_button_wired_by_a_static_script(client, alice):
    client.force_login(alice)

    page = client.post(reverse("tokens"), {"name": "ci"}, follow=True).text

    assert 'data-copy="new-token"' in page and 'id="new-token"' in page
    assert re.search(r'<script type="module" src="/static/js/tokens\.js">', page)
    assert " onclick=" not in page and "<script>" not in page  # the CSP runs no inline code


def test_a_token_revoked_before_its_page_loads_is_not_shown(client, alice):
    client.force_login(alice)
    client.post(reverse("tokens"), {"name": "ci"})
    services.revoke_api_token(ApiToken.objects.get(user=alice))

    page = client.get(reverse("tokens"))

    assert new_secret(page) is None and "Your new token" not in page.text


def test_a_new_token_is_shown_only_in_the_session_that_made_it(client, alice):
    client.force_login(alice)
    client.post(reverse("tokens"), {"name": "ci"})
    other_browser = Client()
    other_browser.force_login(alice)

    assert new_secret(other_browser.get(reverse("tokens"))) is None
    assert new_secret(client.get(reverse("tokens"))) is not None


@pytest.mark.parametrize(
    "data, field, error",
    [
        ({"name": "", "expires_in_days": ""}, "name", "This field is required."),
        ({"name": "   "}, "name", "This field is required."),
        ({"name": "x" * 101}, "name", "Ensure this value has at most 100 characters (it has 101)."),
        ({"name": "ci", "expires_in_days": "0"}, "expires_in_days", "Ensure this value is greater than or equal to 1."),
        ({"name": "ci", "expires_in_days": "3651"}, "expires_in_days",
         "Ensure this value is less than or equal to 3650."),
        ({"name": "ci", "expires_in_days": "²"}, "expires_in_days", "Enter a whole number."),
        ({"name": "ci", "expires_in_days": "soon"}, "expires_in_days", "Enter a whole number."),
    ],
)
def test_it_refuses_a_bad_token_form_and_says_why(client, alice, data, field, error):
    client.force_login(alice)

    response = client.post(reverse("tokens"), data)

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [error]
    assert error in response.text
    assert response.context["new_token"] is None
    assert not ApiToken.objects.filter(user=alice).exists()


def test_it_404s_when_revoking_another_users_token(client, alice, mallory):
    token, _ = services.issue_api_token(alice, "alice's")
    client.force_login(mallory)

    response = client.post(reverse("token_revoke", args=[token.pk]))

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


# --- Tenants --------------------------------------------------------------------------------


def test_it_creates_a_tenant_owned_by_its_creator(client, alice):
    client.force_login(alice)

    response = client.post(reverse("tenant_create"), {"name": "Skunkworks"}, follow=True)

    tenant = Tenant.objects.get(name="Skunkworks")
    assert response.redirect_chain == [(reverse("tenant_detail", args=[tenant.pk]), 302)]
    assert "<h1>Skunkworks</h1>" in response.text
    assert Membership.objects.get(tenant=tenant).role == Membership.Role.OWNER


def test_it_404s_the_tenant_page_for_a_non_member(client, acme, mallory):
    client.force_login(mallory)

    assert client.get(reverse("tenant_detail", args=[acme.pk])).status_code == 404


def test_an_owner_invites_by_email_and_nobody_joins_before_accepting(client, alice, acme, mallory):
    client.force_login(alice)

    known = client.post(
        reverse("tenant_detail", args=[acme.pk]), {"email": "Mallory@evil.example", "role": "admin"}, follow=True
    )
    unknown = client.post(reverse("tenant_detail", args=[acme.pk]), {"email": "nobody@example.com", "role": "member"}, follow=True)

    assert "Invitation sent to mallory@evil.example." in messages_of(known)
    # The same answer for an address without an account: nothing tells the inviter which is which.
    assert "Invitation sent to nobody@example.com." in messages_of(unknown)
    assert not Membership.objects.filter(tenant=acme, user=mallory).exists()
    pending = unknown.context["invitations"]
    assert sorted((i.email, i.role) for i in pending) == [("mallory@evil.example", "admin"), ("nobody@example.com", "member")]
    assert 'aria-label="Resend the invitation of nobody@example.com"' in unknown.text


def test_it_forbids_a_plain_member_to_invite(client, acme, bob, mallory):
    client.force_login(bob)

    page = client.get(reverse("tenant_detail", args=[acme.pk]))
    response = client.post(reverse("tenant_detail", args=[acme.pk]), {"email": mallory.email, "role": "member"})

    assert "Invite someone" not in page.text and "Pending invitations" not in page.text
    assert response.status_code == 403
    assert "Only owners and admins manage members." in response.text
    assert not Invitation.objects.exists()


def test_it_shows_a_form_error_for_a_malformed_address(client, alice, acme):
    client.force_login(alice)

    response = client.post(reverse("tenant_detail", args=[acme.pk]), {"email": "not an address", "role": "member"})

    assert response.status_code == 400
    assert response.context["form"].errors["email"] == ["Enter a valid email address."]


def test_it_reports_a_conflict_for_an_existing_member(client, alice, acme, bob):
    client.force_login(alice)

    response = client.post(reverse("tenant_detail", args=[acme.pk]), {"email": bob.email, "role": "member"})

    assert response.status_code == 409
    assert "bob@example.com is already a member of Acme." in response.text


def test_it_lets_an_owner_remove_a_member(client, alice, acme, bob):
    client.force_login(alice)

    response = client.post(reverse("tenant_member_remove", args=[acme.pk]), {"email": bob.email}, follow=True)

    assert response.redirect_chain == [(reverse("tenant_detail", args=[acme.pk]), 302)]
    assert "Removed bob@example.com from Acme." in messages_of(response)
    assert not Membership.objects.filter(tenant=acme, user=bob).exists()


def test_it_lets_a_member_leave_and_sends_them_home(client, acme, bob):
    client.force_login(bob)

    response = client.post(reverse("tenant_member_remove", args=[acme.pk]), {"email": bob.email}, follow=True)

    assert response.redirect_chain == [(reverse("home"), 302)]
    assert "You left Acme." in messages_of(response)
    assert not Membership.objects.filter(tenant=acme, user=bob).exists()


def test_it_keeps_the_last_owner_and_says_why(client, alice, acme):
    client.force_login(alice)

    response = client.post(reverse("tenant_member_remove", args=[acme.pk]), {"email": alice.email}, follow=True)

    assert response.status_code == 200
    assert "A tenant must keep at least one owner: make someone else owner first." in messages_of(response)
    assert Membership.objects.filter(tenant=acme, user=alice).exists()


def test_it_does_not_let_a_member_remove_others(client, acme, alice, bob):
    client.force_login(bob)

    response = client.post(reverse("tenant_member_remove", args=[acme.pk]), {"email": alice.email}, follow=True)

    assert "Only owners and admins manage members." in messages_of(response)
    assert Membership.objects.filter(tenant=acme, user=alice).exists()


def test_it_switches_the_current_tenant_and_returns_to_a_safe_page(client, alice, acme):
    client.force_login(alice)
    tokens_url = reverse("tokens")

    response = client.post(reverse("tenant_switch"), {"tenant_id": acme.pk, "next": tokens_url})

    assert response["Location"] == tokens_url
    assert client.get(tokens_url).context["current_tenant"] == acme
    response = client.post(reverse("tenant_switch"), {"tenant_id": acme.pk, "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_it_404s_switching_to_a_foreign_tenant(client, acme, mallory):
    client.force_login(mallory)

    response = client.post(reverse("tenant_switch"), {"tenant_id": acme.pk})

    assert response.status_code == 404
    assert "current_tenant_id" not in client.session


def test_it_offers_the_users_tenants_in_the_switcher(client, alice, acme):
    client.force_login(alice)

    response = client.get(reverse("home"))

    assert '<label for="tenant-switcher-select">Tenant</label>' in response.text
    assert [tenant.name for tenant in response.context["user_tenants"]] == ["Acme", "Alice's team"]
    assert f'<option value="{acme.pk}"' in response.text


def test_it_finds_the_users_tenants_in_one_query(alice, acme, django_assert_num_queries):
    request = RequestFactory().get("/")
    SessionMiddleware(lambda request: None).process_request(request)
    request.session["current_tenant_id"] = acme.pk
    request.user = alice

    with django_assert_num_queries(1):
        context = tenants(request)

    assert context["current_tenant"] == acme
    assert len(context["user_tenants"]) == 2


def test_it_escapes_tenant_names(client, alice):
    tenant = services.create_tenant(alice, "<script>alert(1)</script>")
    client.force_login(alice)

    for url in (reverse("home"), reverse("tenant_detail", args=[tenant.pk])):
        text = client.get(url).text
        assert "<script>alert(1)</script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_the_only_owner_is_offered_neither_leaving_nor_a_lower_role(client, alice, acme, bob):
    client.force_login(alice)
    page = client.get(reverse("tenant_detail", args=[acme.pk]))
    assert "Leave tenant" not in page.text
    assert "The only owner: make someone else owner to leave." in page.text
    assert 'aria-label="Change the role of bob@example.com"' in page.text
    assert 'aria-label="Change the role of alice@example.com"' not in page.text

    changed = client.post(reverse("tenant_member_role", args=[acme.pk]), {"email": bob.email, "role": "owner"}, follow=True)
    assert "bob@example.com is now owner." in messages_of(changed)
    assert "Leave tenant" in changed.text  # two owners now: either may leave
    assert 'aria-label="Change the role of alice@example.com"' in changed.text


def test_a_member_sees_roles_but_cannot_change_them(client, acme, alice, bob):
    client.force_login(bob)
    page = client.get(reverse("tenant_detail", args=[acme.pk]))
    assert "Change the role" not in page.text
    refused = client.post(reverse("tenant_member_role", args=[acme.pk]), {"email": alice.email, "role": "member"}, follow=True)
    assert "Only an owner can change roles." in messages_of(refused)
    bad = client.post(reverse("tenant_member_role", args=[acme.pk]), {"email": alice.email, "role": "king"}, follow=True)
    assert "Choose a role" in " ".join(messages_of(bad))
    assert Membership.objects.get(tenant=acme, user=alice).role == "owner"
