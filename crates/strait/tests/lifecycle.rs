//! Sessions as live tunnels (the seed page end to end): everything is configured through the
//! REST API only, and each step is observed in `detailed-status`, in the kernel (VTIs and the
//! routes strait owns) and by the peer. strait ↔ strait and strait ↔ strongSwan, each side in its
//! own network namespace:
//! - UP within 10 s, static routes realized over the VTI, LAN-to-LAN ping, the CLI status table
//!   and the service summary;
//! - disable → DOWN "Session not enabled", the peer sees the Delete ("Peer sent delete");
//! - wrong PSK → "Authentication failed"; mismatched profiles → "No proposal chosen" naming the
//!   mismatch; RESPOND_ONLY on both sides → nobody starts, until one side initiates;
//! - `kill -9` of straitd → UP again with no API action, routes restored;
//! - the peer killed → DOWN "Peer not responding" within the DPD bounds, UP again when it returns.
//!
//! Needs root and `scripts/install-deps.sh` (fails loudly otherwise, never skips).
mod common;

use std::time::{Duration, Instant};

use common::netns::{ping, topology_with_lans, Netns, PskConn, StrongSwan, Topology};
use common::straitd::{configure, StraitInNs, PSK, SESSION, SVC};
use serde_json::{json, Value};

const A: &str = "198.51.100.1";
const B: &str = "198.51.100.2";
const VTI_A: &str = "169.254.100.1";
const VTI_B: &str = "169.254.100.2";
/// LAN addresses behind each side (on `lo`), reached through static routes.
const LAN_A: &str = "10.1.0.1";
const LAN_B: &str = "10.2.0.1";
/// A DPD profile fast enough for tests: probe after 3 s of silence, 3 retransmissions 0.5 s
/// apart, so a dead peer is declared after about 3 + 0.5 × 4 = 5 s.
const DPD: &str = "/policy/api/v1/infra/ipsec-vpn-dpd-profiles/fast";
const DPD_PATH: &str = "/infra/ipsec-vpn-dpd-profiles/fast";

/// The seed's next step: a static route to the remote LAN via the peer's VTI address.
fn add_static_route(s: &StraitInNs, network: &str, next_hop: &str) {
    let network = network.to_owned();
    let next_hop = next_hop.to_owned();
    s.api(move |h| {
        h.patch(
            "/policy/api/v1/infra/tier-0s/t0/static-routes/remote-lan",
            &json!({"network": network, "next_hops": [{"ip_address": next_hop}]}),
        )
        .expect(200);
    });
}

fn fast_dpd(s: &StraitInNs) {
    s.api(|h| {
        h.patch(
            DPD,
            &json!({"dpd_probe_mode": "PERIODIC", "dpd_probe_interval": 3, "retry_count": 3}),
        )
        .expect(200);
    });
}

fn set_session(s: &StraitInNs, body: Value) {
    s.api(move |h| h.patch(SESSION, &body).expect(200));
}

fn wait_for(s: &StraitInNs, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let st = s.status(SESSION);
        if pred(&st) {
            return st;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}; status: {st:#}\nstraitd log:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn up(st: &Value) -> bool {
    st["runtime_status"] == "UP" && st["interface_name"].is_string()
}

fn down_with(reason: &'static str) -> impl Fn(&Value) -> bool {
    move |st| st["runtime_status"] == "DOWN" && st["ike_status"]["fail_reason"] == reason
}

/// strait's routes in the main table (protocol 83), as `ip route` prints them.
fn strait_routes(ns: &Netns) -> String {
    ns.ip(&["route", "show", "proto", "83"])
}

/// `strait` (the CLI) inside the namespace, against this straitd.
fn cli(ns: &Netns, s: &StraitInNs, args: &[&str]) -> String {
    let out = ns
        .command(env!("CARGO_BIN_EXE_strait"))
        .args(["--server", s.base(), "--insecure"])
        .args(args)
        .env("STRAIT_PASSWORD", common::ADMIN_PASSWORD)
        .output()
        .expect("run strait");
    assert!(
        out.status.success(),
        "strait {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Both sides configured; A initiates (B only answers unless `b_initiates`).
fn strait_pair<'t>(
    t: &'t Topology,
    extra: Value,
    b_initiates: bool,
) -> (StraitInNs<'t>, StraitInNs<'t>) {
    let sa = StraitInNs::start(&t.a);
    let sb = StraitInNs::start(&t.b);
    let e = extra.clone();
    sb.api(move |h| configure(h, B, A, VTI_B, b_initiates, e));
    add_static_route(&sb, "10.1.0.1/32", VTI_A);
    sa.api(move |h| configure(h, A, B, VTI_A, true, extra));
    add_static_route(&sa, "10.2.0.1/32", VTI_B);
    (sa, sb)
}

fn lan_ping(t: &Topology) -> bool {
    let out = t.a.exec(&[
        "ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", LAN_A, LAN_B,
    ]);
    out.status.success()
}

#[test]
fn seed_flow_between_straits_up_routes_disable_enable_and_restarts() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let start = Instant::now();
    let (mut sa, sb) = strait_pair(&t, json!({}), false);
    let st = wait_for(&sa, "UP", Duration::from_secs(10), up);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "UP after {took:?}");
    wait_for(&sb, "B UP", Duration::from_secs(5), up);
    let vti = st["interface_name"].as_str().unwrap().to_owned();

    // The static route is a kernel route over the VTI, owned by strait (proto 83).
    let routes = strait_routes(&t.a);
    assert!(
        routes.contains(&format!("{LAN_B} dev {vti}")),
        "static route not realized: {routes:?}"
    );
    assert!(lan_ping(&t), "LAN to LAN ping through the tunnel failed");

    // The CLI's status table and the service summary.
    let table = cli(&t.a, &sa, &["session", "status"]);
    let header = table.lines().next().unwrap_or_default();
    for col in [
        "NAME",
        "PEER",
        "STATE",
        "UPTIME",
        "REASON",
        "BYTES IN",
        "BYTES OUT",
    ] {
        assert!(header.contains(col), "no {col} column: {table}");
    }
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains("esp test") && row.contains(B) && row.contains("UP"),
        "{table}"
    );
    let show = cli(&t.a, &sa, &["session", "show", "s"]);
    assert!(
        show.contains("runtime_status") && show.contains("ike_sa") && show.contains("child_sa"),
        "{show}"
    );
    let stats = cli(&t.a, &sa, &["session", "stats", "s"]);
    assert!(
        stats.contains("packets_out") && stats.contains("replay_errors"),
        "{stats}"
    );
    let summary = sa.api(|h| h.get(&format!("{SVC}/summary")).expect(200).body);
    assert_eq!(
        summary["session_summary"]["total_sessions"], 1,
        "{summary:#}"
    );
    assert_eq!(
        summary["session_summary"]["established_sessions"], 1,
        "{summary:#}"
    );
    assert!(
        summary["aggregate_traffic_counters"]["packets_out"].as_u64() >= Some(3),
        "{summary:#}"
    );

    // Disable: Delete sent, VTI and routes gone; the peer saw the Delete.
    set_session(&sa, json!({"enabled": false}));
    let st = wait_for(
        &sa,
        "DOWN: Session not enabled",
        Duration::from_secs(5),
        down_with("Session not enabled"),
    );
    assert!(st["interface_name"].is_null(), "{st:#}");
    wait_for(
        &sb,
        "B: Peer sent delete",
        Duration::from_secs(5),
        down_with("Peer sent delete"),
    );
    assert!(!t.a.has_link(&vti), "the VTI is still there");
    assert!(strait_routes(&t.a).is_empty(), "{}", strait_routes(&t.a));
    let summary = sa.api(|h| h.get(&format!("{SVC}/summary")).expect(200).body);
    assert_eq!(
        summary["session_summary"]["failed_sessions"], 0,
        "disabled is not failed"
    );

    // Enable: up again, routes back.
    set_session(&sa, json!({"enabled": true}));
    wait_for(&sa, "UP again", Duration::from_secs(10), up);
    assert!(strait_routes(&t.a).contains(LAN_B));
    assert!(lan_ping(&t));

    // kill -9: everything comes back from the store with no API action.
    sa.kill9();
    assert!(
        !t.a.has_link(&vti),
        "a killed straitd's TUN device must vanish"
    );
    sa.restart();
    wait_for(&sa, "UP after kill -9", Duration::from_secs(15), up);
    assert!(
        strait_routes(&t.a).contains(&format!("{LAN_B} dev {vti}")),
        "route not restored: {}",
        strait_routes(&t.a)
    );
    wait_for(&sb, "B UP after A's restart", Duration::from_secs(10), up);
    assert!(lan_ping(&t), "no traffic after the restart");

    // SIGTERM: Deletes sent, VTI and routes removed (as one interface group: the VTI is in
    // straitd's, 0x5354....), exit 0.
    let link = t.a.ip(&["-d", "-j", "link", "show", "dev", &vti]);
    let group: u64 = serde_json::from_str::<Value>(&link).unwrap()[0]["group"]
        .to_string()
        .trim_matches('"')
        .parse()
        .unwrap_or_else(|_| panic!("the VTI is in no group of straitd's: {link}"));
    assert_eq!(group >> 16, 0x5354, "{link}");
    let code = sa.terminate();
    assert!(code.success(), "{code:?}");
    wait_for(
        &sb,
        "B: Peer sent delete after SIGTERM",
        Duration::from_secs(5),
        down_with("Peer sent delete"),
    );
    assert!(!t.a.has_link(&vti));
    assert!(strait_routes(&t.a).is_empty());
}

#[test]
fn failures_between_straits_say_why() {
    let t = topology_with_lans(LAN_A, LAN_B);
    // Wrong PSK on the initiator.
    let (sa, sb) = strait_pair(&t, json!({}), false);
    wait_for(&sa, "UP", Duration::from_secs(10), up);
    set_session(&sa, json!({"psk": "not the peer's key"}));
    let st = wait_for(
        &sa,
        "Authentication failed",
        Duration::from_secs(15),
        down_with("Authentication failed"),
    );
    assert!(st["alarm"]["message"].is_string(), "{st:#}");
    set_session(&sa, json!({"psk": PSK}));
    wait_for(&sa, "UP with the right PSK", Duration::from_secs(15), up);

    // Mismatched IKE profiles: the alarm names both sides' algorithms.
    sb.api(|h| {
        h.patch(
            "/policy/api/v1/infra/ipsec-vpn-ike-profiles/strong",
            &json!({"encryption_algorithms": ["AES_256"], "digest_algorithms": ["SHA2_384"], "dh_groups": ["GROUP20"]}),
        )
        .expect(200);
    });
    set_session(
        &sb,
        json!({"ike_profile_path": "/infra/ipsec-vpn-ike-profiles/strong"}),
    );
    // A new IKE SA from A meets B's new profile.
    set_session(&sa, json!({"enabled": false}));
    set_session(&sa, json!({"enabled": true}));
    let st = wait_for(
        &sa,
        "No proposal chosen",
        Duration::from_secs(15),
        down_with("No proposal chosen"),
    );
    let alarm = st["alarm"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        alarm.contains("AES_128") || alarm.contains("GROUP14") || alarm.contains("AES_256"),
        "the alarm does not name the mismatch: {alarm:?}"
    );

    // Both RESPOND_ONLY: nobody starts; then B initiates and the tunnel comes up.
    set_session(
        &sb,
        json!({"ike_profile_path": "/infra/ipsec-vpn-ike-profiles/nsx-default-l3vpn-ike-profile"}),
    );
    set_session(
        &sa,
        json!({"connection_initiation_mode": "RESPOND_ONLY", "enabled": false}),
    );
    set_session(&sa, json!({"enabled": true}));
    std::thread::sleep(Duration::from_secs(3));
    for s in [&sa, &sb] {
        let st = s.status(SESSION);
        assert_eq!(st["runtime_status"], "DOWN", "{st:#}");
        assert_ne!(st["ike_status"]["ike_session_state"], "UP", "{st:#}");
    }
    set_session(&sb, json!({"connection_initiation_mode": "INITIATOR"}));
    wait_for(&sa, "UP once B initiates", Duration::from_secs(10), up);
    wait_for(&sb, "B UP", Duration::from_secs(5), up);
}

#[test]
fn dpd_declares_a_dead_strait_peer_and_the_initiator_comes_back() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let sa = StraitInNs::start(&t.a);
    let mut sb = StraitInNs::start(&t.b);
    for s in [&sa, &sb] {
        fast_dpd(s);
    }
    sb.api(|h| configure(h, B, A, VTI_B, false, json!({"dpd_profile_path": DPD_PATH})));
    sa.api(|h| configure(h, A, B, VTI_A, true, json!({"dpd_profile_path": DPD_PATH})));
    wait_for(&sa, "UP", Duration::from_secs(10), up);
    wait_for(&sb, "B UP", Duration::from_secs(5), up);

    // An idle healthy tunnel survives several DPD intervals.
    std::thread::sleep(Duration::from_secs(7));
    assert!(up(&sa.status(SESSION)), "{:#}", sa.status(SESSION));

    sb.kill9();
    let killed = Instant::now();
    let st = wait_for(
        &sa,
        "Peer not responding",
        Duration::from_secs(15),
        down_with("Peer not responding"),
    );
    let took = killed.elapsed();
    // Silence starts at the kill at the latest: 3 s interval + 0.5 s × (3 + 1) (+ slack for
    // the status poll and a probe that had just been answered).
    assert!(
        took >= Duration::from_secs(2) && took <= Duration::from_secs(9),
        "declared dead after {took:?}"
    );
    let alarm = st["alarm"]["message"].as_str().unwrap_or_default();
    assert!(alarm.contains("DPD"), "{alarm:?}");
    assert!(
        st["interface_name"].is_string(),
        "the VTI stays while the session is enabled"
    );

    // The peer returns (its config is in its store); the initiator re-establishes.
    sb.restart();
    wait_for(
        &sa,
        "UP after the peer returned",
        Duration::from_secs(30),
        up,
    );
    wait_for(&sb, "B UP", Duration::from_secs(5), up);
}

#[test]
fn strongswan_peer_lifecycle_dpd_and_kill9() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let mut ss = StrongSwan::start(&t.b);
    ss.set_tunnel_addr("169.254.100.2/30");
    ss.add_tunnel_route(&format!("{LAN_A}/32"));
    let mut conn = PskConn::new("rb", B, A, PSK);
    conn.replay_window = Some(4096);
    ss.load(&conn.render());
    let mut sa = StraitInNs::start(&t.a);
    fast_dpd(&sa);
    let start = Instant::now();
    sa.api(|h| configure(h, A, B, VTI_A, true, json!({"dpd_profile_path": DPD_PATH})));
    add_static_route(&sa, "10.2.0.1/32", VTI_B);
    wait_for(&sa, "UP", Duration::from_secs(10), up);
    assert!(start.elapsed() < Duration::from_secs(10));
    ss.wait_established("rb", Duration::from_secs(5));
    assert!(lan_ping(&t), "LAN ping to strongSwan's side failed");

    // Disable: strongSwan sees the Delete and has no IKE SA left.
    set_session(&sa, json!({"enabled": false}));
    wait_for(
        &sa,
        "Session not enabled",
        Duration::from_secs(5),
        down_with("Session not enabled"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ss.list_sas().is_empty() {
        assert!(
            Instant::now() < deadline,
            "strongSwan kept its SAs: {:?}",
            ss.list_sas()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    set_session(&sa, json!({"enabled": true}));
    wait_for(&sa, "UP again", Duration::from_secs(10), up);

    // kill -9 of straitd: back with no API action; strongSwan replaces the old IKE SA.
    sa.kill9();
    sa.restart();
    wait_for(&sa, "UP after kill -9", Duration::from_secs(15), up);
    ss.wait_established("rb", Duration::from_secs(5));
    assert!(lan_ping(&t), "no traffic after the restart");

    // strongSwan dies (SIGKILL: no Delete): DPD declares it, and strait comes back when it does.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ss.pid() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill charon");
    ss.stop();
    let stopped = Instant::now();
    wait_for(
        &sa,
        "Peer not responding",
        Duration::from_secs(15),
        down_with("Peer not responding"),
    );
    assert!(
        stopped.elapsed() <= Duration::from_secs(9),
        "{:?}",
        stopped.elapsed()
    );
    let ss = StrongSwan::start(&t.b);
    ss.set_tunnel_addr("169.254.100.2/30");
    ss.add_tunnel_route(&format!("{LAN_A}/32"));
    ss.load(&conn.render());
    wait_for(
        &sa,
        "UP after strongSwan returned",
        Duration::from_secs(30),
        up,
    );
    assert!(ping(&t.a, VTI_B, 3), "no traffic after strongSwan's return");
}

/// The Child SA algorithms in a status (`sas.child[*].algorithms`).
fn child_algorithms(st: &Value) -> Vec<String> {
    st["sas"]["child"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["algorithms"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn profile_route_and_session_edits_are_realized_between_straits() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let (sa, sb) = strait_pair(&t, json!({}), false);
    let st = wait_for(&sa, "UP", Duration::from_secs(10), up);
    let vti = st["interface_name"].as_str().unwrap().to_owned();
    assert!(
        child_algorithms(&st)
            .iter()
            .all(|a| a.contains("AES_GCM_128")),
        "{st:#}"
    );

    // A tunnel profile both sessions use changes: the tunnel is negotiated again with it,
    // with no other action.
    for s in [&sa, &sb] {
        s.api(|h| {
            h.patch(
                "/policy/api/v1/infra/ipsec-vpn-tunnel-profiles/gcm256",
                &json!({"encryption_algorithms": ["AES_GCM_128"], "dh_groups": ["GROUP14"]}),
            )
            .expect(200);
        });
        set_session(
            s,
            json!({"tunnel_profile_path": "/infra/ipsec-vpn-tunnel-profiles/gcm256"}),
        );
    }
    wait_for(&sa, "UP with the new profile", Duration::from_secs(15), up);
    for s in [&sb, &sa] {
        s.api(|h| {
            h.patch(
                "/policy/api/v1/infra/ipsec-vpn-tunnel-profiles/gcm256",
                &json!({"encryption_algorithms": ["AES_GCM_256"], "dh_groups": ["GROUP19"]}),
            )
            .expect(200);
        });
    }
    let st = wait_for(&sa, "AES_GCM_256 in use", Duration::from_secs(20), |st| {
        up(st)
            && child_algorithms(st)
                .iter()
                .any(|a| a.contains("AES_GCM_256"))
    });
    assert!(
        child_algorithms(&st)
            .iter()
            .all(|a| !a.contains("AES_GCM_128")),
        "the old algorithm is still in use: {st:#}"
    );
    assert!(lan_ping(&t), "no traffic after the profile change");

    // Static route edits follow: a new network, then deletion.
    add_static_route(&sa, "10.2.0.0/24", VTI_B);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !strait_routes(&t.a).contains(&format!("10.2.0.0/24 dev {vti}")) {
        assert!(
            Instant::now() < deadline,
            "edited route not realized: {}",
            strait_routes(&t.a)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !strait_routes(&t.a).contains("10.2.0.1 "),
        "the old route stayed: {}",
        strait_routes(&t.a)
    );
    // A next hop on no VTI: stored, not installed, and the log says why.
    sa.api(|h| {
        h.patch(
            "/policy/api/v1/infra/tier-0s/t0/static-routes/stray",
            &json!({"network": "10.3.0.0/24", "next_hops": [{"ip_address": "169.254.200.1"}]}),
        )
        .expect(200)
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sa.log().contains("static route not installed") {
        assert!(
            Instant::now() < deadline,
            "no warning for a route on no VTI:\n{}",
            sa.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !strait_routes(&t.a).contains("10.3.0.0"),
        "{}",
        strait_routes(&t.a)
    );
    sa.api(|h| {
        h.delete("/policy/api/v1/infra/tier-0s/t0/static-routes/stray")
            .expect(200);
        h.delete("/policy/api/v1/infra/tier-0s/t0/static-routes/remote-lan")
            .expect(200)
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !strait_routes(&t.a).is_empty() {
        assert!(
            Instant::now() < deadline,
            "deleted route stayed: {}",
            strait_routes(&t.a)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Deleting the session: Delete sent, VTI gone.
    sa.api(|h| h.delete(SESSION).expect(200));
    wait_for(
        &sb,
        "B: Peer sent delete",
        Duration::from_secs(5),
        down_with("Peer sent delete"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while t.a.has_link(&vti) {
        assert!(Instant::now() < deadline, "the VTI outlived its session");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_services_ike_log_level_sets_the_ike_log() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let sa = StraitInNs::start_with_service_log_level(&t.a);
    let sb = StraitInNs::start(&t.b);
    sb.api(|h| configure(h, B, A, VTI_B, false, json!({})));
    sa.api(|h| configure(h, A, B, VTI_A, true, json!({"enabled": false})));
    // INFO (the default): session events, no message headers.
    set_session(&sa, json!({"enabled": true}));
    wait_for(&sa, "UP", Duration::from_secs(10), up);
    let log = sa.log();
    assert!(log.contains("session up"), "{log}");
    assert!(!log.contains("IKE sent"), "DEBUG lines at INFO: {log}");

    // DEBUG: every IKE message's header (never its payloads).
    sa.api(|h| h.patch(SVC, &json!({"ike_log_level": "DEBUG"})).expect(200));
    std::thread::sleep(Duration::from_millis(500));
    sa.api(|h| {
        h.raw("POST", &format!("{SESSION}?action=rekey_child"), "")
            .expect(200)
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sa.log().contains("exchange=\"CREATE_CHILD_SA\"") {
        assert!(
            Instant::now() < deadline,
            "no DEBUG IKE log after ike_log_level DEBUG:\n{}",
            sa.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !sa.log().contains(common::straitd::PSK),
        "the PSK reached the log"
    );

    // ERROR: session events are no longer logged.
    sa.api(|h| h.patch(SVC, &json!({"ike_log_level": "ERROR"})).expect(200));
    std::thread::sleep(Duration::from_millis(500));
    let before = sa.log().matches("session up").count();
    set_session(&sa, json!({"enabled": false}));
    set_session(&sa, json!({"enabled": true}));
    wait_for(&sa, "UP again", Duration::from_secs(10), up);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        sa.log().matches("session up").count(),
        before,
        "INFO lines at ERROR"
    );
}

#[test]
fn disable_and_enable_at_once_rebind_ike() {
    // Disabling the only session on an address closes its IKE socket; enabling it again at
    // once must bind port 500 again, not fail with "Address already in use".
    let t = topology_with_lans(LAN_A, LAN_B);
    let (sa, _sb) = strait_pair(&t, json!({}), false);
    wait_for(&sa, "UP", Duration::from_secs(10), up);
    for round in 0..10 {
        set_session(&sa, json!({"enabled": false}));
        set_session(&sa, json!({"enabled": true}));
        let st = wait_for(
            &sa,
            "UP after disable + enable",
            Duration::from_secs(10),
            |st| up(st) || st["ike_status"]["fail_reason"] == "Configuration failed",
        );
        assert!(up(&st), "round {round}: {st:#}");
    }
}
