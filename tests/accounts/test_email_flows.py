"""Password reset, email verification and invitations, with the mail delivered by the outbox
worker to a real SMTP server on 127.0.0.1 and the links read back from it, as a person would."""

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from project.accounts.models import Invitation, Membership, User
from project.mail.models import OutgoingEmail

from ..conftest import PASSWORD
from .test_pages import log_in, messages_of, register

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another long passphrase 42"


def deliver(smtp_server, count=1):
    """Run the email worker once and return the texts of the mails it delivered."""
    before = len(smtp_server.messages)
    call_command("send_email")
    new = smtp_server.messages[before:]
    assert len(new) == count, [m["Subject"] for m in new]
    return new


def link_in(message) -> str:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    [url] = re.findall(r"https?://\S+", text)
    assert url in html  # the HTML part carries the same link, as a button
    return url.removeprefix("http://testserver")


def request_reset(client, email):
    return client.post(reverse("password_reset"), {"email": email})


def test_a_forgotten_password_is_reset_through_the_link_in_the_email(client, alice, smtp_server):
    signed_in = Client()
    assert log_in(signed_in, alice.email).status_code == 302
    response = request_reset(client, "Alice@Example.com")
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert "we have sent it a link" in client.get(response["Location"]).text

    [mail] = deliver(smtp_server)
    assert mail["To"] == alice.email and mail["Subject"] == "Reset your Harbor password"
    link = link_in(mail)
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.text
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")

    assert log_in(Client(), alice.email, PASSWORD).status_code == 200  # the old password is refused
    assert log_in(Client(), alice.email, NEW_PASSWORD).status_code == 302
    assert signed_in.get(reverse("home")).status_code == 302  # the old session is signed out
    again = client.get(link, follow=True)
    assert "This link no longer works" in again.text and reverse("password_reset") in again.text
    alice.refresh_from_db()
    assert alice.email_verified_at is not None  # following the link proved the mailbox


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, alice, smtp_server):
    known, unknown = request_reset(client, alice.email), request_reset(Client(), "nobody@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    deliver(smtp_server, count=1)  # only alice's


def test_reset_requests_are_limited_per_address_and_client_whether_or_not_it_has_an_account(client, alice, settings):
    for email in (alice.email, "nobody@example.com"):
        for _ in range(settings.LOGIN_FAILURE_LIMIT):
            assert request_reset(client, email).status_code == 302
        refused = request_reset(client, email)
        assert refused.status_code == 429
        assert "Too many requests; try again in 15 minutes." in refused.text
    assert OutgoingEmail.objects.filter(to=[alice.email]).count() == settings.LOGIN_FAILURE_LIMIT


def test_a_malformed_address_is_refused_on_the_page(client):
    response = request_reset(client, "not an address")
    assert response.status_code == 200 and "Enter a valid email address." in response.text


def test_a_new_account_confirms_its_address_from_the_email(client, smtp_server):
    register(client, "dan@example.com")
    home = client.get(reverse("home"))
    assert "Please confirm your email address" in home.text

    [mail] = deliver(smtp_server)
    assert mail["Subject"] == "Confirm your email address for Harbor"
    link = link_in(mail)
    page = Client().get(link)  # another device, not signed in: a button, nothing verified yet
    assert page.status_code == 200 and "Confirm my address" in page.text
    assert User.objects.get(email="dan@example.com").email_verified_at is None
    confirmed = client.post(link, follow=True)
    assert "dan@example.com is confirmed" in " ".join(messages_of(confirmed))
    assert "Please confirm your email address" not in client.get(reverse("home")).text
    assert "Already confirmed" in client.get(link).text


def test_a_broken_verification_link_says_so_and_offers_a_new_one(client, alice):
    client.force_login(alice)
    response = client.get(reverse("verify_email", args=["MQ", "wrong-token"]))
    assert response.status_code == 400
    assert "This link no longer works" in response.text and reverse("resend_verification") in response.text
    assert client.post(reverse("verify_email", args=["MQ", "wrong-token"])).status_code == 400
    alice.refresh_from_db()
    assert alice.email_verified_at is None


def test_a_new_verification_link_can_be_sent_a_few_times(client, alice, settings, smtp_server):
    client.force_login(alice)
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        response = client.post(reverse("resend_verification"), {"next": reverse("workflow_list")})
        assert response["Location"] == reverse("workflow_list")
    refused = client.post(reverse("resend_verification"), follow=True)
    assert "Too many requests" in " ".join(messages_of(refused))
    links = {link_in(mail) for mail in deliver(smtp_server, count=settings.LOGIN_FAILURE_LIMIT)}
    assert client.post(links.pop()).status_code == 302  # any of them works, once
    alice.refresh_from_db()
    assert alice.email_verified_at is not None


def test_logging_out_says_so(client, alice):
    log_in(client, alice.email)
    response = client.post(reverse("logout"), follow=True)
    assert "You have been logged out." in messages_of(response)


# --- Invitations ------------------------------------------------------------------------------


def invite_from_page(client, tenant, email, role="member"):
    response = client.post(reverse("tenant_detail", args=[tenant.pk]), {"email": email, "role": role}, follow=True)
    assert f"Invitation sent to {email}." in messages_of(response)


def test_a_person_without_an_account_signs_up_through_the_invitation(client, alice, acme, smtp_server):
    client.force_login(alice)
    invite_from_page(client, acme, "dan@example.com", role="admin")
    [mail] = deliver(smtp_server)
    assert mail["Subject"] == "Alice invited you to Acme on Harbor"
    link = link_in(mail)

    dan = Client()
    page = dan.get(link)
    assert page.status_code == 200 and "Create my account and join" in page.text and "dan@example.com" in page.text
    short = dan.post(link, {"display_name": "Dan", "password1": "short", "password2": "short"})
    assert short.status_code == 400 and not User.objects.filter(email="dan@example.com").exists()
    joined = dan.post(link, {"display_name": "Dan", "password1": PASSWORD, "password2": PASSWORD}, follow=True)
    assert joined.redirect_chain[-1][0] == reverse("tenant_detail", args=[acme.pk])
    assert "Welcome to Harbor and to Acme." in messages_of(joined)
    user = User.objects.get(email="dan@example.com")
    assert user.email_verified_at is not None  # the invitation went to that address
    assert Membership.objects.get(tenant=acme, user=user).role == "admin"
    used = Client().get(link)
    assert used.status_code == 410 and "It has been accepted already" in used.text


def test_an_existing_user_accepts_from_the_link_and_a_wrong_account_cannot(client, alice, acme, bob, mallory, smtp_server):
    client.force_login(alice)
    invite_from_page(client, acme, mallory.email)
    link = link_in(deliver(smtp_server)[0])

    as_bob = Client()
    as_bob.force_login(bob)
    page = as_bob.get(link)
    assert "You are signed in as <strong>bob@example.com</strong>" in page.text
    as_bob.post(link)
    assert not Membership.objects.filter(tenant=acme, user=mallory).exists()

    as_mallory = Client()
    as_mallory.force_login(mallory)
    assert "Join Acme" in as_mallory.get(link).text
    assert as_mallory.post(link)["Location"] == reverse("tenant_detail", args=[acme.pk])
    assert Membership.objects.filter(tenant=acme, user=mallory).exists()


def test_a_verified_user_accepts_from_their_home_page_and_an_unverified_one_sees_nothing(client, alice, acme, mallory):
    client.force_login(alice)
    invite_from_page(client, acme, mallory.email)
    as_mallory = Client()
    as_mallory.force_login(mallory)
    assert "Invitations" not in as_mallory.get(reverse("home")).text  # anyone can sign up with any address

    mallory.email_verified_at = timezone.now()
    mallory.save(update_fields=["email_verified_at"])
    home = as_mallory.get(reverse("home"))
    assert "Alice invited you to <strong>Acme</strong> as member." in home.text
    [invitation] = home.context["invitations"]
    assert as_mallory.post(reverse("invitation_accept", args=[invitation.pk])).status_code == 302
    assert Membership.objects.filter(tenant=acme, user=mallory).exists()
    assert "Invitations" not in as_mallory.get(reverse("home")).text


def test_a_resent_revoked_or_expired_invitation_link_says_what_happened(client, alice, acme, smtp_server):
    client.force_login(alice)
    invite_from_page(client, acme, "erin@example.com")
    first_link = link_in(deliver(smtp_server)[0])
    invitation = Invitation.objects.get()
    resent = client.post(reverse("tenant_invitation_resend", args=[acme.pk, invitation.pk]), follow=True)
    assert "the previous link no longer works" in " ".join(messages_of(resent))
    second_link = link_in(deliver(smtp_server)[0])
    stale = Client().get(first_link)
    assert stale.status_code == 404 and "This invitation link does not work" in stale.text
    assert Client().get(second_link).status_code == 200

    Invitation.objects.update(expires_at=timezone.now())
    expired = Client().get(second_link)
    assert expired.status_code == 410 and "It has expired" in expired.text
    client.post(reverse("tenant_invitation_revoke", args=[acme.pk, invitation.pk]))
    revoked = Client().get(second_link)
    assert revoked.status_code == 410 and "Acme withdrew it." in revoked.text
    assert Client().post(second_link, {"password1": PASSWORD, "password2": PASSWORD}).status_code == 410
    assert not User.objects.filter(email="erin@example.com").exists()
