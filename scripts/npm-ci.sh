#!/usr/bin/env bash
# `npm ci` in console-tests/ (playwright-core, pinned by its package-lock.json; no browser
# download), tried up to five times: the registry answers 503 now and then, and a test
# suite must not fail because a download did once.
set -euo pipefail
cd "$(dirname "$0")/../console-tests"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
for attempt in 1 2 3 4 5; do
    if npm ci --no-audit --no-fund --prefer-offline --loglevel=error \
        --fetch-retries=4 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=20000; then
        exit 0
    fi
    echo "npm ci failed (attempt $attempt of 5); trying again in $((attempt * 10)) s" >&2
    sleep $((attempt * 10))
done
echo "npm ci in console-tests failed 5 times: is https://registry.npmjs.org reachable?" >&2
exit 1
