"""The hot path stays cheap: these counts are the whole request (the token with the caller's
permissions, the claim, events)."""

import pytest

from .conftest import claim_next, post

pytestmark = pytest.mark.django_db

@pytest.fixture
def warm_robot_api(robot_api):
    robot_api.get("/api/queue/messages?limit=1")  # the token's once-a-minute last_used_at write
    return robot_api


def test_claim_next_costs_a_fixed_number_of_queries(alice_api, warm_robot_api, django_assert_num_queries):
    post(alice_api)
    # token (with the bot permission) + SAVEPOINT + the claim (one UPDATE … RETURNING) + event + RELEASE
    with django_assert_num_queries(5):
        assert claim_next(warm_robot_api).status_code == 201
    with django_assert_num_queries(4):  # nothing to claim
        assert claim_next(warm_robot_api).status_code == 204


def test_complete_with_next_costs_a_fixed_number_of_queries(alice_api, warm_robot_api, django_assert_num_queries):
    post(alice_api)
    post(alice_api)
    claimed = claim_next(warm_robot_api).json()
    body = {"worker_id": "w1", "claim_token": claimed["claim_token"], "reply": "r", "next": True}
    # token (with the permission) + SAVEPOINT + the completion (UPDATE … RETURNING) + reply INSERT
    # + the next claim (UPDATE … RETURNING) + the author's notification (recipient with unread
    # count, INSERT) + its event and both queue events in one INSERT + RELEASE
    with django_assert_num_queries(9):
        response = warm_robot_api.post(f"/api/queue/messages/{claimed['id']}/complete", body, format="json")
    assert response.status_code == 200 and response.json()["next"]


def _post_many(count, author):
    from queue_app import services

    for n in range(count):
        services.post_message(author, f"question {n}")


@pytest.mark.parametrize("size", [1, 10, 40])
def test_a_batched_claim_costs_the_same_queries_for_1_10_or_40(alice, warm_robot_api, size, django_assert_num_queries):
    _post_many(size, alice)
    # token (with the bot permission) + SAVEPOINT + the claim (one UPDATE … WHERE id IN (…)
    # RETURNING) + their events in one INSERT + RELEASE
    with django_assert_num_queries(5):
        response = warm_robot_api.post("/api/queue/claims", {"worker_id": "w1", "limit": size}, format="json")
    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", [1, 10, 40])
def test_a_batched_completion_costs_the_same_queries_for_1_10_or_40(alice, warm_robot_api, size, django_assert_num_queries):
    _post_many(2 * size, alice)
    claimed = warm_robot_api.post("/api/queue/claims", {"worker_id": "w1", "limit": size}, format="json").json()["results"]
    claims = [{"id": c["id"], "claim_token": c["claim_token"], "reply": "r"} for c in claimed]
    # token (with the permission) + SAVEPOINT + the completions (one UPDATE … RETURNING) + replies
    # in one INSERT + the next claims (UPDATE … RETURNING) + the authors' notifications (targets
    # with unread counts, one INSERT) + their events and every queue event in one INSERT + RELEASE
    with django_assert_num_queries(9):
        response = warm_robot_api.post("/api/queue/completions", {"worker_id": "w1", "claims": claims, "next": size},
                                       format="json")
    body = response.json()
    assert [r["status"] for r in body["completed"]["results"]] == [200] * size and len(body["next"]["results"]) == size


@pytest.mark.parametrize("size", [1, 10, 40])
def test_batched_failures_and_releases_cost_the_same_queries_for_1_10_or_40(alice, warm_robot_api, size, django_assert_num_queries):
    _post_many(2 * size, alice)
    claimed = [c for _ in range(2) for c in
               warm_robot_api.post("/api/queue/claims", {"worker_id": "w1", "limit": size}, format="json").json()["results"]]
    failures = [{"id": c["id"], "claim_token": c["claim_token"], "error": "boom"} for c in claimed[:size]]
    releases = [{"id": c["id"], "claim_token": c["claim_token"]} for c in claimed[size:]]
    # token (with the permission) + SAVEPOINT + one UPDATE … RETURNING + their events in one INSERT + RELEASE
    with django_assert_num_queries(5):
        assert warm_robot_api.post("/api/queue/failures", {"worker_id": "w1", "claims": failures}, format="json").status_code == 200
    with django_assert_num_queries(5):
        assert warm_robot_api.post("/api/queue/releases", {"worker_id": "w1", "claims": releases}, format="json").status_code == 200
