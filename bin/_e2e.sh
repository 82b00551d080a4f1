# Sourced by bin/test: what the browser tests need besides Python packages, installed when
# missing — Debian's Chromium (apt-get, as root) and axe-core (npm). Without them the browser
# tests skip and say why.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Chromium for the browser tests (apt-get)"
    { apt-get install -y -qq chromium || { apt-get update -qq && apt-get install -y -qq chromium; }; } >/dev/null 2>&1 \
        || echo "Chromium could not be installed; the browser tests will be skipped" >&2
fi
if [ ! -f .e2e/node_modules/axe-core/axe.min.js ] && command -v npm >/dev/null; then
    echo "Installing axe-core for the accessibility checks (npm)"
    npm install --silent --no-audit --no-fund --prefix .e2e "axe-core@^4.10" >/dev/null 2>&1 \
        || echo "axe-core could not be installed; the accessibility checks will be skipped" >&2
fi
