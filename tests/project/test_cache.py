"""With Redis unreachable the cache fails open: throttles and login lockouts stop counting
instead of failing every request, and /health says the cache is down."""

import pytest
from django.core.cache import cache
from django.test import override_settings

from project.health.checks import cache_check
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

UNREACHABLE = {"default": {"BACKEND": "project.cache.FailOpenRedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}


@pytest.fixture
def redis_down():
    with override_settings(CACHES=UNREACHABLE):
        yield


def test_reads_miss_and_writes_are_dropped(redis_down, caplog):
    cache.set("k", "v")
    assert cache.get("k", "default") == "default"
    assert cache.add("k", 1) is True
    assert cache.get_many(["k"]) == {}
    with pytest.raises(ValueError):
        cache.incr("k")
    assert "cache unreachable; failing open" in caplog.text


def test_the_api_still_answers_without_its_throttle_counters(redis_down, alice_api):
    assert alice_api.get("/api/tenants").status_code == 200


def test_logging_in_still_works(redis_down, alice, client):
    response = client.post("/accounts/login/", {"username": alice.email, "password": PASSWORD})
    assert response.status_code == 302


def test_health_reports_the_cache_down(redis_down):
    assert cache_check()["status"] == "down"
