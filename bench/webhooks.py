"""Outgoing webhooks: events delivered per second by `manage.py deliver_webhooks` to a local
receiver, against a plain `requests` loop posting the same signed payloads to a fresh receiver
of the same kind, in the same run.

Two legs: one endpoint (deliveries in order, one at a time: what an endpoint gets), and
ENDPOINTS endpoints of one tenant served at once (`--concurrency ENDPOINTS`; the plain client
then runs one thread per endpoint, each in order). The rate is the receiver's: deliveries over
the time from its first request to its last, so Django's start-up is not counted. The receiver
(one process, `python -m bench.webhooks receiver`) checks every delivery arrived once and in
order per endpoint; otherwise the run is not ok.
"""

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .harness import BASE_DIR, Result, benchmark, manage, ratio

ENDPOINTS = 8


# --- The receiver process -------------------------------------------------------------------

def receiver_main() -> None:
    """Answer 204 to every POST until stdin closes, then print what arrived (one JSON line)."""
    lock = threading.Lock()
    arrivals: dict[str, list[str]] = {}
    times: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as both clients use it

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                arrivals.setdefault(self.path, []).append(self.headers.get("webhook-id", ""))
                times.append(time.monotonic())
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    sys.stdin.read()
    server.shutdown()
    in_order = all(ids == sorted(ids, key=int) and len(ids) == len(set(ids)) for ids in arrivals.values())
    print(json.dumps({
        "deliveries": len(times), "endpoints": len(arrivals), "once_in_order": in_order,
        "seconds": round(times[-1] - times[0], 3) if len(times) > 1 else None,
    }), flush=True)


class Receiver:
    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-m", "bench.webhooks", "receiver"], cwd=BASE_DIR,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = json.loads(self.process.stdout.readline())["url"]

    def stop(self) -> dict:
        self.process.stdin.close()
        stats = json.loads(self.process.stdout.readline())
        self.process.wait(10)
        return stats


def rate(stats: dict) -> float | None:
    return stats["deliveries"] / stats["seconds"] if stats.get("seconds") else None


# --- The legs -------------------------------------------------------------------------------

def plain_client(payload_file, url: str, concurrency: int) -> None:
    """What a script would do: one requests.Session per endpoint, posting its payloads in order."""
    import requests

    per_endpoint: dict[str, list[dict]] = {}
    with open(payload_file) as lines:
        for line in lines:
            item = json.loads(line)
            per_endpoint.setdefault(item["url"].rsplit("/", 1)[1], []).append(item)

    def post_all(path, items):
        with requests.Session() as session:
            for item in items:
                response = session.post(f"{url}/{path}", data=item["body"].encode(), headers=item["headers"], timeout=10)
                response.raise_for_status()

    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(post_all, path, items) for path, items in per_endpoint.items()]:
            future.result()


def leg(run, endpoints: int, events: int) -> dict:
    database = run.database()
    env = run.prepare(database, OUTBOUND_ALLOW_PRIVATE_ADDRESSES="true", OUTBOUND_ALLOW_HTTP="true",
                      WEBHOOK_GAP_GRACE_SECONDS="0", WEBHOOK_BATCH_SIZE="200")
    harbor_receiver = Receiver()
    payloads = run.workdir / f"webhooks-{endpoints}.jsonl"
    started = time.monotonic()
    seeded = run.seed(env, "webhooks", endpoints=endpoints, events=events, receiver_url=harbor_receiver.url,
                      payload_file=str(payloads))
    seed_s = time.monotonic() - started
    started = time.monotonic()
    summary = manage(env, "deliver_webhooks", "--concurrency", str(endpoints), timeout=900).strip()
    command_s = time.monotonic() - started
    harbor = harbor_receiver.stop()
    # The same receiver, fresh, for the plain client: the URLs in the payload file are the old one's.
    plain_receiver = Receiver()
    plain_client(payloads, plain_receiver.url, endpoints)
    plain = plain_receiver.stop()
    database.drop()
    if database.kind == "sqlite":  # the next leg starts from a fresh file too
        for suffix in ("", "-wal", "-shm"):
            (run.workdir / f"harbor_bench.sqlite3{suffix}").unlink(missing_ok=True)
    return {"seed": {**seeded, "seconds": round(seed_s, 1)}, "summary": summary, "command_wall_s": round(command_s, 2),
            "harbor": harbor, "plain": plain}


@benchmark("webhooks", "events delivered/s by deliver_webhooks to a local receiver vs a plain requests loop, same payloads")
def webhooks(run) -> Result:
    events = run.options.get("events") or (200 if run.quick else 1000)
    parameters = {"events_per_endpoint": events, "legs": [1, ENDPOINTS], "mode": "PostgreSQL + Redis" if run.db == "postgres" else "SQLite",
                  "receiver": "one Python ThreadingHTTPServer process answering 204, keep-alive"}
    rows, data, notes, ok = [], {"legs": []}, [], True
    for endpoints in (1, ENDPOINTS):
        result = leg(run, endpoints, events)
        expected = result["seed"]["deliveries"]
        for name, stats in (("harbor deliver_webhooks", result["harbor"]), ("plain requests loop", result["plain"])):
            if stats["deliveries"] != expected or not stats["once_in_order"]:
                ok = False
                notes.append(f"{endpoints} endpoints, {name}: {stats['deliveries']} of {expected} deliveries, "
                             f"once and in order: {stats['once_in_order']}")
        harbor_rate, plain_rate = rate(result["harbor"]), rate(result["plain"])
        rows.append({"leg": "harbor deliver_webhooks", "db": run.db, "endpoints": endpoints, "deliveries": result["harbor"]["deliveries"],
                     "seconds": result["harbor"]["seconds"], "deliveries/s": round(harbor_rate or 0, 1),
                     "×plain": ratio(harbor_rate, plain_rate)})
        rows.append({"leg": "plain requests loop", "db": "-", "endpoints": endpoints, "deliveries": result["plain"]["deliveries"],
                     "seconds": result["plain"]["seconds"], "deliveries/s": round(plain_rate or 0, 1)})
        data["legs"].append({"endpoints": endpoints, **result})
    notes.append("rates are the receiver's (first request to last); the command's wall time with Django's start-up: "
                 + ", ".join(f"{leg['command_wall_s']} s" for leg in data["legs"]))
    return Result(rows=rows, parameters=parameters, data=data, ok=ok, notes=notes)


if __name__ == "__main__":
    if sys.argv[1:2] == ["receiver"]:
        receiver_main()
    else:
        sys.exit("usage: python -m bench.webhooks receiver")
