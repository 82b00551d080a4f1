"""schemathesis against /api/schema/: every operation with generated (and deliberately invalid)
input, as alice, who owns a tenant with a workflow. No input may cause a 5xx, and documented
responses must match the schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from project.accounts import services as accounts
from workflows import services as workflows

pytestmark = pytest.mark.django_db

#: Enough to reach every branch of our validation without making the suite slow.
EXAMPLES_PER_OPERATION = 15


schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """As Django's test client does: a request must not close the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def alice_token(alice, acme, bob):
    workflows.create_workflow(acme, alice, "Fuzzed", [(bob.email, "editor")])
    return accounts.issue_api_token(alice, "fuzz")[1]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    # The same examples on every run: CI stays reproducible; widen EXAMPLES_PER_OPERATION to explore.
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_makes_the_api_fail(case, alice_token, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
    case.call_and_validate(
        headers={"Authorization": f"Bearer {alice_token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
