#!/usr/bin/env bash
# Tunnels at scale (issue 16; see scripts/bench/scale.py): N route-based sessions between two
# straitd in network namespaces; how fast all come UP, CPU, memory and descriptors per tunnel,
# sample pings, idle CPU, and (--restart) recovery from kill -9. Prints a Markdown table.
#   sudo scripts/bench-scale.sh [--sessions 1000,10000] [--group modp2048|x25519] [--restart]
#                               [--pings 20] [--idle 30] [--straitd PATH] [--json FILE]
#                               [--perf-idle DIR]
# Builds straitd in release mode (`--straitd PATH` measures another build). Everything runs in
# network namespaces it creates and removes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces, TUN devices)" >&2; exit 1; }
for cmd in curl python3 ip ping; do
    command -v "$cmd" >/dev/null || { echo "missing $cmd: run scripts/install-deps.sh" >&2; exit 1; }
done
straitd=target/release/straitd
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --straitd) straitd="$2"; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
[ "$straitd" != target/release/straitd ] || cargo build --release --locked -p strait --bin straitd
exec python3 scripts/bench/scale.py --straitd "$straitd" "${args[@]}"
