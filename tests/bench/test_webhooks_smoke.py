"""The webhooks benchmark must not rot: `bin/bench webhooks` end to end with 20 events on
SQLite (its own database file, the receiver processes, the real command, the plain client)."""

import pytest
from django.conf import settings

from bench.harness import Run
from bench.webhooks import ENDPOINTS
from bench.webhooks import webhooks as webhooks_benchmark

# It benchmarks a SQLite database of its own whatever the leg: once, on the embedded leg, is enough.
pytestmark = pytest.mark.skipif("sqlite" not in settings.DATABASES["default"]["ENGINE"], reason="embedded leg only")


def test_every_delivery_arrives_once_in_order_from_harbor_and_from_the_plain_client(tmp_path):
    result = webhooks_benchmark(Run(quick=True, db="sqlite", processes=None, workdir=tmp_path, options={"events": 20}))

    assert result.ok, result.notes
    assert [(row["leg"], row["endpoints"], row["deliveries"]) for row in result.rows] == [
        ("harbor deliver_webhooks", 1, 20), ("plain requests loop", 1, 20),
        ("harbor deliver_webhooks", ENDPOINTS, 20 * ENDPOINTS), ("plain requests loop", ENDPOINTS, 20 * ENDPOINTS),
    ]
    assert all(row["×plain"] > 0 for row in result.rows if row["leg"].startswith("harbor"))
