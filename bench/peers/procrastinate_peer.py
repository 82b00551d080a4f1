"""Procrastinate (https://procrastinate.readthedocs.io, a PostgreSQL task queue for Python) as
the queue benchmark's peer: a no-op task, jobs deferred in bulk beforehand, workers of
`concurrency` each, on the same database as Harbor's legs. Run by bench/queue.py:

    python -m bench.peers.procrastinate_peer setup <postgres url> <jobs>
    python -m bench.peers.procrastinate_peer work <postgres url> <concurrency>    # until SIGTERM

`done(url)` counts the jobs that succeeded (what the benchmark's rate is made of)."""

import asyncio
import sys

import procrastinate

def make_app(url: str):
    """The peer's app on `url`, with its one task."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    async def noop():
        """The job: nothing, so the figure is the queue's own cost."""

    return app, noop


async def setup(url: str, jobs: int) -> None:
    app, noop = make_app(url)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        for start in range(0, jobs, 5000):
            await noop.batch_defer_async(*[{}] * min(5000, jobs - start))


async def work(url: str, concurrency: int) -> None:
    app, _ = make_app(url)
    async with app.open_async():
        # delete_jobs="never": succeeded jobs stay, so the benchmark counts them
        await app.run_worker_async(concurrency=concurrency, wait=True, delete_jobs="never")


def done(connection) -> int:
    """Jobs succeeded so far, on a psycopg connection."""
    return connection.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'").fetchone()[0]


def double_runs(connection) -> int:
    """Jobs started more than once (their event log says so): 0 in a sound run."""
    return connection.execute(
        "SELECT count(*) FROM (SELECT job_id FROM procrastinate_events WHERE type = 'started' "
        "GROUP BY job_id HAVING count(*) > 1) AS doubled"
    ).fetchone()[0]


if __name__ == "__main__":
    command, url, number = sys.argv[1], sys.argv[2], int(sys.argv[3])
    asyncio.run(setup(url, number) if command == "setup" else work(url, number))
