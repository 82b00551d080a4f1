import pytest

from project.accounts.access import get_for_user, get_membership, scope_to_user
from project.accounts.models import Membership, Tenant

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


def test_an_owner_adds_and_removes_members_by_email(alice_api, acme, mallory):
    added = alice_api.post(f"/api/tenants/{acme.pk}/members", {"email": "MALLORY@evil.example", "role": "admin"}, format="json")
    assert added.status_code == 201
    assert added.json()["email"] == "mallory@evil.example"
    emails = [m["email"] for m in alice_api.get(f"/api/tenants/{acme.pk}/members").json()["results"]]
    assert emails == ["alice@example.com", "mallory@evil.example"]
    removed = alice_api.delete(f"/api/tenants/{acme.pk}/members", {"email": "mallory@evil.example"}, format="json")
    assert removed.status_code == 204
    assert not Membership.objects.filter(tenant=acme, user=mallory).exists()


def test_a_member_cannot_add_members(acme, bob, mallory):
    response = bearer_client(bob).post(f"/api/tenants/{acme.pk}/members", {"email": mallory.email}, format="json")
    assert response.status_code == 403
    assert not Membership.objects.filter(tenant=acme, user=mallory).exists()


def test_an_outsider_gets_404_for_every_members_route(mallory_api, acme, bob):
    url = f"/api/tenants/{acme.pk}/members"
    assert mallory_api.get(url).status_code == 404
    assert mallory_api.post(url, {"email": "mallory@evil.example"}, format="json").status_code == 404
    assert mallory_api.delete(url, {"email": bob.email}, format="json").status_code == 404
    assert mallory_api.get("/api/tenants/no-such-tenant/members").status_code == 404


def test_adding_an_unknown_email_names_the_field(alice_api, acme):
    response = alice_api.post(f"/api/tenants/{acme.pk}/members", {"email": "ghost@example.com"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()["error"]["fields"]


def test_adding_a_member_twice_is_a_conflict(alice_api, acme, bob):
    response = alice_api.post(f"/api/tenants/{acme.pk}/members", {"email": bob.email}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_the_last_owner_cannot_leave(alice_api, acme):
    response = alice_api.delete(f"/api/tenants/{acme.pk}/members?email=alice@example.com")
    assert response.status_code == 409


def test_a_member_may_leave_but_not_remove_others(acme, alice, bob):
    bobs = bearer_client(bob)
    assert bobs.delete(f"/api/tenants/{acme.pk}/members", {"email": alice.email}, format="json").status_code == 403
    assert bobs.delete(f"/api/tenants/{acme.pk}/members", {"email": bob.email}, format="json").status_code == 204


def test_an_admin_cannot_add_or_remove_owners(acme, alice, bob, mallory):
    Membership.objects.filter(tenant=acme, user=bob).update(role="admin")
    bobs = bearer_client(bob)
    assert bobs.post(f"/api/tenants/{acme.pk}/members", {"email": mallory.email, "role": "owner"}, format="json").status_code == 403
    assert bobs.delete(f"/api/tenants/{acme.pk}/members", {"email": alice.email}, format="json").status_code == 403
    assert bobs.post(f"/api/tenants/{acme.pk}/members", {"email": mallory.email}, format="json").status_code == 201


def test_membership_changes_are_published_after_commit(alice, acme, mallory, django_capture_on_commit_callbacks):
    from project.accounts import services
    from project.realtime.models import Event

    with django_capture_on_commit_callbacks() as callbacks:
        services.add_member(acme, get_membership(alice, acme.pk), mallory.email)
    assert len(callbacks) == 2
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
