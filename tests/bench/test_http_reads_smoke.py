"""The reads benchmark must not rot: `bin/bench http_reads` end to end on SQLite under gunicorn
(its own database, the real servers, wrk), checked as its user reads it: Harbor's page, its
unchanged poll (304s only), the DRF tutorial peer, the hello baseline, the CPU rows and ok."""

import shutil

import pytest
from django.conf import settings

from bench.harness import Run
from bench.http_reads import http_reads

pytestmark = [
    pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed (bin/test installs it)"),
    # The benchmark code is the same on both databases: the embedded leg keeps it from rotting.
    pytest.mark.skipif("sqlite" not in settings.DATABASES["default"]["ENGINE"], reason="embedded leg only"),
]


@pytest.mark.timeout(300)  # three servers of four gunicorn workers each boot on a busy machine
def test_a_page_a_poll_the_drf_peer_and_hello_are_measured_side_by_side(tmp_path):
    result = http_reads(Run(quick=True, db="sqlite", processes=None, workdir=tmp_path,
                            options={"server": "gunicorn", "duration": 1}))

    assert result.ok, result.notes
    legs = [row["leg"] for row in result.rows]
    assert legs[:4] == ["harbor page of 50, gunicorn ×4", "harbor unchanged poll (304), gunicorn ×4",
                        "DRF tutorial ListAPIView, gunicorn ×4", "baseline hello, same bytes, gunicorn ×4"]
    page, poll, peer, hello = result.rows[:4]
    assert poll["response bytes"] == 0 and peer["response bytes"] > 10_000
    assert all(row["req/s"] > 0 and row["non-2xx"] == 0 for row in (page, poll, peer, hello))
    assert page["÷ DRF peer"] > 0 and poll["÷ hello"] > 0
    assert [c["status"] for c in result.data["cpu_ms_per_request"].values()] == [200, 304, 200]
