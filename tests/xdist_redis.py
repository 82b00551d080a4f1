"""Redis databases of its own for each pytest-xdist worker, as pytest-django gives each a
database of its own (`test_<name>_gw0`, `_gw1`).

Loaded with `-p tests.xdist_redis` (bin/test) so that it runs before pytest-django imports the
settings, which read `REDIS_URL` once. Without it two workers would share one channel layer
(workflow 1 of one worker's database is workflow 1 of the other's, so each would receive the
other's events) and empty each other's cache (`cache.clear()` is a FLUSHDB). Worker n moves
`REDIS_URL` (channel layer, and the cache one database above) and the benchmarks'
`BENCH_REDIS_URL` up by 2n databases; the daphne and manage.py processes a test starts inherit
the moved values."""

import os

_DEFAULT_BENCH_REDIS_URL = "redis://127.0.0.1:6379/6"  # bench/harness.py's


def _moved(url: str, databases: int) -> str:
    base, _, db = url.rpartition("/")
    return f"{base}/{int(db or 0) + databases}"


_worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", … set before plugins load
if _worker.startswith("gw"):
    _offset = 2 * int(_worker[2:])
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = _moved(os.environ["REDIS_URL"], _offset)
    os.environ["BENCH_REDIS_URL"] = _moved(os.environ.get("BENCH_REDIS_URL", _DEFAULT_BENCH_REDIS_URL), _offset)
