//! The IKEv2 crypto provider on attacker-controlled bytes: a peer's KE data
//! (`DhPrivate::agree`), SK payload ciphertext (`Cipher::decrypt`) and ICVs
//! (`Integrity::verify`). Must never panic; results must have the documented sizes.
#![no_main]

use std::sync::OnceLock;

use ike_crypto::{Cipher, DhGroup, DhPrivate, Integrity};
use libfuzzer_sys::fuzz_target;

/// One fixed private key per group (0x5a… is a valid scalar/exponent for every group).
fn keys() -> &'static [DhPrivate] {
    static KEYS: OnceLock<Vec<DhPrivate>> = OnceLock::new();
    KEYS.get_or_init(|| {
        DhGroup::ALL
            .iter()
            .map(|g| g.generate(&vec![0x5a; g.random_len()]).expect("fixed key"))
            .collect()
    })
}

/// Splits `n` bytes off the front (fewer if the input is short).
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = data.split_at(n.min(data.len()));
    *data = tail;
    head
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => {
            let keys = keys();
            let key = &keys[usize::from(selector / 3) % keys.len()];
            if let Ok(secret) = key.agree(rest) {
                assert_eq!(secret.len(), key.group().shared_len());
                assert_eq!(rest.len(), key.group().public_len());
            }
        }
        1 => {
            // Key size from the input too, so non-AES sizes are exercised.
            let bits = match (selector / 3) % 4 {
                0 => 128,
                1 => 192,
                2 => 256,
                _ => {
                    let b = take(&mut rest, 2);
                    u16::from_be_bytes([b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0)])
                }
            };
            let cipher = if selector & 0x80 != 0 {
                Cipher::AesGcm16 { key_bits: bits }
            } else {
                Cipher::AesCbc { key_bits: bits }
            };
            let key = take(&mut rest, cipher.key_len());
            let iv = take(&mut rest, cipher.iv_len());
            let aad_len = usize::from(take(&mut rest, 1).first().copied().unwrap_or(0) % 64);
            let aad = take(&mut rest, aad_len);
            if let Ok(plain) = cipher.decrypt(key, iv, aad, rest) {
                assert_eq!(plain.len() + cipher.icv_len(), rest.len());
            }
        }
        _ => {
            let integ = Integrity::ALL[usize::from(selector / 3) % Integrity::ALL.len()];
            let key = take(&mut rest, integ.key_len());
            let icv = take(&mut rest, integ.icv_len());
            let ok = integ.verify(key, &[rest], icv);
            assert_eq!(ok, integ.compute(key, &[rest]) == icv);
        }
    }
});
