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
    response = client.post("/api/comments", {"text": text, **fields}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def claim_next(client, worker="w1", **fields):
    return client.post("/api/queue/claim-next", {"workerId": worker, **fields}, format="json")
