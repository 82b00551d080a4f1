import pytest

from project.accounts import services
from project.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root@example.com", "admin-pass-123")
    client.force_login(admin)
    return client


def test_admin_shows_token_metadata_but_never_its_hash(staff_client, alice):
    token, raw = services.issue_api_token(alice, "ci-bot")
    page = staff_client.get(f"/admin/accounts/apitoken/{token.pk}/change/")
    assert page.status_code == 200
    assert b"ci-bot" in page.content
    assert token.key_hash.encode() not in page.content and raw.encode() not in page.content
    assert staff_client.get("/admin/accounts/apitoken/add/").status_code == 403


def test_admin_revoke_action_revokes(staff_client, alice):
    token, _ = services.issue_api_token(alice, "ci-bot")
    staff_client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_admin_lists_users_tenants_and_memberships(staff_client, acme, bob):
    assert b"bob@example.com" in staff_client.get("/admin/accounts/user/?q=bob").content
    assert b"Acme" in staff_client.get("/admin/accounts/tenant/").content
    assert staff_client.get("/admin/accounts/membership/").status_code == 200
    assert staff_client.get("/admin/realtime/event/").status_code == 200
