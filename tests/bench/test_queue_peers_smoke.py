"""The queue benchmark's peers must not rot: Procrastinate and PgQueuer (bench/peers/) pre-fill
and work their no-op jobs on the PostgreSQL test database, and the benchmark's peer leg counts
what they finished. PostgreSQL only (both are PostgreSQL queues); needs the `[bench]` extra."""

import pytest
from django.conf import settings

from tests.conftest import subprocess_database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("postgresql" not in settings.DATABASES["default"]["ENGINE"], reason="the peers need PostgreSQL"),
]


@pytest.fixture
def peer_database():
    """A database of its own beside the test database (the peers install their schemas, which
    cannot be installed twice), dropped afterwards."""
    import psycopg

    base = subprocess_database_url()
    name = base.rsplit("/", 1)[1] + "_peers"
    admin = base.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("module, setting", [("procrastinate_peer", 4), ("pgqueuer_peer", 10)])
def test_a_peer_leg_works_its_prefilled_jobs(module, setting, tmp_path, peer_database):
    pytest.importorskip("procrastinate" if module.startswith("procrastinate") else "pgqueuer")
    from bench import queue as queue_bench

    figures = queue_bench.peer(module, setting, 300, 1.0, peer_database, tmp_path)
    assert figures["done"] > 0 and (figures["jobs_per_s"] > 0 or figures["ran_dry"])
    assert not figures.get("double_runs")
    # Who used the cores meanwhile (bench.harness.CpuMeter): PgQueuer works 300 jobs in a few
    # milliseconds, under the clock's 10 ms tick, so here only its presence is certain
    # (test_the_cpu_meter_counts_postgres_backends checks what it counts).
    assert isinstance(figures["cores"], dict)


def test_the_cpu_meter_counts_postgres_backends(peer_database):
    import psycopg

    from bench.harness import CpuMeter

    with psycopg.connect(peer_database.replace("postgres://", "postgresql://", 1)) as connection:
        with CpuMeter() as meter:
            connection.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
    assert meter.cores.get("postgres", 0) > 0
