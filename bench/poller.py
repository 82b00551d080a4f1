"""Subscriptions poller: N users with 3 subscriptions each, polled once by the real
`manage.py poll_subscriptions --concurrency C` against the local fake provider; users/s.

Half the users have a Spotify account (a show, an artist, a playlist), half a YouTube account (a
channel, two playlists); every subscription has ITEMS new items, every token is valid for a day
(the run polls, it does not refresh) and every user is due when the command starts. The fake
provider is tests/subscriptions/fake_provider.py, one process per provider (so Spotify and YouTube
calls are served in parallel), fresh for each leg. Afterwards the database and the fakes' call
logs must show every user polled exactly once (3 provider calls each), every subscription's
items stored exactly once, every user notified once and no failure; otherwise the run is not ok.

Baselines in the same run, at the same concurrency, against fresh fakes with the same content: a
plain Python client with no database (a thread pool, one `requests.Session` per user like the
poller's HttpClient) sending the same 3 GETs per user with the same tokens and parsing the JSON,
twice: with requests as it comes (the issue's baseline: it re-reads the environment's proxy
settings on every request), and with each Session set up as Harbor's provider clients are (the
environment read once). The second ratio is what Harbor adds around the same HTTP work: claims
and leases, token decryption, the breaker's bookkeeping, storing items, cursors and
notifications.

    python -m bench.poller fake <spotify|youtube> <users> <items>   # a fake provider process
    python -m bench.poller baseline < parameters.json              # the baseline client
"""

import base64
import json
import re
import resource
import secrets
import subprocess
import sys
import time
from collections import Counter

from .harness import (
    BASE_DIR,
    RESULTS_DIR,
    Database,
    Profiler,
    Result,
    benchmark,
    print_profile,
    ratio,
    summarise_profile,
)

#: Subscriptions of one user, by provider (3 each: the issue's figure).
KINDS = {
    "spotify": ("spotify_show", "spotify_artist", "spotify_playlist"),
    "youtube": ("youtube_channel", "youtube_playlist", "youtube_playlist"),
}
#: New items per subscription on the first poll.
ITEMS = 3
CONCURRENCIES = (4, 16)
#: The baseline's two setups of requests, and their rows: as it comes (the issue's baseline), and
#: with the environment read once per process as Harbor's provider clients do.
BASELINES = {"defaults": "baseline plain client", "settled": "baseline, env read once"}
COMMAND_TIMEOUT = 900
SUMMARY = re.compile(r"Polled (\d+) users: (\d+) new items, (\d+) failures, ([\d.]+) s\.")


# --- What every process agrees on, derived from the user's index ---------------------------


def provider_of(index: int) -> str:
    return "spotify" if index % 2 == 0 else "youtube"


def account_id(index: int) -> str:
    return f"{provider_of(index)}-bench-{index}"


def access_token(index: int) -> str:
    return f"at-bench-{index}"


def targets(index: int) -> list[tuple[str, str]]:
    """(kind, external id) of the user's 3 subscriptions: nobody shares a target, so each
    subscription's items are its own and can be counted exactly."""
    if provider_of(index) == "spotify":
        return [("spotify_show", f"show{index}"), ("spotify_artist", f"artist{index}"),
                ("spotify_playlist", f"pl{index}")]
    return [("youtube_channel", f"UCbench{index}"), ("youtube_playlist", f"PLbench{index}a"),
            ("youtube_playlist", f"PLbench{index}b")]


def request_of(kind: str, target: str) -> tuple[str, dict]:
    """The GET the provider module sends for a subscription polled the first time (no cursor,
    no ETag), page size 50: subscriptions/providers/spotify.py and youtube.py."""
    if kind == "spotify_show":
        return f"/v1/shows/{target}/episodes", {"limit": 50}
    if kind == "spotify_artist":
        return f"/v1/artists/{target}/albums", {"limit": 50, "include_groups": "album,single"}
    if kind == "spotify_playlist":
        return f"/v1/playlists/{target}/tracks", {"limit": 50, "offset": 0}
    playlist = "UU" + target[2:] if kind == "youtube_channel" else target
    return "/youtube/v3/playlistItems", {"part": "snippet", "playlistId": playlist, "maxResults": 50}


# --- The fake provider process --------------------------------------------------------------


def fake_main(provider: str, users: int, items: int) -> None:
    """Serve one provider for the users of that provider until stdin closes, then print what
    it was asked (one JSON line each time)."""
    from tests.subscriptions.fake_provider import FakeProvider

    fake = FakeProvider()
    for index in range(users):
        if provider_of(index) != provider:
            continue
        fake.access[access_token(index)] = account_id(index)
        for kind, target in targets(index):
            for n in range(items):
                day = f"2026-11-{n + 1:02d}"  # Spotify's release dates are days, the rest timestamps
                date = day if kind in ("spotify_show", "spotify_artist") else f"{day}T10:00:00Z"
                fake.add_item(kind, target, f"{target}-item{n}", date, f"Item {n} of {target}")
    fake.start()
    print(json.dumps({"url": fake.url, "env": fake.env_for(provider)}), flush=True)
    ready = resource.getrusage(resource.RUSAGE_SELF)
    sys.stdin.read()
    cpu = _cpu_seconds(resource.getrusage(resource.RUSAGE_SELF), ready)
    calls = fake.api_calls("*")
    per_account = Counter(call["account"] for call in calls)
    print(json.dumps({
        "calls": len(calls),
        "refused": per_account.pop("", 0),  # no valid token
        "token_requests": len(fake.token_requests),
        "accounts": len(per_account),
        "calls_per_account": dict(Counter(per_account.values())),  # {calls: how many accounts}
        "cpu_s": round(cpu, 2),  # serving, from ready to stopped
    }), flush=True)
    fake.stop()


class Fakes:
    """One fake provider process per provider, started fresh for a leg."""

    def __init__(self, run, users: int, items: int, label: str):
        self.processes = {}
        self.stats = {}
        self.env = {}
        self.logs = []
        for provider in KINDS:
            log = open(run.workdir / f"fake-{provider}-{label}.log", "wb")
            self.logs.append(log)
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.poller", "fake", provider, str(users), str(items)],
                cwd=BASE_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
            )
            self.processes[provider] = process
        for provider, process in self.processes.items():
            line = process.stdout.readline()
            if not line:
                self.stop()
                raise RuntimeError(f"the {provider} fake did not start (see {run.workdir})")
            started = json.loads(line)
            self.env.update(started["env"])
            self.env[f"{provider}_url"] = started["url"]

    def url(self, provider: str) -> str:
        return self.env[f"{provider}_url"]

    def provider_env(self) -> dict:
        return {key: value for key, value in self.env.items() if key.isupper()}

    def stop(self) -> dict:
        """Stop both and return their call logs, summed."""
        for provider, process in self.processes.items():
            if process.poll() is None:
                try:
                    out, _ = process.communicate("", timeout=60)
                    self.stats[provider] = json.loads(out.strip().splitlines()[-1])
                except (subprocess.TimeoutExpired, ValueError, IndexError):
                    process.kill()
                    process.wait()
        for log in self.logs:
            log.close()
        total = {"calls": 0, "refused": 0, "token_requests": 0, "accounts": 0, "cpu_s": 0.0,
                 "calls_per_account": Counter()}
        for stats in self.stats.values():
            for key in ("calls", "refused", "token_requests", "accounts", "cpu_s"):
                total[key] += stats[key]
            total["calls_per_account"].update({int(k): v for k, v in stats["calls_per_account"].items()})
        total["calls_per_account"] = dict(total["calls_per_account"])
        return total


# --- The baseline client --------------------------------------------------------------------


def baseline_main() -> None:
    """Poll every user as the poller would, minus Harbor: one Session per user, 3 GETs. With
    `"session": "settled"` each Session is set up as Harbor's provider clients are
    (subscriptions/providers/base.py: read_environment_once): what requests takes from the
    environment is read once, not on every request; `"defaults"` is requests as it comes."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    parameters = json.loads(sys.stdin.read())
    urls, concurrency = parameters["urls"], parameters["concurrency"]
    settled = {provider: requests.Session().merge_environment_settings(url, {}, None, None, None)
               for provider, url in urls.items()} if parameters.get("session") == "settled" else None

    def poll(index: int) -> tuple[int, int]:
        session = requests.Session()
        if settled:
            environment = settled[provider_of(index)]
            session.trust_env = False
            session.proxies.update(environment["proxies"])
            session.verify = environment["verify"]
        headers = {"Authorization": f"Bearer {access_token(index)}", "Accept": "application/json"}
        found = failures = 0
        try:
            for kind, target in targets(index):
                path, params = request_of(kind, target)
                try:
                    response = session.get(urls[provider_of(index)] + path, params=params, headers=headers,
                                           timeout=(3.05, 10))
                    response.raise_for_status()
                    found += len(response.json().get("items", []))
                except (requests.RequestException, ValueError):
                    failures += 1
        finally:
            session.close()
        return found, failures

    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    with ThreadPoolExecutor(concurrency) as executor:
        results = list(executor.map(poll, range(parameters["users"])))
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds(resource.getrusage(resource.RUSAGE_SELF), before)
    print(json.dumps({
        "users": len(results),
        "items": sum(found for found, _ in results),
        "failures": sum(failures for _, failures in results),
        "duration_s": round(elapsed, 3),
        "cpu_s": round(cpu, 2),
    }))


def baseline_leg(run, users: int, items: int, concurrency: int, session: str = "defaults") -> dict:
    fakes = Fakes(run, users, items, f"baseline-{session}-c{concurrency}")
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "bench.poller", "baseline"],
            cwd=BASE_DIR,
            input=json.dumps({"users": users, "concurrency": concurrency, "session": session,
                              "urls": {provider: fakes.url(provider) for provider in KINDS}}),
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"the baseline failed:\n{completed.stderr[-3000:]}")
        measured = json.loads(completed.stdout.strip().splitlines()[-1])
    finally:
        measured_calls = fakes.stop()
    measured["provider"] = measured_calls
    return measured


# --- Harbor ---------------------------------------------------------------------------------


def harbor_leg(run, users: int, items: int, concurrency: int) -> dict:
    fakes = Fakes(run, users, items, f"harbor-c{concurrency}")
    database = None
    try:
        # Its own SQLite file per leg (Database.drop leaves SQLite files to the scratch directory).
        leg_dir = run.workdir / f"harbor-c{concurrency}"
        leg_dir.mkdir()
        database = Database(run.db, leg_dir)
        database.create()
        # Production refuses to start without its own keys (DEBUG is off): a fresh Fernet key
        # (urlsafe base64 of 32 random bytes) per leg.
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        env = run.prepare(database, FIELD_ENCRYPTION_KEYS=key, **fakes.provider_env())
        started = time.monotonic()
        seeded = run.seed(env, "poller", users=users, items=items)
        seeded["seconds"] = round(time.monotonic() - started, 1)
        argv = [sys.executable, str(BASE_DIR / "manage.py"), "poll_subscriptions", "--concurrency", str(concurrency)]
        log = run.workdir / f"poll-c{concurrency}.log"
        profile_path = RESULTS_DIR / f"poller-{run.db}-c{concurrency}-profile.txt"
        started, children = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(log, "w") as stderr:
            process = subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
            try:
                with Profiler(process.pid, profile_path, enabled=run.options.get("profile")):
                    stdout, _ = process.communicate(timeout=COMMAND_TIMEOUT)
                    cpu = _cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN), children)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise RuntimeError(f"poll_subscriptions ran over {COMMAND_TIMEOUT} s (log: {log})") from None
        wall = time.monotonic() - started
        if process.returncode != 0:
            raise RuntimeError(f"poll_subscriptions failed:\n{log.read_text()[-3000:]}")
        match = SUMMARY.search(stdout)
        if not match:
            raise RuntimeError(f"no summary line in poll_subscriptions' output: {stdout[-1000:]!r}")
        polled, found, failures, seconds = match.groups()
        outcome = run.seed(env, "poller_outcome", items=items)
    finally:
        provider = fakes.stop()
        if database is not None:
            database.drop()
    measured = {
        "seed": seeded,
        "summary": {"users_polled": int(polled), "items_found": int(found), "failures": int(failures),
                    "duration_s": float(seconds)},
        "command_wall_s": round(wall, 2),
        "command_cpu_s": round(cpu, 2),
        "outcome": outcome,
        "provider": provider,
        "log_tail": log.read_text()[-2000:],
    }
    if run.options.get("profile"):
        measured["profile"] = summarise_profile(profile_path)
        print_profile(measured["profile"])
    return measured


def _cpu_seconds(after, before) -> float:
    """User + system CPU of the children reaped between two getrusage(RUSAGE_CHILDREN) calls."""
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def problems(harbor: dict, users: int, items: int) -> list[str]:
    """What a correct run must show; each broken promise is one line (none: ok)."""
    subscriptions, expected_items = users * 3, users * 3 * items
    outcome, summary, provider = harbor["outcome"], harbor["summary"], harbor["provider"]
    checks = [
        (summary["users_polled"] == users, f"the command polled {summary['users_polled']} of {users} users"),
        (summary["failures"] == 0, f"{summary['failures']} failed polls"),
        (provider["calls_per_account"] == {3: users}, f"provider calls per account {provider['calls_per_account']}, "
                                                      f"not 3 for each of {users}"),
        (provider["refused"] == 0, f"{provider['refused']} provider calls without a valid token"),
        (provider["token_requests"] == 0, f"{provider['token_requests']} token refreshes (tokens were valid)"),
        (outcome["users_polled"] == users, f"{outcome['users_polled']} of {users} schedules show a finished poll"),
        (outcome["polled_once"] == users, f"PollRun rows count {outcome['polled_once']} users polled, not {users}"),
        (outcome["subscriptions_polled"] == subscriptions,
         f"{outcome['subscriptions_polled']} of {subscriptions} subscriptions polled without error"),
        (outcome["items"] == expected_items, f"{outcome['items']} feed items stored, not {expected_items}"),
        (outcome["subscriptions_with_exactly_their_items"] == subscriptions,
         f"{outcome['subscriptions_with_exactly_their_items']} of {subscriptions} subscriptions hold exactly "
         f"their {items} items"),
        (outcome["notified"] == users, f"{outcome['notified']} of {users} users notified of their new items"),
        (outcome["leased"] == 0, f"{outcome['leased']} schedules still leased"),
    ]
    return [message for passed, message in checks if not passed]


@benchmark("poller", "N users × 3 subscriptions polled by poll_subscriptions, vs a plain client, same fake provider")
def poller(run) -> Result:
    users = run.options.get("users") or (500 if run.quick else 10_000)
    items = ITEMS
    concurrencies = CONCURRENCIES
    parameters = {
        "users": users, "subscriptions_per_user": 3, "items_per_subscription": items,
        "concurrency": list(concurrencies),
        "providers": "half Spotify (show, artist, playlist), half YouTube (channel, 2 playlists); "
                     "one fake provider process each (tests/subscriptions/fake_provider.py)",
        "tokens": "valid for a day: no refresh",
        "mode": "PostgreSQL + Redis" if run.db == "postgres" else "SQLite",
    }
    rows, data, notes, ok = [], {"legs": []}, [], True
    for concurrency in concurrencies:
        harbor = harbor_leg(run, users, items, concurrency)
        baselines = {session: baseline_leg(run, users, items, concurrency, session) for session in BASELINES}
        harbor_rate = harbor["summary"]["users_polled"] / harbor["summary"]["duration_s"]
        rates = {session: baseline["users"] / baseline["duration_s"] for session, baseline in baselines.items()}
        broken = problems(harbor, users, items)
        for session, baseline in baselines.items():
            if baseline["failures"] or baseline["items"] != users * 3 * items:
                broken.append(f"baseline ({session}): {baseline['failures']} failed calls, {baseline['items']} items read")
        ok = ok and not broken
        notes += [f"concurrency {concurrency}: {message}" for message in broken]
        rows.append({
            "leg": "harbor poll_subscriptions", "db": run.db, "concurrency": concurrency, "users": users,
            "provider calls": harbor["provider"]["calls"], "items stored": harbor["outcome"]["items"],
            "failures": harbor["summary"]["failures"], "seconds": harbor["summary"]["duration_s"],
            "users/s": round(harbor_rate, 1), "subs/s": round(3 * harbor_rate, 1),
            "users/s ×base": ratio(harbor_rate, rates["defaults"]),
            "×base (env once)": ratio(harbor_rate, rates["settled"]),
            "client CPU s": harbor["command_cpu_s"], "fakes CPU s": harbor["provider"]["cpu_s"],
        })
        for session, baseline in baselines.items():
            rows.append({
                "leg": BASELINES[session], "db": "-", "concurrency": concurrency, "users": baseline["users"],
                "provider calls": baseline["provider"]["calls"], "items stored": f"({baseline['items']} read)",
                "failures": baseline["failures"], "seconds": baseline["duration_s"],
                "users/s": round(rates[session], 1), "subs/s": round(3 * rates[session], 1),
                "client CPU s": baseline["cpu_s"], "fakes CPU s": baseline["provider"]["cpu_s"],
            })
        data["legs"].append({"concurrency": concurrency, "harbor": harbor, "baseline": baselines["defaults"],
                             "baseline_settled": baselines["settled"]})
    notes.append(f"seeding {users} users took {data['legs'][0]['harbor']['seed']['seconds']} s; "
                 f"the command's wall time includes Django's start-up "
                 f"({', '.join(str(leg['harbor']['command_wall_s']) for leg in data['legs'])} s)")
    return Result(rows=rows, parameters=parameters, data=data, ok=ok, notes=notes)


if __name__ == "__main__":
    if sys.argv[1:2] == ["fake"]:
        fake_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1:2] == ["baseline"]:
        baseline_main()
    else:
        sys.exit("usage: python -m bench.poller fake <provider> <users> <items> | baseline < parameters.json")
