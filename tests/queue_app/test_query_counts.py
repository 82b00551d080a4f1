"""The hot path stays cheap: these counts are the whole request (token, permission, claim, event)."""

import pytest

from .conftest import claim_next, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def warm_robot_api(robot_api):
    robot_api.get("/api/queue/messages?limit=1")  # the token's once-a-minute last_used_at write
    return robot_api


def test_claim_next_costs_a_fixed_number_of_queries(alice_api, warm_robot_api, django_assert_num_queries):
    post(alice_api)
    # token + bot permission + SAVEPOINT + the claim (one UPDATE … RETURNING) + event + RELEASE
    with django_assert_num_queries(6):
        assert claim_next(warm_robot_api).status_code == 201
    with django_assert_num_queries(5):  # nothing to claim
        assert claim_next(warm_robot_api).status_code == 204


def test_complete_with_next_costs_a_fixed_number_of_queries(alice_api, warm_robot_api, django_assert_num_queries):
    post(alice_api)
    post(alice_api)
    claimed = claim_next(warm_robot_api).json()
    body = {"worker_id": "w1", "claim_token": claimed["claim_token"], "reply": "r", "next": True}
    # token + permission + SAVEPOINT + the completion (UPDATE … RETURNING) + reply INSERT
    # + the author's notification (recipient with unread count, INSERT, its event)
    # + the next claim (UPDATE … RETURNING) + both queue events in one INSERT + RELEASE
    with django_assert_num_queries(11):
        response = warm_robot_api.post(f"/api/queue/messages/{claimed['id']}/complete", body, format="json")
    assert response.status_code == 200 and response.json()["next"]
