"""The version of a group's polled lists, which a conditional GET compares without reading rows.

Every change to a polled list publishes an event to its group (project.realtime.services), so
"the group has had no event since" means "the list is unchanged". The version is taken where it
is exact for every writer, whichever process wrote:

- scale-out (the cache is Redis, shared by every process): a key per group that the publishing
  process sets to a fresh random token right after its transaction commits (`bump`, called
  from publish's on-commit hook). A reader takes the version *before* it reads the rows, so any
  commit the rows miss sets the key again later, and the next poll sees another token (a commit
  between the version and the rows only costs one extra full read). A missing key (expired, or
  Redis restarted empty) is read from the event log and stored only if still absent (`SET NX`),
  so it never overwrites a writer's newer token;
- embedded (the cache is per process; the bot and the poller write from other processes), or
  Redis unreachable: the event log itself (`log_version`), one probe of its (group, id) index.

A Redis outage never yields a wrong 304: a read that fails falls back to the log, and a bump
that fails is retried (a delete) on this process's next cache operation; keys also expire
after VERSION_TTL, which bounds how long a bump lost with its process could go unnoticed.
"""

import logging
import secrets
import threading

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.db import connection
from redis.exceptions import NoScriptError

from project.cache import Script, redis_client

logger = logging.getLogger(__name__)

#: Seconds a group's token lives in Redis: a bump lost with its process (it committed, then died
#: before reaching Redis) is noticed at most this late; a key that expired costs one log probe.
VERSION_TTL = 300
#: On PostgreSQL, transactions commit in another order than they took their ids: a poll between
#: two commits could see the later id first. The log probe also counts the group's events in a
#: window below its newest id, so a late commit with a lower id still changes the version (ids
#: taken more than this many events before it, by a transaction still open, are the limit).
LATE_COMMIT_WINDOW = 100_000

_unbumped: set[str] = set()
_unbumped_lock = threading.Lock()


def _keys(groups) -> list[str]:
    """The Redis key of each group's version, with the cache looked up once (each read of
    django.core.cache.cache is a thread-local lookup: a queue batch bumps 41 groups)."""
    make_key = caches[DEFAULT_CACHE_ALIAS].make_key
    return [make_key(f"listver:{group}") for group in groups]


def bump(groups) -> None:
    """Give each of `groups` a new version. Call after the commit that changed their lists."""
    client = redis_client()
    if client is None:
        return
    groups = set(groups)
    with _unbumped_lock:
        stale = set(_unbumped)
        _unbumped.clear()
    version = "r" + secrets.token_hex(8)  # new for each commit; the groups of one may share it
    stale_keys, keys = _keys(stale), _keys(groups)
    try:
        try:
            _set_versions(client, stale_keys, keys, version)
        except NoScriptError:
            SET_ALL.load(client)
            _set_versions(client, stale_keys, keys, version)
    except Exception as error:  # the commit is done; readers fall back to the log meanwhile
        with _unbumped_lock:
            _unbumped.update(groups | stale)
        logger.warning("list versions not bumped", extra={"groups": sorted(groups), "error": str(error)})


#: Every key of KEYS set to ARGV[1] for ARGV[2] seconds: a commit's groups (a queue batch's
#: stream and its 40 authors') in one command, not one SET each.
SET_ALL = Script("""
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'EX', ARGV[2])
end
return #KEYS
""")


def _set_versions(client, stale_keys: list, keys: list, version: str) -> None:
    pipe = client.pipeline(transaction=False)
    if stale_keys:
        pipe.delete(*stale_keys)
    if keys:
        pipe.evalsha(*SET_ALL.command(keys, [version, VERSION_TTL]))
    pipe.execute()


def list_version(group: str) -> str:
    """The current version of `group`'s lists, as an opaque string. Take it before the rows."""
    client = redis_client()
    if client is None:
        return log_version(group)
    try:
        if _unbumped:
            bump(())
        key = _keys([group])[0]
        stored = client.get(key)
        if stored is not None:
            return stored.decode()
        version = log_version(group)
        client.set(key, version, ex=VERSION_TTL, nx=True)
        return version
    except Exception as error:
        logger.warning("list version unreadable; reading the event log", extra={"group": group, "error": str(error)})
        return log_version(group)


def list_versions(groups, then=None) -> tuple[list[str], list | None]:
    """`list_version` of each of `groups`, in their order, in one round trip when every key is
    in Redis (an MGET: project.polls reads a list's version and its caller's rights' versions
    on every unchanged poll); a key that is missing is read as `list_version` reads it.
    `then(pipe)` may queue more commands on the same Redis pipeline: their results come second,
    or None when there was no pipeline (embedded, or Redis unreachable)."""
    client = redis_client()
    if client is None:
        return log_versions(groups), None
    try:
        if _unbumped:
            bump(())
        pipe = client.pipeline(transaction=False)
        pipe.mget(_keys(groups))
        if then is not None:
            then(pipe)
        stored, *more = pipe.execute()
    except Exception as error:
        logger.warning("list versions unreadable; reading the event log", extra={"groups": list(groups), "error": str(error)})
        return log_versions(groups), None
    versions = [value.decode() if value is not None else list_version(group) for group, value in zip(groups, stored)]
    return versions, more


_LOG_PROBE = {}


def log_version(group: str) -> str:
    """The version from the event log: its newest id for `group` (SQLite commits one writer at a
    time, in id order), and on PostgreSQL also how many of the group's events lie in the window
    below it (see LATE_COMMIT_WINDOW)."""
    from .models import Event

    vendor = connection.vendor
    if vendor not in _LOG_PROBE:
        table, column = connection.ops.quote_name(Event._meta.db_table), connection.ops.quote_name("group")
        if vendor == "postgresql":
            _LOG_PROBE[vendor] = (
                f"SELECT MAX(id), COUNT(*), MIN(id) FROM {table} WHERE {column} = %s AND id > "
                f"COALESCE((SELECT MAX(id) FROM {table} WHERE {column} = %s), 0) - {LATE_COMMIT_WINDOW}",
                2,
            )
        else:
            _LOG_PROBE[vendor] = (f"SELECT MAX(id) FROM {table} WHERE {column} = %s", 1)
    sql, uses = _LOG_PROBE[vendor]
    with connection.cursor() as cursor:
        cursor.execute(sql, [group] * uses)
        row = cursor.fetchone()
    return "d" + ".".join(str(value or 0) for value in row)


def log_versions(groups) -> list[str]:
    """`log_version` of each of `groups`: on SQLite in one statement (its newest id per group,
    one index probe each), elsewhere one probe per group (the window count is per group)."""
    from .models import Event

    if connection.vendor != "sqlite" or len(groups) < 2:
        return [log_version(group) for group in groups]
    if "sqlite-many" not in _LOG_PROBE:
        table, column = connection.ops.quote_name(Event._meta.db_table), connection.ops.quote_name("group")
        _LOG_PROBE["sqlite-many"] = f"SELECT {column}, MAX(id) FROM {table} WHERE {column} IN (%s) GROUP BY {column}"
    with connection.cursor() as cursor:
        cursor.execute(_LOG_PROBE["sqlite-many"] % ", ".join(["%s"] * len(groups)), list(groups))
        newest = dict(cursor.fetchall())
    return [f"d{newest.get(group) or 0}" for group in groups]
