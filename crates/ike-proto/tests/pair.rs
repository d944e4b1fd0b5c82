//! Two strait endpoints joined by a simulated link on virtual time (the quinn `Pair` idea):
//! every exchange, algorithm, rekey, collision, deletion and loss pattern, deterministically.

mod common;

use std::time::Duration;

use common::*;
use ike_crypto::{Cipher, DhGroup, Integrity, Prf};
use ike_proto::{
    EndpointConfig, EspCipher, EspProposal, FailReason, Identity, IkeProposal, IkeState, SessionId,
    TestRandom,
};
use zeroize::Zeroizing;

#[test]
fn initiator_and_responder_establish_ike_and_child() {
    let p = up_pair(1);
    p.assert_one_matching_child();
    let c = &p.a.children[0];
    assert_eq!(c.cipher, EspCipher::AesGcm16(128));
    assert_eq!(c.enc_key_out.len(), 20, "AES-128 key + 4-byte salt");
    assert!(
        c.udp_encapsulation,
        "the contract's default: UDP-encapsulated ESP"
    );
    assert_eq!(c.local.port(), 4500);
    assert_eq!(c.ts_local, vec![ike_wire::TrafficSelector::ANY_V4]);
    let st = p.status_a();
    let ike = st.ike.unwrap();
    assert!(ike.initiator);
    assert_eq!(ike.algorithms, "AES_128/SHA2_256/PRF_SHA2_256/GROUP14");
    assert_eq!(ike.remote_id, B);
    assert_eq!(st.children[0].algorithms, "AES_GCM_128");
    // IKE_SA_INIT on 500, the rest on 4500 with the non-ESP marker.
    assert_eq!(p.wire[0].1.local.port(), 500);
    assert!(p.wire[2..]
        .iter()
        .all(|(_, t)| t.local.port() == 4500 && t.data[..4] == [0, 0, 0, 0]));
    assert_eq!(p.wire.len(), 4, "two exchanges, no retransmissions");
}

#[test]
fn without_forced_encapsulation_and_no_nat_ike_stays_on_500() {
    let mut p = Pair::new(2);
    let mut a = session(A, B, true);
    a.force_udp_encapsulation = false;
    let mut b = session(B, A, false);
    b.force_udp_encapsulation = false;
    p.configure(a, b);
    p.deliver();
    p.assert_one_matching_child();
    assert!(!p.a.children[0].udp_encapsulation);
    assert!(p.wire.iter().all(|(_, t)| t.local.port() == 500));
}

#[test]
fn one_side_forcing_encapsulation_moves_both_to_4500() {
    let mut p = Pair::new(3);
    let a = session(A, B, true);
    let mut b = session(B, A, false);
    b.force_udp_encapsulation = false;
    p.configure(a, b);
    p.deliver();
    p.assert_one_matching_child();
    assert!(p.b.children[0].udp_encapsulation);
    assert_eq!(p.b.children[0].local.port(), 4500);
}

#[test]
fn every_ike_cipher_prf_and_group() {
    let groups = [
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp4096,
        DhGroup::Ecp256,
        DhGroup::Ecp384,
        DhGroup::Ecp521,
        DhGroup::Curve25519,
    ];
    let ciphers = [
        (
            Cipher::AesCbc { key_bits: 128 },
            Some(Integrity::HmacSha1_96),
            Prf::HmacSha1,
        ),
        (
            Cipher::AesCbc { key_bits: 256 },
            Some(Integrity::HmacSha256_128),
            Prf::HmacSha256,
        ),
        (
            Cipher::AesCbc { key_bits: 128 },
            Some(Integrity::HmacSha384_192),
            Prf::HmacSha384,
        ),
        (
            Cipher::AesCbc { key_bits: 256 },
            Some(Integrity::HmacSha512_256),
            Prf::HmacSha512,
        ),
        (Cipher::AesGcm16 { key_bits: 128 }, None, Prf::HmacSha256),
        (Cipher::AesGcm16 { key_bits: 192 }, None, Prf::HmacSha384),
        (Cipher::AesGcm16 { key_bits: 256 }, None, Prf::HmacSha512),
    ];
    let mut seed = 100;
    for (i, g) in groups.into_iter().enumerate() {
        let (cipher, integ, prf) = ciphers[i % ciphers.len()];
        for (cipher, integ, prf) in [(cipher, integ, prf), ciphers[(i + 3) % ciphers.len()]] {
            seed += 1;
            let prop = IkeProposal {
                ciphers: vec![cipher],
                integrity: integ.into_iter().collect(),
                prfs: vec![prf],
                groups: vec![g],
            };
            let mut p = Pair::new(seed);
            let mut a = session(A, B, true);
            let mut b = session(B, A, false);
            a.ike = vec![prop.clone()];
            b.ike = vec![prop];
            p.configure(a, b);
            p.deliver();
            assert_eq!(
                p.status_a().ike_state,
                IkeState::Up,
                "{cipher:?} {integ:?} {prf:?} {g:?}: {:?}",
                p.status_a()
            );
            p.assert_one_matching_child();
            // A rekey with this suite works too.
            let now = p.now;
            let id = p.a_id();
            p.a.ep.rekey_ike(now, &id, &mut p.a.rng);
            p.deliver();
            assert_eq!(p.status_b().ike_state, IkeState::Up);
            p.assert_one_matching_child();
        }
    }
}

#[test]
fn every_esp_transform_and_pfs_group() {
    let cases: Vec<(EspCipher, Vec<Integrity>)> = vec![
        (EspCipher::AesGcm16(128), vec![]),
        (EspCipher::AesGcm16(192), vec![]),
        (EspCipher::AesGcm16(256), vec![]),
        (EspCipher::NullAuthAesGmac(128), vec![]),
        (EspCipher::NullAuthAesGmac(192), vec![]),
        (EspCipher::NullAuthAesGmac(256), vec![]),
        (EspCipher::AesCbc(128), vec![Integrity::HmacSha1_96]),
        (EspCipher::AesCbc(256), vec![Integrity::HmacSha256_128]),
        (EspCipher::AesCbc(128), vec![Integrity::HmacSha384_192]),
        (EspCipher::AesCbc(256), vec![Integrity::HmacSha512_256]),
        (EspCipher::Null, vec![Integrity::HmacSha256_128]),
    ];
    let groups = [DhGroup::Modp2048, DhGroup::Ecp384, DhGroup::Curve25519];
    for (i, (cipher, integ)) in cases.into_iter().enumerate() {
        let esp = vec![EspProposal {
            ciphers: vec![cipher],
            integrity: integ.clone(),
            pfs_groups: vec![groups[i % 3]],
            esn: false,
        }];
        let mut p = Pair::new(200 + i as u64);
        let mut a = session(A, B, true);
        let mut b = session(B, A, false);
        a.esp = esp.clone();
        b.esp = esp;
        p.configure(a, b);
        p.deliver();
        p.assert_one_matching_child();
        let c = &p.a.children[0];
        assert_eq!(c.cipher, cipher);
        assert_eq!(c.integrity, integ.first().copied());
        let expected_integ_len = integ.first().map_or(0, |i| i.key_len());
        assert_eq!(c.integ_key_out.len(), expected_integ_len);
        // Rekey with PFS in that group.
        let before = p.assert_one_matching_child();
        let (now, id) = (p.now, p.a_id());
        p.a.ep.rekey_child(now, &id, &mut p.a.rng);
        p.deliver();
        let after = p.assert_one_matching_child();
        assert_ne!(
            before, after,
            "{cipher:?}: a new Child SA replaced the old one"
        );
        assert!(p.status_a().children[0]
            .algorithms
            .contains(&format!("GROUP{}", groups[i % 3].id())));
    }
}

#[test]
fn child_rekey_is_make_before_break_from_either_side() {
    for initiator_rekeys in [true, false] {
        let mut p = up_pair(7);
        let old = p.assert_one_matching_child();
        let now = p.now;
        if initiator_rekeys {
            let id = p.a_id();
            p.a.ep.rekey_child(now, &id, &mut p.a.rng);
        } else {
            let id = p.b_id();
            p.b.ep.rekey_child(now, &id, &mut p.b.rng);
        }
        p.deliver();
        let new = p.assert_one_matching_child();
        assert_ne!(old, new);
        for side in [&p.a, &p.b] {
            // The new SA was installed before the old one was removed.
            let plus = side
                .log
                .iter()
                .position(|l| l == &format!("+{:08x}", side.children[0].spi_in))
                .unwrap();
            let minus = side.log.iter().position(|l| l.starts_with('-')).unwrap();
            assert!(plus < minus, "{:?}", side.log);
        }
    }
}

#[test]
fn ike_rekey_from_either_side_keeps_children() {
    for initiator_rekeys in [true, false] {
        let mut p = up_pair(8);
        let child = p.assert_one_matching_child();
        let old_spi = p.status_a().ike.unwrap().spi_i;
        let now = p.now;
        if initiator_rekeys {
            let id = p.a_id();
            p.a.ep.rekey_ike(now, &id, &mut p.a.rng);
        } else {
            let id = p.b_id();
            p.b.ep.rekey_ike(now, &id, &mut p.b.rng);
        }
        p.deliver();
        assert_eq!(
            p.assert_one_matching_child(),
            child,
            "Child SAs move to the new IKE SA untouched"
        );
        let (sa, sb) = (p.status_a(), p.status_b());
        let (ia, ib) = (sa.ike.unwrap(), sb.ike.unwrap());
        assert_ne!(ia.spi_i, old_spi);
        assert_eq!((ia.spi_i, ia.spi_r), (ib.spi_i, ib.spi_r));
        assert_eq!(
            ia.initiator, initiator_rekeys,
            "the rekey initiator is the new SA's initiator"
        );
        // The new IKE SA works: a child rekey over it.
        let (now, id) = (p.now, p.a_id());
        p.a.ep.rekey_child(now, &id, &mut p.a.rng);
        p.deliver();
        assert_ne!(p.assert_one_matching_child(), child);
        // And the old one is gone after its linger time on both sides.
        p.run_for(Duration::from_secs(60));
        assert_eq!(p.status_a().ike_state, IkeState::Up);
    }
}

#[test]
fn simultaneous_child_rekeys_converge_on_one_child() {
    for seed in 0..20 {
        let mut p = up_pair(1000 + seed);
        let now = p.now;
        let (ia, ib) = (p.a_id(), p.b_id());
        p.a.ep.rekey_child(now, &ia, &mut p.a.rng);
        p.b.ep.rekey_child(now, &ib, &mut p.b.rng);
        p.deliver();
        p.run_for(Duration::from_secs(10));
        p.assert_one_matching_child();
        assert_eq!(p.status_a().ike_state, IkeState::Up);
    }
}

#[test]
fn simultaneous_ike_rekeys_converge_on_one_ike_sa() {
    for seed in 0..20 {
        let mut p = up_pair(2000 + seed);
        let child = p.assert_one_matching_child();
        let now = p.now;
        let (ia, ib) = (p.a_id(), p.b_id());
        p.a.ep.rekey_ike(now, &ia, &mut p.a.rng);
        p.b.ep.rekey_ike(now, &ib, &mut p.b.rng);
        p.deliver();
        p.run_for(Duration::from_secs(40));
        let (sa, sb) = (p.status_a(), p.status_b());
        assert_eq!(sa.ike_state, IkeState::Up, "seed {seed}: {sa:?}");
        let (x, y) = (sa.ike.unwrap(), sb.ike.unwrap());
        assert_eq!(
            (x.spi_i, x.spi_r),
            (y.spi_i, y.spi_r),
            "seed {seed}: both keep the same IKE SA"
        );
        assert_eq!(p.assert_one_matching_child(), child);
        // The survivor is usable.
        let now = p.now;
        p.a.ep.rekey_child(now, &ia, &mut p.a.rng);
        p.deliver();
        p.assert_one_matching_child();
    }
}

#[test]
fn delete_from_either_side() {
    let mut p = up_pair(9);
    let now = p.now;
    let id = p.a_id();
    p.a.ep.remove_session(now, &id, &mut p.a.rng);
    p.deliver();
    let st = p.status_b();
    assert_eq!(st.ike_state, IkeState::Down);
    assert_eq!(st.fail_reason, Some(FailReason::PeerSentDelete));
    assert!(p.a.children.is_empty() && p.b.children.is_empty());
}

#[test]
fn a_deleted_responder_session_is_renegotiated_by_the_initiator() {
    let mut p = up_pair(10);
    let now = p.now;
    let id = p.b_id();
    // The responder's admin disables and re-enables the session: it sends a Delete...
    let cfg = session(B, A, false);
    p.b.ep.remove_session(now, &id, &mut p.b.rng);
    p.deliver();
    assert_eq!(p.status_a().fail_reason, Some(FailReason::PeerSentDelete));
    let now = p.now;
    p.b.ep.set_session(now, cfg, &mut p.b.rng);
    // ... and the initiator comes back after its retry delay.
    p.run_for(Duration::from_secs(30));
    assert_eq!(p.status_a().ike_state, IkeState::Up);
    p.assert_one_matching_child();
}

#[test]
fn lost_packets_are_retransmitted_and_duplicates_answered_from_cache() {
    let mut p = Pair::new(11);
    // Lose the first copy of every message.
    let mut seen = std::collections::HashSet::new();
    p.drop = Box::new(move |_, t| seen.insert(t.data.clone()));
    p.configure(session(A, B, true), session(B, A, false));
    p.deliver();
    p.run_for(Duration::from_secs(30));
    assert_eq!(p.status_a().ike_state, IkeState::Up);
    p.assert_one_matching_child();
    // Lose only responses: the responder sees retransmitted requests and must answer from its
    // cache without processing them twice (one Child SA, not two).
    let mut p = Pair::new(12);
    let mut dropped = 0;
    p.drop = Box::new(move |from_a, _| {
        if !from_a && dropped < 2 {
            dropped += 1;
            return true;
        }
        false
    });
    p.configure(session(A, B, true), session(B, A, false));
    p.deliver();
    p.run_for(Duration::from_secs(30));
    p.assert_one_matching_child();
    let installs_b = p.b.log.iter().filter(|l| l.starts_with('+')).count();
    assert_eq!(installs_b, 1, "{:?}", p.b.log);
}

#[test]
fn an_unreachable_peer_is_reported_after_bounded_retries() {
    let mut p = Pair::new(13);
    p.drop = Box::new(|from_a, _| from_a);
    p.configure(session(A, B, true), session(B, A, false));
    p.deliver();
    let start = p.now;
    p.run_for(Duration::from_secs(200));
    let st = p.status_a();
    // Down between attempts, Negotiating during one: never Up, and the reason stays.
    assert_ne!(st.ike_state, IkeState::Up, "{st:?}");
    assert_eq!(st.fail_reason, Some(FailReason::PeerNotResponding));
    assert!(st.alarm.unwrap().contains("UDP 500"));
    // 5 sends of the first attempt, then retries with backoff: bounded, not a flood.
    let sent_a = p.wire.iter().filter(|(a, _)| *a).count();
    assert!(sent_a <= 20, "{sent_a} datagrams in {:?}", p.now - start);
}

#[test]
fn liveness_check_detects_a_dead_peer() {
    let mut p = up_pair(14);
    p.drop = Box::new(|_, _| true);
    let (now, id) = (p.now, p.a_id());
    p.a.ep.check_liveness(now, &id, &mut p.a.rng);
    p.deliver();
    p.run_for(Duration::from_secs(60));
    let st = p.status_a();
    assert_eq!(st.fail_reason, Some(FailReason::PeerNotResponding));
    assert!(
        p.a.children.is_empty(),
        "the dead peer's Child SAs are removed"
    );
    // A live peer answers.
    let mut p = up_pair(15);
    let (now, id) = (p.now, p.a_id());
    p.a.ep.check_liveness(now, &id, &mut p.a.rng);
    p.deliver();
    assert_eq!(p.status_a().ike_state, IkeState::Up);
}

#[test]
fn cookies_under_load() {
    let cb = EndpointConfig {
        cookie_threshold: 0,
        ..EndpointConfig::default()
    };
    let mut p = Pair::with_config(16, EndpointConfig::default(), cb);
    p.configure(session(A, B, true), session(B, A, false));
    p.deliver();
    assert_eq!(p.status_a().ike_state, IkeState::Up);
    p.assert_one_matching_child();
    // The responder answered the first IKE_SA_INIT with a COOKIE and kept no state for it.
    let first_reply = Message::parse(strip(&p.wire[1].1.data)).unwrap();
    assert!(first_reply.notify(ike_wire::NotifyType::COOKIE).is_some());
    let retry = Message::parse(strip(&p.wire[2].1.data)).unwrap();
    assert!(
        matches!(&retry.payloads[0], ike_wire::Payload::Notify(n) if n.notify_type == ike_wire::NotifyType::COOKIE)
    );
}

use ike_wire::Message;

#[test]
fn invalid_ke_payload_is_answered_by_a_retry_with_the_requested_group() {
    let mut p = Pair::new(17);
    let mut a = session(A, B, true);
    a.ike[0].groups = vec![DhGroup::Ecp256, DhGroup::Modp2048];
    let b = session(B, A, false); // MODP_2048 only
    p.configure(a, b);
    p.deliver();
    assert_eq!(p.status_a().ike_state, IkeState::Up);
    assert!(p.status_a().ike.unwrap().algorithms.ends_with("GROUP14"));
    let reply = Message::parse(strip(&p.wire[1].1.data)).unwrap();
    let n = reply
        .notify(ike_wire::NotifyType::INVALID_KE_PAYLOAD)
        .unwrap();
    assert_eq!(n.data, 14u16.to_be_bytes());
}

#[test]
fn wrong_psk_is_authentication_failed_on_both_sides() {
    let mut p = Pair::new(18);
    let mut b = session(B, A, false);
    b.psk = Zeroizing::new(b"something else".to_vec());
    p.configure(session(A, B, true), b);
    p.deliver();
    for st in [p.status_a(), p.status_b()] {
        assert_eq!(st.ike_state, IkeState::Down, "{st:?}");
        assert_eq!(st.fail_reason, Some(FailReason::AuthenticationFailed));
        assert!(
            st.alarm.as_deref().unwrap().contains("pre-shared key"),
            "{st:?}"
        );
    }
    assert!(p.a.children.is_empty() && p.b.children.is_empty());
}

#[test]
fn proposal_mismatch_names_both_sides() {
    let mut p = Pair::new(19);
    let mut a = session(A, B, true);
    a.ike = vec![IkeProposal {
        ciphers: vec![Cipher::AesCbc { key_bits: 256 }],
        integrity: vec![Integrity::HmacSha384_192],
        prfs: vec![Prf::HmacSha384],
        groups: vec![DhGroup::Ecp384],
    }];
    p.configure(a, session(B, A, false));
    p.deliver();
    // The responder's status is not changed by an unauthenticated IKE_SA_INIT (anyone could
    // have sent it, issue 12); its unauthenticated report names both sides instead.
    let sb = p.status_b();
    assert_eq!(
        sb.fail_reason,
        Some(FailReason::NegotiationNotStarted),
        "{sb:?}"
    );
    assert_eq!(sb.alarm, None);
    let report = p.b.ep.take_unauthenticated_report();
    let refused = report
        .iter()
        .find(|r| r.cause == ike_proto::DropCause::NoProposalChosen)
        .unwrap_or_else(|| panic!("no NO_PROPOSAL_CHOSEN count in {report:?}"));
    let example = refused.example.as_deref().unwrap();
    assert!(
        example.contains("offered AES_256/SHA2_384/PRF_SHA2_384/GROUP20"),
        "{example}"
    );
    assert!(
        example.contains("this session allows AES_128/SHA2_256/PRF_SHA2_256/GROUP14"),
        "{example}"
    );
    let sa = p.status_a();
    assert_eq!(sa.fail_reason, Some(FailReason::NoProposalChosen));
    assert!(sa.alarm.unwrap().contains("NO_PROPOSAL_CHOSEN"));
    // ESP mismatch: the IKE SA comes up, the tunnel does not, and the alarm says why.
    let mut p = Pair::new(20);
    let mut a = session(A, B, true);
    a.esp[0].ciphers = vec![EspCipher::AesGcm16(256)];
    p.configure(a, session(B, A, false));
    p.deliver();
    let sb = p.status_b();
    assert_eq!(sb.ike_state, IkeState::Up);
    assert_eq!(sb.fail_reason, Some(FailReason::NoProposalChosen));
    assert!(sb.alarm.unwrap().contains("peer proposed ESP AES_GCM_256"));
    assert!(p.a.children.is_empty());
}

#[test]
fn identity_mismatch_names_the_received_id() {
    let mut p = Pair::new(21);
    let mut b = session(B, A, false);
    b.remote_id = Identity::fqdn("site-a.example.com");
    p.configure(session(A, B, true), b);
    p.deliver();
    let alarm = p.status_b().alarm.unwrap();
    assert!(
        alarm.contains("identified itself as 198.51.100.1 (ID_IPV4_ADDR)"),
        "{alarm}"
    );
    assert!(alarm.contains("site-a.example.com (ID_FQDN)"), "{alarm}");
    assert_eq!(
        p.status_a().fail_reason,
        Some(FailReason::AuthenticationFailed)
    );
    // FQDN and email IDs, case-insensitive.
    let mut p = Pair::new(22);
    let mut a = session(A, B, true);
    let mut b = session(B, A, false);
    a.local_id = Identity::fqdn("Site-A.Example.com");
    b.remote_id = Identity::fqdn("site-a.example.com");
    b.local_id = Identity::email("vpn@site-b.example.com");
    a.remote_id = Identity::email("vpn@site-b.example.com");
    p.configure(a, b);
    p.deliver();
    p.assert_one_matching_child();
}

#[test]
fn dual_stack_selectors_narrow_to_what_both_sides_have() {
    let mut p = Pair::new(23);
    let mut b = session(B, A, false);
    b.ipv6 = true;
    p.configure(session(A, B, true), b);
    p.deliver();
    p.assert_one_matching_child();
    assert_eq!(
        p.b.children[0].ts_local,
        vec![ike_wire::TrafficSelector::ANY_V4]
    );
    let mut p = Pair::new(24);
    let mut a = session(A, B, true);
    a.ipv6 = true;
    a.ipv4 = false;
    p.configure(a, session(B, A, false));
    p.deliver();
    assert_eq!(p.status_b().fail_reason, Some(FailReason::TsUnacceptable));
    assert_eq!(p.status_a().fail_reason, Some(FailReason::TsUnacceptable));
}

#[test]
fn lifetimes_drive_rekeys_for_days() {
    let mut p = Pair::new(25);
    let mut a = session(A, B, true);
    let mut b = session(B, A, false);
    for s in [&mut a, &mut b] {
        s.ike_lifetime = Duration::from_secs(6 * 3600);
        s.child_lifetime = Duration::from_secs(1200);
    }
    p.configure(a, b);
    p.deliver();
    let first_ike = p.status_a().ike.unwrap().spi_i;
    let first_child = p.assert_one_matching_child();
    p.run_for(Duration::from_secs(3 * 86_400));
    assert_eq!(p.status_a().ike_state, IkeState::Up);
    assert_eq!(p.status_b().ike_state, IkeState::Up);
    assert_ne!(p.status_a().ike.unwrap().spi_i, first_ike);
    assert_ne!(p.assert_one_matching_child(), first_child);
    let child_installs = p.a.log.iter().filter(|l| l.starts_with('+')).count();
    // ~3 days / (0.8-0.9 × 20 min) ≈ 240-270 rekeys: no storms, no gaps.
    assert!(
        (200..=400).contains(&child_installs),
        "{child_installs} Child SAs in 3 days"
    );
}

#[test]
fn respond_only_never_initiates() {
    let mut p = Pair::new(26);
    p.configure(session(A, B, false), session(B, A, false));
    p.deliver();
    p.run_for(Duration::from_secs(600));
    assert!(p.wire.is_empty());
    assert_eq!(
        p.status_a().fail_reason,
        Some(FailReason::NegotiationNotStarted)
    );
}

#[test]
fn both_initiating_at_once_ends_with_one_ike_sa() {
    for seed in 0..10 {
        let mut p = Pair::new(3000 + seed);
        p.configure(session(A, B, true), session(B, A, true));
        p.deliver();
        p.run_for(Duration::from_secs(60));
        let (sa, sb) = (p.status_a(), p.status_b());
        assert_eq!(sa.ike_state, IkeState::Up, "seed {seed}");
        let (x, y) = (sa.ike.unwrap(), sb.ike.unwrap());
        assert_eq!((x.spi_i, x.spi_r), (y.spi_i, y.spi_r), "seed {seed}");
        if p.a.children.len() != 1 || p.b.children.len() != 1 {
            panic!(
                "seed {seed}: a log {:?}\nb log {:?}\nstatus a {:?}\nstatus b {:?}",
                &p.a.log[p.a.log.len().saturating_sub(12)..],
                &p.b.log[p.b.log.len().saturating_sub(12)..],
                p.status_a(),
                p.status_b()
            );
        }
        p.assert_one_matching_child();
    }
}

#[test]
fn switching_a_responder_to_initiator_starts_negotiating() {
    let mut p = Pair::new(27);
    p.configure(session(A, B, false), session(B, A, false));
    p.deliver();
    assert!(p.wire.is_empty());
    let now = p.now;
    p.a.ep.set_session(now, session(A, B, true), &mut p.a.rng);
    p.deliver();
    assert_eq!(p.status_a().ike_state, IkeState::Up);
    p.assert_one_matching_child();
}

#[test]
fn ipv6_outer_addresses_and_every_id_type() {
    // IKE over IPv6, with IPv6, FQDN, email and DN identities (DER, compared byte for byte).
    let a6 = "fd00:5a::1";
    let b6 = "fd00:5a::2";
    // DER of "CN=site-a" and "CN=site-b": SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String } } }
    let dn = |cn: &[u8]| {
        let mut atv = vec![0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, cn.len() as u8];
        atv.extend_from_slice(cn);
        let mut seq = vec![0x30, atv.len() as u8];
        seq.extend(atv);
        let mut set = vec![0x31, seq.len() as u8];
        set.extend(seq);
        let mut name = vec![0x30, set.len() as u8];
        name.extend(set);
        name
    };
    let ids = [
        (Identity::ip(ip(a6)), Identity::ip(ip(b6))),
        (
            Identity::fqdn("a.example.com"),
            Identity::email("vpn@b.example.com"),
        ),
        (
            Identity::dn_der(dn(b"site-a")),
            Identity::dn_der(dn(b"site-b")),
        ),
    ];
    for (i, (ida, idb)) in ids.into_iter().enumerate() {
        let mut p = Pair::new(40 + i as u64);
        p.a.addr = ip(a6);
        p.b.addr = ip(b6);
        let mut a = session(a6, b6, true);
        let mut b = session(b6, a6, false);
        a.local_id = ida.clone();
        b.remote_id = ida;
        b.local_id = idb.clone();
        a.remote_id = idb;
        a.ipv6 = true;
        b.ipv6 = true;
        p.b.ep.set_session(p.now, b, &mut p.b.rng);
        p.a.ep.set_session(p.now, a, &mut p.a.rng);
        p.deliver();
        let sa = p.a.ep.status(&SessionId(format!("s-{a6}"))).unwrap();
        assert_eq!(sa.ike_state, IkeState::Up, "{sa:?}");
        p.assert_one_matching_child();
        assert_eq!(
            p.a.children[0].ts_local,
            vec![
                ike_wire::TrafficSelector::ANY_V4,
                ike_wire::TrafficSelector::ANY_V6
            ]
        );
        assert!(p.a.children[0].remote.is_ipv6());
    }
}

/// Deterministic simulation: random loss, duplication and reordering while lifetimes force
/// frequent IKE and Child rekeys from both sides; after the faults stop, both sides must
/// converge on one IKE SA and one matching Child SA. A failing seed replays exactly.
#[test]
fn lossy_link_simulation_converges() {
    for seed in 0..300u64 {
        let mut p = Pair::new(5000 + seed);
        let mut a = session(A, B, true);
        let mut b = session(B, A, seed % 2 == 0);
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
        // Replay old datagrams now and then (duplicates and reordering).
        for round in 0..40 {
            p.run_for(Duration::from_secs(120));
            if round % 3 == 0 {
                p.replay_old(round * 7919);
            }
        }
        faults.set(false);
        p.run_for(Duration::from_secs(900));
        p.assert_converged(seed);
    }
}
