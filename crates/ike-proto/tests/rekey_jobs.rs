//! The Diffie-Hellman work of CREATE_CHILD_SA (Child SA rekeys with PFS, IKE SA rekeys) is
//! handed out as crypto jobs, like IKE_SA_INIT's: the event loop never computes it, an
//! exchange waits for its job, retransmissions of a request whose answer is being computed
//! are ignored, and whatever order and delay the results come back with, both ends
//! converge on one IKE SA and one Child SA.

mod common;

use std::time::Duration;

use common::*;
use ike_proto::{EndpointConfig, IkeState, Random, TestRandom};

fn offload() -> EndpointConfig {
    EndpointConfig {
        offload_crypto: true,
        ..EndpointConfig::default()
    }
}

/// Two offloading endpoints, UP, whose jobs are finished at once (after the input that
/// made them) unless the test takes them over (`p.jobs = None`).
fn up_offloading(seed: u64) -> Pair {
    let mut p = Pair::with_config(seed, offload(), offload());
    p.delay_jobs(seed, Duration::ZERO);
    p.configure(session(A, B, true), session(B, A, false));
    p.deliver();
    assert_eq!(p.status_a().ike_state, IkeState::Up, "{:?}", p.status_a());
    assert_eq!(p.status_b().ike_state, IkeState::Up, "{:?}", p.status_b());
    p
}

/// Datagrams B sent from wire position `from` on.
fn sent_by_b(p: &Pair, from: usize) -> usize {
    p.wire[from..].iter().filter(|(from_a, _)| !from_a).count()
}

fn sent_by_a(p: &Pair, from: usize) -> usize {
    p.wire[from..].iter().filter(|(from_a, _)| *from_a).count()
}

/// Run one job of side a (`a`) or b, which must be the only one it has handed out.
fn run_only_job(p: &mut Pair, a: bool, what: &str) {
    let side = if a { &mut p.a } else { &mut p.b };
    let job = side.ep.poll_crypto().unwrap_or_else(|| panic!("{what}"));
    assert!(side.ep.poll_crypto().is_none(), "{what}: one job only");
    let done = std::thread::spawn(move || job.run()).join().unwrap();
    side.ep.handle_crypto(p.now, done, &mut side.rng);
    p.deliver();
}

#[test]
fn a_child_sa_rekey_with_pfs_waits_for_its_jobs_and_the_old_sa_keeps_working() {
    let mut p = up_offloading(41);
    let old = p.assert_one_matching_child();
    p.jobs = None; // the test runs every job itself from here
    let (now, id) = (p.now, p.a_id());
    let before = p.wire.len();
    p.a.ep.rekey_child(now, &id, &mut p.a.rng);
    p.deliver();
    assert_eq!(sent_by_a(&p, before), 0, "no request before its key pair");
    run_only_job(&mut p, true, "A's key pair for the rekey");
    assert_eq!(sent_by_a(&p, before), 1, "the request went out");
    // B's key exchange is held: A retransmits, B neither answers nor computes again.
    let held = p.b.ep.poll_crypto().expect("B's key exchange");
    assert!(p.b.ep.poll_crypto().is_none());
    let during = p.wire.len();
    p.run_for(Duration::from_secs(5));
    assert!(sent_by_a(&p, during) >= 1, "A retransmitted");
    assert_eq!(
        sent_by_b(&p, during),
        0,
        "no answer before the key exchange"
    );
    assert!(p.b.ep.poll_crypto().is_none(), "no second job");
    // Meanwhile the tunnel is up on the old Child SA.
    assert_eq!(p.status_a().ike_state, IkeState::Up);
    assert_eq!(p.assert_one_matching_child(), old);
    // B's result comes back: it answers once; A computes g^ir; the new SA replaces the old.
    let now = p.now;
    p.b.ep.handle_crypto(now, held.run(), &mut p.b.rng);
    p.deliver();
    run_only_job(&mut p, true, "A's g^ir");
    p.run_for(Duration::from_secs(5));
    let new = p.assert_one_matching_child();
    assert_ne!(new, old, "rekeyed");
    assert_eq!(p.status_b().ike_state, IkeState::Up);
}

#[test]
fn an_ike_rekey_waits_for_its_jobs_and_keeps_the_child_sa() {
    for (seed, from_a) in [(43, true), (44, false)] {
        let mut p = up_offloading(seed);
        let child = p.assert_one_matching_child();
        let first = p.status_a().ike.unwrap();
        p.jobs = None;
        let now = p.now;
        let before = p.wire.len();
        if from_a {
            let id = p.a_id();
            p.a.ep.rekey_ike(now, &id, &mut p.a.rng);
        } else {
            let id = p.b_id();
            p.b.ep.rekey_ike(now, &id, &mut p.b.rng);
        }
        p.deliver();
        assert_eq!(p.wire.len(), before, "no request before its key pair");
        run_only_job(&mut p, from_a, "the initiator's key pair");
        // The responder's job is held through the initiator's retransmissions.
        let responder_is_a = !from_a;
        let held = {
            let side = if responder_is_a { &mut p.a } else { &mut p.b };
            side.ep.poll_crypto().expect("the responder's key exchange")
        };
        let during = p.wire.len();
        p.run_for(Duration::from_secs(5));
        let (by_initiator, by_responder) = if from_a {
            (sent_by_a(&p, during), sent_by_b(&p, during))
        } else {
            (sent_by_b(&p, during), sent_by_a(&p, during))
        };
        assert!(by_initiator >= 1, "the initiator retransmitted");
        assert_eq!(by_responder, 0, "no answer before the key exchange");
        let now = p.now;
        let side = if responder_is_a { &mut p.a } else { &mut p.b };
        assert!(side.ep.poll_crypto().is_none(), "no second job");
        side.ep.handle_crypto(now, held.run(), &mut side.rng);
        p.deliver();
        run_only_job(&mut p, from_a, "the initiator's g^ir");
        p.run_for(Duration::from_secs(5));
        let (sa, sb) = (p.status_a(), p.status_b());
        assert_eq!(sa.ike_state, IkeState::Up, "{sa:?}");
        let (x, y) = (sa.ike.unwrap(), sb.ike.unwrap());
        assert_eq!((x.spi_i, x.spi_r), (y.spi_i, y.spi_r), "one IKE SA");
        assert_ne!((x.spi_i, x.spi_r), (first.spi_i, first.spi_r), "rekeyed");
        assert_eq!(
            p.assert_one_matching_child(),
            child,
            "the Child SA moved over"
        );
    }
}

/// Rekeys from either side or both at once, the key-exchange results coming back 0 to
/// 400 ms later in any order, some datagrams lost: both ends converge on one IKE SA and
/// one Child SA, with the jobs really handed out (none computed on the event loop).
#[test]
fn rekeys_with_delayed_key_exchanges_converge() {
    let seeds = std::env::var("STRAIT_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60u64);
    // STRAIT_SIM_SEED=N replays one seed.
    let only: Option<u64> = std::env::var("STRAIT_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    for seed in (0..seeds).filter(|s| only.is_none_or(|o| o == *s)) {
        let mut p = Pair::with_config(5000 + seed, offload(), offload());
        p.delay_jobs(seed, Duration::from_millis(400));
        p.configure(session(A, B, true), session(B, A, false));
        p.run_for(Duration::from_secs(10));
        p.assert_converged(seed);
        // Every third seed loses 10 % of datagrams while the rekeys run.
        let mut chaos = TestRandom::new(seed);
        let loss = if seed % 3 == 0 { 10 } else { 0 };
        p.drop = Box::new(move |_, _| {
            let mut b = [0u8; 1];
            chaos.fill(&mut b);
            u32::from(b[0]) * 100 < loss * 256
        });
        let (ia, ib) = (p.a_id(), p.b_id());
        for round in 0..3u64 {
            let now = p.now;
            match (seed + round) % 5 {
                0 => p.a.ep.rekey_child(now, &ia, &mut p.a.rng),
                1 => p.b.ep.rekey_child(now, &ib, &mut p.b.rng),
                2 => {
                    p.a.ep.rekey_child(now, &ia, &mut p.a.rng);
                    p.b.ep.rekey_child(now, &ib, &mut p.b.rng);
                }
                3 => {
                    p.a.ep.rekey_ike(now, &ia, &mut p.a.rng);
                    p.b.ep.rekey_ike(now, &ib, &mut p.b.rng);
                }
                _ => {
                    p.a.ep.rekey_ike(now, &ia, &mut p.a.rng);
                    p.b.ep.rekey_child(now, &ib, &mut p.b.rng);
                }
            }
            p.deliver();
            p.run_for(Duration::from_secs(3));
        }
        p.drop = Box::new(|_, _| false);
        p.run_for(Duration::from_secs(120));
        p.assert_converged(seed);
        let (a_jobs, b_jobs) = p.jobs.as_ref().unwrap().handed_out;
        // IKE_SA_INIT makes three jobs (the initiator's key pair and keys, the responder's
        // key exchange); each round of rekeys at least one more.
        assert!(a_jobs + b_jobs >= 6, "seed {seed}: {a_jobs}/{b_jobs} jobs");
    }
}

/// Three days of lifetime-driven rekeys (Child SAs every ~17 minutes, IKE every ~5 hours)
/// with every key exchange delayed: no gaps, no storms.
#[test]
fn lifetimes_drive_rekeys_for_days_with_delayed_key_exchanges() {
    let mut p = Pair::with_config(45, offload(), offload());
    p.delay_jobs(45, Duration::from_millis(250));
    let mut a = session(A, B, true);
    let mut b = session(B, A, false);
    for s in [&mut a, &mut b] {
        s.ike_lifetime = Duration::from_secs(6 * 3600);
        s.child_lifetime = Duration::from_secs(1200);
    }
    p.configure(a, b);
    p.run_for(Duration::from_secs(10));
    let first_ike = p.status_a().ike.unwrap().spi_i;
    p.run_for(Duration::from_secs(3 * 86_400));
    p.assert_converged(45);
    assert_ne!(p.status_a().ike.unwrap().spi_i, first_ike);
    let child_installs = p.a.log.iter().filter(|l| l.starts_with('+')).count();
    assert!(
        (200..=400).contains(&child_installs),
        "{child_installs} Child SAs in 3 days"
    );
    let (a_jobs, b_jobs) = p.jobs.as_ref().unwrap().handed_out;
    // Each PFS Child SA rekey costs the initiator two jobs and the responder one.
    assert!(
        a_jobs + b_jobs >= 3 * child_installs,
        "{a_jobs} + {b_jobs} jobs for {child_installs} Child SAs"
    );
}
