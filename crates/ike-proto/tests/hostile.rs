//! Issue 12 at the protocol level: forged IKE_SA_INIT requests from a configured peer's
//! address, replays, floods and malformed versions, on virtual time. Each test reproduces
//! one attack and asserts what the endpoint must (not) do; the end-to-end versions with a
//! raw socket in a third namespace are in `crates/strait/tests/hostile.rs`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use ike_proto::{DropCause, Endpoint, EndpointConfig, FailReason, IkeState, SessionId, TestRandom};
use ike_wire::{ExchangeType, Header, Message, Notify, NotifyType, Payload, PayloadType};

/// A configured peer of A that never answers: forged packets claim its address.
const D: &str = "198.51.100.4";

/// A genuine IKE_SA_INIT request from `from` to `to` (made by a throwaway endpoint).
fn genuine_init(from: &str, to: &str, seed: u64) -> Vec<u8> {
    let mut rng = TestRandom::new(seed);
    let mut ep = Endpoint::new(EndpointConfig::default(), &mut rng);
    let mut s = session(from, to, true);
    s.force_udp_encapsulation = false;
    ep.set_session(std::time::Instant::now(), s, &mut rng);
    ep.poll_transmit().expect("an IKE_SA_INIT").data
}

/// `init` with its message changed by `f` (and a fresh initiator SPI from `spi`).
fn forge(init: &[u8], spi: u64, f: impl FnOnce(&mut Message)) -> Vec<u8> {
    let mut m = Message::parse(init).unwrap();
    m.header.spi_i = spi.to_be_bytes();
    f(&mut m);
    m.emit()
}

fn with_bad_proposal(m: &mut Message) {
    for p in &mut m.payloads {
        if let Payload::Sa(props) = p {
            for prop in props.iter_mut() {
                for t in prop.transforms.iter_mut() {
                    t.id = 700 + t.id % 50; // transform ids nobody implements
                }
            }
        }
    }
}

fn with_zero_ke(m: &mut Message) {
    for p in &mut m.payloads {
        if let Payload::Ke { data, .. } = p {
            data.iter_mut().for_each(|b| *b = 0);
        }
    }
}

/// Deliver `data` to A on port 500 as if from `from`:`port`; returns A's answers.
fn inject(p: &mut Pair, from: &str, port: u16, data: &[u8]) -> Vec<Vec<u8>> {
    let local = SocketAddr::new(ip(A), 500);
    let remote = SocketAddr::new(ip(from), port);
    p.a.ep
        .handle_datagram(p.now, local, remote, data, &mut p.a.rng);
    // A computes key exchanges in place here (offload off), so answers are immediate.
    let mut out = Vec::new();
    while let Some(t) = p.a.ep.poll_transmit() {
        // Port 500: no non-ESP marker to strip (and our forged SPIs start with zeros).
        let response = Header::parse(&t.data).is_ok_and(|h| h.is_response());
        if t.remote == remote && response {
            out.push(t.data);
        } else {
            // Something A sends to the real B (not an answer to the forgery): keep it
            // flowing through the pair.
            p.wire.push((true, t.clone()));
            p.b.ep
                .handle_datagram(p.now, t.remote, t.local, &t.data, &mut p.b.rng);
        }
    }
    Pair::collect(&mut p.a);
    out
}

fn notify_of(answer: &[u8]) -> Option<NotifyType> {
    let m = Message::parse(answer).ok()?;
    m.payloads.iter().find_map(|p| match p {
        Payload::Notify(n) => Some(n.notify_type),
        _ => None,
    })
}

fn d_session() -> ike_proto::SessionConfig {
    let mut s = session(A, D, false);
    s.id = SessionId("s-A-to-D".into());
    s
}

/// Finding 1: one forged IKE_SA_INIT left a half-open SA that counted as "the session has
/// an IKE SA", so the initiator never tried again after the peer restarted.
#[test]
fn a_forged_half_open_sa_does_not_stop_reconnection() {
    for seed in 0..20 {
        let mut p = up_pair(100 + seed);
        let init = genuine_init(B, A, 9_000 + seed);
        let answers = inject(&mut p, B, 500, &forge(&init, 0xdead_0000 + seed, |_| {}));
        assert_eq!(
            answers.len(),
            1,
            "the forged request is answered like any other"
        );
        // B restarts: its Delete takes A's session down, then B is back, responder only.
        p.b.ep.remove_session(p.now, &p.b_id(), &mut p.b.rng);
        p.deliver();
        assert_ne!(p.status_a().ike_state, IkeState::Up);
        p.b.ep
            .set_session(p.now, session(B, A, false), &mut p.b.rng);
        // A forged packet every 25 s keeps a half-open SA alive the whole time.
        for k in 0..4u64 {
            let spi = 0xbeef_0000 + seed * 16 + k;
            inject(&mut p, B, 500, &forge(&init, spi, |_| {}));
            p.run_for(Duration::from_secs(25));
            if p.status_a().ike_state == IkeState::Up {
                break;
            }
        }
        assert_eq!(
            p.status_a().ike_state,
            IkeState::Up,
            "seed {seed}: A did not reconnect while forged half-open SAs existed: {:?}",
            p.status_a()
        );
        assert_eq!(p.status_b().ike_state, IkeState::Up);
    }
}

/// Finding 2: forged requests with unacceptable proposals rewrote the session's status with
/// attacker-chosen text and doubled the initiator's retry delay. Two identical runs, one
/// under the flood: A's status and the times of its IKE_SA_INIT attempts must not differ.
#[test]
fn forged_refusals_change_no_status_alarm_or_retry_timer() {
    let run = |flood: bool| {
        let mut p = Pair::new(7);
        let start = p.now;
        // B is configured nowhere: A's attempts go unanswered and it retries with backoff.
        p.a.ep.set_session(p.now, session(A, B, true), &mut p.a.rng);
        p.drop = Box::new(|from_a, _| from_a);
        p.deliver(); // the first attempt, before either run starts counting
        let init = genuine_init(B, A, 77);
        let mut attempts = Vec::new();
        let mut statuses = Vec::new();
        for round in 0..300u64 {
            let before = p.wire.len();
            if flood {
                for k in 0..10 {
                    let bad = forge(&init, round * 100 + k, with_bad_proposal);
                    let answers = inject(&mut p, B, 500, &bad);
                    // Refused, or asked for a cookie once the rate from B's address is high.
                    let notifies: Vec<_> = answers.iter().filter_map(|a| notify_of(a)).collect();
                    assert!(
                        notifies == [NotifyType::NO_PROPOSAL_CHOSEN]
                            || notifies == [NotifyType::COOKIE],
                        "{notifies:?}"
                    );
                }
            }
            p.run_for(Duration::from_millis(500));
            for (from_a, t) in &p.wire[before..] {
                let init = Message::parse(strip(&t.data))
                    .is_ok_and(|m| m.header.exchange == ExchangeType::IKE_SA_INIT);
                if *from_a && init {
                    attempts.push(p.now - start);
                }
            }
            statuses.push(p.status_a());
        }
        (attempts, statuses, p)
    };
    let (quiet_attempts, quiet_statuses, _) = run(false);
    let (attempts, statuses, mut p) = run(true);
    assert_eq!(
        attempts,
        quiet_attempts,
        "the flood changed when A tries: {} attempts instead of {}",
        attempts.len(),
        quiet_attempts.len()
    );
    for (s, q) in statuses.iter().zip(&quiet_statuses) {
        assert_eq!(s.fail_reason, q.fail_reason);
        assert_eq!(s.alarm, q.alarm, "the flood changed the alarm");
    }
    let last = statuses.last().unwrap();
    assert_eq!(
        last.fail_reason,
        Some(FailReason::PeerNotResponding),
        "{last:?}"
    );
    assert!(!last.alarm.as_deref().unwrap_or("").contains("700"));
    // Counted, not logged per packet: one report entry per cause for 3,000 packets.
    let report = p.a.ep.take_unauthenticated_report();
    assert!(report.len() <= 2, "{report:?}");
    let counted: u64 = report
        .iter()
        .filter(|r| {
            matches!(
                r.cause,
                DropCause::NoProposalChosen | DropCause::CookieRequired
            )
        })
        .map(|r| r.count)
        .sum();
    assert_eq!(counted, 3_000, "{report:?}");
}

/// Finding 3: a request replayed from thousands of source ports made thousands of
/// half-open SAs (and answers); one forged address could fill the gateway's table; padded
/// requests were kept whole.
#[test]
fn replays_padding_and_one_address_cannot_fill_the_half_open_table() {
    let mut p = Pair::new(11);
    p.a.ep
        .set_session(p.now, session(A, B, false), &mut p.a.rng);
    p.a.ep.set_session(p.now, d_session(), &mut p.a.rng);
    // One captured request replayed from 4,200 ports: one half-open SA, one answer (the
    // next may come a retransmission interval later).
    let init = genuine_init(D, A, 5);
    let mut answered = 0;
    for port in 0..4_200u16 {
        answered += inject(&mut p, D, 10_000 + port, &init).len();
    }
    assert_eq!(
        answered, 1,
        "a replayed request was answered {answered} times"
    );
    assert_eq!(
        p.a.ep
            .unauthenticated_totals()
            .get(&DropCause::ReplayedInit),
        Some(&4_199)
    );
    // Padded to 30 KB: dropped before anything is kept.
    let padded = forge(&init, 1, |m| {
        m.payloads.push(Payload::Notify(Notify::new(
            NotifyType(40_000),
            vec![0; 30_000],
        )));
    });
    assert!(inject(&mut p, D, 500, &padded).is_empty());
    assert_eq!(
        p.a.ep.unauthenticated_totals().get(&DropCause::TooLarge),
        Some(&1)
    );
    // 10,000 requests with fresh SPIs from D: after a few, D must send cookies; D never
    // gets more than its own share of half-open SAs.
    let mut with_ke = 0;
    let mut cookies = 0;
    for spi in 0..10_000u64 {
        for a in inject(&mut p, D, 500, &forge(&init, 0x1000 + spi, |_| {})) {
            match notify_of(&a) {
                Some(NotifyType::COOKIE) => cookies += 1,
                _ => with_ke += 1,
            }
        }
    }
    let cfg = EndpointConfig::default();
    assert!(
        with_ke
            < cfg
                .cookie_peer_threshold
                .max(cfg.cookie_peer_dh_rate as usize)
                + 2,
        "{with_ke} half-open SAs for one forged address"
    );
    assert!(cookies > 9_000, "{cookies} COOKIE answers");
    // The real B still gets in (with a cookie round trip if the gateway is under load).
    p.b.ep.set_session(p.now, session(B, A, true), &mut p.b.rng);
    p.deliver();
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.status_b().ike_state, IkeState::Up, "{:?}", p.status_b());
    assert_eq!(p.status_a().ike_state, IkeState::Up);
}

/// Finding 4: an invalid KE cost a full DH before it was refused. It is now refused by a
/// validation that does no DH, and creates nothing.
#[test]
fn an_invalid_ke_is_refused_before_any_dh() {
    let mut p = Pair::new(13);
    p.a.ep.set_session(p.now, d_session(), &mut p.a.rng);
    let init = genuine_init(D, A, 6);
    for spi in 0..2_000u64 {
        let answers = inject(&mut p, D, 500, &forge(&init, spi + 1, with_zero_ke));
        // Under the request rate, cookies come first; a valid cookie is not enough either.
        assert!(answers.len() <= 1);
    }
    let totals = p.a.ep.unauthenticated_totals();
    let invalid = totals.get(&DropCause::InvalidKe).copied().unwrap_or(0);
    let cookie = totals.get(&DropCause::CookieRequired).copied().unwrap_or(0);
    assert_eq!(invalid + cookie, 2_000, "{totals:?}");
    assert!(invalid > 0, "{totals:?}");
    assert!(p.a.ep.poll_crypto().is_none());
    p.a.ep.check_invariants().unwrap();
    // No half-open SA: a new genuine request from D is answered with a KE.
    p.run_for(Duration::from_secs(5));
    let answers = inject(&mut p, D, 500, &forge(&init, 0x9999, |_| {}));
    assert_eq!(answers.len(), 1);
    assert!(
        Message::parse(&answers[0])
            .unwrap()
            .payloads
            .iter()
            .any(|p| matches!(p, Payload::Ke { .. })),
        "expected an IKE_SA_INIT response"
    );
}

/// Finding 5: INVALID_MAJOR_VERSION (§2.5) and UNSUPPORTED_CRITICAL_PAYLOAD (§3.2) are
/// answered, to configured peers only.
#[test]
fn higher_versions_and_unknown_critical_payloads_are_answered() {
    let mut p = Pair::new(17);
    p.a.ep.set_session(p.now, d_session(), &mut p.a.rng);
    let init = genuine_init(D, A, 8);
    let v3 = forge(&init, 3, |m| m.header.version = 0x30);
    let answers = inject(&mut p, D, 500, &v3);
    assert_eq!(answers.len(), 1);
    let h = Header::parse(&answers[0]).unwrap();
    assert_eq!(h.version, ike_wire::VERSION_2_0);
    assert!(h.is_response());
    assert_eq!(h.spi_i, 3u64.to_be_bytes());
    assert_eq!(
        notify_of(&answers[0]),
        Some(NotifyType::INVALID_MAJOR_VERSION)
    );
    // From an address no session is configured for: dropped, counted.
    assert!(inject(&mut p, "203.0.113.9", 500, &v3).is_empty());

    let mut critical = forge(&init, 4, |m| {
        m.payloads.insert(
            0,
            Payload::Unknown {
                payload_type: PayloadType(200),
                data: vec![1, 2, 3],
            },
        )
    });
    critical[Header::LEN + 1] |= 0x80; // the first payload's critical bit
    let answers = inject(&mut p, D, 500, &critical);
    assert_eq!(answers.len(), 1);
    let m = Message::parse(&answers[0]).unwrap();
    let Payload::Notify(n) = &m.payloads[0] else {
        panic!("{m:?}")
    };
    assert_eq!(n.notify_type, NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD);
    assert_eq!(n.data, vec![200]);
    let totals = p.a.ep.unauthenticated_totals();
    assert_eq!(totals.get(&DropCause::UnsupportedVersion), Some(&1));
    assert_eq!(totals.get(&DropCause::UnsupportedCriticalPayload), Some(&1));
    assert_eq!(totals.get(&DropCause::Undecodable), Some(&1));
}

/// Key exchanges handed out as jobs: the responder answers only when the job's result
/// comes back; a result for an SA that went away meanwhile is ignored.
#[test]
fn offloaded_key_exchanges_complete_out_of_band() {
    let ca = EndpointConfig {
        offload_crypto: true,
        ..EndpointConfig::default()
    };
    let mut p = Pair::with_config(21, ca, EndpointConfig::default());
    p.configure(session(A, B, false), session(B, A, true));
    p.deliver();
    assert_ne!(
        p.status_b().ike_state,
        IkeState::Up,
        "answered before computing"
    );
    let job = p.a.ep.poll_crypto().expect("a key-exchange job");
    assert!(p.a.ep.poll_crypto().is_none());
    // Computed on another thread, as straitd does.
    let done = std::thread::spawn(move || job.run()).join().unwrap();
    let now = p.now;
    p.a.ep.handle_crypto(now, done, &mut p.a.rng);
    p.deliver();
    assert_eq!(p.status_a().ike_state, IkeState::Up, "{:?}", p.status_a());
    assert_eq!(p.status_b().ike_state, IkeState::Up);
    p.assert_one_matching_child();

    // Both ends offloading (initiator key pair, initiator keys, responder keys): jobs run
    // on other threads, results come back in whatever order the threads finish.
    let both = || EndpointConfig {
        offload_crypto: true,
        ..EndpointConfig::default()
    };
    let mut p = Pair::with_config(23, both(), both());
    p.configure(session(A, B, false), session(B, A, true));
    for _ in 0..10 {
        p.deliver();
        for side in [&mut p.a, &mut p.b] {
            let jobs: Vec<_> = std::iter::from_fn(|| side.ep.poll_crypto()).collect();
            let threads: Vec<_> = jobs
                .into_iter()
                .map(|j| std::thread::spawn(move || j.run()))
                .collect();
            for t in threads.into_iter().rev() {
                let done = t.join().unwrap();
                side.ep.handle_crypto(p.now, done, &mut side.rng);
            }
            Pair::collect(side);
        }
    }
    assert_eq!(p.status_a().ike_state, IkeState::Up, "{:?}", p.status_a());
    assert_eq!(p.status_b().ike_state, IkeState::Up, "{:?}", p.status_b());
    p.assert_one_matching_child();

    // A job whose half-open SA expired before it finished.
    let mut p = Pair::with_config(
        22,
        EndpointConfig {
            offload_crypto: true,
            ..EndpointConfig::default()
        },
        EndpointConfig::default(),
    );
    p.a.ep.set_session(p.now, d_session(), &mut p.a.rng);
    inject(&mut p, D, 500, &genuine_init(D, A, 9));
    let job = p.a.ep.poll_crypto().expect("a job");
    p.now += Duration::from_secs(60);
    let now = p.now;
    p.a.ep.handle_timeout(now, &mut p.a.rng);
    p.a.ep.handle_crypto(now, job.run(), &mut p.a.rng);
    assert!(
        p.a.ep.poll_transmit().is_none(),
        "answered for an expired SA"
    );
    p.a.ep.check_invariants().unwrap();
}
