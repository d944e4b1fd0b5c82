#!/usr/bin/env bash
# Scale benchmark (see scripts/bench/vti_memory.py): kernel memory and straitd RSS per VTI with
# 10, 50 and 150 route-based sessions to silent peers, and what stays after deleting them.
#   sudo scripts/bench-vti-memory.sh [--sessions 10,50,150] [--workers N] [--markdown FILE]
# Builds straitd in release mode. Everything runs in a namespace it creates and removes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces, TUN devices)" >&2; exit 1; }
command -v curl >/dev/null && command -v python3 >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl python3
}
cargo build --release --locked -p strait --bin straitd
exec python3 scripts/bench/vti_memory.py --straitd target/release/straitd "$@"
