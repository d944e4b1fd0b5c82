//! Tests: known answers from the strongSwan captures, differential tests against RustCrypto,
//! the anti-replay window against a model, tampering, exhaustion, the fuzz seeds.

mod differential;
mod engine;
mod fuzz_seeds;
mod kat;
mod oracle;
mod replay_model;

use crate::{InboundSa, Integrity, OutboundSa, SaKeys, Transform};

/// Every transform and key size this crate implements (22).
pub fn all_transforms() -> Vec<Transform> {
    let mut v = Vec::new();
    for key_bits in [128, 192, 256] {
        v.push(Transform::AesGcm16 { key_bits });
        v.push(Transform::NullAuthAesGmac { key_bits });
        for integ in Integrity::ALL {
            v.push(Transform::AesCbc { key_bits, integ });
        }
    }
    for integ in Integrity::ALL {
        v.push(Transform::Null { integ });
    }
    v
}

/// Every transform with and without ESN (44).
pub fn all_combos() -> Vec<(Transform, bool)> {
    all_transforms()
        .into_iter()
        .flat_map(|t| [(t, false), (t, true)])
        .collect()
}

/// Keys for `t` cut from 100 bytes of material.
pub fn keys_from(t: Transform, material: &[u8]) -> (Vec<u8>, Vec<u8>) {
    assert!(material.len() >= 100);
    (
        material[..t.enc_key_len()].to_vec(),
        material[36..36 + t.integ_key_len()].to_vec(),
    )
}

pub const SPI: u32 = 0xc0ff_ee01;

/// A matching outbound/inbound pair.
pub fn pair(t: Transform, esn: bool, material: &[u8]) -> (OutboundSa, InboundSa) {
    let (enc, integ) = keys_from(t, material);
    let keys = SaKeys {
        encryption: &enc,
        integrity: &integ,
    };
    (
        OutboundSa::new(SPI, t, keys, esn, [0x5a; 16]).unwrap(),
        InboundSa::new(SPI, t, keys, esn, 1024).unwrap(),
    )
}

/// Encapsulates `inner` with headroom and tailroom, returning the ESP packet alone.
pub fn seal(out: &mut OutboundSa, inner: &[u8], next_header: u8) -> Vec<u8> {
    let start = out.header_len();
    let mut buf = vec![0u8; start + inner.len() + out.trailer_len(inner.len())];
    buf[start..start + inner.len()].copy_from_slice(inner);
    let r = out
        .encapsulate(&mut buf, start, inner.len(), next_header)
        .unwrap();
    assert_eq!(r, 0..buf.len());
    buf
}

/// 100 bytes of fixed key material.
pub fn material() -> Vec<u8> {
    (0..100u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect()
}
