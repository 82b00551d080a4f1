import pytest
from django.utils import timezone

from project.accounts.access import get_for_user, get_membership, scope_to_user
from project.accounts.models import Invitation, Membership, Tenant

from ..conftest import bearer_client

pytestmark = pytest.mark.django_db


def test_it_lists_only_the_callers_tenants_with_their_role(alice_api, acme, bob, mallory):
    names = {t["name"]: t["role"] for t in alice_api.get("/api/tenants").json()["results"]}
    assert names == {"Alice's team": "owner", "Acme": "owner"}
    bobs = {t["name"]: t["role"] for t in bearer_client(bob).get("/api/tenants").json()["results"]}
    assert bobs == {"Bob's team": "owner", "Acme": "member"}


def test_creating_a_tenant_makes_the_caller_its_owner(alice_api, alice):
    response = alice_api.post("/api/tenants", {"name": "Research"}, format="json")
    assert response.status_code == 201
    assert response.json()["role"] == "owner"
    assert Membership.objects.get(tenant_id=response.json()["id"]).user == alice


def invite(client, tenant, email, **extra):
    return client.post(f"/api/tenants/{tenant.pk}/invitations", {"email": email, **extra}, format="json")


def test_an_owner_invites_and_the_invitee_joins_only_by_accepting(alice_api, acme, mallory):
    invited = invite(alice_api, acme, "MALLORY@evil.example", role="admin")
    assert invited.status_code == 201
    body = invited.json()
    assert (body["email"], body["role"], body["state"], body["tenant_id"]) == ("mallory@evil.example", "admin", "pending", acme.pk)
    assert body["invited_by"] == "alice@example.com" and "token" not in str(body).lower()
    assert not Membership.objects.filter(tenant=acme, user=mallory).exists()
    assert [i["email"] for i in alice_api.get(f"/api/tenants/{acme.pk}/invitations").json()["results"]] == [mallory.email]

    mallory.email_verified_at = timezone.now()
    mallory.save(update_fields=["email_verified_at"])
    mine = bearer_client(mallory).get("/api/invitations").json()["results"]
    assert [i["id"] for i in mine] == [body["id"]]
    accepted = bearer_client(mallory).post(f"/api/invitations/{body['id']}/accept")
    assert accepted.status_code == 201 and accepted.json()["role"] == "admin"
    emails = [m["email"] for m in alice_api.get(f"/api/tenants/{acme.pk}/members").json()["results"]]
    assert emails == ["alice@example.com", "mallory@evil.example"]
    assert bearer_client(mallory).post(f"/api/invitations/{body['id']}/accept").status_code == 404  # used
    assert alice_api.get(f"/api/tenants/{acme.pk}/invitations").json()["results"] == []
    removed = alice_api.delete(f"/api/tenants/{acme.pk}/members", {"email": "mallory@evil.example"}, format="json")
    assert removed.status_code == 204
    assert not Membership.objects.filter(tenant=acme, user=mallory).exists()


def test_an_unverified_address_sees_and_accepts_no_invitation_through_the_api(alice_api, acme, mallory):
    invitation_id = invite(alice_api, acme, mallory.email).json()["id"]
    assert bearer_client(mallory).get("/api/invitations").json()["results"] == []
    assert bearer_client(mallory).post(f"/api/invitations/{invitation_id}/accept").status_code == 404
    assert not Membership.objects.filter(tenant=acme, user=mallory).exists()


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(alice_api, acme, mallory):
    known, unknown = invite(alice_api, acme, mallory.email), invite(alice_api, acme, "ghost@example.com")
    assert known.status_code == unknown.status_code == 201
    assert set(known.json()) == set(unknown.json())
    assert {k: v for k, v in known.json().items() if k not in ("id", "email", "sent_at", "expires_at")} == {
        k: v for k, v in unknown.json().items() if k not in ("id", "email", "sent_at", "expires_at")
    }


def test_a_member_cannot_invite(acme, bob, mallory):
    response = invite(bearer_client(bob), acme, mallory.email)
    assert response.status_code == 403
    assert bearer_client(bob).get(f"/api/tenants/{acme.pk}/invitations").status_code == 403
    assert not Invitation.objects.exists()


def test_an_outsider_gets_404_for_every_members_and_invitations_route(mallory_api, alice_api, acme, bob):
    invitation_id = invite(alice_api, acme, "ghost@example.com").json()["id"]
    url = f"/api/tenants/{acme.pk}/members"
    assert mallory_api.get(url).status_code == 404
    assert mallory_api.delete(url, {"email": bob.email}, format="json").status_code == 404
    assert mallory_api.get("/api/tenants/no-such-tenant/members").status_code == 404
    assert invite(mallory_api, acme, "mallory@evil.example").status_code == 404
    assert mallory_api.get(f"/api/tenants/{acme.pk}/invitations").status_code == 404
    assert mallory_api.delete(f"/api/tenants/{acme.pk}/invitations/{invitation_id}").status_code == 404
    assert mallory_api.post(f"/api/tenants/{acme.pk}/invitations/{invitation_id}/resend").status_code == 404


def test_a_malformed_address_or_role_names_the_field(alice_api, acme):
    response = invite(alice_api, acme, "not an address")
    assert response.status_code == 400 and "email" in response.json()["error"]["fields"]
    response = invite(alice_api, acme, "ann@example.com", role="emperor")
    assert response.status_code == 400 and "role" in response.json()["error"]["fields"]


def test_inviting_a_member_is_a_conflict(alice_api, acme, bob):
    response = invite(alice_api, acme, bob.email)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_revoking_and_resending(alice_api, acme):
    first = invite(alice_api, acme, "ghost@example.com").json()
    again = invite(alice_api, acme, "ghost@example.com", role="admin").json()
    assert again["id"] == first["id"] and again["role"] == "admin"  # one open invitation per address
    resent = alice_api.post(f"/api/tenants/{acme.pk}/invitations/{first['id']}/resend")
    assert resent.status_code == 200 and resent.json()["state"] == "pending"
    revoked = alice_api.delete(f"/api/tenants/{acme.pk}/invitations/{first['id']}")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert alice_api.post(f"/api/tenants/{acme.pk}/invitations/{first['id']}/resend").status_code == 409
    assert alice_api.delete(f"/api/tenants/{acme.pk}/invitations/nope").status_code == 404


def test_resend_is_post_only_and_a_delete_there_revokes_nothing(alice_api, acme):
    invitation = invite(alice_api, acme, "ghost@example.com").json()
    response = alice_api.delete(f"/api/tenants/{acme.pk}/invitations/{invitation['id']}/resend")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"
    [listed] = alice_api.get(f"/api/tenants/{acme.pk}/invitations").json()["results"]
    assert (listed["id"], listed["state"]) == (invitation["id"], "pending")


def test_the_last_owner_cannot_leave(alice_api, acme):
    response = alice_api.delete(f"/api/tenants/{acme.pk}/members?email=alice@example.com")
    assert response.status_code == 409


def test_a_member_may_leave_but_not_remove_others(acme, alice, bob):
    bobs = bearer_client(bob)
    assert bobs.delete(f"/api/tenants/{acme.pk}/members", {"email": alice.email}, format="json").status_code == 403
    assert bobs.delete(f"/api/tenants/{acme.pk}/members", {"email": bob.email}, format="json").status_code == 204


def test_an_admin_cannot_invite_or_remove_owners(acme, alice, bob, mallory):
    Membership.objects.filter(tenant=acme, user=bob).update(role="admin")
    bobs = bearer_client(bob)
    assert invite(bobs, acme, mallory.email, role="owner").status_code == 403
    assert bobs.delete(f"/api/tenants/{acme.pk}/members", {"email": alice.email}, format="json").status_code == 403
    assert invite(bobs, acme, mallory.email).status_code == 201


def test_membership_changes_are_published_after_commit(alice, acme, mallory, django_capture_on_commit_callbacks):
    from project.accounts import services
    from project.realtime.models import Event

    with django_capture_on_commit_callbacks() as callbacks:
        services.add_member(acme, get_membership(alice, acme.pk), mallory.email)
    # Both events leave after the commit, together (one hook: realtime.services._deliver_on_commit).
    assert sorted((frame["group"], frame["type"]) for callback in callbacks for frame in callback.frames) == [
        (f"tenant.{acme.pk}", "tenant_member.added"),
        (f"user.{mallory.pk}", "tenant_member.added"),
    ]
    assert set(Event.objects.values_list("group", "type")) == {
        (f"tenant.{acme.pk}", "tenant_member.added"),
        (f"user.{mallory.pk}", "tenant_member.added"),
    }


def test_a_member_event_carries_the_member_as_rest_lists_it(alice, alice_api, acme, mallory):
    from project.accounts import services
    from project.realtime.models import Event

    services.add_member(acme, get_membership(alice, acme.pk), mallory.email)
    listed = {m["email"]: m for m in alice_api.get(f"/api/tenants/{acme.pk}/members").json()["results"]}
    event = Event.objects.get(group=f"tenant.{acme.pk}", type="tenant_member.added")
    assert event.as_frame()["data"] == {"tenant_id": acme.pk, "member": listed[mallory.email], "by": alice.email}


def test_lists_page_with_a_cursor(alice, alice_api, acme, mallory, bob):
    first = alice_api.get(f"/api/tenants/{acme.pk}/members?limit=1").json()
    assert [m["email"] for m in first["results"]] == [alice.email] and first["has_more"] is True
    rest = alice_api.get(f"/api/tenants/{acme.pk}/members?cursor={first['next_cursor']}").json()
    assert [m["email"] for m in rest["results"]] == [bob.email] and rest["has_more"] is False
    for path in ("/api/tenants", "/api/auth/tokens", f"/api/tenants/{acme.pk}/members"):
        assert set(alice_api.get(path).json()) == {"results", "next_cursor", "has_more"}
        response = alice_api.get(f"{path}?limit=")
        assert response.status_code == 400 and "limit" in response.json()["error"]["fields"]


class TestTheAccessHelper:
    def test_it_scopes_querysets_to_the_callers_tenants(self, alice, acme, mallory):
        assert set(scope_to_user(Membership.objects.all(), mallory)) == set(Membership.objects.filter(user=mallory))
        assert acme in scope_to_user(Tenant.objects.all(), alice, tenant_field="self")
        assert acme not in scope_to_user(Tenant.objects.all(), mallory, tenant_field="self")

    def test_it_answers_404_for_another_tenants_row(self, alice, acme, mallory):
        from django.contrib.auth.models import AnonymousUser
        from django.http import Http404

        with pytest.raises(Http404):
            get_for_user(Tenant.objects.all(), mallory, tenant_field="self", pk=acme.pk)
        with pytest.raises(Http404):
            get_membership(AnonymousUser(), acme.pk)
        assert get_for_user(Tenant.objects.all(), alice, tenant_field="self", pk=acme.pk) == acme

    def test_it_refuses_a_role_that_is_not_enough(self, acme, bob):
        from django.core.exceptions import PermissionDenied

        with pytest.raises(PermissionDenied):
            get_membership(bob, acme.pk, roles=Membership.MANAGER_ROLES)
        assert get_membership(bob, acme.pk).role == "member"


def change_role(client, tenant, email, role):
    return client.patch(f"/api/tenants/{tenant.pk}/members", {"email": email, "role": role}, format="json")


def test_an_owner_changes_roles_but_never_leaves_a_tenant_without_an_owner(alice_api, acme, alice, bob):
    from project.realtime.models import Event

    assert change_role(alice_api, acme, alice.email, "admin").status_code == 409  # the only owner
    promoted = change_role(alice_api, acme, bob.email, "owner")
    assert promoted.status_code == 200 and promoted.json()["role"] == "owner"
    assert Event.objects.filter(group=f"tenant.{acme.pk}", type="tenant_member.updated").exists()
    demoted = change_role(alice_api, acme, alice.email, "member")  # bob is an owner now
    assert demoted.status_code == 200
    # Alice lost what only managers see: her sockets check their rights again.
    assert Event.objects.filter(group=f"access.{alice.pk}", type="access.changed").exists()
    assert change_role(alice_api, acme, bob.email, "member").status_code == 403  # no longer an owner


def test_only_owners_change_roles_and_bad_input_names_the_field(acme, alice, bob, alice_api):
    Membership.objects.filter(tenant=acme, user=bob).update(role="admin")
    assert change_role(bearer_client(bob), acme, alice.email, "member").status_code == 403
    response = change_role(alice_api, acme, bob.email, "emperor")
    assert response.status_code == 400 and "role" in response.json()["error"]["fields"]
    assert change_role(alice_api, acme, "ghost@example.com", "admin").status_code == 404
