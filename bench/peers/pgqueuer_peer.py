"""PgQueuer (https://pgqueuer.readthedocs.io, a PostgreSQL job queue built on SKIP LOCKED and
LISTEN/NOTIFY) as the queue benchmark's peer: a no-op entrypoint, jobs enqueued in bulk
beforehand, workers dequeuing `batch` jobs at a time, on the same database as Harbor's legs.
Run by bench/queue.py:

    python -m bench.peers.pgqueuer_peer setup <postgres url> <jobs>
    python -m bench.peers.pgqueuer_peer work <postgres url> <batch size>    # until SIGTERM

PgQueuer moves a finished job from its queue table to its log: `done()` counts the log."""

import asyncio
import signal
import sys

import asyncpg
from pgqueuer import PgQueuer, Queries
from pgqueuer.db import AsyncpgDriver


async def setup(url: str, jobs: int) -> None:
    connection = await asyncpg.connect(url)
    try:
        queries = Queries(AsyncpgDriver(connection))
        await queries.install()
        for start in range(0, jobs, 5000):
            size = min(5000, jobs - start)
            await queries.enqueue(["noop"] * size, [None] * size, [0] * size)
    finally:
        await connection.close()


async def work(url: str, batch_size: int) -> None:
    connection = await asyncpg.connect(url)
    pgq = PgQueuer(AsyncpgDriver(connection))

    @pgq.entrypoint("noop")
    async def noop(job) -> None:
        """The job: nothing, so the figure is the queue's own cost."""

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, pgq.shutdown.set)
    try:
        await pgq.run(batch_size=batch_size)
    finally:
        await connection.close()


def done(connection) -> int:
    """Jobs finished so far (successfully), on a psycopg connection."""
    return connection.execute("SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'").fetchone()[0]


if __name__ == "__main__":
    command, url, number = sys.argv[1], sys.argv[2], int(sys.argv[3])
    asyncio.run(setup(url, number) if command == "setup" else work(url, number))
