"""Queue personas: robot is a bot (holds queue_app.work_queue), rival is a second bot, alice
and bob post as humans, staff retries dead letters."""

import pytest

from project.accounts import services as accounts
from queue_app import services

from ..conftest import PASSWORD, bearer_client


@pytest.fixture
def robot(db):
    return services.make_bot(accounts.register_user("robot@example.com", PASSWORD, display_name="Robot"))


@pytest.fixture
def rival(db):
    return services.make_bot(accounts.register_user("rival@example.com", PASSWORD, display_name="Rival"))


@pytest.fixture
def staff(db):
    user = accounts.register_user("staff@example.com", PASSWORD, display_name="Staff")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def robot_api(robot):
    return bearer_client(robot)


@pytest.fixture
def staff_api(staff):
    return bearer_client(staff)


def post(client, text="hello", **fields):
    response = client.post("/api/queue/messages", {"text": text, **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def claim_next(client, worker="w1", **fields):
    return client.post("/api/queue/claims", {"worker_id": worker, **fields}, format="json")


def claim(client, message_id, worker="w1", **fields):
    return client.post("/api/queue/claims", {"worker_id": worker, "message_id": message_id, **fields}, format="json")


def act(client, action, claimed, worker="w1", **fields):
    """complete / fail / release / heartbeat on a claimed message, with its token."""
    body = {"worker_id": worker, "claim_token": claimed["claim_token"], **fields}
    return client.post(f"/api/queue/messages/{claimed['id']}/{action}", body, format="json")
