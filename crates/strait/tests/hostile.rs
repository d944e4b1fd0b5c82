//! Issue 12, "A hostile network cannot take tunnels down", end to end: real straitd gateways
//! in network namespaces on one bridged segment, and an attacker in a namespace of its own on
//! the same link that forges IKE traffic from a configured peer's address with a raw socket
//! (`strait-hostile`). One test per attack of the issue:
//!
//! 1. a forged IKE_SA_INIT "from" B every second does not stop A (INITIATOR) from bringing
//!    the session up again after B restarts;
//! 2. 2,000 forged IKE_SA_INITs with unacceptable proposals while B is down write no
//!    attacker text into A's status, fewer than 100 log lines, and do not inflate A's retry
//!    backoff;
//! 3. a request with a valid COOKIE replayed from 4,200 source ports does not keep a third
//!    peer out or starve other peers' answers; padded to 30 KB it does not grow A's RSS by
//!    32 MB;
//! 4. 15,000 forged IKE_SA_INITs per second with an invalid KE neither delay a fresh session
//!    past max(1 s, 2x its quiet time) nor cost an established tunnel a single ping;
//! 5. major version 3 and an unknown critical payload are answered (RFC 7296 §2.5, §3.2).
//!
//! The tests run one at a time (a lock): they measure timings on a small machine.
//! `STRAIT_TEST_STRAITD=/path/to/straitd` runs them against another build (e.g. the code
//! before the fixes, where each of them fails). Needs root (fails loudly otherwise).
mod common;

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::lan::{rss_bytes, Lan, A, B, C};
use common::netns::{in_netns, ping, Netns};
use common::straitd::{configure, StraitInNs, PSK, SESSION};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use strait_hostile::answer::{collect, listen};
use strait_hostile::forge::unacceptable_proposal;
use strait_hostile::wire::{NotifyType, VERSION_2_0};
use strait_hostile::{run, Flood, FloodReport, Forge, KeValue, Kind, Source, SpiMode};

const VTI_A: &str = "169.254.100.1";
const VTI_B: &str = "169.254.100.2";
const VTI_A_FOR_C: &str = "169.254.101.1";
const VTI_C: &str = "169.254.101.2";
/// A's session with C.
const SESSION_C: &str = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/c";
/// The gateway's IKE port.
const IKE: u16 = 500;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn addr(ip: &str, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip.parse().unwrap(), port)
}

/// A flood of `source` "from" `src_ip:src_port` to A's IKE port.
fn flood(src_ip: &str, src_port: u16, source: Source, spi: SpiMode, rate: u32) -> Flood {
    Flood {
        src: src_ip.parse().unwrap(),
        src_port,
        ports: 1,
        dst: addr(A, IKE),
        source,
        spi,
        rate,
        duration: Duration::from_secs(600),
        count: None,
    }
}

/// Run `f` in the attacker's namespace on its own thread; `stop` ends it early.
fn attack<'s>(
    s: &'s std::thread::Scope<'s, '_>,
    x: &'s Netns,
    f: Flood,
    stop: &'s AtomicBool,
) -> std::thread::ScopedJoinHandle<'s, FloodReport> {
    s.spawn(move || in_netns(x, || run(&f, stop).expect("the attacker's raw socket")))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn up(st: &Value) -> bool {
    st["runtime_status"] == "UP" && st["interface_name"].is_string()
}

/// Poll `session`'s detailed status every 50 ms until `pred` holds; None after `limit`.
fn wait_until(
    s: &StraitInNs,
    session: &str,
    limit: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if pred(&s.status(session)) {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last `n` lines of a straitd's log.
fn log_tail(s: &StraitInNs, n: usize) -> String {
    let log = s.log();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn log_lines(s: &StraitInNs) -> usize {
    s.log().lines().count()
}

/// A second session on A's gateway, for peer C.
fn add_session_c(h: &common::Http, initiator: bool) {
    h.patch(
        SESSION_C,
        &json!({
            "resource_type": "RouteBasedIPSecVpnSession",
            "display_name": "to c",
            "local_endpoint_path": "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le",
            "peer_address": C,
            "peer_id": C,
            "psk": PSK,
            "connection_initiation_mode": if initiator { "INITIATOR" } else { "RESPOND_ONLY" },
            "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [VTI_A_FOR_C], "prefix_length": 30}]}]
        }),
    )
    .expect(200);
}

fn set_enabled(s: &StraitInNs, enabled: bool) {
    s.api(move |h| h.patch(SESSION, &json!({ "enabled": enabled })).expect(200));
}

/// `fail_reason` and `alarm` of a detailed status, as one line.
fn failure_text(st: &Value) -> String {
    format!(
        "fail_reason={} alarm={}",
        st["ike_status"]["fail_reason"], st["alarm"]
    )
}

// ---------------------------------------------------------------------------------------------
// 1. One forged packet disables reconnection
// ---------------------------------------------------------------------------------------------

#[test]
fn forged_init_every_second_does_not_stop_reconnection_after_peer_restart() {
    let _serial = serial();
    let lan = Lan::new();
    let sa = StraitInNs::start(&lan.a);
    let mut sb = StraitInNs::start(&lan.b);
    sb.api(|h| configure(h, B, A, VTI_B, false, json!({})));
    sa.api(|h| configure(h, A, B, VTI_A, true, json!({})));
    assert!(
        wait_until(&sa, SESSION, Duration::from_secs(20), up).is_some(),
        "A never came UP before the attack: {}\n{}",
        sa.status(SESSION),
        log_tail(&sa, 40)
    );
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // Valid requests (acceptable proposal, valid KE) "from" B's IKE port, one a second.
        let forged = flood(
            B,
            IKE,
            Source::Forge(Forge::new(Kind::Acceptable(KeValue::Valid))),
            SpiMode::Random,
            1,
        );
        let attacker = attack(s, &lan.x, forged, &stop);
        std::thread::sleep(Duration::from_millis(2500));
        // B restarts: its Delete takes A's session down.
        sb.terminate();
        let down = wait_until(&sa, SESSION, Duration::from_secs(10), |st| !up(st));
        let restarted = Instant::now();
        sb.restart();
        let back = wait_until(&sa, SESSION, Duration::from_secs(20), up);
        stop.store(true, Ordering::Relaxed);
        let report = attacker.join().unwrap();
        eprintln!(
            "attack 1: {} forged IKE_SA_INITs; A DOWN after {:?}, UP again {:?} after B restarted",
            report.datagrams, down, back
        );
        assert!(
            down.is_some(),
            "B's restart did not take A's session down (the scenario needs it): {}",
            sa.status(SESSION)
        );
        assert!(
            back.is_some(),
            "A (INITIATOR) was not UP again {} after B restarted, with {} forged IKE_SA_INITs \
             from B's address ({} errors); A's status: {}\nA's log (tail):\n{}",
            secs(restarted.elapsed()),
            report.datagrams,
            report.errors,
            sa.status(SESSION),
            log_tail(&sa, 40)
        );
    });
    assert!(ping(&lan.a, VTI_B, 3), "no ping A -> B across the tunnel");
    assert!(ping(&lan.b, VTI_A, 3), "no ping B -> A across the tunnel");
}

// ---------------------------------------------------------------------------------------------
// 2. Unauthenticated packets rewrite status and back off retries
// ---------------------------------------------------------------------------------------------

#[test]
fn forged_unacceptable_proposals_change_no_status_log_or_retry_timer() {
    let _serial = serial();
    let lan = Lan::new();
    let sa = StraitInNs::start(&lan.a);
    let mut sb = StraitInNs::start(&lan.b);
    sb.api(|h| configure(h, B, A, VTI_B, false, json!({})));
    sa.api(|h| configure(h, A, B, VTI_A, true, json!({})));
    assert!(
        wait_until(&sa, SESSION, Duration::from_secs(20), up).is_some(),
        "A never came UP before the attack: {}",
        sa.status(SESSION)
    );
    sb.terminate();
    assert!(
        wait_until(&sa, SESSION, Duration::from_secs(10), |st| !up(st)).is_some(),
        "A's session stayed UP after B stopped"
    );
    std::thread::sleep(Duration::from_millis(500));
    let before = failure_text(&sa.status(SESSION));
    // One proposal of unassigned transform ids the test knows, so it can look for them.
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let proposal = unacceptable_proposal(&mut rng);
    let ids: Vec<u16> = proposal.transforms.iter().map(|t| t.id).collect();
    let mut forged = Forge::new(Kind::UnacceptableProposal);
    forged.proposal = Some(proposal);
    let lines_before = log_lines(&sa);
    let stop = AtomicBool::new(false);
    let mut seen: Vec<String> = Vec::new();
    let report = std::thread::scope(|s| {
        let mut f = flood(B, IKE, Source::Forge(forged), SpiMode::Random, 1000);
        f.count = Some(2000);
        let attacker = attack(s, &lan.x, f, &stop);
        while !attacker.is_finished() {
            let t = failure_text(&sa.status(SESSION));
            if !seen.contains(&t) {
                seen.push(t);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        attacker.join().unwrap()
    });
    std::thread::sleep(Duration::from_secs(1));
    let after = sa.status(SESSION);
    seen.push(failure_text(&after));
    let added = log_lines(&sa) - lines_before;
    let attacker_text = |t: &str| {
        t.contains("No proposal chosen")
            || t.contains("proposed")
            || ids.iter().any(|id| t.contains(&format!("({id})")))
    };
    eprintln!(
        "attack 2: {} forged at {:.0}/s; A's log +{added} lines; statuses seen: {seen:?}",
        report.datagrams,
        report.rate()
    );
    let bad: Vec<&String> = seen.iter().filter(|t| attacker_text(t)).collect();
    assert!(
        bad.is_empty(),
        "{} forged IKE_SA_INITs (transform ids {ids:?}) from B's address put attacker-chosen \
         text into A's status; before: {before}; seen during the flood: {bad:#?}",
        report.datagrams
    );
    assert!(
        added < 100,
        "A's log grew by {added} lines during {} forged IKE_SA_INITs (limit: fewer than 100); \
         tail:\n{}",
        report.datagrams,
        log_tail(&sa, 10)
    );
    assert!(
        report.datagrams >= 2000,
        "the attacker sent only {} of 2000 datagrams",
        report.datagrams
    );
    let restarted = Instant::now();
    sb.restart();
    let back = wait_until(&sa, SESSION, Duration::from_secs(15), up);
    eprintln!("attack 2: A UP again {back:?} after B came back");
    assert!(
        back.is_some(),
        "A was not UP again {} after B came back (retry backoff inflated by forged \
         packets?); A's status: {}\nA's log (tail):\n{}",
        secs(restarted.elapsed()),
        failure_text(&sa.status(SESSION)),
        log_tail(&sa, 30)
    );
}

// ---------------------------------------------------------------------------------------------
// 3. COOKIE replayed from many ports; padded requests
// ---------------------------------------------------------------------------------------------

/// A configured for B (RESPOND_ONLY, B not running: only its address matters) and, with
/// `with_c`, for C; A under load from forged half-open requests "from" B; returns a request
/// carrying a valid COOKIE, obtained in B's namespace as anyone on the path could.
fn cookie_request(lan: &Lan, sa: &StraitInNs, pad_to: Option<usize>) -> Vec<u8> {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let load = flood(
            B,
            IKE,
            Source::Forge(Forge::new(Kind::Acceptable(KeValue::Valid))),
            SpiMode::Random,
            200,
        );
        let attacker = attack(s, &lan.x, load, &stop);
        std::thread::sleep(Duration::from_millis(500));
        let mut f = Forge::new(Kind::Acceptable(KeValue::Valid));
        f.pad_to = pad_to;
        let got = in_netns(&lan.b, || {
            let socket = listen(addr(B, 40_000)).expect("bind B:40000");
            strait_hostile::cookie::obtain(&socket, addr(A, IKE), &f, Duration::from_secs(10))
                .expect("ask for a cookie")
        });
        stop.store(true, Ordering::Relaxed);
        let report = attacker.join().unwrap();
        let got = got.unwrap_or_else(|| {
            panic!(
                "A never asked for a COOKIE within 10 s while {} forged half-open requests \
                 came from B's address; A's log (tail):\n{}",
                report.datagrams,
                log_tail(sa, 20)
            )
        });
        got.request
    })
}

#[test]
fn a_cookie_replayed_from_4200_ports_keeps_no_peer_out() {
    let _serial = serial();
    let lan = Lan::new();
    let sa = StraitInNs::start(&lan.a);
    let sc = StraitInNs::start(&lan.c);
    sa.api(|h| {
        configure(h, A, B, VTI_A, false, json!({}));
        add_session_c(h, false);
    });
    sc.api(|h| configure(h, C, A, VTI_C, true, json!({"enabled": false})));
    let request = cookie_request(&lan, &sa, None);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let mut replay = flood(B, 20_000, Source::Replay(request), SpiMode::Keep, 3000);
        replay.ports = 4200;
        replay.duration = Duration::from_secs(12);
        let attacker = attack(s, &lan.x, replay, &stop);
        std::thread::sleep(Duration::from_secs(2));
        // Other peers get answers: five fresh requests from C's address (another port).
        let answered = in_netns(&lan.c, || {
            let socket = listen(addr(C, 40_001)).expect("bind C:40001");
            let mut rng = rand::rng();
            let mut answered = 0;
            for _ in 0..5 {
                let spi: u64 = rng.random();
                let req = Forge::new(Kind::Acceptable(KeValue::Valid)).build(spi, &mut rng);
                socket.send_to(&req, addr(A, IKE)).expect("send");
                if collect(&socket, Duration::from_millis(1000))
                    .iter()
                    .any(|a| a.spi_i() == Some(spi))
                {
                    answered += 1;
                }
            }
            answered
        });
        // A third configured peer establishes promptly.
        set_enabled(&sc, true);
        let c_up = wait_until(&sc, SESSION, Duration::from_secs(5), up);
        stop.store(true, Ordering::Relaxed);
        let report = attacker.join().unwrap();
        eprintln!(
            "attack 3: {} replays at {:.0}/s from 4,200 ports; {answered}/5 answered; C UP after {c_up:?}",
            report.datagrams,
            report.rate()
        );
        assert!(
            answered == 5,
            "only {answered}/5 fresh IKE_SA_INITs from C's address were answered while a \
             cookie-carrying request was replayed from 4,200 ports ({} datagrams so far)",
            report.datagrams
        );
        assert!(
            c_up.is_some(),
            "C was not UP within 5 s while a cookie-carrying request was replayed from 4,200 \
             ports ({} datagrams at {:.0}/s); C: {}\nA's log (tail):\n{}",
            report.datagrams,
            report.rate(),
            failure_text(&sc.status(SESSION)),
            log_tail(&sa, 30)
        );
    });
}

#[test]
fn replayed_30_kb_requests_do_not_grow_rss_by_32_mb() {
    let _serial = serial();
    let lan = Lan::new();
    let sa = StraitInNs::start(&lan.a);
    sa.api(|h| configure(h, A, B, VTI_A, false, json!({})));
    let request = cookie_request(&lan, &sa, Some(30_000));
    assert_eq!(request.len(), 30_000, "the padded request's size");
    std::thread::sleep(Duration::from_secs(1));
    let pid = sa.pid();
    let before = rss_bytes(pid);
    let stop = AtomicBool::new(false);
    let mut peak = before;
    let report = std::thread::scope(|s| {
        let mut replay = flood(B, 20_000, Source::Replay(request), SpiMode::Keep, 1500);
        replay.ports = 4200;
        replay.count = Some(8400);
        let attacker = attack(s, &lan.x, replay, &stop);
        while !attacker.is_finished() {
            peak = peak.max(rss_bytes(pid));
            std::thread::sleep(Duration::from_millis(100));
        }
        attacker.join().unwrap()
    });
    for _ in 0..10 {
        peak = peak.max(rss_bytes(pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    let mb = |b: u64| b as f64 / 1_048_576.0;
    eprintln!(
        "attack 3 (30 KB): {} replays at {:.0}/s; RSS {:.1} -> peak {:.1} MB",
        report.datagrams,
        report.rate(),
        mb(before),
        mb(peak)
    );
    assert!(
        before > 0 && peak.saturating_sub(before) < 32 << 20,
        "A's RSS grew from {:.1} MB to {:.1} MB (+{:.1} MB, limit 32 MB) under {} replays of a \
         30 KB cookie-carrying request from 4,200 ports",
        mb(before),
        mb(peak),
        mb(peak.saturating_sub(before)),
        report.datagrams
    );
    assert!(
        report.datagrams >= 8400,
        "the attacker sent only {} of 8400 datagrams",
        report.datagrams
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Invalid KE at 15,000 packets/s
// ---------------------------------------------------------------------------------------------

/// Loss percentage and summary line of a `ping -i 0.01` run in `ns`.
fn ping_flood(ns: &Netns, dst: &str, count: u32) -> (f64, String) {
    let o = ns.exec(&[
        "ping",
        "-n",
        "-q",
        "-i",
        "0.01",
        "-W",
        "1",
        "-c",
        &count.to_string(),
        dst,
    ]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_default()
        .to_owned();
    let loss = line
        .split(", ")
        .find(|p| p.ends_with("packet loss"))
        .and_then(|p| p.trim_end_matches("% packet loss").parse::<f64>().ok())
        .unwrap_or(100.0);
    (loss, line)
}

#[test]
fn invalid_ke_flood_delays_no_fresh_session_and_costs_no_tunnel_traffic() {
    let _serial = serial();
    let lan = Lan::new();
    let sa = StraitInNs::start(&lan.a);
    let sb = StraitInNs::start(&lan.b);
    let sc = StraitInNs::start(&lan.c);
    sb.api(|h| configure(h, B, A, VTI_B, false, json!({})));
    sc.api(|h| configure(h, C, A, VTI_C, true, json!({"enabled": false})));
    sa.api(|h| {
        configure(h, A, B, VTI_A, true, json!({}));
        add_session_c(h, false);
    });
    assert!(
        wait_until(&sa, SESSION, Duration::from_secs(20), up).is_some(),
        "A-B never came UP: {}",
        sa.status(SESSION)
    );
    // The quiet time: C's session enabled until UP, no flood.
    set_enabled(&sc, true);
    let quiet = wait_until(&sc, SESSION, Duration::from_secs(20), up)
        .unwrap_or_else(|| panic!("C never came UP without a flood: {}", sc.status(SESSION)));
    set_enabled(&sc, false);
    assert!(
        wait_until(&sa, SESSION_C, Duration::from_secs(10), |st| !up(st)).is_some(),
        "A's session with C stayed UP after C disabled it"
    );
    std::thread::sleep(Duration::from_secs(1));
    let limit = Duration::from_secs(1).max(quiet * 2);
    let stop = AtomicBool::new(false);
    let (report, fresh, (loss, ping_line)) = std::thread::scope(|s| {
        let mut f = flood(
            B,
            IKE,
            Source::Forge(Forge::new(Kind::Acceptable(KeValue::Zero))),
            SpiMode::Random,
            15_000,
        );
        f.duration = Duration::from_secs(10);
        let attacker = attack(s, &lan.x, f, &stop);
        let pinger = s.spawn(|| ping_flood(&lan.a, VTI_B, 700));
        std::thread::sleep(Duration::from_secs(1));
        set_enabled(&sc, true);
        let fresh = wait_until(&sc, SESSION, Duration::from_secs(20), up);
        let ping = pinger.join().unwrap();
        (attacker.join().unwrap(), fresh, ping)
    });
    eprintln!(
        "attack 4: {} forged at {:.0}/s; fresh session {fresh:?} (quiet {quiet:?}); ping: {ping_line}",
        report.datagrams,
        report.rate()
    );
    assert!(
        report.rate() >= 12_000.0,
        "the attacker reached only {:.0} packets/s ({} in {}), not the 15,000/s the test is \
         about",
        report.rate(),
        report.datagrams,
        secs(report.elapsed)
    );
    let fresh = fresh.unwrap_or_else(|| {
        panic!(
            "C was not UP within 20 s under {:.0} forged invalid-KE IKE_SA_INITs/s (quiet: {}); \
             A's log (tail):\n{}",
            report.rate(),
            secs(quiet),
            log_tail(&sa, 30)
        )
    });
    assert!(
        fresh <= limit,
        "a fresh session from C took {} to come UP under {:.0} forged invalid-KE \
         IKE_SA_INITs/s, {} without (limit max(1 s, 2x quiet) = {})",
        secs(fresh),
        report.rate(),
        secs(quiet),
        secs(limit)
    );
    assert!(
        loss == 0.0,
        "the established A-B tunnel lost {loss}% of a ping flood during the attack: {ping_line}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. INVALID_MAJOR_VERSION and UNSUPPORTED_CRITICAL_PAYLOAD
// ---------------------------------------------------------------------------------------------

#[test]
fn version_3_and_unknown_critical_payloads_are_answered() {
    let _serial = serial();
    let lan = Lan::new();
    let sa = StraitInNs::start(&lan.a);
    sa.api(|h| configure(h, A, B, VTI_A, false, json!({})));
    const V3_SPI: u64 = 0x3333_0000_0000_0003;
    const CRIT_SPI: u64 = 0xc1c1_0000_0000_00c8;
    const CRIT_TYPE: u8 = 200;
    let answers = std::thread::scope(|s| {
        let listener = s.spawn(|| {
            in_netns(&lan.b, || {
                let socket = listen(addr(B, 40_005)).expect("bind B:40005");
                collect(&socket, Duration::from_secs(3))
            })
        });
        std::thread::sleep(Duration::from_millis(300));
        for (kind, spi) in [
            (Kind::Version3, V3_SPI),
            (Kind::CriticalPayload(CRIT_TYPE), CRIT_SPI),
        ] {
            let mut f = flood(
                B,
                40_005,
                Source::Forge(Forge::new(kind)),
                SpiMode::Fixed(spi),
                0,
            );
            f.count = Some(1);
            let r = in_netns(&lan.x, || {
                run(&f, &AtomicBool::new(false)).expect("raw socket")
            });
            assert_eq!(r.datagrams, 1, "the forged request was not sent");
        }
        listener.join().unwrap()
    });
    let of = |spi: u64| answers.iter().find(|a| a.spi_i() == Some(spi));
    let v3 = of(V3_SPI).unwrap_or_else(|| {
        panic!(
            "no answer to an IKE_SA_INIT of major version 3 (RFC 7296 §2.5); {} other \
             datagrams arrived; A's log (tail):\n{}",
            answers.len(),
            log_tail(&sa, 10)
        )
    });
    assert_eq!(
        v3.header.map(|h| h.version),
        Some(VERSION_2_0),
        "the answer to major version 3 must say version 2.0 (§3.1): {:?}",
        v3.header
    );
    assert!(
        v3.notify(NotifyType::INVALID_MAJOR_VERSION).is_some(),
        "the answer to major version 3 carries no INVALID_MAJOR_VERSION (type 5): {:?}",
        v3.notifies
    );
    let crit = of(CRIT_SPI).unwrap_or_else(|| {
        panic!(
            "no answer to an IKE_SA_INIT with an unknown critical payload (RFC 7296 §2.5, \
             §3.2); A's log (tail):\n{}",
            log_tail(&sa, 10)
        )
    });
    assert_eq!(
        crit.notify(NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD),
        Some(&[CRIT_TYPE][..]),
        "the answer to an unknown critical payload of type {CRIT_TYPE} must be \
         UNSUPPORTED_CRITICAL_PAYLOAD (type 1) with the payload type as data: {:?}",
        crit.notifies
    );
}
