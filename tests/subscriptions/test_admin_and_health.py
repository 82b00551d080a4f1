import pytest

from project.resilience import breaker
from subscriptions import services

from .conftest import connect


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root@example.com", "admin-pass-123"))
    return client


@pytest.mark.django_db
def test_admin_shows_whether_a_token_is_present_never_the_token(staff_client, alice, fake):
    account = connect(alice, fake)
    services.add_subscription(account, "spotify_show", "show1")
    pages = [staff_client.get(url) for url in [
        "/admin/subscriptions/provideraccount/", f"/admin/subscriptions/provideraccount/{account.pk}/change/",
        "/admin/subscriptions/subscription/", "/admin/subscriptions/pollschedule/", "/admin/subscriptions/pollrun/",
        "/admin/subscriptions/feeditem/"]]
    assert [page.status_code for page in pages] == [200] * 6
    text = "".join(page.content.decode() for page in pages[:2])
    assert "present" in text
    for secret in (account.access_token, account.refresh_token, account.access_token_encrypted,
                   account.refresh_token_encrypted):
        assert secret not in text
    assert staff_client.get("/admin/subscriptions/provideraccount/add/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_health_reports_each_provider_from_its_breakers(client, settings):
    settings.HEALTH_TOKEN = "monitor"
    checks = client.get("/health?token=monitor").json()["checks"]
    assert checks["subscriptions.spotify"]["status"] == "ok"
    assert checks["subscriptions.youtube"]["breakers"] == {"youtube": "unused", "youtube-oauth": "unused"}
    settings.BREAKER_FAILURE_THRESHOLD = 1
    breaker.before_call("spotify")
    breaker.record_failure("spotify", "HTTP 503")
    body = client.get("/health?token=monitor").json()
    assert body["checks"]["subscriptions.spotify"]["status"] == "down"
    assert body["checks"]["subscriptions.youtube"]["status"] == "ok"
    assert body["status"] == "degraded"  # not required: Harbor serves on without Spotify
    assert client.get("/health").status_code == 200
