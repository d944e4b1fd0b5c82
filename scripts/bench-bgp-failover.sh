#!/usr/bin/env bash
# BGP failover over two tunnels (issue 14): two straitd in network namespaces, two IPsec
# tunnels between them (site B has two outer addresses, as an AWS VPN connection does), a
# BGP session with BFD (100 ms x 3) over each, ECMP to B's LAN. The outer address of the
# tunnel that carries the traffic disappears while A pings B's LAN every 20 ms; the longest
# run of lost pings is the failover time. Then the address returns and the time until both
# BGP sessions are back is the failback time. The harness is the end-to-end test
# `crates/strait/tests/bgp.rs` (two_tunnels_...), run RUNS times in release mode.
#
# Usage: sudo scripts/bench-bgp-failover.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
scripts/install-deps.sh
cargo build --release -q -p strait --bins --test bgp
gaps=()
backs=()
for i in $(seq 1 "$runs"); do
    out=$(cargo test --release -q -p strait --test bgp two_tunnels -- --nocapture 2>&1 || true)
    gap=$(sed -nE 's/.*longest gap ([0-9]+) ms.*/\1/p' <<<"$out" | head -n1)
    lost=$(sed -nE 's/.*; ([0-9]+) of 300 pings answered.*/\1/p' <<<"$out" | head -n1)
    back=$(sed -nE 's/.*established ([0-9.]+)s after the address returned.*/\1/p' <<<"$out" | head -n1)
    if [ -z "$gap" ] || [ -z "$back" ]; then
        echo "run $i failed:"; echo "$out" | tail -n 30; exit 1
    fi
    echo "run $i: failover gap ${gap} ms ($((300 - lost)) of 300 pings lost), failback ${back} s"
    gaps+=("$gap"); backs+=("$back")
done
python3 - "${gaps[*]}" "${backs[*]}" <<'PY'
import statistics, sys
g = [int(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
print(f"failover (longest gap in traffic): min {min(g)} ms, median {statistics.median(g):.0f} ms, max {max(g)} ms over {len(g)} runs")
print(f"failback (both BGP sessions back): min {min(b):.1f} s, median {statistics.median(b):.1f} s, max {max(b):.1f} s")
PY
