//! Differential tests against the RustCrypto oracle, for every transform and key size,
//! with and without ESN, in both directions.

use proptest::prelude::*;

use super::oracle::{self, Plain};
use super::{all_combos, keys_from, SPI};
use crate::{InboundSa, OutboundSa, SaKeys};

fn seq_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        1u64..=u64::from(u32::MAX),
        // ESN only (filtered below): beyond 32 bits, and right at the boundaries.
        (1u64 << 32)..u64::MAX,
        Just((1u64 << 32) - 1),
        Just(1u64 << 32),
        Just(u64::MAX),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Our encapsulation, opened by the oracle: same payload, next header, sequence number,
    /// default padding, alignment (RFC 4303 §2.4) and length.
    #[test]
    fn ours_to_theirs(
        material in prop::collection::vec(any::<u8>(), 100),
        payload in prop::collection::vec(any::<u8>(), 0..1500),
        next_header in any::<u8>(),
        seq in seq_strategy(),
        iv_seed in any::<[u8; 16]>(),
    ) {
        for (t, esn) in all_combos() {
            let seq = if esn { seq } else { seq.clamp(1, u64::from(u32::MAX)) };
            let (enc, integ) = keys_from(t, &material);
            let keys = SaKeys { encryption: &enc, integrity: &integ };
            let mut out = OutboundSa::new(SPI, t, keys, esn, iv_seed).unwrap();
            out.set_last_seq(seq - 1);
            prop_assert_eq!(out.next_seq(), seq);
            let packet = super::seal(&mut out, &payload, next_header);
            prop_assert_eq!(packet.len(), payload.len() + out.overhead(payload.len()));

            let opened = oracle::decap(t, &enc, &integ, esn, (seq >> 32) as u32, &packet)
                .map_err(|e| TestCaseError::fail(format!("{t:?} esn={esn}: {e}")))?;
            prop_assert_eq!(opened.spi, SPI);
            prop_assert_eq!(opened.seq_lo, seq as u32);
            prop_assert_eq!(opened.next_header, next_header);
            prop_assert_eq!(&opened.payload, &payload);
            let expected_padding: Vec<u8> = (1..=opened.padding.len() as u8).collect();
            prop_assert_eq!(&opened.padding, &expected_padding);
            prop_assert_eq!(opened.encrypted_len % t.pad_align(), 0);
            prop_assert!(opened.padding.len() < t.pad_align());
            // GCM/GMAC IV = the sequence number (RFC 4106 §3.1).
            if t.iv_len() == 8 {
                prop_assert_eq!(&packet[8..16], &seq.to_be_bytes()[..]);
            }
        }
    }

    /// The oracle's packets, opened by us.
    #[test]
    fn theirs_to_ours(
        material in prop::collection::vec(any::<u8>(), 100),
        payload in prop::collection::vec(any::<u8>(), 0..1500),
        next_header in any::<u8>(),
        seq in seq_strategy(),
        iv in any::<[u8; 16]>(),
    ) {
        for (t, esn) in all_combos() {
            let seq = if esn { seq } else { seq.clamp(1, u64::from(u32::MAX)) };
            let (enc, integ) = keys_from(t, &material);
            let mut packet = oracle::encap(&Plain {
                transform: t,
                enc_key: &enc,
                integ_key: &integ,
                esn,
                spi: SPI,
                seq,
                iv,
                payload: &payload,
                next_header,
                padding: None,
                pad_len_override: None,
            });
            let keys = SaKeys { encryption: &enc, integrity: &integ };
            let mut inb = InboundSa::new(SPI, t, keys, esn, 1024).unwrap();
            // As if the SA had carried traffic up to just before `seq`.
            inb.replay_window_mut().update(seq - 1);
            let (nh, range) = inb
                .decapsulate(&mut packet)
                .map_err(|e| TestCaseError::fail(format!("{t:?} esn={esn}: {e}")))?;
            prop_assert_eq!(nh, next_header);
            prop_assert_eq!(&packet[range], &payload[..]);
            prop_assert_eq!(inb.replay_window().top(), seq);
        }
    }
}

/// Extra padding (RFC 4303 §2.4 allows up to 255 bytes, e.g. to hide the length) is
/// accepted when it is 1, 2, 3, ...; anything else after a valid ICV is `BadPadding`.
#[test]
fn padding_from_the_oracle() {
    let material = super::material();
    for (t, esn) in all_combos() {
        let (enc, integ) = keys_from(t, &material);
        let keys = SaKeys {
            encryption: &enc,
            integrity: &integ,
        };
        let payload = [0x45u8; 30]; // 30 + 2: aligned to 16, so any multiple of 16 works
        let build = |padding: Vec<u8>, seq: u64| {
            oracle::encap(&Plain {
                transform: t,
                enc_key: &enc,
                integ_key: &integ,
                esn,
                spi: SPI,
                seq,
                iv: [3; 16],
                payload: &payload,
                next_header: 41,
                padding: Some(padding),
                pad_len_override: None,
            })
        };
        let mut inb = InboundSa::new(SPI, t, keys, esn, 1024).unwrap();

        let long: Vec<u8> = (1..=32).collect();
        let mut p = build(long, 1);
        let (nh, r) = inb.decapsulate(&mut p).unwrap();
        assert_eq!((nh, &p[r]), (41, &payload[..]), "{t:?}");

        let max: Vec<u8> = (1..=240).collect();
        let mut p = build(max, 2);
        let (_, r) = inb.decapsulate(&mut p).unwrap();
        assert_eq!(&p[r], &payload[..], "{t:?}");

        let mut zeros = vec![0u8; 16];
        zeros[0] = 1;
        let mut p = build(zeros, 3);
        assert_eq!(inb.decapsulate(&mut p), Err(crate::EspError::BadPadding));

        // A failed packet leaves the window alone: 3 is still acceptable afterwards.
        let mut p = build((1..=16).collect(), 3);
        assert!(inb.decapsulate(&mut p).is_ok(), "{t:?}");
    }
}

/// A pad length that reaches past the payload is `BadPadding`, not a panic or a wrong
/// range.
#[test]
fn pad_length_beyond_payload() {
    let material = super::material();
    for (t, esn) in all_combos() {
        let (enc, integ) = keys_from(t, &material);
        let keys = SaKeys {
            encryption: &enc,
            integrity: &integ,
        };
        // Plaintext: 14 payload bytes, pad length 200, next header 4 (16 bytes, aligned).
        let mut packet = oracle::encap(&Plain {
            transform: t,
            enc_key: &enc,
            integ_key: &integ,
            esn,
            spi: SPI,
            seq: 1,
            iv: [9; 16],
            payload: &[7; 14],
            next_header: 4,
            padding: Some(Vec::new()),
            pad_len_override: Some(200),
        });
        let mut inb = InboundSa::new(SPI, t, keys, esn, 1024).unwrap();
        assert_eq!(
            inb.decapsulate(&mut packet),
            Err(crate::EspError::BadPadding),
            "{t:?} esn={esn}"
        );
        assert_eq!(inb.replay_window().top(), 0);
    }
}
