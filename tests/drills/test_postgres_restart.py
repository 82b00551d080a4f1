"""Failure drill: PostgreSQL restarts under a running server. While it is down the API answers
503 with Retry-After and /health says the database is down; once it is back both recover on
their own, and nothing written before the restart is lost.

The drill runs its own PostgreSQL cluster, so that restarting it disturbs nothing else."""

import pytest
from django.db import connection

from tests.conftest import DaphneProcess, http_json

from .services import PrivatePostgres, manage, wait_for

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="scale-out drill: runs on the PostgreSQL + Redis leg"),
    pytest.mark.skipif(not PrivatePostgres.available, reason="needs PostgreSQL's server binaries and runuser"),
]

MAKE_ALICE = """
from project.accounts import services
alice = services.register_user("alice@example.com", "correct horse battery staple")
print(services.issue_api_token(alice, "drill")[1])
"""


@pytest.fixture
def server(postgres):
    daphne = DaphneProcess({"DATABASE_URL": postgres.url})
    daphne.wait_until_healthy()
    yield daphne
    daphne.stop()


def test_the_api_and_health_ride_out_a_database_restart(postgres, server):
    token = manage(postgres.url, "shell", "--no-imports", "-c", MAKE_ALICE).strip()
    tenants = f"{server.url}/api/tenants"
    assert http_json("POST", tenants, {"name": "Before"}, token=token)[0] == 201

    postgres.stop()
    status, body = http_json("POST", tenants, {"name": "During"}, token=token)
    assert (status, body["error"]["code"]) == (503, "unavailable")
    status, health = http_json("GET", f"{server.url}/health")
    assert status == 503
    assert health["checks"]["database"]["status"] == "down"

    postgres.start()
    wait_for(lambda: http_json("GET", f"{server.url}/health")[0] == 200, "health after the restart", timeout=30)
    assert http_json("POST", tenants, {"name": "After"}, token=token)[0] == 201
    status, listed = http_json("GET", tenants, token=token)
    names = {tenant["name"] for tenant in listed["results"]}
    assert {"Before", "After"} <= names and "During" not in names
