#!/usr/bin/env bash
# Tunnel throughput benchmark (see scripts/bench/tunnels.py): veth, strongSwan, boringtun and
# strait side by side in one run, iperf3 1 and 4 streams, median of --runs rounds.
#   sudo scripts/bench-tunnels.sh [--time 10] [--runs 3] [--only strait,strongswan] [--markdown FILE]
# Installs what it needs (strongSwan, iperf3, wireguard-tools, boringtun-cli from crates.io) and
# builds straitd in release mode. Everything runs in namespaces it creates and removes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces, TUN devices)" >&2; exit 1; }
scripts/install-deps.sh
export DEBIAN_FRONTEND=noninteractive
need=()
command -v wg >/dev/null || need+=(wireguard-tools)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    apt-get install -y --no-install-recommends "${need[@]}"
fi
tools=target/bench-tools
if [ ! -x "$tools/bin/boringtun-cli" ]; then
    cargo install boringtun-cli --locked --version 0.7.1 --root "$tools"
fi
cargo build --release --locked -p strait --bin straitd
exec python3 scripts/bench/tunnels.py --straitd target/release/straitd --boringtun "$tools/bin/boringtun-cli" "$@"
