//! Dead Peer Detection (RFC 7296 §1.4, §2.4; NSX DPD profiles) on the simulated link of
//! `common`: probe counts on healthy links, detection times and wire behaviour on dead ones,
//! recovery, ON_DEMAND driven by the data plane's traffic reports, and DPD under loss.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ike_proto::{
    DpdConfig, DpdMode, Event, FailReason, IkeState, SessionConfig, TestRandom, Transmit,
};
use ike_wire::{ExchangeType, Message, Payload, PayloadType};

fn dpd(mode: DpdMode, secs: u64, retry_count: u32) -> Option<DpdConfig> {
    Some(DpdConfig {
        mode,
        interval: Duration::from_secs(secs),
        retry_count,
    })
}

fn with_dpd(mut s: SessionConfig, d: Option<DpdConfig>) -> SessionConfig {
    s.dpd = d;
    s
}

/// A DPD probe: an INFORMATIONAL request whose SK payload carries no payload (§1.4).
fn is_probe(t: &Transmit) -> bool {
    let Ok(m) = Message::parse(strip(&t.data)) else {
        return false;
    };
    m.header.exchange == ExchangeType::INFORMATIONAL
        && !m.header.is_response()
        && matches!(m.payloads.last(), Some(Payload::Sk(sk)) if sk.inner_first == PayloadType::NONE)
}

fn is_response(t: &Transmit) -> bool {
    Message::parse(strip(&t.data)).is_ok_and(|m| m.header.is_response())
}

/// Indices into `p.wire` (from `since`) of probes sent by A (`from_a`) or B.
fn probes(p: &Pair, from_a: bool, since: usize) -> Vec<usize> {
    (since..p.wire.len())
        .filter(|&i| p.wire[i].0 == from_a && is_probe(&p.wire[i].1))
        .collect()
}

/// Run `secs` seconds, reporting each side's ESP to its endpoint once per second the way the
/// runtime does: (sent, received) for A and for B.
fn run_with_traffic(p: &mut Pair, secs: u64, a: (bool, bool), b: (bool, bool)) {
    for _ in 0..secs {
        p.run_for(Duration::from_secs(1));
        let (now, ia, ib) = (p.now, p.a_id(), p.b_id());
        p.a.ep.note_traffic(now, &ia, a.0, a.1);
        p.b.ep.note_traffic(now, &ib, b.0, b.1);
    }
}

/// Step until A's session leaves Up; returns when (virtual time).
fn until_a_down(p: &mut Pair, max: Duration) -> Instant {
    let end = p.now + max;
    while p.status_a().ike_state == IkeState::Up {
        assert!(p.now < end, "A still up: {:?}", p.status_a());
        p.step(Duration::from_millis(100));
    }
    p.now
}

fn last_from_b(p: &Pair) -> Instant {
    let i = p.wire.iter().rposition(|(a, _)| !a).unwrap();
    p.wire_times[i]
}

fn ike_spis(p: &Pair) -> ([u8; 8], [u8; 8]) {
    let ike = p.status_a().ike.unwrap();
    (ike.spi_i, ike.spi_r)
}

#[test]
fn periodic_probes_an_idle_tunnel_once_per_interval() {
    let mut p = Pair::new(60);
    p.configure(
        with_dpd(session(A, B, true), dpd(DpdMode::Periodic, 10, 3)),
        session(B, A, false),
    );
    p.deliver();
    let (spis, child) = (ike_spis(&p), p.assert_one_matching_child());
    let mark = p.wire.len();
    let start = p.now;
    p.run_for(Duration::from_secs(105));
    let sent = probes(&p, true, mark);
    assert_eq!(sent.len(), 10, "one probe per 10 s interval in 105 s");
    for (k, &i) in sent.iter().enumerate() {
        assert_eq!(
            p.wire_times[i] - start,
            Duration::from_secs(10 * (k as u64 + 1)),
            "probe {k}"
        );
    }
    // Every probe answered at once, nothing else on the wire, nothing from B's side.
    assert_eq!(p.wire.len() - mark, 20, "10 requests + 10 responses");
    assert!(p.wire[mark..].iter().all(|(a, t)| *a != is_response(t)));
    assert_eq!(probes(&p, false, mark).len(), 0);
    assert_eq!(p.status_a().ike_state, IkeState::Up);
    assert_eq!(p.status_b().ike_state, IkeState::Up);
    assert_eq!(ike_spis(&p), spis);
    assert_eq!(p.assert_one_matching_child(), child);
}

#[test]
fn periodic_skips_probes_when_the_peer_was_heard_from() {
    // B probes every 30 s, but A's probes every 10 s are signs of life for B: B never probes.
    let mut p = Pair::new(61);
    p.configure(
        with_dpd(session(A, B, true), dpd(DpdMode::Periodic, 10, 3)),
        with_dpd(session(B, A, false), dpd(DpdMode::Periodic, 30, 3)),
    );
    p.deliver();
    let mark = p.wire.len();
    p.run_for(Duration::from_secs(305));
    assert_eq!(probes(&p, true, mark).len(), 30);
    assert_eq!(probes(&p, false, mark).len(), 0, "B heard A every 10 s");

    // ESP arriving both ways every second: nobody probes, for 10 intervals.
    let mut p = Pair::new(62);
    p.configure(
        with_dpd(session(A, B, true), dpd(DpdMode::Periodic, 10, 3)),
        with_dpd(session(B, A, false), dpd(DpdMode::Periodic, 10, 3)),
    );
    p.deliver();
    let (spis, child) = (ike_spis(&p), p.assert_one_matching_child());
    let mark = p.wire.len();
    run_with_traffic(&mut p, 100, (true, true), (true, true));
    assert_eq!(
        p.wire.len(),
        mark,
        "no IKE traffic at all: {:?}",
        &p.wire[mark..]
    );
    // Traffic stops: both probe again about one interval after the last ESP report
    // (both at the same instant: each probe is also the other's sign of life afterwards).
    let stop = p.now;
    p.run_for(Duration::from_secs(15));
    let (pa, pb) = (probes(&p, true, mark), probes(&p, false, mark));
    assert_eq!((pa.len(), pb.len()), (1, 1), "{:?}", &p.wire[mark..]);
    assert_eq!(p.wire_times[pa[0]] - stop, Duration::from_secs(10));
    assert_eq!(ike_spis(&p), spis);
    assert_eq!(p.assert_one_matching_child(), child);
}

#[test]
fn periodic_declares_a_silent_peer_dead_after_the_retries() {
    let (interval, retries) = (10u64, 4u32);
    let mut p = Pair::new(63);
    p.configure(
        with_dpd(
            session(A, B, true),
            dpd(DpdMode::Periodic, interval, retries),
        ),
        session(B, A, false),
    );
    p.deliver();
    p.run_for(Duration::from_secs(25)); // two answered probes
    let installed: Vec<u32> = p.a.children.iter().map(|c| c.spi_in).collect();
    assert_eq!(installed.len(), 1);
    p.drop = Box::new(|from_a, _| !from_a);
    let mark = p.wire.len();
    let events_mark = p.a.events.len();
    let last_b = last_from_b(&p);
    let dead = until_a_down(&mut p, Duration::from_secs(60));
    let since = dead - last_b;
    let half = Duration::from_millis(500);
    let lo = Duration::from_secs(interval) + half * retries;
    let hi = Duration::from_secs(interval) + half * (retries + 2);
    assert!(lo <= since && since <= hi, "dead after {since:?}");

    let st = p.status_a();
    assert_eq!(st.ike_state, IkeState::Down, "{st:?}");
    assert_eq!(st.fail_reason, Some(FailReason::PeerNotResponding));
    assert_eq!(st.fail_reason.unwrap().as_str(), "Peer not responding");
    let alarm = st.alarm.unwrap();
    assert!(alarm.contains("DPD"), "{alarm}");
    assert!(
        alarm.contains(B) && alarm.contains("5 DPD probes"),
        "{alarm}"
    );
    assert!(st.ike.is_none() && st.children.is_empty());
    // The data plane was told to remove every Child SA.
    assert!(p.a.children.is_empty());
    for spi in installed {
        assert!(
            p.a.events[events_mark..]
                .iter()
                .any(|e| matches!(e, Event::ChildSaDeleted { spi_in, .. } if *spi_in == spi)),
            "ChildSaDeleted for {spi:08x}"
        );
    }
    // On the wire: one probe and `retries` identical retransmissions 0.5 s apart, then
    // nothing at all (no Delete to a dead peer).
    let sent: Vec<usize> = (mark..p.wire.len()).filter(|&i| p.wire[i].0).collect();
    assert_eq!(sent.len(), retries as usize + 1, "{:?}", &p.wire[mark..]);
    let first = Message::parse(strip(&p.wire[sent[0]].1.data)).unwrap();
    assert!(is_probe(&p.wire[sent[0]].1));
    assert_eq!(
        p.wire_times[sent[0]] - last_b,
        Duration::from_secs(interval)
    );
    for w in sent.windows(2) {
        assert_eq!(p.wire[w[0]].1.data, p.wire[w[1]].1.data, "a retransmission");
        assert_eq!(p.wire_times[w[1]] - p.wire_times[w[0]], half);
        let m = Message::parse(strip(&p.wire[w[1]].1.data)).unwrap();
        assert_eq!(m.header.message_id, first.header.message_id);
    }
    assert!(p.wire_times[*sent.last().unwrap()] < dead);
}

#[test]
fn an_initiator_renegotiates_after_a_dead_peer_comes_back() {
    let mut p = Pair::new(64);
    p.configure(
        with_dpd(session(A, B, true), dpd(DpdMode::Periodic, 5, 3)),
        session(B, A, false),
    );
    p.deliver();
    let (old_spis, old_child) = (ike_spis(&p), p.assert_one_matching_child());
    // The link fails both ways for a minute.
    p.drop = Box::new(|_, _| true);
    until_a_down(&mut p, Duration::from_secs(30));
    assert_eq!(
        p.status_a().fail_reason,
        Some(FailReason::PeerNotResponding)
    );
    p.run_for(Duration::from_secs(60));
    assert_ne!(p.status_a().ike_state, IkeState::Up);
    p.drop = Box::new(|_, _| false);
    // The initiator's retry backoff (5, 10, 20 s ... after each failed attempt) brings it
    // back: a new IKE SA and Child SA, matched on both sides.
    p.run_for(Duration::from_secs(120));
    assert_eq!(p.status_a().ike_state, IkeState::Up, "{:?}", p.status_a());
    assert_eq!(p.status_b().ike_state, IkeState::Up, "{:?}", p.status_b());
    assert_ne!(ike_spis(&p), old_spis);
    let b_ike = p.status_b().ike.unwrap();
    assert_eq!(ike_spis(&p), (b_ike.spi_i, b_ike.spi_r));
    assert_ne!(p.assert_one_matching_child(), old_child);
    assert_eq!(p.status_a().fail_reason, None);
}

#[test]
fn a_respond_only_side_waits_for_the_peer_after_it_died() {
    let mut p = Pair::new(65);
    p.configure(
        with_dpd(session(A, B, false), dpd(DpdMode::Periodic, 5, 3)),
        session(B, A, true),
    );
    p.deliver();
    assert_eq!(p.status_a().ike_state, IkeState::Up);
    let old_spis = ike_spis(&p);
    p.drop = Box::new(|_, _| true);
    let dead = until_a_down(&mut p, Duration::from_secs(30));
    let mark = p.wire.len();
    p.drop = Box::new(|_, _| false);
    p.run_for(Duration::from_secs(600));
    let st = p.status_a();
    assert_eq!(st.ike_state, IkeState::Down, "{st:?}");
    assert_eq!(st.fail_reason, Some(FailReason::PeerNotResponding));
    assert_eq!(st.since, dead);
    assert!(p.a.children.is_empty());
    assert!(
        !p.wire[mark..].iter().any(|(a, _)| *a),
        "a RESPOND_ONLY side sends nothing on its own"
    );
    // The peer restarts and initiates: up again with a new IKE SA.
    let (now, ib) = (p.now, p.b_id());
    p.b.ep.remove_session(now, &ib, &mut p.b.rng);
    p.b.ep.set_session(now, session(B, A, true), &mut p.b.rng);
    p.deliver();
    assert_eq!(p.status_a().ike_state, IkeState::Up, "{:?}", p.status_a());
    assert_ne!(ike_spis(&p), old_spis);
    p.assert_one_matching_child();
}

#[test]
fn on_demand_probes_only_unanswered_outbound_traffic() {
    let (interval, retries) = (5u64, 3u32);
    let mut p = Pair::new(66);
    p.configure(
        with_dpd(
            session(A, B, true),
            dpd(DpdMode::OnDemand, interval, retries),
        ),
        session(B, A, false),
    );
    p.deliver();
    let mark = p.wire.len();
    // Idle: nothing sent, no probe, however long.
    run_with_traffic(&mut p, 120, (false, false), (false, false));
    p.run_for(Duration::from_secs(1200));
    assert_eq!(p.wire.len(), mark, "idle on-demand tunnels are silent");
    // Received only: no probe.
    run_with_traffic(&mut p, 60, (false, true), (true, false));
    assert_eq!(p.wire.len(), mark);
    // Traffic both ways: no probe.
    run_with_traffic(&mut p, 60, (true, true), (true, true));
    assert_eq!(p.wire.len(), mark);
    // A sends, hears nothing for longer than the interval: probes, once per interval.
    let start = p.now;
    run_with_traffic(&mut p, 12, (true, false), (false, true));
    let sent = probes(&p, true, mark);
    assert_eq!(sent.len(), 2, "{:?}", &p.wire[mark..]);
    // The last sign of life was the last report of inbound ESP, at `start`.
    assert_eq!(p.wire_times[sent[0]] - start, Duration::from_secs(interval));
    assert_eq!(
        p.wire_times[sent[1]] - start,
        Duration::from_secs(2 * interval)
    );
    assert_eq!(p.status_a().ike_state, IkeState::Up);
    // Answers resume: probing stops.
    let mark = p.wire.len();
    run_with_traffic(&mut p, 60, (true, true), (true, true));
    assert_eq!(p.wire.len(), mark);
    // The peer goes silent while A keeps sending: dead within the bound.
    p.drop = Box::new(|from_a, _| !from_a);
    let silent = p.now;
    let end = p.now + Duration::from_secs(30);
    while p.status_a().ike_state == IkeState::Up && p.now < end {
        run_with_traffic(&mut p, 1, (true, false), (false, false));
    }
    let st = p.status_a();
    assert_eq!(
        st.fail_reason,
        Some(FailReason::PeerNotResponding),
        "{st:?}"
    );
    let half = Duration::from_millis(500);
    let since = st.since - silent;
    assert!(
        since >= Duration::from_secs(interval) + half * retries
            && since <= Duration::from_secs(interval) + half * (retries + 2),
        "dead after {since:?}"
    );
    assert!(p.a.children.is_empty());
}

#[test]
fn without_dpd_an_idle_tunnel_is_never_probed() {
    let mut p = Pair::new(67);
    p.configure(session(A, B, true), session(B, A, false));
    p.deliver();
    let mark = p.wire.len();
    // Six hours: Child SA rekeys (CREATE_CHILD_SA and Deletes) but no liveness checks.
    p.run_for(Duration::from_secs(6 * 3600));
    assert!(p.wire.len() > mark + 10, "rekeys happened");
    assert_eq!(probes(&p, true, mark).len(), 0);
    assert_eq!(probes(&p, false, mark).len(), 0);
    // Traffic reports change nothing either.
    let mark = p.wire.len();
    run_with_traffic(&mut p, 120, (true, false), (true, false));
    assert_eq!(p.wire.len(), mark);
    assert_eq!(p.status_a().ike_state, IkeState::Up);
}

#[test]
fn changing_dpd_on_a_live_session_keeps_it_up() {
    let mut p = Pair::new(68);
    p.configure(session(A, B, true), session(B, A, false));
    p.deliver();
    let (spis, child) = (ike_spis(&p), p.assert_one_matching_child());
    let events = p.a.events.len();
    let since = p.status_a().since;
    let mark = p.wire.len();
    // Enable periodic DPD: nothing is renegotiated, probes start.
    let now = p.now;
    let cfg = with_dpd(session(A, B, true), dpd(DpdMode::Periodic, 10, 3));
    p.a.ep.set_session(now, cfg, &mut p.a.rng);
    p.deliver();
    assert_eq!(p.wire.len(), mark, "no Delete, no IKE_SA_INIT");
    p.run_for(Duration::from_secs(55));
    assert_eq!(probes(&p, true, mark).len(), 5);
    assert_eq!(p.wire.len() - mark, 10, "probes and answers only");
    // A shorter interval applies at once: the peer was last heard 5 s ago, more than the
    // new 3 s, so a probe goes out now, then every 3 s.
    let mark = p.wire.len();
    let now = p.now;
    let cfg = with_dpd(session(A, B, true), dpd(DpdMode::Periodic, 3, 3));
    p.a.ep.set_session(now, cfg, &mut p.a.rng);
    p.run_for(Duration::from_secs(31));
    let sent = probes(&p, true, mark);
    assert_eq!(sent.len(), 11);
    assert_eq!(p.wire_times[sent[0]], now);
    assert_eq!(p.wire_times[sent[10]] - now, Duration::from_secs(30));
    // Disable: probing stops.
    let mark = p.wire.len();
    let now = p.now;
    p.a.ep.set_session(now, session(A, B, true), &mut p.a.rng);
    p.run_for(Duration::from_secs(600));
    assert_eq!(p.wire.len(), mark);
    assert_eq!(ike_spis(&p), spis);
    assert_eq!(p.assert_one_matching_child(), child);
    assert_eq!(p.status_a().since, since);
    assert!(
        !p.a.events[events..]
            .iter()
            .any(|e| matches!(e, Event::ChildSaDeleted { .. } | Event::ChildSaInstalled(_))),
        "the data plane is untouched"
    );
}

#[test]
fn a_probe_never_queues_behind_another_request() {
    // A Child SA rekey whose answers are lost keeps the window busy: its own exponential
    // retransmissions test liveness, no probe is added, and the dead peer is reported by
    // that request after its tries (not by DPD).
    let mut p = Pair::new(69);
    p.configure(
        with_dpd(session(A, B, true), dpd(DpdMode::Periodic, 3, 2)),
        session(B, A, false),
    );
    p.deliver();
    p.drop = Box::new(|from_a, _| !from_a);
    let (now, ia) = (p.now, p.a_id());
    p.a.ep.rekey_child(now, &ia, &mut p.a.rng);
    let mark = p.wire.len();
    p.deliver();
    until_a_down(&mut p, Duration::from_secs(120));
    assert_eq!(probes(&p, true, mark).len(), 0, "{:?}", &p.wire[mark..]);
    let alarm = p.status_a().alarm.unwrap();
    assert!(!alarm.contains("DPD"), "{alarm}");
    assert_eq!(
        p.status_a().fail_reason,
        Some(FailReason::PeerNotResponding)
    );
}

/// The lossy-link simulation of `pair.rs` with DPD on both sides (short intervals, few
/// retries, so peers are often declared dead and renegotiated) and random traffic reports:
/// no panic, no timer firing without progress (`run_for` checks), and once the faults stop
/// both sides converge on one IKE SA and one matching Child SA.
#[test]
fn lossy_link_simulation_with_dpd_converges() {
    for seed in 0..60u64 {
        let mut p = Pair::new(7000 + seed);
        let mode = if seed % 3 == 2 {
            DpdMode::OnDemand
        } else {
            DpdMode::Periodic
        };
        let mut a = with_dpd(session(A, B, true), dpd(mode, 3, 1 + (seed % 4) as u32));
        let mut b = with_dpd(session(B, A, seed % 2 == 0), dpd(DpdMode::Periodic, 4, 2));
        for s in [&mut a, &mut b] {
            s.ike_lifetime = Duration::from_secs(1800);
            s.child_lifetime = Duration::from_secs(600);
        }
        let mut chaos = TestRandom::new(seed);
        let loss = 5 + (seed % 4) * 8; // 5..29 %
        let faults = std::rc::Rc::new(std::cell::Cell::new(true));
        let f2 = faults.clone();
        p.drop = Box::new(move |_, _| {
            let mut b = [0u8; 1];
            ike_proto::Random::fill(&mut chaos, &mut b);
            f2.get() && u64::from(b[0]) * 100 / 256 < loss
        });
        p.configure(a, b);
        p.deliver();
        let mut traffic = TestRandom::new(seed ^ 0x5eed);
        for sec in 0..3600usize {
            p.run_for(Duration::from_secs(1));
            let mut r = [0u8; 1];
            ike_proto::Random::fill(&mut traffic, &mut r);
            let (now, ia, ib) = (p.now, p.a_id(), p.b_id());
            p.a.ep.note_traffic(now, &ia, r[0] & 1 != 0, r[0] & 2 != 0);
            p.b.ep.note_traffic(now, &ib, r[0] & 4 != 0, r[0] & 8 != 0);
            // Replay old datagrams now and then (duplicates and reordering).
            if sec % 97 == 0 {
                p.replay_old(sec * 7919);
            }
        }
        faults.set(false);
        p.run_for(Duration::from_secs(900));
        p.assert_converged(seed);
        // DPD really ran: the tunnel was probed.
        assert!(probes(&p, true, 0).len() + probes(&p, false, 0).len() > 10);
    }
}
