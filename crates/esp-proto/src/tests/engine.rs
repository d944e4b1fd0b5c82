//! Round trips, tampering, replay, sequence exhaustion, ESN wrap, buffer handling and the
//! small API pieces.

use proptest::prelude::*;

use super::{all_combos, all_transforms, keys_from, material, pair, seal, SPI};
use crate::{
    spi_of, Counter, EspError, InboundSa, Integrity, OutboundSa, ReplayWindow, SaKeys, Transform,
};

fn ipv4_like(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 0x45) as u8).collect()
}

/// The packet path allocates nothing: key schedules and HMAC pads are made in `new`
/// (counts Rust allocations of this thread, aws-lc-rs wrappers included; AWS-LC's own C
/// calls on this path are allocation-free by construction: flat GCM/HMAC/AES contexts).
#[test]
fn no_allocation_per_packet() {
    for (t, esn) in all_combos() {
        let (out, mut inb) = pair(t, esn, &material());
        let inner = ipv4_like(1400);
        let start = out.header_len();
        let mut buf = vec![0u8; start + inner.len() + out.trailer_len(inner.len())];
        let mut ok = 0;
        let info = allocation_counter::measure(|| {
            for _ in 0..50 {
                buf[start..start + inner.len()].copy_from_slice(&inner);
                let r = out.encapsulate(&mut buf, start, inner.len(), 4).unwrap();
                let (_, ir) = inb.decapsulate(&mut buf[r]).unwrap();
                ok += usize::from(ir.len() == inner.len());
            }
        });
        assert_eq!(ok, 50);
        assert_eq!(info.count_total, 0, "{t:?} esn={esn} allocated");
    }
}

#[test]
fn round_trip_every_transform_and_length() {
    for (t, esn) in all_combos() {
        let (mut out, mut inb) = pair(t, esn, &material());
        for len in (0..80).chain([1399, 1400, 1401, 9000]) {
            let inner = ipv4_like(len);
            let mut p = seal(&mut out, &inner, 41);
            assert_eq!(p.len(), len + out.overhead(len));
            assert_eq!(p.len() % 4, 0, "ICV 4-byte aligned");
            assert_eq!(spi_of(&p), Some(SPI));
            let (nh, r) = inb.decapsulate(&mut p).unwrap();
            assert_eq!((nh, &p[r]), (41, &inner[..]), "{t:?} esn={esn} len={len}");
        }
    }
}

/// Any single flipped bit anywhere is rejected: in the SPI as the wrong SA, in the
/// sequence number as an integrity failure (or as replay when it becomes 0), elsewhere as
/// an integrity failure (RFC 4303 §3.4.4). The window stays untouched.
#[test]
fn tampering_anywhere_fails() {
    for (t, esn) in all_combos() {
        let (mut out, _) = pair(t, esn, &material());
        let packet = seal(&mut out, &ipv4_like(61), 4);
        for i in 0..packet.len() {
            for bit in [0x01, 0x80] {
                let (_, mut inb) = pair(t, esn, &material());
                let mut p = packet.clone();
                p[i] ^= bit;
                let r = inb.decapsulate(&mut p);
                match i {
                    0..=3 => assert!(matches!(r, Err(EspError::SpiMismatch { .. }))),
                    4..=7 => assert!(
                        matches!(
                            r,
                            Err(EspError::IntegrityCheckFailed | EspError::Replay { .. })
                        ),
                        "{t:?} byte {i}: {r:?}"
                    ),
                    _ => assert_eq!(r, Err(EspError::IntegrityCheckFailed), "{t:?} byte {i}"),
                }
                assert_eq!(inb.replay_window().top(), 0);
            }
        }
        // The untouched packet is still good afterwards.
        let (_, mut inb) = pair(t, esn, &material());
        assert!(inb.decapsulate(&mut packet.clone()).is_ok());
    }
}

#[test]
fn truncated_or_extended_fails() {
    for (t, esn) in all_combos() {
        let (mut out, _) = pair(t, esn, &material());
        let packet = seal(&mut out, &ipv4_like(50), 4);
        for cut in 0..packet.len() {
            let (_, mut inb) = pair(t, esn, &material());
            let mut p = packet[..cut].to_vec();
            let r = inb.decapsulate(&mut p);
            assert!(
                matches!(
                    r,
                    Err(EspError::Truncated | EspError::IntegrityCheckFailed | EspError::Malformed)
                ),
                "{t:?} cut {cut}: {r:?}"
            );
        }
        let (_, mut inb) = pair(t, esn, &material());
        let mut p = packet.clone();
        p.extend_from_slice(&[0; 16]);
        assert!(inb.decapsulate(&mut p).is_err());
        assert!(inb.decapsulate(&mut packet.clone()).is_ok());
    }
}

#[test]
fn wrong_keys_fail() {
    for (t, esn) in all_combos() {
        let (mut out, _) = pair(t, esn, &material());
        let mut other = material();
        other.reverse();
        let (_, mut inb) = pair(t, esn, &other);
        let mut p = seal(&mut out, &ipv4_like(40), 4);
        assert_eq!(inb.decapsulate(&mut p), Err(EspError::IntegrityCheckFailed));
    }
}

/// ESN changes the ICV input even when the high half is 0 (RFC 4303 §2.2.1): a packet
/// sealed with ESN does not open without it, and the other way round.
#[test]
fn esn_mismatch_fails() {
    for t in all_transforms() {
        let (mut out, _) = pair(t, true, &material());
        let (_, mut inb) = pair(t, false, &material());
        let mut p = seal(&mut out, &ipv4_like(40), 4);
        assert_eq!(
            inb.decapsulate(&mut p),
            Err(EspError::IntegrityCheckFailed),
            "{t:?}"
        );
        let (mut out, _) = pair(t, false, &material());
        let (_, mut inb) = pair(t, true, &material());
        let mut p = seal(&mut out, &ipv4_like(40), 4);
        assert_eq!(
            inb.decapsulate(&mut p),
            Err(EspError::IntegrityCheckFailed),
            "{t:?}"
        );
    }
}

#[test]
fn replayed_packets_are_rejected() {
    for (t, esn) in all_combos() {
        let (mut out, mut inb) = pair(t, esn, &material());
        let packets: Vec<Vec<u8>> = (0..3000).map(|_| seal(&mut out, &[0x45; 20], 4)).collect();
        // Out of order within the window is fine, twice is not.
        for (first, again) in [
            (&[5usize, 3, 4, 0, 1, 2][..], [5usize, 0]),
            (&[2000, 1500], [2000, 1500]),
        ] {
            for &i in first {
                assert!(inb.decapsulate(&mut packets[i].clone()).is_ok(), "{i}");
            }
            for i in again {
                let seq = i as u64 + 1;
                assert_eq!(
                    inb.decapsulate(&mut packets[i].clone()),
                    Err(EspError::Replay { seq })
                );
            }
        }
        // ...nor left of the window (top 2001, W = 1024). With ESN a low half below the
        // window is taken as the next 2^32 cycle (RFC 4303 Appendix A2.1), so the ICV,
        // computed with the real high half, fails instead.
        let expected = if esn {
            EspError::IntegrityCheckFailed
        } else {
            EspError::Replay { seq: 901 }
        };
        assert_eq!(inb.decapsulate(&mut packets[900].clone()), Err(expected));
        assert!(inb.decapsulate(&mut packets[977].clone()).is_ok());
        assert_eq!(EspError::Replay { seq: 1 }.counter(), Counter::ReplayErrors);
    }
}

#[test]
fn sequence_exhaustion_without_esn() {
    for t in all_transforms() {
        let (mut out, mut inb) = pair(t, false, &material());
        out.set_last_seq(u64::from(u32::MAX) - (1 << 16) - 1);
        assert!(!out.near_exhaustion());
        out.set_last_seq(u64::from(u32::MAX) - (1 << 16));
        assert!(out.near_exhaustion());
        out.set_last_seq(u64::from(u32::MAX) - 2);
        inb.replay_window_mut().update(u64::from(u32::MAX) - 2);
        for _ in 0..2 {
            let mut p = seal(&mut out, &[0x45; 20], 4);
            assert!(inb.decapsulate(&mut p).is_ok());
        }
        assert_eq!(inb.replay_window().top(), u64::from(u32::MAX));
        // 2^32 - 1 was the last one: no wrap to 0.
        let mut buf = vec![0u8; 200];
        let start = out.header_len();
        assert_eq!(
            out.encapsulate(&mut buf, start, 20, 4),
            Err(EspError::SequenceExhausted)
        );
        assert_eq!(out.next_seq(), 1 << 32);
        assert_eq!(
            EspError::SequenceExhausted.counter(),
            Counter::SeqNumberOverflow
        );
    }
}

#[test]
fn sequence_exhaustion_with_esn() {
    for t in all_transforms() {
        let (mut out, _) = pair(t, true, &material());
        out.set_last_seq(u64::MAX - (1 << 32) - 2);
        assert!(!out.near_exhaustion());
        out.set_last_seq(u64::MAX - (1 << 32) - 1);
        assert!(out.near_exhaustion());
        out.set_last_seq(u64::MAX - 1);
        assert!(out.near_exhaustion());
        let mut buf = vec![0u8; 200];
        let start = out.header_len();
        assert!(out.encapsulate(&mut buf, start, 20, 4).is_ok());
        assert_eq!(
            out.encapsulate(&mut buf, start, 20, 4),
            Err(EspError::SequenceExhausted)
        );
    }
}

/// With ESN the counter runs through 2^32 and the receiver follows (RFC 4303 Appendix A2).
#[test]
fn esn_crosses_the_32_bit_boundary() {
    for t in all_transforms() {
        let (mut out, mut inb) = pair(t, true, &material());
        let base = (1u64 << 32) - 3;
        out.set_last_seq(base);
        inb.replay_window_mut().update(base);
        let packets: Vec<Vec<u8>> = (0..6).map(|_| seal(&mut out, &[0x45; 20], 4)).collect();
        // Deliver slightly out of order across the boundary.
        for i in [1usize, 0, 3, 2, 5, 4] {
            let (_, r) = inb.decapsulate(&mut packets[i].clone()).unwrap();
            assert_eq!(r.len(), 20);
        }
        assert_eq!(inb.replay_window().top(), (1 << 32) + 3);
        assert_eq!(
            inb.decapsulate(&mut packets[0].clone()),
            Err(EspError::Replay { seq: base + 1 })
        );
        assert!(!out.near_exhaustion());
    }
}

#[test]
fn buffer_errors_use_no_sequence_number() {
    for t in all_transforms() {
        let (out, _) = pair(t, false, &material());
        let h = out.header_len();
        let mut buf = vec![0u8; 100];
        assert_eq!(
            out.encapsulate(&mut buf, h - 1, 10, 4),
            Err(EspError::InsufficientHeadroom { need: h })
        );
        let need = h + 90 + out.trailer_len(90);
        assert_eq!(
            out.encapsulate(&mut buf, h, 90, 4),
            Err(EspError::BufferTooSmall { need })
        );
        assert_eq!(
            out.encapsulate(&mut buf, usize::MAX, usize::MAX, 4),
            Err(EspError::BufferTooSmall { need: usize::MAX })
        );
        assert_eq!(out.next_seq(), 1);
        // The ESP packet may sit anywhere in a bigger buffer.
        let mut buf = vec![0xeeu8; 300];
        let r = out.encapsulate(&mut buf, 50, 20, 4).unwrap();
        assert_eq!(r, 50 - h..70 + out.trailer_len(20));
        assert!(buf[..50 - h].iter().all(|&b| b == 0xee));
        assert!(buf[r.end..].iter().all(|&b| b == 0xee));
    }
}

#[test]
fn overhead_and_mtu_math() {
    let gcm = Transform::AesGcm16 { key_bits: 128 };
    // 8 header + 8 IV + 0..3 padding + 2 + 16 ICV.
    assert_eq!(gcm.header_len(), 16);
    assert_eq!(gcm.overhead(84), 16 + 2 + 2 + 16);
    let cbc = Transform::AesCbc {
        key_bits: 256,
        integ: Integrity::HmacSha256_128,
    };
    assert_eq!(cbc.header_len(), 24);
    assert_eq!(cbc.overhead(1400), 24 + 6 + 2 + 16);
    for t in all_transforms() {
        for esp_len in [0usize, 30, 64, 1000, 1472, 1480] {
            let m = t.max_inner_len(esp_len);
            if m > 0 {
                assert!(m + t.overhead(m) <= esp_len, "{t:?} {esp_len}");
            }
            assert!(m + 1 + t.overhead(m + 1) > esp_len, "{t:?} {esp_len}");
        }
    }
    // 1500 - 20 (IPv4) - 8 (UDP) = 1472 for ESP: inner MTU with AES-GCM.
    assert_eq!(gcm.max_inner_len(1472), 1438);
}

#[test]
fn new_checks_transform_and_keys() {
    let k20 = [1u8; 20];
    let bad_bits = Transform::AesGcm16 { key_bits: 100 };
    let keys = SaKeys {
        encryption: &k20,
        integrity: &[],
    };
    assert!(matches!(
        OutboundSa::new(1, bad_bits, keys, false, [0; 16]),
        Err(EspError::UnknownTransform { encr: 20, .. })
    ));
    let gcm = Transform::AesGcm16 { key_bits: 256 };
    assert_eq!(
        InboundSa::new(1, gcm, keys, false, 0).unwrap_err(),
        EspError::BadKeyLength {
            which: "encryption",
            expected: 36,
            got: 20
        }
    );
    let cbc = Transform::AesCbc {
        key_bits: 128,
        integ: Integrity::HmacSha1_96,
    };
    let err = OutboundSa::new(
        1,
        cbc,
        SaKeys {
            encryption: &[0; 16],
            integrity: &[0; 32],
        },
        false,
        [0; 16],
    )
    .unwrap_err();
    assert_eq!(
        err,
        EspError::BadKeyLength {
            which: "integrity",
            expected: 20,
            got: 32
        }
    );
    assert_eq!(err.counter(), Counter::NotCounted);
    assert_eq!(err.counter().nsx_field(), None);
    assert_eq!(
        err.to_string(),
        "integrity key is 32 bytes, the transform needs 20"
    );
}

#[test]
fn from_ikev2_transform_ids() {
    use Integrity::*;
    assert_eq!(
        Transform::from_ikev2(20, Some(128), None),
        Ok(Transform::AesGcm16 { key_bits: 128 })
    );
    assert_eq!(
        Transform::from_ikev2(21, Some(192), None),
        Ok(Transform::NullAuthAesGmac { key_bits: 192 })
    );
    assert_eq!(
        Transform::from_ikev2(12, Some(256), Some(HmacSha512_256)),
        Ok(Transform::AesCbc {
            key_bits: 256,
            integ: HmacSha512_256
        })
    );
    assert_eq!(
        Transform::from_ikev2(11, None, Some(HmacSha1_96)),
        Ok(Transform::Null { integ: HmacSha1_96 })
    );
    for (e, b, i) in [
        (12, Some(128), None),
        (20, Some(128), Some(HmacSha256_128)),
        (20, Some(64), None),
        (11, None, None),
        (3, Some(128), None),
    ] {
        assert!(
            matches!(
                Transform::from_ikev2(e, b, i),
                Err(EspError::UnknownTransform { .. })
            ),
            "{e} {b:?} {i:?}"
        );
    }
    for t in all_transforms() {
        assert_eq!(
            Transform::from_ikev2(t.encr_id(), t.key_bits(), t.integrity()),
            Ok(t)
        );
    }
}

#[test]
fn spi_of_packets_markers_and_keepalives() {
    assert_eq!(
        spi_of(&[0x71, 0x59, 0x35, 0x2e, 0, 0, 0, 1]),
        Some(0x7159_352e)
    );
    assert_eq!(
        spi_of(&[0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]),
        None,
        "non-ESP marker"
    );
    assert_eq!(spi_of(&[0xff]), None, "NAT keepalive");
    assert_eq!(spi_of(&[1, 2, 3, 4, 5, 6, 7]), None);
}

#[test]
fn wrong_spi_is_sa_mismatch() {
    let (mut out, _) = pair(Transform::AesGcm16 { key_bits: 128 }, false, &material());
    let mut p = seal(&mut out, &[0x45; 20], 4);
    let mut other = InboundSa::new(
        SPI + 1,
        out.transform(),
        SaKeys {
            encryption: &keys_from(out.transform(), &material()).0,
            integrity: &[],
        },
        false,
        1024,
    )
    .unwrap();
    let err = other.decapsulate(&mut p).unwrap_err();
    assert_eq!(err, EspError::SpiMismatch { spi: SPI });
    assert_eq!(err.counter().nsx_field(), Some("sa_mismatch_errors_in"));
}

#[test]
fn debug_shows_no_keys() {
    let t = Transform::AesCbc {
        key_bits: 128,
        integ: Integrity::HmacSha256_128,
    };
    let (out, inb) = pair(t, false, &material());
    let (enc, integ) = keys_from(t, &material());
    let needles = [
        format!("{:?}", &enc[..4]),
        format!("{:02x}{:02x}", enc[0], enc[1]),
        format!("{:?}", &integ[..4]),
    ];
    for s in [
        format!("{out:?}"),
        format!("{inb:?}"),
        format!(
            "{:?}",
            SaKeys {
                encryption: &enc,
                integrity: &integ
            }
        ),
    ] {
        assert!(s.contains("redacted") || s.contains("bytes>"), "{s}");
        for n in &needles {
            assert!(!s.contains(n.as_str()), "{s} contains {n}");
        }
    }
}

#[test]
fn every_error_maps_to_a_counter() {
    let cases = [
        (EspError::Truncated, Some("packets_received_other_error")),
        (EspError::Malformed, Some("packets_received_other_error")),
        (
            EspError::SpiMismatch { spi: 1 },
            Some("sa_mismatch_errors_in"),
        ),
        (EspError::Replay { seq: 1 }, Some("replay_errors")),
        (EspError::IntegrityCheckFailed, Some("integrity_failures")),
        (EspError::BadPadding, Some("decryption_failures")),
        (
            EspError::SequenceExhausted,
            Some("seq_number_overflow_error"),
        ),
        (
            EspError::BufferTooSmall { need: 1 },
            Some("packets_sent_other_error"),
        ),
        (
            EspError::InsufficientHeadroom { need: 1 },
            Some("packets_sent_other_error"),
        ),
        (EspError::EncryptionFailed, Some("encryption_failures")),
    ];
    for (e, field) in cases {
        assert_eq!(e.counter().nsx_field(), field, "{e}");
        assert!(!e.to_string().is_empty());
    }
}

/// CBC IVs are unpredictable (RFC 3602 §2.3): distinct per packet, different for another
/// seed, and not the previous packet's last ciphertext block.
#[test]
fn cbc_ivs_are_fresh() {
    let t = Transform::AesCbc {
        key_bits: 128,
        integ: Integrity::HmacSha256_128,
    };
    let (enc, integ) = keys_from(t, &material());
    let keys = SaKeys {
        encryption: &enc,
        integrity: &integ,
    };
    let mut a = OutboundSa::new(SPI, t, keys, false, [1; 16]).unwrap();
    let mut b = OutboundSa::new(SPI, t, keys, false, [2; 16]).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut last_block = Vec::new();
    for _ in 0..1000 {
        let pa = seal(&mut a, &[0x45; 30], 4);
        let pb = seal(&mut b, &[0x45; 30], 4);
        let iv = pa[8..24].to_vec();
        assert_ne!(iv, pb[8..24].to_vec());
        assert_ne!(iv, last_block);
        assert!(seen.insert(iv));
        last_block = pa[pa.len() - 16 - 16..pa.len() - 16].to_vec();
    }
}

proptest! {
    /// Arbitrary bytes never panic and never yield a range outside the packet; with a
    /// valid header they still fail to authenticate.
    #[test]
    fn garbage_never_panics(
        idx in 0usize..44,
        head in any::<[u8; 8]>(),
        body in prop::collection::vec(any::<u8>(), 0..200),
        use_spi in any::<bool>(),
    ) {
        let (t, esn) = all_combos()[idx];
        let (_, mut inb) = pair(t, esn, &material());
        let mut p = head.to_vec();
        if use_spi {
            p[..4].copy_from_slice(&SPI.to_be_bytes());
        }
        p.extend_from_slice(&body);
        match inb.decapsulate(&mut p) {
            Ok((_, r)) => prop_assert!(r.end <= p.len(), "{:?}", r),
            Err(e) => prop_assert!(e.counter().nsx_field().is_some()),
        }
    }

    #[test]
    fn replay_window_size_is_rounded(size in any::<u32>()) {
        let w = ReplayWindow::new(size);
        prop_assert!(w.size().is_power_of_two());
        prop_assert!(w.size() >= size.clamp(1024, 1 << 16));
        prop_assert!(w.size() <= 1 << 16);
    }
}

/// Several data-plane workers send on one outbound SA at once: every packet gets its own
/// sequence number (RFC 4303 §3.3.3), none is skipped, and all of them decapsulate.
#[test]
fn concurrent_senders_never_share_a_sequence_number() {
    let (out, mut inb) = pair(Transform::AesGcm16 { key_bits: 128 }, false, &material());
    let per_thread = 2_000;
    let packets: Vec<Vec<u8>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let inner = ipv4_like(100);
                    let start = out.header_len();
                    let mut sent = Vec::new();
                    for _ in 0..per_thread {
                        let mut buf = vec![0u8; start + inner.len() + out.trailer_len(inner.len())];
                        buf[start..start + inner.len()].copy_from_slice(&inner);
                        let r = out.encapsulate(&mut buf, start, inner.len(), 4).unwrap();
                        sent.push(buf[r].to_vec());
                    }
                    sent
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut seqs: Vec<u32> = packets
        .iter()
        .map(|p| u32::from_be_bytes([p[4], p[5], p[6], p[7]]))
        .collect();
    seqs.sort_unstable();
    let expected: Vec<u32> = (1..=4 * per_thread).collect();
    assert_eq!(seqs, expected);
    assert_eq!(out.next_seq(), u64::from(4 * per_thread) + 1);
    // In order, so the replay window (1024) keeps them all.
    let mut packets = packets;
    packets.sort_by_key(|p| u32::from_be_bytes([p[4], p[5], p[6], p[7]]));
    let mut ok = 0;
    for mut p in packets {
        ok += usize::from(inb.decapsulate(&mut p).is_ok());
    }
    assert_eq!(ok, 4 * per_thread as usize);
}

#[test]
fn advance_to_only_moves_forward() {
    let (out, _) = pair(Transform::AesGcm16 { key_bits: 128 }, false, &material());
    out.advance_to(1000);
    assert_eq!(out.next_seq(), 1001);
    out.advance_to(10);
    assert_eq!(
        out.next_seq(),
        1001,
        "never backwards: a GCM IV must not repeat"
    );
    out.advance_to(u64::from(u32::MAX) - 1);
    assert!(out.near_exhaustion());
}
