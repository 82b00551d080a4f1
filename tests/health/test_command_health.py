import json
import time

import pytest

from ..conftest import run_manage
from .conftest import APP_CHECKS, BUILT_IN_CHECKS

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_exits_0_and_prints_a_table_on_a_healthy_system():
    result = run_manage("health")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "STATUS", "DETAILS"]
    assert {line.split()[0] for line in lines[1:] if line.strip() and not line.startswith("status:")} == (
        BUILT_IN_CHECKS | APP_CHECKS
    )
    assert "status: ok" in result.stdout


def test_it_exits_1_quickly_when_the_channel_layer_is_unreachable():
    started = time.monotonic()
    # Port 1 is closed: connections are refused, as with a Redis that is down.
    result = run_manage("health", "--json", REDIS_URL="redis://127.0.0.1:1/0", HEALTH_CHECK_TIMEOUT_SECONDS="2")
    assert time.monotonic() - started < 15
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "down"
    assert report["checks"]["channel_layer"]["status"] == "down"
    assert report["checks"]["channel_layer"]["error"]
    assert report["checks"]["database"]["status"] == "ok"
