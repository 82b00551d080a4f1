"""Harbor's benchmarks. Run them with `bin/bench [names…] [--quick] [--db sqlite|postgres]`.

Each benchmark measures Harbor and, in the same run and on the same machine, a baseline that
does the same work without Harbor (a plain server, raw SQL, …); the ratio between the two is
the figure we quote, since absolute numbers move with the machine and its load.

Adding a benchmark (the queue and poller benchmarks plug in here): write `bench/<name>.py` with
a function decorated by `@benchmark("<name>", "what it measures")` that takes a `Run` and
returns a `Result`, and add the module to `MODULES` below. `bench/harness.py` has the pieces:
a fresh database (`Run.database`), seeding through Harbor's services (`Run.seed`, with a
scenario in `bench/seed.py`), real daphne processes (`Run.daphne`), percentiles and the table.
"""

#: Benchmark modules, in the order `bin/bench` runs them.
MODULES = ["bench.fanout", "bench.http_reads", "bench.queue", "bench.poller", "bench.mix", "bench.idle", "bench.webhooks"]
