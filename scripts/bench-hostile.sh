#!/usr/bin/env bash
# Hostile-network benchmark (issue 12; see scripts/bench/hostile.py): under a forged IKE flood
# of each kind at 15,000 datagrams/s "from" a configured peer's address, (a) how long a fresh
# session takes to come UP vs. without a flood, (b) ping loss on an established tunnel and how
# long a forced Child SA / IKE SA rekey takes, (c) straitd's RSS before, at the peak and 30 s
# after, (d) log lines added. Prints a Markdown table.
#   sudo scripts/bench-hostile.sh [--rate 15000] [--seconds 20] [--kinds none,invalid-ke,...] [--logs DIR]
#                                 [--straitd PATH] [--markdown FILE]
# Builds straitd and strait-hostile in release mode (`--straitd PATH` measures another build,
# e.g. an older commit's). BENCH_STRAIT_LOG sets the STRAIT_LOG of every straitd (default info;
# e.g. info,strait_control=debug shows each IKE datagram). Everything runs in network namespaces
# it creates and removes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces, raw sockets, TUN devices)" >&2; exit 1; }
for cmd in curl python3 ping ip; do
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
cargo build --release --locked -p strait --bin straitd -p strait-hostile --bin strait-hostile
exec python3 scripts/bench/hostile.py --straitd "$straitd" --hostile target/release/strait-hostile "${args[@]}"
