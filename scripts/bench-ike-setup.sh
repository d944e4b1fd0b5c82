#!/usr/bin/env bash
# IKE setup-rate benchmark (issue 13; see scripts/bench/ike_setup.py): IKE SA + Child SA setups
# per second between two straitd in network namespaces, with pre-shared keys, ECDSA P-256 and
# RSA-2048 certificates. Prints a Markdown table.
#   sudo scripts/bench-ike-setup.sh [--sessions 100] [--rounds 3] [--modes psk,ecdsa-p256,rsa-2048]
#                                   [--straitd PATH]
# Builds straitd in release mode (`--straitd PATH` measures another build). Everything runs in
# network namespaces it creates and removes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces, TUN devices)" >&2; exit 1; }
for cmd in curl python3 openssl ip; do
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
cargo build --release --locked -p strait --bin straitd
exec python3 scripts/bench/ike_setup.py --straitd "$straitd" "${args[@]}"
