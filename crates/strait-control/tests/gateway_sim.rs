//! Whole gateways simulated on virtual time (see `sim/mod.rs`): strait's real control plane
//! with a simulated data plane and network, many seeds, every step checked.
//!
//! - `simultaneous_initiation`: both ends INITIATOR started within a few milliseconds of
//!   each other (issue 10: the README demo lost a direction in most runs).
//! - `chaos`: simultaneous starts, operator rekeys of Child and IKE SAs from either end (often
//!   both at once), crashes and graceful restarts, sessions disabled and enabled or deleted
//!   and created again, PSKs and
//!   tunnel profiles changed and changed back through the API in the middle of exchanges,
//!   DPD, and a network that loses, duplicates and reorders; after each round every session
//!   must come UP and carry packets both ways.
//!
//! `STRAIT_SIM_SEEDS=N` runs N seeds per scenario (default 200 / 100); `STRAIT_SIM_SEED=S`
//! replays one seed (what a failure prints).

mod sim;

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

use serde_json::json;
use sim::net::Rng;
use sim::{session_body, Action, NetProfile, World, SVC};

const TUNNEL_PROFILE: &str = "/infra/ipsec-vpn-tunnel-profiles/sim";
const DPD_PROFILE: &str = "/infra/ipsec-vpn-dpd-profiles/sim";

/// The seeds to run: `STRAIT_SIM_SEED` alone, or `STRAIT_SIM_SEEDS` (default `n`) from a
/// base that differs per scenario.
fn seeds(base: u64, n: u64) -> Vec<u64> {
    if let Ok(s) = std::env::var("STRAIT_SIM_SEED") {
        return vec![s.parse().expect("STRAIT_SIM_SEED is a number")];
    }
    let n = std::env::var("STRAIT_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(n);
    (base..base + n).collect()
}

/// Run `f` for each seed; a failure names the seed and how to replay it.
fn for_seeds(test: &str, seeds: Vec<u64>, f: impl Fn(u64)) {
    for seed in seeds {
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| f(seed))) {
            eprintln!(
                "\n{test}: seed {seed} failed; replay it with\n  STRAIT_SIM_SEED={seed} cargo test -p strait-control --test gateway_sim -- {test}\n"
            );
            resume_unwind(e);
        }
    }
}

/// Gateways started within `spread` of each other (sometimes at the very same instant).
fn start_all(w: &mut World, rng: &mut Rng, spread_ms: u64) {
    for k in 0..w.gws.len() {
        let offset = if rng.chance(0.3) {
            0
        } else {
            rng.below(spread_ms + 1)
        };
        w.at(Duration::from_millis(offset), Action::Start(k));
    }
}

#[test]
fn simultaneous_initiation() {
    let mut both_initiated = 0;
    let mut total = 0;
    for_seeds("simultaneous_initiation", seeds(1_000, 200), |seed| {
        let mut rng = Rng::new(seed);
        let mut w = World::new(seed, 2);
        w.link(0, 1, json!({}), json!({}));
        start_all(&mut w, &mut rng, 20);
        // A third of the runs on a clean link, a third with reordering (messages of the
        // crossing exchanges overtake each other), a third also lossy and duplicating.
        match rng.below(3) {
            0 => {}
            1 => {
                w.net = NetProfile {
                    loss: 0.0,
                    duplicate: 0.0,
                    delay: Duration::from_millis(1),
                    jitter: Duration::from_millis(5 + rng.below(40)),
                }
            }
            _ => {
                w.net = NetProfile {
                    loss: 0.1,
                    duplicate: 0.05,
                    delay: Duration::from_millis(2),
                    jitter: Duration::from_millis(10),
                }
            }
        }
        w.traffic_every = Some(Duration::from_millis(200));
        w.run_for(Duration::from_secs(5));
        w.assert_converges(
            Duration::from_secs(300),
            "both ends INITIATOR started at once",
        );
        assert!(w.init_requests.iter().all(|n| *n > 0));
    });
    // The scenario is only worth something if the race really happens: count it again
    // without the checks (cheap) over the default seeds.
    for seed in seeds(1_000, 200) {
        let mut rng = Rng::new(seed);
        let mut w = World::new(seed, 2);
        w.link(0, 1, json!({}), json!({}));
        start_all(&mut w, &mut rng, 20);
        w.run_for(Duration::from_secs(1));
        total += 1;
        if w.gws.iter().all(|g| {
            g.gw.as_ref()
                .is_some_and(|gw| gw.endpoint().sessions().count() == 1)
        }) && w.init_requests.iter().all(|n| *n > 0)
        {
            both_initiated += 1;
        }
    }
    assert!(
        both_initiated * 2 >= total,
        "both ends initiated in only {both_initiated} of {total} seeds"
    );
}

/// The same race with certificate authentication: RSA-3072 site certificates make every
/// IKE_AUTH a fragmented message (RFC 7383), on clean, reordering and lossy/duplicating
/// links; both ends must converge on one IKE SA with one Child SA that carries traffic.
#[test]
fn simultaneous_initiation_with_certificates() {
    for_seeds(
        "simultaneous_initiation_with_certificates",
        seeds(7_000, 60),
        |seed| {
            let mut rng = Rng::new(seed);
            let mut w = World::new(seed, 2);
            w.use_certificates();
            w.link(0, 1, sim::certificate_session(), sim::certificate_session());
            start_all(&mut w, &mut rng, 20);
            w.net = match rng.below(3) {
                0 => NetProfile::CLEAN,
                1 => NetProfile {
                    loss: 0.0,
                    duplicate: 0.0,
                    delay: Duration::from_millis(1),
                    jitter: Duration::from_millis(5 + rng.below(40)),
                },
                _ => NetProfile {
                    loss: 0.1,
                    duplicate: 0.05,
                    delay: Duration::from_millis(2),
                    jitter: Duration::from_millis(10),
                },
            };
            w.traffic_every = Some(Duration::from_millis(200));
            w.run_for(Duration::from_secs(5));
            w.assert_converges(
                Duration::from_secs(300),
                "both ends INITIATOR with certificates",
            );
        },
    );
}

/// A perturbation and, later, its undoing.
fn chaos_round(w: &mut World, rng: &mut Rng, span: Duration) {
    let secs = span.as_secs();
    let links = w.links.clone();
    let n = 6 + rng.below(10);
    for _ in 0..n {
        let at = Duration::from_millis(rng.below(secs * 1000));
        let back = at
            + Duration::from_millis(
                1 + rng.below((secs * 1000).saturating_sub(at.as_millis() as u64).max(1)),
            );
        let l = &links[rng.below(links.len() as u64) as usize];
        let (end, other) = if rng.chance(0.5) {
            (&l.a, &l.b)
        } else {
            (&l.b, &l.a)
        };
        match rng.below(10) {
            0 | 1 => {
                // Child rekeys, often from both ends at the same instant (collision, §2.8.1).
                w.at(at, Action::RekeyChild(end.0, end.1.clone()));
                if rng.chance(0.5) {
                    w.at(at, Action::RekeyChild(other.0, other.1.clone()));
                }
            }
            2 => {
                w.at(at, Action::RekeyIke(end.0, end.1.clone()));
                if rng.chance(0.5) {
                    w.at(at, Action::RekeyIke(other.0, other.1.clone()));
                }
            }
            3 => {
                // kill -9, back after a while (or at once: both ends restart together).
                w.at(at, Action::Crash(end.0));
                w.at(
                    back.min(at + Duration::from_secs(rng.below(40))),
                    Action::Start(end.0),
                );
            }
            4 => {
                w.at(at, Action::Stop(end.0));
                w.at(back, Action::Start(end.0));
            }
            5 if rng.chance(0.5) => {
                w.at(
                    at,
                    Action::Patch(end.0, end.1.clone(), json!({"enabled": false})),
                );
                w.at(
                    back,
                    Action::Patch(end.0, end.1.clone(), json!({"enabled": true})),
                );
            }
            5 => {
                // The session deleted, and later created again with the same settings.
                let body = if end.0 == l.a.0 {
                    l.body_a.clone()
                } else {
                    l.body_b.clone()
                };
                w.at(at, Action::Delete(end.0, end.1.clone()));
                w.at(back, Action::Patch(end.0, end.1.clone(), body));
            }
            6 => {
                w.at(
                    at,
                    Action::Patch(end.0, end.1.clone(), json!({"psk": "a-different-psk-42"})),
                );
                w.at(
                    back,
                    Action::Patch(end.0, end.1.clone(), json!({"psk": sim::PSK})),
                );
            }
            7 => {
                // One end's tunnel profile no longer matches (No proposal chosen), then does.
                w.at(
                    at,
                    Action::Patch(
                        end.0,
                        TUNNEL_PROFILE.into(),
                        json!({"encryption_algorithms": ["AES_GCM_256"]}),
                    ),
                );
                w.at(
                    back,
                    Action::Patch(
                        end.0,
                        TUNNEL_PROFILE.into(),
                        json!({"encryption_algorithms": ["AES_GCM_128"]}),
                    ),
                );
            }
            9 => {
                // A forged IKE_SA_INIT flood "from" one end to the other (issue 12): it must
                // not take anything down or keep anything from coming back up.
                let kind = [
                    sim::Forgery::Replay,
                    sim::Forgery::FreshSpi,
                    sim::Forgery::BadProposal,
                    sim::Forgery::ZeroKe,
                ][rng.below(4) as usize];
                let count = 20 + rng.below(200);
                let span_ms = (back - at).as_millis().max(1) as u64;
                for _ in 0..count {
                    let when = at + Duration::from_millis(rng.below(span_ms));
                    w.at(
                        when,
                        Action::Forge {
                            from: other.0,
                            to: end.0,
                            kind,
                        },
                    );
                }
            }
            _ => {
                let p = NetProfile {
                    loss: [0.05, 0.2, 0.5, 1.0][rng.below(4) as usize],
                    duplicate: [0.0, 0.1][rng.below(2) as usize],
                    delay: Duration::from_millis(1 + rng.below(20)),
                    jitter: Duration::from_millis(rng.below(60)),
                };
                w.at(at, Action::Net(p));
                w.at(back, Action::Net(NetProfile::CLEAN));
            }
        }
    }
}

fn chaos_world(seed: u64, certificates: bool) -> World {
    let mut rng = Rng::new(seed);
    let gateways = if rng.chance(0.4) { 3 } else { 2 };
    let mut w = World::new(seed, gateways);
    if certificates {
        w.use_certificates();
    }
    // Half the seeds compute crypto "on a busy pool": results come back up to 300 ms late,
    // in any order (a separate stream, so older seeds replay what they always did).
    if Rng::new(seed ^ 0x6a09_e667_f3bc).chance(0.5) {
        w.crypto_delay = Some(Duration::from_millis(300));
    }
    // Tunnels are made in the background (issue 16): from at once to slower than an IKE
    // exchange, so reports race edits, crashes and the peer's messages.
    w.tunnel_delay =
        Duration::from_millis([0, 5, 80, 700][Rng::new(seed ^ 0x3c6e_f372_fe94).below(4) as usize]);
    for g in &w.gws {
        g.patch(TUNNEL_PROFILE, json!({"sa_life_time": 900}));
        g.patch(
            DPD_PROFILE,
            json!({"dpd_probe_interval": 3 + rng.below(8), "retry_count": 1 + rng.below(4)}),
        );
    }
    let mut profiles =
        json!({"tunnel_profile_path": TUNNEL_PROFILE, "dpd_profile_path": DPD_PROFILE});
    if certificates {
        profiles["authentication_mode"] = json!("CERTIFICATE");
        profiles["psk"] = json!(null);
    }
    let mode = |rng: &mut Rng| {
        let mut e = profiles.clone();
        if rng.chance(0.2) {
            e["connection_initiation_mode"] = json!("RESPOND_ONLY");
        }
        e
    };
    let (ea, eb) = (mode(&mut rng), profiles.clone());
    w.link(0, 1, ea, eb);
    if gateways == 3 {
        let (ea, eb) = (profiles.clone(), mode(&mut rng));
        w.link(0, 2, ea, eb);
    }
    start_all(&mut w, &mut rng, 30);
    w.traffic_every = Some(Duration::from_millis(500));
    w
}

fn run_chaos(seed: u64, rounds: u32) -> World {
    run_chaos_with(seed, rounds, false)
}

fn run_chaos_with(seed: u64, rounds: u32, certificates: bool) -> World {
    let mut w = chaos_world(seed, certificates);
    let mut rng = Rng::new(seed ^ 0x00c4_a05c_4a05);
    w.run_for(Duration::from_secs(2));
    w.assert_converges(Duration::from_secs(300), "start");
    for round in 0..rounds {
        let span = Duration::from_secs(120 + rng.below(180));
        chaos_round(&mut w, &mut rng, span);
        w.run_for(span + Duration::from_secs(5));
        w.assert_converges(
            Duration::from_secs(400),
            &format!("after chaos round {round}"),
        );
    }
    w
}

#[test]
fn chaos() {
    let forged = std::sync::atomic::AtomicU64::new(0);
    let mut list = seeds(2_000, 100);
    if std::env::var_os("STRAIT_SIM_SEED").is_none() {
        // Seeds that found bugs stay in the default run (2058: IKE rekey collision and
        // Delete; 2401: collision resolution overwriting the winner's Child SAs).
        list.extend([2_058, 2_401]);
        list.dedup();
    }
    let delayed_crypto = std::sync::atomic::AtomicU64::new(0);
    for_seeds("chaos", list, |seed| {
        let w = run_chaos(seed, 3);
        forged.fetch_add(w.forged, std::sync::atomic::Ordering::Relaxed);
        delayed_crypto.fetch_add(w.crypto_completed, std::sync::atomic::Ordering::Relaxed);
    });
    // The forgery perturbation really happens (and everything still converged above).
    let replaying_one = std::env::var_os("STRAIT_SIM_SEED").is_some();
    assert!(
        replaying_one || forged.into_inner() > 1_000,
        "too few forged IKE_SA_INIT requests delivered"
    );
    // So do late crypto results (half the seeds), rekeys included.
    assert!(
        replaying_one || delayed_crypto.into_inner() > 1_000,
        "too few crypto jobs completed late"
    );
}

/// Chaos with certificate sessions (RSA-3072: fragmented IKE_AUTH): restarts, loss,
/// partitions, forged IKE, profile changes and rekeys still converge.
#[test]
fn chaos_with_certificates() {
    for_seeds("chaos_with_certificates", seeds(9_000, 40), |seed| {
        run_chaos_with(seed, 3, true);
    });
}

#[test]
fn a_seed_replays_exactly() {
    let seed = 2_003;
    let a = run_chaos(seed, 1);
    let b = run_chaos(seed, 1);
    assert_eq!(
        (a.trace_digest(), a.steps, a.datagrams),
        (b.trace_digest(), b.steps, b.datagrams)
    );
    assert!(a.datagrams > 100, "{}", a.datagrams);
    // And another seed is another run.
    let c = run_chaos(seed + 1, 1);
    assert_ne!(a.trace_digest(), c.trace_digest());
}

/// In release builds a broken invariant is repaired, not fatal: a data plane that loses the
/// SA it sends on (a bug, injected here) is noticed within a tick, the session shows
/// DEGRADED meanwhile (never UP), the Child SA is re-created, traffic flows again and the
/// alarm says what happened.
#[test]
fn a_lost_sender_is_repaired_and_alarmed_when_not_strict() {
    let mut w = World::new(7, 2);
    w.link(0, 1, json!({}), json!({}));
    w.gws[0].strict = false;
    w.at(Duration::ZERO, Action::Start(0));
    w.at(Duration::ZERO, Action::Start(1));
    w.assert_converges(Duration::from_secs(30), "start");
    let session = w.links[0].a.1.clone();
    w.check_up_has_sender = false;
    let lost = w.gws[0].dp.lose_sender(&session).expect("an SA to lose");
    let st = w.status(0, &session).unwrap();
    assert_eq!(st.runtime_status, "DEGRADED", "{st:?}");
    assert_eq!(st.alarm.unwrap().error_id, "TUNNEL_CANNOT_SEND");
    w.run_for(Duration::from_secs(3));
    w.check_up_has_sender = true;
    let st = w.status(0, &session).unwrap();
    assert_eq!(st.runtime_status, "UP", "{st:?}");
    let alarm = st.alarm.expect("the repair is shown");
    assert_eq!(alarm.error_id, "DATAPLANE_REPAIRED");
    assert!(
        alarm.message.contains(&format!("{lost:08x}")) && alarm.message.contains("rekey"),
        "{}",
        alarm.message
    );
    w.assert_converges(Duration::from_secs(30), "after the repair");
}

/// In test and debug builds (strict) the same bug stops the gateway loudly.
#[test]
#[should_panic(expected = "invariant violated")]
fn a_lost_sender_fails_loudly_when_strict() {
    let mut w = World::new(8, 2);
    w.link(0, 1, json!({}), json!({}));
    w.at(Duration::ZERO, Action::Start(0));
    w.at(Duration::ZERO, Action::Start(1));
    w.assert_converges(Duration::from_secs(30), "start");
    let session = w.links[0].a.1.clone();
    w.check_up_has_sender = false;
    w.gws[0].dp.lose_sender(&session).unwrap();
    w.run_for(Duration::from_secs(3));
}

/// API changes on a live session reach the control plane mid-exchange without breaking the
/// invariants (the chaos test does this at random; here deterministically at every
/// millisecond of an IKE_SA_INIT/IKE_AUTH exchange).
#[test]
fn config_changes_in_the_middle_of_the_first_exchange() {
    for offset_ms in 0..12u64 {
        let mut w = World::new(3_000 + offset_ms, 2);
        w.link(0, 1, json!({}), json!({}));
        let s = w.links[0].b.1.clone();
        w.at(Duration::ZERO, Action::Start(0));
        w.at(Duration::ZERO, Action::Start(1));
        w.at(
            Duration::from_millis(offset_ms),
            Action::Patch(1, s.clone(), json!({"description": "edited"})),
        );
        w.at(
            Duration::from_millis(offset_ms + 1),
            Action::Patch(1, SVC.to_string(), json!({"ike_log_level": "DEBUG"})),
        );
        w.run_for(Duration::from_secs(2));
        w.assert_converges(Duration::from_secs(60), &format!("edit at {offset_ms} ms"));
    }
}

/// A session waiting for its local address to appear on the host comes up when it does,
/// even if the next change touches only another session (a partial realization must not
/// forget the bind retry).
#[test]
fn a_session_waiting_for_its_address_comes_up_after_an_unrelated_edit() {
    let mut w = World::new(9_100, 2);
    w.link(0, 1, json!({}), json!({}));
    let edited = w.links[0].a.1.clone();
    let waiting = format!("{SVC}/sessions/waiting");
    let late: std::net::IpAddr = "198.51.100.50".parse().unwrap();
    w.gws[0].patch(
        &format!("{SVC}/local-endpoints/le-late"),
        json!({"local_address": late.to_string()}),
    );
    w.gws[0].patch(
        &waiting,
        session_body(
            "203.0.113.77".parse().unwrap(),
            "169.254.200.1",
            json!({"local_endpoint_path": format!("{SVC}/local-endpoints/le-late"),
                   "connection_initiation_mode": "RESPOND_ONLY"}),
        ),
    );
    w.at(Duration::ZERO, Action::Start(0));
    w.at(Duration::ZERO, Action::Start(1));
    w.run_for(Duration::from_secs(2));
    let reason = |w: &World| {
        w.status(0, &waiting)
            .map(|s| s.ike_status.fail_reason)
            .unwrap_or_default()
    };
    assert_eq!(reason(&w), "Configuration failed");
    // The address is added to the host, and within the 10 s bind retry another session is
    // edited: the waiting one is realized too.
    w.gws[0].host.lock().unwrap().addresses.insert(late);
    w.at(
        Duration::from_millis(1),
        Action::Patch(0, edited, json!({"description": "edited"})),
    );
    w.run_for(Duration::from_secs(1));
    assert_eq!(reason(&w), "Negotiation not started");
    w.run_for(Duration::from_secs(30));
    assert_eq!(reason(&w), "Negotiation not started");
}

/// Tunnels are made in the background (issue 16): a session waits for its tunnel without
/// holding up the others, shows "Negotiation not started" and has no tunnel meanwhile, starts
/// when its tunnel is reported made, and an edit, or a delete and create, while its tunnel
/// is being made neither loses the session nor leaves a tunnel behind.
#[test]
fn sessions_start_as_their_tunnels_are_made() {
    use strait_control::DataplaneApi;
    let waited = std::cell::Cell::new(0usize);
    for_seeds(
        "sessions_start_as_their_tunnels_are_made",
        seeds(9_200, 30),
        |seed| {
            let mut w = World::new(seed, 3);
            w.tunnel_delay = Duration::from_secs(2);
            w.link(0, 1, json!({}), json!({}));
            w.link(0, 2, json!({}), json!({}));
            for k in 0..3 {
                w.at(Duration::ZERO, Action::Start(k));
            }
            w.run_for(Duration::from_millis(1));
            let making: Vec<String> = {
                let gw = w.gws[0].gw.as_ref().expect("started");
                gw.making().iter().cloned().collect()
            };
            for s in &making {
                let reason = w.status(0, s).map(|st| st.ike_status.fail_reason);
                assert_eq!(reason.as_deref(), Some("Negotiation not started"), "{s}");
                assert!(!w.gws[0].dp.tunnel_sessions().contains(s), "{s}");
                assert!(!w.gws[0].gw.as_ref().unwrap().running().contains(s), "{s}");
            }
            if let Some(s) = making.first() {
                w.at(
                    Duration::from_millis(1),
                    Action::Patch(0, s.clone(), json!({"description": "edited while made"})),
                );
            }
            if let Some(s) = making.get(1) {
                let link = w
                    .links
                    .iter()
                    .find(|l| &l.a.1 == s)
                    .expect("a link")
                    .clone();
                w.at(Duration::from_millis(2), Action::Delete(0, s.clone()));
                w.at(
                    Duration::from_millis(3),
                    Action::Patch(0, s.clone(), link.body_a),
                );
            }
            waited.set(waited.get() + making.len());
            w.run_for(Duration::from_secs(5));
            w.assert_converges(Duration::from_secs(60), "tunnels made in the background");
            let gw = w.gws[0].gw.as_ref().unwrap();
            assert!(gw.making().is_empty(), "{:?}", gw.making());
            assert_eq!(w.gws[0].dp.tunnel_sessions().len(), 2);
        },
    );
    assert!(
        waited.get() > 0,
        "no seed had a session waiting for its tunnel"
    );
}
