#!/usr/bin/env bash
# strait demo: two sites joined by a route-based IPsec VPN, configured only through the REST
# API, following the seed page (service, local endpoint, route-based session with tunnel
# interfaces 169.254.100.1/30 and .2/30, PSK, remote ID, default profiles, then a static route).
#
# Run as root (it creates network namespaces):
#
#   scripts/demo.sh up       install what is missing, build, create the sites, bring the
#                            tunnel UP, ping LAN to LAN in both directions, print the status
#                            table; if the tunnel does not come UP or a ping fails, print both
#                            sites' status and statistics, say what to look at, leave the
#                            sites running for that, and exit 1
#   scripts/demo.sh up --bgp the same with BGP instead of the static route: each site runs
#                            BGP (BIRD, configured by straitd) over the tunnel, announces
#                            its LAN (redistribution of connected networks) and learns the
#                            other's; waits for both BGP sessions to be ESTABLISHED with the
#                            routes in, then pings as above
#   scripts/demo.sh status   the status table of both sites again
#   scripts/demo.sh down     stop both straitd and remove what `up` created (only that)
#
# Topology (all inside network namespaces this script creates; nothing touches the host's own
# interfaces or routes):
#
#   site-a-lan 10.1.0.10 ── 10.1.0.1 site-a 198.51.100.1 ══ IPsec ══ 198.51.100.2 site-b 10.2.0.1 ── 10.2.0.10 site-b-lan
#                           VTI 169.254.100.1/30                VTI 169.254.100.2/30
#
# Each site runs its own straitd on https://127.0.0.1:8443 inside its namespace, e.g.
#   ip netns exec site-a target/release/strait --insecure session status
# with STRAIT_PASSWORD from $STRAIT_DEMO_DIR/admin-password (default /run/strait-demo).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${STRAIT_DEMO_DIR:-/run/strait-demo}"
BIN="$ROOT/target/release"
API="https://127.0.0.1:8443/policy/api/v1"
SVC_PATH="/infra/tier-0s/t0/ipsec-vpn-services/vpn"

die() { echo "demo: $*" >&2; exit 1; }
step() { echo "==> $*"; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "run as root (it creates network namespaces): sudo $0 ${1:-up}"
}

# The namespaces `up` creates, recorded so that `down` removes exactly these.
NAMESPACES=(site-a site-b site-a-lan site-b-lan)

in_ns() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }

# curl against the straitd of a site, as admin; prints the body, fails with it on HTTP errors.
api() {
    local site="$1" method="$2" path="$3" body="${4:-}"
    local out code
    out="$(mktemp)"
    code="$(in_ns "$site" curl -sS -k -o "$out" -w '%{http_code}' \
        -u "admin:$(cat "$STATE/admin-password")" -X "$method" \
        -H 'content-type: application/json' ${body:+--data "$body"} "$API$path")" || {
        rm -f "$out"
        die "$site: cannot reach straitd ($method $path); see $STATE/$site/straitd.log"
    }
    if [ "${code:0:1}" != 2 ]; then
        echo "demo: $site: $method $path answered $code:" >&2
        cat "$out" >&2
        echo >&2
        rm -f "$out"
        exit 1
    fi
    cat "$out"
    rm -f "$out"
}

create_sites() {
    for ns in "${NAMESPACES[@]}"; do
        if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
            die "namespace $ns already exists; run '$0 down' first (or remove it)"
        fi
    done
    mkdir -p "$STATE"
    chmod 700 "$STATE"
    : >"$STATE/namespaces"
    for ns in "${NAMESPACES[@]}"; do
        ip netns add "$ns"
        echo "$ns" >>"$STATE/namespaces"
        in_ns "$ns" ip link set lo up
    done
    # The link between the sites (the "internet").
    ip link add wan netns site-a type veth peer name wan netns site-b
    in_ns site-a ip addr add 198.51.100.1/24 dev wan
    in_ns site-b ip addr add 198.51.100.2/24 dev wan
    # A LAN behind each site, with one host on it.
    local s n
    for s in a b; do
        n=$([ "$s" = a ] && echo 1 || echo 2)
        ip link add lan netns "site-$s" type veth peer name eth0 netns "site-$s-lan"
        in_ns "site-$s" ip addr add "10.$n.0.1/24" dev lan
        in_ns "site-$s-lan" ip addr add "10.$n.0.10/24" dev eth0
        in_ns "site-$s" ip link set wan up
        in_ns "site-$s" ip link set lan up
        in_ns "site-$s-lan" ip link set eth0 up
        in_ns "site-$s-lan" ip route add default via "10.$n.0.1"
        in_ns "site-$s" sysctl -qw net.ipv4.ip_forward=1
        in_ns "site-$s" sysctl -qw net.ipv4.conf.all.rp_filter=0
    done
}

start_straitd() {
    local site="$1"
    mkdir -p "$STATE/$site"
    chmod 700 "$STATE/$site"
    # setsid: straitd outlives this script; `down` stops it with SIGTERM (Deletes, cleanup).
    in_ns "$site" env STRAIT_ADMIN_PASSWORD="$(cat "$STATE/admin-password")" \
        setsid "$BIN/straitd" --data-dir "$STATE/$site/data" --listen 127.0.0.1:8443 \
        >"$STATE/$site/straitd.log" 2>&1 </dev/null &
    echo $! >"$STATE/$site/straitd.pid"
    for _ in $(seq 1 100); do
        if in_ns "$site" curl -sk -o /dev/null https://127.0.0.1:8443/healthz; then
            return 0
        fi
        sleep 0.1
    done
    die "$site: straitd did not start; see $STATE/$site/straitd.log"
}

# The seed page's steps for one site, through the REST API only (the static route only
# without --bgp).
configure() {
    local site="$1" local_ip="$2" peer_ip="$3" vti="$4" peer_vti="$5" remote_lan="$6" bgp="${7:-}"
    api "$site" PATCH /infra/tier-0s/t0 '{"display_name": "t0"}' >/dev/null
    api "$site" PATCH "$SVC_PATH" '{"display_name": "vpn", "enabled": true}' >/dev/null
    api "$site" PATCH "$SVC_PATH/local-endpoints/le" \
        "{\"display_name\": \"le\", \"local_address\": \"$local_ip\", \"local_id\": \"$local_ip\"}" >/dev/null
    api "$site" PATCH "$SVC_PATH/sessions/to-peer" "{
        \"resource_type\": \"RouteBasedIPSecVpnSession\",
        \"display_name\": \"to-peer\",
        \"description\": \"strait demo: $site to its peer\",
        \"enabled\": true,
        \"local_endpoint_path\": \"$SVC_PATH/local-endpoints/le\",
        \"peer_address\": \"$peer_ip\",
        \"peer_id\": \"$peer_ip\",
        \"authentication_mode\": \"PSK\",
        \"psk\": \"$(cat "$STATE/psk")\",
        \"tunnel_interfaces\": [{\"ip_subnets\": [{\"ip_addresses\": [\"$vti\"], \"prefix_length\": 30}]}]
    }" >/dev/null
    [ -n "$bgp" ] && return 0
    api "$site" PATCH /infra/tier-0s/t0/static-routes/remote-lan "{
        \"display_name\": \"remote-lan\",
        \"network\": \"$remote_lan\",
        \"next_hops\": [{\"ip_address\": \"$peer_vti\", \"admin_distance\": 1}]
    }" >/dev/null
}

# BGP over the tunnel instead of the static route: the tier-0's AS, its LAN announced
# (connected networks), the peer's VTI address as the neighbor.
configure_bgp() {
    local site="$1" local_as="$2" vti="$3" peer_vti="$4" peer_as="$5"
    local ls=/infra/tier-0s/t0/locale-services/default
    api "$site" PATCH "$ls/bgp" "{\"local_as_num\": \"$local_as\"}" >/dev/null
    api "$site" PATCH "$ls" '{"route_redistribution_config": {"redistribution_rules": [
        {"name": "lan", "route_redistribution_types": ["TIER0_CONNECTED"]}]}}' >/dev/null
    api "$site" PATCH "$ls/bgp/neighbors/peer" "{
        \"display_name\": \"peer\",
        \"neighbor_address\": \"$peer_vti\",
        \"remote_as_num\": \"$peer_as\",
        \"source_addresses\": [\"$vti\"],
        \"password\": \"$(cat "$STATE/bgp-password")\",
        \"bfd\": {\"enabled\": true}
    }" >/dev/null
}

wait_bgp() {
    local site="$1" status=""
    for _ in $(seq 1 150); do
        status="$(api "$site" GET /infra/tier-0s/t0/locale-services/default/bgp/neighbors/status)"
        if echo "$status" | grep -q '"connection_state":"ESTABLISHED"' &&
            ! echo "$status" | grep -q '"total_in_prefix_count":0'; then
            return 0
        fi
        sleep 0.2
    done
    echo "$status" >&2
    fail "$site: BGP did not come up with routes within 30 s (the neighbor status is above)"
}

wait_up() {
    local site="$1" status=""
    for _ in $(seq 1 100); do
        status="$(api "$site" GET "$SVC_PATH/sessions/to-peer/detailed-status")"
        if echo "$status" | grep -q '"runtime_status":"UP"'; then
            return 0
        fi
        sleep 0.2
    done
    echo "$status" >&2
    fail "$site: the session did not come UP within 20 s (its detailed status is above)"
}

# The CLI inside a site, as admin.
cli() {
    local site="$1"; shift
    in_ns "$site" env STRAIT_PASSWORD="$(cat "$STATE/admin-password")" "$BIN/strait" --insecure "$@"
}

status_table() {
    local site
    for site in site-a site-b; do
        echo "--- $site"
        cli "$site" session status
        if [ -f "$STATE/bgp" ]; then
            cli "$site" bgp status
            cli "$site" bgp table --source bgp
        fi
    done
}

# `up` went wrong: show both sites' status and statistics, say what to look at, and exit 1.
# The sites stay up for a look; `down` removes them.
fail() {
    local site
    {
        echo
        echo "demo: FAILED: $*"
        echo
        echo "Status of both sites (as '$0 status' prints it):"
        status_table || true
        for site in site-a site-b; do
            echo
            echo "--- $site: statistics of session to-peer (drops, and nomatching_policy_errors:"
            echo "    packets routed into the tunnel with no SA to send them)"
            cli "$site" session stats to-peer || true
        done
        echo
        echo "What to look at (the sites are still running):"
        echo "  the statistics above, again:"
        echo "    STRAIT_PASSWORD=\$(cat $STATE/admin-password) ip netns exec site-a $BIN/strait --insecure session stats to-peer"
        echo "    STRAIT_PASSWORD=\$(cat $STATE/admin-password) ip netns exec site-b $BIN/strait --insecure session stats to-peer"
        echo "  the negotiated SAs: the same with 'session show to-peer'"
        echo "  the straitd logs: $STATE/site-a/straitd.log and $STATE/site-b/straitd.log"
        echo "Remove the demo with: $0 down"
    } >&2
    exit 1
}

# Ping from the host on one LAN to the host on the other, through the tunnel. Every echo
# must come back: ping exits non-zero unless 3 replies arrive within 6 s.
lan_ping() {
    local from="$1" from_ip="$2" to="$3" to_ip="$4"
    step "ping from $from ($from_ip) to $to ($to_ip) through the tunnel"
    in_ns "$from" ping -c 3 -w 6 "$to_ip"
}

up() {
    local bgp="${1:-}"
    [ -z "$bgp" ] || [ "$bgp" = "--bgp" ] || die "usage: $0 up [--bgp]"
    need_root up
    step "installing what is missing (apt-get) and building strait"
    "$ROOT/scripts/install-deps.sh"
    (cd "$ROOT" && cargo build --release -q -p strait --bins)
    step "creating site-a and site-b (namespaces, WAN link, a LAN behind each)"
    create_sites
    head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$STATE/admin-password"
    head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$STATE/psk"
    head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$STATE/bgp-password"
    chmod 600 "$STATE/admin-password" "$STATE/psk" "$STATE/bgp-password"
    [ -z "$bgp" ] || touch "$STATE/bgp"
    step "starting straitd in each site"
    start_straitd site-a
    start_straitd site-b
    if [ -n "$bgp" ]; then
        step "configuring both sites through the REST API (service, local endpoint, session, BGP)"
        configure site-a 198.51.100.1 198.51.100.2 169.254.100.1 169.254.100.2 10.2.0.0/24 bgp
        configure site-b 198.51.100.2 198.51.100.1 169.254.100.2 169.254.100.1 10.1.0.0/24 bgp
        configure_bgp site-a 65001 169.254.100.1 169.254.100.2 65002
        configure_bgp site-b 65002 169.254.100.2 169.254.100.1 65001
    else
        step "configuring both sites through the REST API (service, local endpoint, session, static route)"
        configure site-a 198.51.100.1 198.51.100.2 169.254.100.1 169.254.100.2 10.2.0.0/24
        configure site-b 198.51.100.2 198.51.100.1 169.254.100.2 169.254.100.1 10.1.0.0/24
    fi
    step "waiting for the session to be UP on both sides"
    wait_up site-a
    wait_up site-b
    if [ -n "$bgp" ]; then
        step "waiting for BGP over the tunnel: both LANs learned"
        wait_bgp site-a
        wait_bgp site-b
    fi
    # Both directions: each site has its own outbound SA, and a site whose data plane lost
    # it still says UP (echo requests of one direction leave through one site's SA, their
    # replies through the other's).
    local failed=()
    lan_ping site-a-lan 10.1.0.10 site-b-lan 10.2.0.10 ||
        failed+=("site-a-lan (10.1.0.10) -> site-b-lan (10.2.0.10)")
    lan_ping site-b-lan 10.2.0.10 site-a-lan 10.1.0.10 ||
        failed+=("site-b-lan (10.2.0.10) -> site-a-lan (10.1.0.10)")
    if [ "${#failed[@]}" -gt 0 ]; then
        local list
        list="$(printf '%s; ' "${failed[@]}")"
        fail "the tunnel is UP on both sides, but LAN-to-LAN ping failed: ${list%; }." \
            "A site that drops outbound packets shows packets_out not growing and" \
            "dropped_packets_out / nomatching_policy_errors growing in its statistics below."
    fi
    step "status"
    status_table
    echo
    echo "The demo is running. Try:"
    echo "  ip netns exec site-b-lan ping 10.1.0.10"
    echo "  STRAIT_PASSWORD=\$(cat $STATE/admin-password) ip netns exec site-a $BIN/strait --insecure session show to-peer"
    echo "  $0 status"
    echo "  $0 down"
}

down() {
    need_root down
    local site pid
    for site in site-a site-b; do
        if [ -f "$STATE/$site/straitd.pid" ]; then
            pid="$(cat "$STATE/$site/straitd.pid")"
            if kill -0 "$pid" 2>/dev/null; then
                kill -TERM "$pid"
                for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    done
    if [ -f "$STATE/namespaces" ]; then
        while read -r ns; do
            [ -n "$ns" ] || continue
            # Anything still running in it (e.g. a ping started by hand).
            ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
            ip netns del "$ns" 2>/dev/null || true
        done <"$STATE/namespaces"
    fi
    rm -rf "$STATE"
    echo "demo removed"
}

case "${1:-}" in
    up) up "${2:-}" ;;
    status) need_root status; [ -f "$STATE/admin-password" ] || die "not running; start it with: $0 up"; status_table ;;
    down) down ;;
    *) echo "usage: $0 up [--bgp]|status|down" >&2; exit 2 ;;
esac
