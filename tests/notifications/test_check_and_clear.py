"""The original routes: /notifications/{userEmail}/check and /clear."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from notifications import services
from notifications.models import Kind, Notification
from project.realtime.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def bobs(bob):
    return [services.notify([bob], Kind.QUEUE_REPLY, title=f"Reply {n}")[0] for n in range(4)]


@override_settings(NOTIFICATIONS_CHECK_LATEST=2)
def test_check_gives_the_unread_count_and_the_newest(bob_api, bob, bobs):
    services.mark_read(bob, [bobs[3].pk])
    body = bob_api.get(f"/notifications/{bob.email}/check").json()
    assert body["unread"] == 3
    assert [n["title"] for n in body["latest"]] == ["Reply 3", "Reply 2"]
    assert body["latest"][0]["read_at"] is not None


def test_the_email_matches_case_insensitively(bob_api, bob, bobs):
    assert bob_api.get(f"/notifications/{bob.email.upper()}/check").json()["unread"] == 4


def test_clear_marks_all_read_and_pushes_the_count(bob_api, bob, bobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = bob_api.post(f"/notifications/{bob.email}/clear")
    assert response.status_code == 200
    assert response.json() == {"cleared": 4, "unread": 0}
    assert not Notification.objects.filter(recipient=bob, read_at__isnull=True).exists()
    assert Event.objects.filter(group=f"user.{bob.pk}", type="notification.count").last().data == {"unread": 0}


def test_clear_with_ids_marks_only_those(bob_api, bob, bobs):
    response = bob_api.post(f"/notifications/{bob.email}/clear", {"ids": [bobs[0].pk, bobs[2].pk]}, format="json")
    assert response.json() == {"cleared": 2, "unread": 2}


def test_clearing_again_changes_nothing_and_pushes_nothing(bob_api, bob, bobs):
    bob_api.post(f"/notifications/{bob.email}/clear")
    pushed = Event.objects.filter(type="notification.count").count()
    assert bob_api.post(f"/notifications/{bob.email}/clear").json() == {"cleared": 0, "unread": 0}
    assert Event.objects.filter(type="notification.count").count() == pushed


def test_ids_of_someone_else_clear_nothing_of_theirs(bob_api, bob, carol):
    [theirs] = services.notify([carol], Kind.QUEUE_REPLY, title="Carol's")
    assert bob_api.post(f"/notifications/{bob.email}/clear", {"ids": [theirs.pk]}, format="json").json()["cleared"] == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize("ids", [[], ["seven"], [0], "1,2", list(range(1, 1002))])
def test_bad_ids_are_a_400_naming_the_field(bob_api, bob, ids):
    response = bob_api.post(f"/notifications/{bob.email}/clear", {"ids": ids}, format="json")
    assert response.status_code == 400
    assert "ids" in response.json()["error"]["fields"]


@pytest.mark.parametrize("method, route", [("get", "check"), ("post", "clear")])
def test_another_users_email_is_a_404_on_every_route(bob_api, carol, method, route):
    [theirs] = services.notify([carol], Kind.QUEUE_REPLY, title="Carol's secret")
    response = getattr(bob_api, method)(f"/notifications/{carol.email}/{route}")
    assert response.status_code == 404
    assert "secret" not in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize("method, route", [("get", "check"), ("post", "clear")])
def test_anonymous_callers_get_401(bob, method, route):
    assert getattr(APIClient(), method)(f"/notifications/{bob.email}/{route}").status_code == 401


def test_a_browser_session_needs_the_csrf_token_to_clear(bob, bobs):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(bob)
    assert browser.get(f"/notifications/{bob.email}/check").status_code == 200
    assert browser.post(f"/notifications/{bob.email}/clear").status_code == 403
    assert Notification.objects.filter(recipient=bob, read_at__isnull=True).count() == 4
