//! ESP packets from the network: any bytes into `InboundSa::decapsulate`, for every
//! transform family, with and without ESN. Must never panic and never return a range
//! outside the packet. The same bytes as an inner packet must survive an
//! encapsulate/decapsulate round trip.
//!
//! Input: a selector byte (low 7 bits: transform, modulo the table; high bit: ESN), then
//! the packet. The SAs below must match `crates/esp-proto/src/tests/fuzz_seeds.rs`, which
//! writes and checks the seeds in `fuzz/seeds/esp_decap/`.
#![no_main]

use esp_proto::{InboundSa, Integrity, OutboundSa, SaKeys, Transform};
use libfuzzer_sys::fuzz_target;

const SPI: u32 = 0x0102_0304;

const TRANSFORMS: [Transform; 12] = [
    Transform::AesGcm16 { key_bits: 128 },
    Transform::AesGcm16 { key_bits: 192 },
    Transform::AesGcm16 { key_bits: 256 },
    Transform::NullAuthAesGmac { key_bits: 128 },
    Transform::NullAuthAesGmac { key_bits: 192 },
    Transform::NullAuthAesGmac { key_bits: 256 },
    Transform::AesCbc {
        key_bits: 128,
        integ: Integrity::HmacSha1_96,
    },
    Transform::AesCbc {
        key_bits: 128,
        integ: Integrity::HmacSha256_128,
    },
    Transform::AesCbc {
        key_bits: 192,
        integ: Integrity::HmacSha384_192,
    },
    Transform::AesCbc {
        key_bits: 256,
        integ: Integrity::HmacSha512_256,
    },
    Transform::Null {
        integ: Integrity::HmacSha1_96,
    },
    Transform::Null {
        integ: Integrity::HmacSha256_128,
    },
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let t = TRANSFORMS[usize::from(selector & 0x7f) % TRANSFORMS.len()];
    let esn = selector & 0x80 != 0;
    let enc = [0x11u8; 36];
    let integ = [0x22u8; 64];
    let keys = SaKeys {
        encryption: &enc[..t.enc_key_len()],
        integrity: &integ[..t.integ_key_len()],
    };

    let mut inbound = InboundSa::new(SPI, t, keys, esn, 1024).expect("valid SA");
    let mut packet = rest.to_vec();
    if let Ok((_, range)) = inbound.decapsulate(&mut packet) {
        assert!(range.start <= range.end && range.end <= packet.len());
        // Accepted once: the same packet again is a replay.
        let mut again = rest.to_vec();
        assert!(inbound.decapsulate(&mut again).is_err());
    }

    let outbound = OutboundSa::new(SPI, t, keys, esn, [0x33; 16]).expect("valid SA");
    let start = outbound.header_len();
    let mut buf = vec![0u8; start + rest.len() + outbound.trailer_len(rest.len())];
    buf[start..start + rest.len()].copy_from_slice(rest);
    let esp = outbound
        .encapsulate(&mut buf, start, rest.len(), 41)
        .expect("room was made");
    assert_eq!(esp, 0..buf.len());
    let mut fresh = InboundSa::new(SPI, t, keys, esn, 1024).expect("valid SA");
    let (nh, range) = fresh.decapsulate(&mut buf).expect("own packet opens");
    assert_eq!((nh, &buf[range]), (41, rest));
});
