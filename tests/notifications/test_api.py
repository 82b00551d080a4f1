import pytest
from rest_framework.test import APIClient

from notifications import services
from notifications.models import EMAIL_KINDS, Kind, Notification
from project.realtime.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_for_bob(bob):
    return [services.notify([bob], Kind.QUEUE_REPLY, title=f"Reply {n}")[0] for n in range(3)]


def test_the_list_is_the_callers_own_newest_first(bob_api, three_for_bob, carol):
    services.notify([carol], Kind.QUEUE_REPLY, title="Carol's")
    body = bob_api.get("/api/notifications").json()
    assert body["has_more"] is False and set(body) == {"results", "next_cursor", "has_more"}
    assert [n["title"] for n in body["results"]] == ["Reply 2", "Reply 1", "Reply 0"]
    assert set(body["results"][0]) == {"id", "kind", "title", "body", "link", "payload", "tenant_id", "created_at", "read_at"}


def test_unread_true_filters_to_unread(bob_api, bob, three_for_bob):
    services.mark_read(bob, [three_for_bob[0].pk])
    assert [n["title"] for n in bob_api.get("/api/notifications?unread=true").json()["results"]] == ["Reply 2", "Reply 1"]
    assert [n["title"] for n in bob_api.get("/api/notifications?unread=false").json()["results"]] == ["Reply 0"]


def test_a_bad_unread_filter_is_a_400_naming_it(bob_api):
    response = bob_api.get("/api/notifications?unread=maybe")
    assert response.status_code == 400
    assert "unread" in response.json()["error"]["fields"]


def test_reading_one_returns_it_and_the_new_count(bob_api, bob, three_for_bob, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = bob_api.post(f"/api/notifications/{three_for_bob[1].pk}/read")
    assert response.status_code == 200
    assert response.json()["notification"]["read_at"] is not None
    assert response.json()["unread"] == 2
    assert response.json()["notification"]["id"] == str(three_for_bob[1].pk)
    assert Event.objects.filter(group=f"user.{bob.pk}", type="notification_count.changed").last().data == {"unread": 2}


def test_reading_someone_elses_notification_is_a_404_and_changes_nothing(bob_api, carol):
    [theirs] = services.notify([carol], Kind.QUEUE_REPLY, title="Carol's")
    response = bob_api.post(f"/api/notifications/{theirs.pk}/read")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_anonymous_callers_get_401():
    assert APIClient().get("/api/notifications").status_code == 401


def test_the_list_pages_with_a_cursor(bob_api, three_for_bob):
    first = bob_api.get("/api/notifications?limit=2").json()
    assert [n["title"] for n in first["results"]] == ["Reply 2", "Reply 1"] and first["has_more"] is True
    rest = bob_api.get(f"/api/notifications?limit=2&cursor={first['next_cursor']}").json()
    assert [n["title"] for n in rest["results"]] == ["Reply 0"] and rest["has_more"] is False
    for query in ("limit=", "limit=0", "cursor="):
        response = bob_api.get(f"/api/notifications?{query}")
        assert response.status_code == 400 and query.split("=")[0] in response.json()["error"]["fields"]


def test_preferences_list_every_kind_and_patch_changes_some(bob_api, bob):
    assert bob_api.get("/api/notifications/preferences").json() == {
        "kinds": {kind: True for kind in Kind.values},
        "email_kinds": {kind: True for kind in EMAIL_KINDS},
    }
    response = bob_api.patch("/api/notifications/preferences", {"kinds": {"workflow.mention": False}}, format="json")
    assert response.status_code == 200
    assert response.json()["kinds"]["workflow.mention"] is False
    assert response.json()["kinds"]["workflow.completed"] is True
    services.notify([bob], Kind.WORKFLOW_MENTION, title="muted")
    assert not Notification.objects.filter(recipient=bob).exists()


def test_email_preferences_are_beside_the_in_app_ones_and_patch_changes_only_those_named(bob_api, bob):
    response = bob_api.patch("/api/notifications/preferences", {"email_kinds": {"queue.reply": False}}, format="json")
    assert response.status_code == 200
    assert response.json()["email_kinds"] == {kind: kind != "queue.reply" for kind in EMAIL_KINDS}
    assert all(response.json()["kinds"].values())  # still shown in the app
    assert services.emailed_kinds(bob)["queue.reply"] is False


@pytest.mark.parametrize(
    "body, field, kind",
    [
        ({"kinds": {"workflow.mentions": False}}, "kinds", "workflow.mentions"),
        ({"kinds": {"workflow.mention": "perhaps"}}, "kinds", "workflow.mention"),
        ({"kinds": {"workflow.mention": 0}}, "kinds", "workflow.mention"),
        ({"kinds": ["workflow.mention"]}, "kinds", None),
        # A kind outside `kinds` is a field the body does not have.
        ({"workflow.mention": False}, "workflow.mention", None),
        # Only what a person can miss is emailed: a completed workflow never is.
        ({"email_kinds": {"workflow.completed": False}}, "email_kinds", "workflow.completed"),
        ({"email_kinds": {"queue.reply": "no"}}, "email_kinds", "queue.reply"),
    ],
)
def test_bad_preferences_are_a_400_naming_the_field_and_the_kind(bob_api, body, field, kind):
    response = bob_api.patch("/api/notifications/preferences", body, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == [field]
    if kind:
        assert kind in fields[field]
