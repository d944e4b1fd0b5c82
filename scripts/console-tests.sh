#!/usr/bin/env bash
# The web console's end-to-end browser tests (console-tests/): Playwright (playwright-core
# from npm, pinned in console-tests/package-lock.json) driving Debian's chromium headless
# against real straitd processes on 127.0.0.1. Screenshots go to target/console-screenshots/.
#
#   scripts/console-tests.sh [test files...]     (default: every console-tests/*.test.mjs)
#
# Env: STRAITD (default target/debug/straitd, built here), CHROMIUM (default /usr/bin/chromium),
# CONSOLE_TESTS_TIMEOUT (seconds for the whole run, default 600).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "console tests: system packages (chromium)"
missing=()
for p in chromium fonts-dejavu-core; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" < /dev/null
fi
command -v node >/dev/null || { echo "node (20 or newer) is needed" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is needed" >&2; exit 1; }

step "console tests: npm ci (playwright-core; no browser download)"
# playwright-core downloads no browser; the variable makes sure nothing tries to.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
scripts/npm-ci.sh

if [ -z "${STRAITD:-}" ]; then
    step "console tests: cargo build -p strait --bin straitd"
    cargo build -p strait --bin straitd
fi

step "console tests: node --test"
files=("$@")
if [ "${#files[@]}" -eq 0 ]; then
    files=(console-tests/*.test.mjs)
fi
mkdir -p target/console-screenshots
# One file at a time (each starts its own straitd and chromium; the machine has 2 cores).
timeout --kill-after=30 "${CONSOLE_TESTS_TIMEOUT:-600}" \
    node --test --test-concurrency=1 --test-timeout=180000 "${files[@]}"
echo "screenshots: target/console-screenshots/"
