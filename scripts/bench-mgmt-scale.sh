#!/usr/bin/env bash
# Management plane at scale (issue 16; see scripts/bench/mgmt_scale.py): PATCH/PUT latency with
# 1 and 8 clients, list, summary and detailed-status times and straitd's RSS with N sessions
# stored. Prints a Markdown table.
#   sudo scripts/bench-mgmt-scale.sh [--sessions 0,1000,10000] [--chunk 500] [--requests 200]
#                                    [--straitd PATH]
# Builds straitd in release mode (`--straitd PATH` measures another build). straitd runs in a
# network namespace this script creates and removes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "missing python3: run scripts/install-deps.sh" >&2; exit 1; }
straitd=target/release/straitd
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --straitd) straitd="$2"; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
[ "$straitd" != target/release/straitd ] || cargo build --release --locked -p strait --bin straitd
straitd="$(realpath "$straitd")"
ns="st-mgmt-$$-$RANDOM"
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
ip -n "$ns" link set lo up
ip netns exec "$ns" python3 scripts/bench/mgmt_scale.py --straitd "$straitd" "${args[@]}"
