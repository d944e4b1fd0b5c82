//! The seeds of `fuzz/fuzz_targets/esp_decap.rs`: one valid packet per transform of its
//! table, with and without ESN. `write_fuzz_seeds` (ignored) regenerates them; the other
//! test checks that the checked-in seeds still open, so the fuzzer starts past the ICV.

use std::path::PathBuf;

use crate::{InboundSa, Integrity, OutboundSa, SaKeys, Transform};

// Must match the fuzz target.
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
const ENC: [u8; 36] = [0x11; 36];
const INTEG: [u8; 64] = [0x22; 64];

fn keys(t: Transform) -> SaKeys<'static> {
    SaKeys {
        encryption: &ENC[..t.enc_key_len()],
        integrity: &INTEG[..t.integ_key_len()],
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/esp_decap")
}

/// An IPv4 ICMP echo request, 169.254.10.2 → 169.254.10.1, 56 bytes of data.
fn ping() -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 84, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 169, 254, 10, 2, 169, 254, 10, 1, 8, 0,
        0, 0, 0, 1, 0, 1,
    ];
    p.extend((0..56).map(|i| i as u8));
    p
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, t) in TRANSFORMS.iter().enumerate() {
        for esn in [false, true] {
            let selector = i as u8 | if esn { 0x80 } else { 0 };
            let mut sa = OutboundSa::new(SPI, *t, keys(*t), esn, [0x33; 16]).unwrap();
            let packet = super::seal(&mut sa, &ping(), 4);
            let mut seed = vec![selector];
            seed.extend_from_slice(&packet);
            out.push((format!("{selector:02x}"), seed));
        }
    }
    out
}

#[test]
#[ignore = "regenerates fuzz/seeds/esp_decap"]
fn write_fuzz_seeds() {
    std::fs::create_dir_all(dir()).unwrap();
    for (name, seed) in seeds() {
        std::fs::write(dir().join(name), seed).unwrap();
    }
}

#[test]
fn fuzz_seeds_are_current_and_open() {
    let seeds = seeds();
    for (name, seed) in &seeds {
        let stored = std::fs::read(dir().join(name))
            .unwrap_or_else(|e| panic!("seed {name}: {e} (run the ignored write_fuzz_seeds)"));
        assert_eq!(&stored, seed, "seed {name} is stale");
        let t = TRANSFORMS[usize::from(stored[0] & 0x7f) % TRANSFORMS.len()];
        let esn = stored[0] & 0x80 != 0;
        let mut sa = InboundSa::new(SPI, t, keys(t), esn, 1024).unwrap();
        let mut packet = stored[1..].to_vec();
        let (nh, r) = sa.decapsulate(&mut packet).unwrap();
        assert_eq!((nh, &packet[r]), (4, &ping()[..]));
    }
    assert_eq!(seeds.len(), 24);
}
