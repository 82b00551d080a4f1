"""The health report in words, for the staff page /health/status/: what each check is called,
what its status means, and its details as labelled rows. The JSON of /health is untouched.

A verdict is (word, tone, sentence); the tone picks the colour: good, warn, bad, or off (grey:
nothing is wrong, but nothing runs either, as with an unconfigured provider)."""

from dataclasses import dataclass

TITLES = {
    "database": "Database",
    "channel_layer": "Real-time messaging",
    "cache": "Cache",
    "dependencies": "Outside services",
    "workers": "Background workers",
    "queue": "Message queue",
    "mail": "Email",
    "subscriptions.spotify": "Spotify",
    "subscriptions.youtube": "YouTube",
}
DESCRIPTIONS = {
    "database": "Every page and API call reads and writes it.",
    "channel_layer": "Carries live updates between Harbor's processes and to open pages.",
    "cache": "Rate limits and login lockouts are counted here.",
    "dependencies": "Circuit breakers of the services Harbor calls (language models, providers).",
    "workers": "Long-running commands that report a heartbeat (bots, pollers).",
    "queue": "Messages posted to the queue for a bot to answer.",
    "mail": "Emails waiting in the outbox for `send_email` to deliver.",
    "subscriptions.spotify": "Connected Spotify accounts, polled into feeds.",
    "subscriptions.youtube": "Connected YouTube accounts, polled into feeds.",
}
STATUS_WORDS = {
    "ok": ("Working", "good"),
    "degraded": ("Degraded", "warn"),
    "down": ("Down", "bad"),
}
OVERALL = {
    "ok": ("All systems working", "good", "Every check passed."),
    "degraded": (
        "Degraded",
        "warn",
        "Harbor serves users, but some features are slow or unavailable: see the checks below.",
    ),
    "down": ("Down", "bad", "A check Harbor cannot serve without is failing: see the checks below."),
}
LABELS = {
    "latency_ms": "Response time",
    "vendor": "Engine",
    "backend": "Backend",
    "error": "Error",
    "timeout_s": "Gave up after",
    "not_closed": "Breakers not closed",
    "up": "Running",
    "down": "Gone silent",
    "stopped": "Stopped",
    "down_workers": "Silent workers",
    "pending": "Waiting for an answer",
    "waiting": "Waiting to be sent",
    "oldest_waiting_age_s": "Oldest waiting for",
    "failed_last_day": "Not sent in the last day",
    "oldest_pending_age_s": "Oldest waiting for",
    "stale_processing": "Claims past their lease",
    "failed": "Failed",
    "bots_running": "Bots running",
    "configured": "Configured",
    "last_error_at": "Last error at",
    "accounts_needing_reauth": "Accounts that must reconnect",
    "breaker": "Breaker",
    "consecutive_failures": "Failures in a row",
    "calls": "Calls",
    "failures": "Failures",
    "avg_response_ms": "Average response time",
    "last_error": "Last error",
    "opened_at": "Opened at",
}
BREAKER_WORDS = {
    "closed": "Closed (calls go through)",
    "half_open": "Half open (trying again)",
    "open": "Open (calls fail fast)",
    "unused": "Not used yet",
}


@dataclass(frozen=True)
class Verdict:
    word: str
    tone: str
    sentence: str = ""


def title(name: str) -> str:
    return TITLES.get(name, name.replace("_", " ").replace(".", " · ").capitalize())


def verdict(name: str, result: dict) -> Verdict:
    """What to say about one check: its status in words, or a state the status does not tell
    apart from ok (a provider without credentials, a queue with no bot)."""
    status = result["status"]
    if status == "down":
        error = result.get("error")
        if error == "TimeoutError":
            return Verdict("Down", "bad", f"No answer within {result.get('timeout_s')} s.")
        return Verdict("Down", "bad", f"The check failed ({error})." if error else "")
    if name.startswith("subscriptions.") and result.get("configured") is False:
        provider = name.removeprefix("subscriptions.").upper()
        return Verdict(
            "Not configured",
            "off",
            f"Nobody can connect an account: set {provider}_CLIENT_ID and {provider}_CLIENT_SECRET "
            "(docs/subscriptions.md).",
        )
    if name == "queue" and result.get("bots_running") == 0:
        waiting = result.get("pending", 0)
        sentence = "Nothing answers queue messages: start manage.py run_bot."
        if waiting:
            sentence = f"{waiting} waiting and nothing answers them: start manage.py run_bot."
        return Verdict("No bot running", "warn", sentence)
    if name == "workers" and not (result.get("up") or result.get("down")):
        return Verdict("None running", "off", "No long-running command has reported a heartbeat recently.")
    word, tone = STATUS_WORDS[status]
    if name == "dependencies" and result.get("not_closed"):
        return Verdict(word, tone, "Calls to " + ", ".join(result["not_closed"]) + " fail fast or are on trial.")
    if name == "workers" and result.get("down"):
        return Verdict(word, tone, "A worker stopped beating without stopping: it may have died.")
    if name == "queue" and status == "degraded":
        return Verdict(word, tone, "Messages wait too long, or a claim outlived its lease.")
    if name == "mail" and status == "degraded":
        return Verdict(word, tone, "Emails wait too long: is manage.py send_email running, and does the mail server answer?")
    return Verdict(word, tone)


def label(key: str) -> str:
    return LABELS.get(key, key.replace("_", " ").capitalize())


def value_text(key: str, value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if key.endswith("_ms"):
        return f"{value} ms"
    if key.endswith("_s"):
        return f"{value} s"
    return str(value)


def detail_rows(result: dict) -> list[tuple[str, str]]:
    """A check's details as (label, text) rows; each circuit breaker gets rows of its own."""
    rows = []
    for key, value in result.items():
        if key == "status":
            continue
        if key == "breakers" and isinstance(value, dict):
            for name, state in value.items():
                if isinstance(state, dict):  # the dependencies check: every number of a breaker
                    rows.append((f"{name} breaker", BREAKER_WORDS.get(state.get("breaker"), state.get("breaker"))))
                    rows.extend(
                        (f"{name}: {label(k)}", value_text(k, v)) for k, v in state.items() if k != "breaker"
                    )
                else:  # a provider check: the state of each of its breakers
                    rows.append((f"{name} breaker", BREAKER_WORDS.get(state, state)))
            continue
        rows.append((label(key), value_text(key, value)))
    return rows


def present(report: dict) -> dict:
    """The report as the status page shows it."""
    word, tone, sentence = OVERALL[report["status"]]
    checks = []
    for name, result in report["checks"].items():
        checks.append({
            "name": name,
            "title": title(name),
            "description": DESCRIPTIONS.get(name, ""),
            "status": result["status"],
            "verdict": verdict(name, result),
            "rows": detail_rows(result),
        })
    # An ok report can still have checks that say "no bot running" or "not configured": the
    # summary names them, so that "all systems working" does not hide them.
    idle = [
        f"{c['title']} ({c['verdict'].word.lower()})"
        for c in checks
        if c["status"] == "ok" and c["verdict"].tone != "good"
    ]
    if idle:
        sentence = f"{sentence} Not running or not set up: {', '.join(idle)}."
    return {"overall": Verdict(word, tone, sentence), "checks": checks}
