"""Queue: bots claim and complete messages through the HTTP API while producers post.

Harbor leg: `--bots` keep-alive connections (default 16) driven by wrk and a Lua script
(bench/queue_bots.lua) that works like Harbor's bot: it claims the next message
(`POST /api/queue/claims`), then answers each claim with `POST /api/queue/messages/{id}/complete`
+ `next=true`, which writes the reply and claims the next message in the same request. Two more connections post new messages at full speed (the producers). daphne
runs `--processes` processes (default 2 on PostgreSQL, 1 on SQLite) accepting on one shared
socket. Reports completed pairs per second (claim + complete), request latency p50/p99, and the
audit of the database afterwards: double claims (two replies to one message, or a 409 on a
completion) must be 0.

Baseline in the same run, on the same database and the same seeded rows: the claim and the
completion done as raw SQL by the same number of clients — pgbench with
`UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id` on PostgreSQL, and
threads running the same statements in `BEGIN IMMEDIATE` transactions on SQLite. The ratio of
the two rates is the figure to quote.
"""

import json
import re
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from .harness import (
    POSTGRES_ADMIN_URL,
    POSTGRES_DB,
    RESULTS_DIR,
    Profiler,
    Result,
    benchmark,
    http_request,
    print_profile,
    ratio,
    summarise_profile,
)
from .http_reads import parse_wrk

LUA_SCRIPT = Path(__file__).with_name("queue_bots.lua")
TABLE = "queue_app_queuemessage"
PRODUCERS = 2

CLAIM_SQL = (
    f"UPDATE {TABLE} SET status = 'processing', claimed_by = 'sql-bot', claim_token = {{token}}, "
    "claimed_at = {now}, lease_expires_at = {lease} "
    f"WHERE id = (SELECT id FROM {TABLE} WHERE status = 'pending' AND available_at <= {{now}} "
    "ORDER BY priority DESC, timestamp, id {lock} LIMIT 1) AND status = 'pending' RETURNING id"
)
COMPLETE_SQL = (
    f"UPDATE {TABLE} SET status = 'complete', completed_at = {{now}}, lease_expires_at = NULL "
    "WHERE id = {id} AND status = 'processing' AND claim_token = {token}"
)


def pgbench_script() -> str:
    claim = CLAIM_SQL.format(token=":token", now="now()", lease="now() + interval '60 seconds'", lock="FOR UPDATE SKIP LOCKED")
    complete = COMPLETE_SQL.format(now="now()", id=":id", token=":token")
    return f"\\set token random(1, 1000000000)\n{claim} \\gset\n{complete};\n"


def raw_sql_postgres(clients: int, pairs: int, workdir: Path) -> dict:
    """pgbench, prepared statements: each client runs `pairs / clients` claims + completions."""
    script = workdir / "claim_complete.sql"
    script.write_text(pgbench_script())
    argv = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-t", str(pairs // clients),
            "-f", str(script), f"{POSTGRES_ADMIN_URL}/{POSTGRES_DB}"]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if completed.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    done = int(re.search(r"number of transactions actually processed: (\d+)", completed.stdout).group(1))
    tps = float(re.search(r"tps = ([\d.]+)", completed.stdout).group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", completed.stdout)
    return {"pairs": done, "pairs_per_s": round(tps, 1),
            "latency_avg_ms": float(latency.group(1)) if latency else None, "tool": "pgbench -M prepared"}


def raw_sql_sqlite(path: str, clients: int, pairs: int) -> dict:
    """Threads with their own connections, each claim and each completion an IMMEDIATE transaction
    (what Harbor's SQLite settings do), so writers queue on SQLite's one write lock."""
    claim = CLAIM_SQL.format(token="?", now="?", lease="?", lock="")
    complete = COMPLETE_SQL.format(now="?", id="?", token="?")
    counts, each = [0] * clients, pairs // clients

    def client(index):
        import datetime

        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        token = 0
        while counts[index] < each:
            token += 1
            now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat(" ")
            lease = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60)).replace(tzinfo=None).isoformat(" ")
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(claim, (f"{index}-{token}", now, lease, now)).fetchone()
            db.execute("COMMIT")
            if row is None:
                break
            db.execute("BEGIN IMMEDIATE")
            db.execute(complete, (now, row[0], f"{index}-{token}"))
            db.execute("COMMIT")
            counts[index] += 1
        db.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"pairs": sum(counts), "pairs_per_s": round(sum(counts) / elapsed, 1), "latency_avg_ms": None,
            "tool": "sqlite3 threads"}


def wrk_lua(url: str, connections: int, duration: float, script: Path, *args: str, threads=2) -> tuple[dict, dict]:
    """Run wrk with a Lua script and its arguments; returns (wrk's figures, the script's counters)."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "--timeout", "10s",
            "-s", str(script), url, "--", *args]
    output = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    counters = json.loads(re.search(r"^BENCH (.*)$", output, re.M).group(1))
    return parse_wrk(output), counters


def audit(database, workers: str) -> dict:
    """What the database says after a leg: the messages its bots (worker ids `<workers>-<n>`)
    answered, their replies, and messages answered twice (a double claim) by anyone."""
    queries = {
        "answered": f"SELECT count(*) FROM {TABLE} WHERE status = 'complete' AND message_type = 'human' AND claimed_by LIKE %s",
        "replies": f"SELECT count(*) FROM {TABLE} WHERE message_type = 'ai' AND claimed_by LIKE %s",
        "double_replies": f"SELECT count(*) FROM (SELECT reply_to_id FROM {TABLE} WHERE message_type = 'ai' "
                          "GROUP BY reply_to_id HAVING count(*) > 1) AS doubled",
    }
    pattern = f"{workers}-%"
    if database.kind == "postgres":
        import psycopg

        with psycopg.connect(database.url.replace("postgres://", "postgresql://")) as connection:
            return {name: connection.execute(sql, [pattern] * sql.count("%s")).fetchone()[0] for name, sql in queries.items()}
    connection = sqlite3.connect(database.url.removeprefix("sqlite:///"))
    try:
        return {name: connection.execute(sql.replace("%s", "?"), [pattern] * sql.count("%s")).fetchone()[0]
                for name, sql in queries.items()}
    finally:
        connection.close()


def topologies(run) -> list[tuple[str, int]]:
    """The HTTP tiers to compare: embedded is one daphne process; scale-out compares daphne
    processes (sync views run on one thread per process) with gunicorn's sync workers."""
    server = run.options.get("server")
    if server:
        return [(server, run.processes or (4 if server == "gunicorn" else 1 if run.db == "sqlite" else 2))]
    if run.db == "sqlite":
        return [("daphne", run.processes or 1)]
    return [("daphne", run.processes or 2), ("gunicorn", 4)]


def drive(run, env, seeded, server: str, processes: int, duration: float, bots: int) -> dict:
    """One Harbor leg: start the tier, run the bots and the producers against it, stop it."""
    workers = f"{server}{processes}"
    servers = [run.gunicorn(env, processes)] if server == "gunicorn" else run.daphne(env, processes, shared=True)
    try:
        url = servers[0].url
        status, body = http_request("GET", url + "/api/queue/messages?limit=1", token=seeded["bot_token"])
        if status != 200:
            raise RuntimeError(f"GET /api/queue/messages answered {status}: {body[:500]!r}")
        profile_path = RESULTS_DIR / f"queue-{run.db}-{workers}-profile.txt"
        producers = {}

        def produce():
            producers["wrk"], producers["counters"] = wrk_lua(
                url, PRODUCERS, duration, LUA_SCRIPT.with_name("queue_producers.lua"), seeded["producer_token"], threads=1
            )

        producer = threading.Thread(target=produce)
        with Profiler(servers[0].pid, profile_path, enabled=run.options.get("profile")):
            producer.start()
            harbor, bots_counters = wrk_lua(url, bots, duration, LUA_SCRIPT, seeded["bot_token"], workers)
            producer.join()
    finally:
        for process in servers:
            process.stop()
    leg = {"name": f"{server} ×{processes}", "workers": workers, "wrk": harbor, "bots": bots_counters,
           "producers": producers}
    if run.options.get("profile"):
        leg["profile"] = summarise_profile(profile_path)
        print_profile(leg["profile"])
    return leg


@benchmark("queue", "bots claim + complete(next) over HTTP while producers post, vs raw SQL claims")
def queue(run) -> Result:
    duration = run.options.get("duration") or (3 if run.quick else 10)
    bots = run.options.get("bots") or 16
    postgres = run.db == "postgres"
    tiers = topologies(run)
    # The baseline drains a fixed number of rows (seconds of work at its rate); each Harbor leg
    # gets enough pending rows never to run dry, besides what the producers add.
    baseline_pairs = (10000 if run.quick else 40000) if postgres else (2000 if run.quick else 8000)
    pending = baseline_pairs + len(tiers) * (3000 if run.quick else 15000)
    parameters = {"bots": bots, "producers": PRODUCERS, "duration_s": duration, "tiers": [f"{s} ×{n}" for s, n in tiers],
                  "seeded_pending": pending, "baseline_pairs": baseline_pairs,
                  "load": f"wrk -t2 -c{bots} (Lua bots) + wrk -t1 -c{PRODUCERS} (producers), keep-alive"}
    database = run.database()
    try:
        env = run.prepare(database)
        seeded = run.seed(env, "queue", pending=pending)
        if postgres:
            baseline = raw_sql_postgres(bots, baseline_pairs, run.workdir)
        else:
            baseline = raw_sql_sqlite(database.url.removeprefix("sqlite:///"), bots, baseline_pairs)
        legs = []
        for server, processes in tiers:
            leg = drive(run, env, seeded, server, processes, duration, bots)
            leg["audit"] = audit(database, leg["workers"])
            legs.append(leg)
    finally:
        database.drop()

    rows, ok, notes = [], True, []
    for leg in legs:
        pairs_per_s = round(leg["bots"]["completed"] / duration, 1)
        checked = leg["audit"]
        double_claims = checked["double_replies"] + leg["bots"]["conflicts"]
        rows.append({
            "leg": f"harbor HTTP, {leg['name']}", "db": run.db, "clients": bots, "pairs/s": pairs_per_s,
            "p50 ms": leg["wrk"]["p50_ms"], "p99 ms": leg["wrk"]["p99_ms"], "errors": leg["wrk"]["non_2xx"],
            "double claims": double_claims, "×raw SQL": ratio(pairs_per_s, baseline["pairs_per_s"]),
            "posts/s": round(leg["producers"]["counters"]["posted"] / duration, 1),
        })
        leg_ok = (
            double_claims == 0
            and leg["wrk"]["non_2xx"] == 0
            and not leg["wrk"]["socket_errors"]
            and leg["producers"]["counters"]["failures"] == 0
            and checked["replies"] == checked["answered"]
            # wrk stops without reading the answers still in flight: those completions count in
            # the database but not in the script.
            and 0 <= checked["replies"] - leg["bots"]["completed"] <= bots
        )
        if not leg_ok:
            notes.append(f"FAILED {leg['name']}: audit {checked}, bots {leg['bots']}, wrk {leg['wrk']}")
        ok = ok and leg_ok
    rows.append({"leg": f"baseline raw SQL ({baseline['tool']})", "db": run.db, "clients": bots,
                 "pairs/s": baseline["pairs_per_s"], "p50 ms": baseline["latency_avg_ms"]})
    notes.append("pairs = claim + complete; the bots' p50/p99 cover both requests; the baseline's latency is "
                 + ("pgbench's average, not a p50" if postgres else "not recorded"))
    return Result(rows=rows, parameters=parameters, data={"legs": legs, "baseline": baseline}, ok=ok, notes=notes)
