#!/usr/bin/env bash
# strait's whole test suite: formatting, lints, every unit/integration/end-to-end test
# (they start real straitd processes on loopback and in network namespaces, with strongSwan
# peers), the web console's browser tests in Chromium, a short fuzzing run of every parser,
# and the README's demo. Needs root.
# The README's quick start and CI (.ci/run) both run exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
scripts/install-deps.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, integration, end to end)"
cargo test --workspace --locked

step "web console in Chromium (Playwright; screenshots in target/console-screenshots/)"
scripts/console-tests.sh

step "fuzz every parser for ${FUZZ_SECONDS}s each"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
fuzz/run.sh "$FUZZ_SECONDS"

step "the README's demo: scripts/demo.sh up, status, down (two sites, LAN-to-LAN ping)"
trap 'scripts/demo.sh down >/dev/null 2>&1 || true' EXIT
scripts/demo.sh up
scripts/demo.sh status
scripts/demo.sh down
trap - EXIT

step "all tests passed"
