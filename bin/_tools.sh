# Sourced by bin/test and bin/bench: what the tests and benchmarks need besides Python packages,
# installed when missing — Debian's Chromium, wrk and pgbench (apt-get, as root) and axe-core (npm).
# Without them the tests that need them skip and say why.

_apt_install() {  # package, what it is for
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing $1 for $2 (apt-get)"
        { apt-get install -y -qq "$1" || { apt-get update -qq && apt-get install -y -qq "$1"; }; } >/dev/null 2>&1 \
            || echo "$1 could not be installed; $2 will be skipped" >&2
    fi
}

need_chromium() {
    [ -x /usr/bin/chromium ] || _apt_install chromium "the browser tests"
}

need_wrk() {
    command -v wrk >/dev/null || _apt_install wrk "the HTTP load of the benchmarks"
}

need_pgbench() {  # the queue benchmark's limit (raw SQL claims); Debian ships it with the client
    command -v pgbench >/dev/null || _apt_install postgresql-contrib "the queue benchmark's raw-SQL limit (pgbench)"
}

need_axe() {
    if [ ! -f .e2e/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null; then
        echo "Installing axe-core for the accessibility checks (npm)"
        npm install --silent --no-audit --no-fund --prefix .e2e "axe-core@^4.10" >/dev/null 2>&1 \
            || echo "axe-core could not be installed; the accessibility checks will be skipped" >&2
    fi
}
