"""Queue: bots claim and complete messages through the HTTP API while producers post, beside the
peers a user would pick instead, in the same run on the same database.

Harbor's legs, per HTTP tier (`--server`; daphne processes on one shared socket, or gunicorn's
sync workers), draining a pre-filled queue as the peers do (`--producers N` adds N connections
posting new messages at full speed during each leg, on the same cores):

- **batched**: `--bots` keep-alive connections (default 16) driven by wrk and a Lua script
  (bench/queue_batch_bots.lua) that works like `run_bot`: it claims up to `--batch` messages
  (default 40, Harbor's maximum) with `POST /api/queue/claims {"limit"}`, then hands each batch
  in with `POST /api/queue/completions` (a reply per claim, `next` = the batch), which completes
  them and claims the next batch in the same request and transaction;
- **one message per request** (the seed's flow): the same connections with
  bench/queue_bots.lua, `POST /api/queue/claims` then `POST /api/queue/messages/{id}/complete`
  + `next=true` for every claim.

Reported: answered messages per second, request latency p50/p99, and the audit of the database
afterwards: double claims (two replies to one message, or a 409 on a completion) must be 0, and
every answered message has its reply and its `queue_message.answered` event.

Peers (PostgreSQL only), same run, same database, no-op jobs from a pre-filled queue, 2 worker
processes each (bench/peers/): **Procrastinate** (concurrency 16 per process) and **PgQueuer**
(batch 100). The limit: the claim and the completion as raw SQL by the same number of clients —
pgbench with `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id` on
PostgreSQL, threads running the same statements in `BEGIN IMMEDIATE` transactions on SQLite.
Each Harbor row prints Harbor ÷ each peer and Harbor ÷ the limit.
"""

import importlib
import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from .harness import (
    BASE_DIR,
    POSTGRES_ADMIN_URL,
    CpuMeter,
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
BATCH_LUA_SCRIPT = Path(__file__).with_name("queue_batch_bots.lua")
TABLE = "queue_app_queuemessage"
#: Connections posting during Harbor's legs unless --producers says otherwise: none, so Harbor
#: drains a pre-filled queue like its peers (the producers' requests share the same 2 cores).
PRODUCERS = 0
#: Harbor's largest batch (queue_app.models.MAX_BATCH; the runner never imports Django).
MAX_BATCH = 40
#: The peers' shape (issue 17): 2 worker processes each; Procrastinate 16 jobs at once per
#: process, PgQueuer dequeuing 100 at a time.
PEER_PROCESSES = 2
PROCRASTINATE_CONCURRENCY = 16
PGQUEUER_BATCH = 100
#: Jobs pre-filled per second of a peer's leg: about twice the fastest rate seen on this machine
#: (Procrastinate up to ~660/s, PgQueuer ~5,000/s once it had enough jobs, 2026-12-03).
PEER_JOBS_PER_S = {"procrastinate": 1500, "pgqueuer": 8000}

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
    answered, their replies and their `queue_message.answered` events, and messages answered twice
    (a double claim) by anyone."""
    queries = {
        "answered": f"SELECT count(*) FROM {TABLE} WHERE status = 'complete' AND message_type = 'human' AND claimed_by LIKE %s",
        "replies": f"SELECT count(*) FROM {TABLE} WHERE message_type = 'ai' AND claimed_by LIKE %s",
        "double_replies": f"SELECT count(*) FROM (SELECT reply_to_id FROM {TABLE} WHERE message_type = 'ai' "
                          "GROUP BY reply_to_id HAVING count(*) > 1) AS doubled",
        "answered_events": "SELECT count(*) FROM realtime_event WHERE type = 'queue_message.answered' AND "
                           + ("data->'message'->>'claimed_by' LIKE %s" if database.kind == "postgres"
                              else "json_extract(data, '$.message.claimed_by') LIKE %s"),
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


def drive(run, env, seeded, server: str, processes: int, duration: float, bots: int, batch: int | None = None,
          producer_connections: int = PRODUCERS) -> dict:
    """One Harbor leg: start the tier, run the bots (batched with `batch`, else one message per
    request) and the producers, if any, against it, stop it."""
    workers = f"{server}{processes}{'b' if batch else 's'}"
    servers = [run.gunicorn(env, processes)] if server == "gunicorn" else run.daphne(env, processes, shared=True)
    try:
        url = servers[0].url
        status, body = http_request("GET", url + "/api/queue/messages?limit=1", token=seeded["bot_token"])
        if status != 200:
            raise RuntimeError(f"GET /api/queue/messages answered {status}: {body[:500]!r}")
        profile_path = RESULTS_DIR / f"queue-{run.db}-{workers}-profile.txt"
        producers = {"counters": {"posted": 0, "failures": 0}}

        def produce():
            producers["wrk"], producers["counters"] = wrk_lua(
                url, producer_connections, duration, LUA_SCRIPT.with_name("queue_producers.lua"), seeded["producer_token"],
                threads=1,
            )

        producer = threading.Thread(target=produce) if producer_connections else None
        with Profiler(servers[0].pid, profile_path, enabled=run.options.get("profile")):
            if producer:
                producer.start()
            with CpuMeter() as cpu:
                if batch:
                    harbor, bots_counters = wrk_lua(url, bots, duration, BATCH_LUA_SCRIPT, seeded["bot_token"], workers,
                                                    str(batch))
                else:
                    harbor, bots_counters = wrk_lua(url, bots, duration, LUA_SCRIPT, seeded["bot_token"], workers)
            if producer:
                producer.join()
    finally:
        for process in servers:
            process.stop()
    leg = {"name": f"{server} ×{processes}, {f'batches of {batch}' if batch else 'one message per request'}",
           "batch": batch, "workers": workers, "wrk": harbor, "bots": bots_counters,
           "producers": producers, "cores": cpu.cores}
    if run.options.get("profile"):
        leg["profile"] = summarise_profile(profile_path)
        print_profile(leg["profile"])
    return leg


def analyze(url: str) -> None:
    """What autovacuum does after a bulk load on a default server, which this machine's
    PostgreSQL (autovacuum off) never does: statistics for Harbor's legs and the peers' alike."""
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as connection:
        connection.execute("ANALYZE")


def peer(module: str, setting: int, jobs: int, duration: float, url: str, workdir: Path) -> dict:
    """One peer leg (bench/peers/<module>.py): pre-fill `jobs` no-op jobs, start PEER_PROCESSES
    worker processes (`setting`: Procrastinate's concurrency, PgQueuer's batch size), and count
    the jobs they finish in `duration` seconds, or until the last one, from the first finished
    job on (so the workers' start-up is not counted)."""
    import psycopg

    peer_module = importlib.import_module(f"bench.peers.{module}")
    argv = [sys.executable, "-m", f"bench.peers.{module}"]
    subprocess.run([*argv, "setup", url, str(jobs)], cwd=BASE_DIR, check=True, capture_output=True, timeout=600)
    analyze(url)
    logs = [open(workdir / f"{module}-{n}.log", "wb") for n in range(PEER_PROCESSES)]
    workers = [subprocess.Popen([*argv, "work", url, str(setting)], cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT)
               for log in logs]
    try:
        with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as connection:
            deadline = time.monotonic() + 60
            while peer_module.done(connection) == 0:
                if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                    raise RuntimeError(f"{module} workers did not start: {(workdir / f'{module}-0.log').read_text()[-2000:]}")
                time.sleep(0.05)
            before, started = peer_module.done(connection), time.monotonic()
            # Until the leg's end or the last job, whichever comes first: a peer that empties
            # its queue early is timed to its last job, not given idle seconds.
            after = before
            with CpuMeter() as cpu:
                while time.monotonic() - started < duration and after < jobs:
                    time.sleep(0.25)
                    after = peer_module.done(connection)
            elapsed = time.monotonic() - started
            doubled = peer_module.double_runs(connection) if hasattr(peer_module, "double_runs") else None
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        for log in logs:
            log.close()
    return {"jobs_per_s": round((after - before) / elapsed, 1), "done": after, "seeded": jobs, "seconds": round(elapsed, 2), "cores": cpu.cores,
            "ran_dry": after >= jobs, "double_runs": doubled, "processes": PEER_PROCESSES, "setting": setting}


@benchmark("queue", "bots claim + complete over HTTP (batched, and one message per request) while producers post, "
                    "vs Procrastinate, PgQueuer and raw SQL claims")
def queue(run) -> Result:
    duration = run.options.get("duration") or (3 if run.quick else 10)
    bots = run.options.get("bots") or 16
    producer_connections = run.options.get("producers")
    producer_connections = PRODUCERS if producer_connections is None else producer_connections
    batch = run.options.get("batch") or MAX_BATCH
    if not 1 <= batch <= MAX_BATCH:
        raise SystemExit(f"--batch is 1-{MAX_BATCH} (Harbor's largest batch)")
    postgres = run.db == "postgres"
    tiers = topologies(run)
    # The baseline drains a fixed number of rows (seconds of work at its rate); each Harbor leg
    # gets enough pending rows never to run dry, besides what the producers add.
    baseline_pairs = (10000 if run.quick else 40000) if postgres else (2000 if run.quick else 8000)
    # Per tier, both legs: up to 3,000 answered/s batched and 1,000 one at a time.
    per_tier = int(4000 * duration) if run.quick else max(55000, int(4000 * duration))
    pending = baseline_pairs + len(tiers) * per_tier
    # Enough jobs to outlast the leg: a peer that runs dry only gives a lower bound of its rate.
    peer_jobs = {"procrastinate": int(PEER_JOBS_PER_S["procrastinate"] * duration),
                 "pgqueuer": int(PEER_JOBS_PER_S["pgqueuer"] * duration)}
    parameters = {"bots": bots, "batch": batch, "producers": producer_connections, "duration_s": duration,
                  "tiers": [f"{s} ×{n}" for s, n in tiers], "seeded_pending": pending, "baseline_pairs": baseline_pairs,
                  "load": f"wrk -t2 -c{bots} (Lua bots)" + (f" + wrk -t1 -c{producer_connections} (producers)"
                                                            if producer_connections else "") + ", keep-alive"}
    if postgres:
        parameters["peers"] = {"procrastinate": f"{PEER_PROCESSES} processes × concurrency {PROCRASTINATE_CONCURRENCY}",
                               "pgqueuer": f"{PEER_PROCESSES} processes, batch {PGQUEUER_BATCH}",
                               "pre-filled jobs": peer_jobs}
    database = run.database()
    peers = {}
    try:
        env = run.prepare(database)
        seeded = run.seed(env, "queue", pending=pending)
        if postgres:
            analyze(database.url)
        if postgres:
            baseline = raw_sql_postgres(bots, baseline_pairs, run.workdir)
        else:
            baseline = raw_sql_sqlite(database.url.removeprefix("sqlite:///"), bots, baseline_pairs)
        legs = []
        for server, processes in tiers:
            for leg_batch in (batch, None):
                leg = drive(run, env, seeded, server, processes, duration, bots, leg_batch, producer_connections)
                leg["audit"] = audit(database, leg["workers"])
                legs.append(leg)
        if postgres:
            peers["Procrastinate"] = peer("procrastinate_peer", PROCRASTINATE_CONCURRENCY, peer_jobs["procrastinate"],
                                          duration, database.url, run.workdir)
            peers["PgQueuer"] = peer("pgqueuer_peer", PGQUEUER_BATCH, peer_jobs["pgqueuer"], duration, database.url,
                                     run.workdir)
    finally:
        database.drop()

    rows, ok, notes = [], True, []
    for leg in legs:
        answered_per_s = round(leg["bots"]["completed"] / duration, 1)
        checked = leg["audit"]
        double_claims = checked["double_replies"] + leg["bots"]["conflicts"]
        row = {
            "leg": f"harbor HTTP, {leg['name']}", "db": run.db, "clients": bots, "answered/s": answered_per_s,
            "requests/s": round(leg["wrk"]["requests"] / duration, 1) if leg["wrk"].get("requests") else None,
            "p50 ms": leg["wrk"]["p50_ms"], "p99 ms": leg["wrk"]["p99_ms"], "errors": leg["wrk"]["non_2xx"],
            "double claims": double_claims,
            "posts/s": round(leg["producers"]["counters"]["posted"] / duration, 1),
            # Who used the 2 cores during the leg (bench.harness.CpuMeter).
            "app cores": leg["cores"].get("harbor"), "postgres cores": leg["cores"].get("postgres"),
        }
        for name, figures in peers.items():
            row[f"÷{name}"] = ratio(answered_per_s, figures["jobs_per_s"])
        row["÷raw SQL"] = ratio(answered_per_s, baseline["pairs_per_s"])
        rows.append(row)
        leg_ok = (
            double_claims == 0
            and leg["wrk"]["non_2xx"] == 0
            and not leg["wrk"]["socket_errors"]
            and leg["bots"]["failures"] == 0
            and leg["producers"]["counters"]["failures"] == 0
            and checked["replies"] == checked["answered"] == checked["answered_events"]
            # wrk stops without reading the answers still in flight: those completions count in
            # the database but not in the script (a batch each, batched).
            and 0 <= checked["replies"] - leg["bots"]["completed"] <= bots * (leg["batch"] or 1)
        )
        if leg["bots"]["empty"]:
            notes.append(f"{leg['name']}: {leg['bots']['empty']} claims found the queue empty (it ran dry: a lower bound)")
        if not leg_ok:
            notes.append(f"FAILED {leg['name']}: audit {checked}, bots {leg['bots']}, wrk {leg['wrk']}")
        ok = ok and leg_ok
    for name, figures in peers.items():
        rows.append({"leg": f"peer {name} ({figures['processes']} processes, "
                            + (f"concurrency {figures['setting']})" if name == "Procrastinate" else f"batch {figures['setting']})"),
                     "db": run.db, "answered/s": figures["jobs_per_s"], "app cores": figures["cores"].get("peer"),
                     "postgres cores": figures["cores"].get("postgres")})
        if figures["ran_dry"]:
            notes.append(f"{name} finished its {figures['seeded']} pre-filled jobs after {figures['seconds']} s of the leg: "
                         "its rate is timed to its last job (its workers' last polls, a quarter of a second at most, included)")
        if figures.get("double_runs"):
            notes.append(f"{name} started {figures['double_runs']} jobs more than once")
    rows.append({"leg": f"limit: raw SQL ({baseline['tool']})", "db": run.db, "clients": bots,
                 "answered/s": baseline["pairs_per_s"], "p50 ms": baseline["latency_avg_ms"]})
    notes.append("answered = claimed + completed (with a reply, its event and the author's notification, for Harbor); "
                 "the bots' p50/p99 cover every request; the limit's latency is "
                 + ("pgbench's average, not a p50" if postgres else "not recorded"))
    return Result(rows=rows, parameters=parameters, data={"legs": legs, "peers": peers, "baseline": baseline}, ok=ok,
                  notes=notes)
