"""`python -m bench [names…] [--quick] [--db sqlite|postgres|both]` (usually through `bin/bench`)."""

import argparse
import importlib
import resource
import sys
import time
import traceback

from . import MODULES
from .harness import BENCHMARKS, Run, print_table, remove_scratch, scratch_dir, write_results


def main(argv=None) -> int:
    for module in MODULES:
        importlib.import_module(module)
    parser = argparse.ArgumentParser(prog="bin/bench", description="Harbor's benchmarks, each against a baseline in the same run.")
    parser.add_argument("names", nargs="*", metavar="name", help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true", help="small and short: a smoke run, not figures to quote")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both",
                        help="sqlite runs Harbor embedded, postgres in scale-out mode with Redis (default: both)")
    parser.add_argument("--processes", type=int, help="daphne processes (default: per benchmark)")
    parser.add_argument("--sockets", type=int, help="fanout: WebSocket clients (default 1000, --quick 100)")
    parser.add_argument("--users", type=int, help="fanout: distinct participants the sockets belong to (default: one per socket); poller: users polled (default 10,000, --quick 500)")
    parser.add_argument("--rounds", type=int, help="fanout: messages posted, one at a time")
    parser.add_argument("--duration", type=float, help="http_reads, queue: seconds of load per leg (default 10, --quick 3)")
    parser.add_argument("--server", choices=["daphne", "gunicorn"],
                        help="queue, http_reads: only this HTTP tier (daphne processes or gunicorn sync workers; default: compare)")
    parser.add_argument("--bots", type=int, help="queue: bot connections claiming and completing (default 16)")
    parser.add_argument("--producers", type=int, help="queue: connections posting new messages during Harbor's legs "
                                                      "(default 0: the bots drain a pre-filled queue, as the peers do)")
    parser.add_argument("--batch", type=int, help="queue: the batched bots' batch size (default and most: 40)")
    parser.add_argument("--rooms", type=int, help="mix: workflows of 5 people, one socket each (default 200, --quick 20)")
    parser.add_argument("--rate", type=float, help="mix: posts per second, open-loop (default 100, --quick 20)")
    parser.add_argument("--hold", type=float, help="idle: seconds the sockets are held after connecting (default 60, --quick 10)")
    parser.add_argument("--events", type=int, help="webhooks: events per endpoint (default 1000, --quick 200)")
    parser.add_argument("--profile", action="store_true", help="record a py-spy profile of (the first) Harbor daphne process")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/<name>.json")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    # A thousand sockets need two thousand descriptors in this machine's processes.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    options = {key: getattr(args, key) for key in ("sockets", "users", "rounds", "duration", "bots", "batch", "producers", "server",
                                                  "profile", "rooms", "rate", "hold", "events")}
    failed = False
    for name in args.names or list(BENCHMARKS):
        for db in dbs:
            workdir = scratch_dir()
            started = time.monotonic()
            print(f"== {name} on {db}{' (quick)' if args.quick else ''}: {BENCHMARKS[name].description}", flush=True)
            try:
                result = BENCHMARKS[name].run(Run(quick=args.quick, db=db, processes=args.processes, workdir=workdir, options=options))
            except Exception:
                traceback.print_exc()
                print(f"   logs kept in {workdir}")
                failed = True
                continue
            print_table(f"{name} on {db} ({time.monotonic() - started:.0f} s)", result.rows)
            for note in result.notes:
                print(f"   NOTE: {note}")
            if not result.ok:
                failed = True
            if not args.no_save:
                path = write_results(name, db, ["bin/bench", *(argv if argv is not None else sys.argv[1:])], result, started)
                print(f"   results: {path.relative_to(path.parents[2])}")
            remove_scratch(workdir)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
