//! Property tests: cipher round trips and tampering, differential checks against the
//! RustCrypto implementations, prf+ lengths, and no panic on arbitrary input.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use cbc::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use ike_crypto::{derive_ike_keys, esp_key_lengths, Cipher, CryptoError, DhGroup, Integrity, Prf};
use num_bigint::BigUint;
use proptest::prelude::*;

fn any_valid_cipher() -> impl Strategy<Value = Cipher> {
    (any::<bool>(), prop::sample::select(vec![128u16, 192, 256])).prop_map(|(gcm, key_bits)| {
        if gcm {
            Cipher::AesGcm16 { key_bits }
        } else {
            Cipher::AesCbc { key_bits }
        }
    })
}

fn any_cipher() -> impl Strategy<Value = Cipher> {
    prop_oneof![
        any_valid_cipher(),
        (any::<bool>(), any::<u16>()).prop_map(|(gcm, key_bits)| if gcm {
            Cipher::AesGcm16 { key_bits }
        } else {
            Cipher::AesCbc { key_bits }
        }),
    ]
}

/// A cipher with key, IV, AAD and plaintext of fitting sizes.
fn cipher_case() -> impl Strategy<Value = (Cipher, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>)> {
    any_valid_cipher().prop_flat_map(|c| {
        let plaintext = if c.is_aead() {
            prop::collection::vec(any::<u8>(), 0..300).boxed()
        } else {
            (0usize..20)
                .prop_flat_map(|blocks| prop::collection::vec(any::<u8>(), blocks * 16))
                .boxed()
        };
        (
            Just(c),
            prop::collection::vec(any::<u8>(), c.key_len()),
            prop::collection::vec(any::<u8>(), c.iv_len()),
            prop::collection::vec(any::<u8>(), 0..64),
            plaintext,
        )
    })
}

/// The same operation with RustCrypto (aes-gcm 0.10 / cbc 0.1).
fn reference_encrypt(c: Cipher, key: &[u8], iv: &[u8], aad: &[u8], pt: &[u8]) -> Vec<u8> {
    match c {
        Cipher::AesCbc { key_bits } => {
            let mut buf = pt.to_vec();
            let n = pt.len();
            match key_bits {
                128 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
                    .unwrap()
                    .encrypt_padded_mut::<NoPadding>(&mut buf, n)
                    .unwrap()
                    .to_vec(),
                192 => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, iv)
                    .unwrap()
                    .encrypt_padded_mut::<NoPadding>(&mut buf, n)
                    .unwrap()
                    .to_vec(),
                _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
                    .unwrap()
                    .encrypt_padded_mut::<NoPadding>(&mut buf, n)
                    .unwrap()
                    .to_vec(),
            }
        }
        Cipher::AesGcm16 { key_bits } => {
            let (k, salt) = key.split_at(key.len() - 4);
            let nonce = [salt, iv].concat();
            let nonce = aes_gcm::Nonce::from_slice(&nonce);
            let payload = Payload { msg: pt, aad };
            match key_bits {
                128 => aes_gcm::Aes128Gcm::new_from_slice(k)
                    .unwrap()
                    .encrypt(nonce, payload)
                    .unwrap(),
                192 => {
                    aes_gcm::AesGcm::<aes::Aes192, aes_gcm::aead::consts::U12>::new_from_slice(k)
                        .unwrap()
                        .encrypt(nonce, payload)
                        .unwrap()
                }
                _ => aes_gcm::Aes256Gcm::new_from_slice(k)
                    .unwrap()
                    .encrypt(nonce, payload)
                    .unwrap(),
            }
        }
    }
}

fn reference_cbc_decrypt(key_bits: u16, key: &[u8], iv: &[u8], ct: &[u8]) -> Vec<u8> {
    let mut buf = ct.to_vec();
    match key_bits {
        128 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .unwrap()
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .unwrap()
            .to_vec(),
        192 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .unwrap()
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .unwrap()
            .to_vec(),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .unwrap()
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .unwrap()
            .to_vec(),
    }
}

/// HMAC with RustCrypto.
fn reference_hmac(prf: Prf, key: &[u8], data: &[u8]) -> Vec<u8> {
    match prf {
        Prf::HmacSha1 => {
            let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Prf::HmacSha256 => {
            let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Prf::HmacSha384 => {
            let mut m = <Hmac<sha2::Sha384> as Mac>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Prf::HmacSha512 => {
            let mut m = <Hmac<sha2::Sha512> as Mac>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    }
}

/// prf+ written from RFC 7296 §2.13 on top of the reference HMAC.
fn reference_prf_plus(prf: Prf, key: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut t = Vec::new();
    let mut n = 1u8;
    while out.len() < len {
        t = reference_hmac(prf, key, &[&t[..], seed, &[n]].concat());
        out.extend_from_slice(&t);
        n += 1;
    }
    out.truncate(len);
    out
}

fn any_prf() -> impl Strategy<Value = Prf> {
    prop::sample::select(Prf::ALL.to_vec())
}

fn any_integrity() -> impl Strategy<Value = Integrity> {
    prop::sample::select(Integrity::ALL.to_vec())
}

/// Default case count; failing cases are printed, not written next to the sources.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn cipher_round_trip_matches_rustcrypto((c, key, iv, aad, pt) in cipher_case()) {
        let ct = c.encrypt(&key, &iv, &aad, &pt).unwrap();
        prop_assert_eq!(ct.len(), pt.len() + c.icv_len());
        prop_assert_eq!(&ct, &reference_encrypt(c, &key, &iv, &aad, &pt));
        let back = c.decrypt(&key, &iv, &aad, &ct).unwrap();
        prop_assert_eq!(&back[..], &pt[..]);
        if let Cipher::AesCbc { key_bits } = c {
            prop_assert_eq!(reference_cbc_decrypt(key_bits, &key, &iv, &ct), pt.clone());
        }
    }

    #[test]
    fn gcm_tampering_is_rejected(
        (c, key, iv, aad, pt) in cipher_case().prop_filter("AEAD", |case| case.0.is_aead()),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
        target in 0u8..4,
    ) {
        let ct = c.encrypt(&key, &iv, &aad, &pt).unwrap();
        let (mut key2, mut iv2, mut aad2, mut ct2) = (key.clone(), iv.clone(), aad.clone(), ct.clone());
        match target {
            0 => { let i = flip.index(ct2.len()); ct2[i] ^= 1 << bit; }
            1 => { let i = flip.index(key2.len()); key2[i] ^= 1 << bit; }
            2 => { let i = flip.index(iv2.len()); iv2[i] ^= 1 << bit; }
            _ => if aad2.is_empty() { aad2.push(0) } else { let i = flip.index(aad2.len()); aad2[i] ^= 1 << bit; },
        }
        prop_assert_eq!(
            c.decrypt(&key2, &iv2, &aad2, &ct2).unwrap_err(),
            CryptoError::AuthenticationFailed { cipher: c }
        );
    }

    #[test]
    fn cbc_with_hmac_tampering_is_rejected(
        (c, key, iv, _aad, pt) in cipher_case().prop_filter("CBC", |case| !case.0.is_aead() && !case.4.is_empty()),
        integ in any_integrity(),
        integ_key in prop::collection::vec(any::<u8>(), 64),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        // RFC 7296 §3.14: the ICV covers the message up to and including the ciphertext.
        let integ_key = &integ_key[..integ.key_len()];
        let ct = c.encrypt(&key, &iv, &[], &pt).unwrap();
        let icv = integ.compute(integ_key, &[&iv, &ct]);
        prop_assert!(integ.verify(integ_key, &[&iv, &ct], &icv));
        let mut tampered = ct.clone();
        let i = flip.index(tampered.len());
        tampered[i] ^= 1 << bit;
        prop_assert!(!integ.verify(integ_key, &[&iv, &tampered], &icv));
        // CBC alone does not notice; the plaintext changes.
        prop_assert_ne!(&c.decrypt(&key, &iv, &[], &tampered).unwrap()[..], &pt[..]);
    }

    #[test]
    fn prf_and_integrity_match_rustcrypto(
        prf in any_prf(),
        integ in any_integrity(),
        key in prop::collection::vec(any::<u8>(), 0..200),
        data in prop::collection::vec(any::<u8>(), 0..300),
        split in any::<prop::sample::Index>(),
    ) {
        let (a, b) = data.split_at(split.index(data.len() + 1));
        let reference = reference_hmac(prf, &key, &data);
        prop_assert_eq!(&prf.compute(&key, &[a, b])[..], &reference[..]);
        let icv = integ.compute(&key, &[a, b]);
        let full = reference_hmac(match integ {
            Integrity::HmacSha1_96 => Prf::HmacSha1,
            Integrity::HmacSha256_128 => Prf::HmacSha256,
            Integrity::HmacSha384_192 => Prf::HmacSha384,
            Integrity::HmacSha512_256 => Prf::HmacSha512,
        }, &key, &data);
        prop_assert_eq!(&icv[..], &full[..integ.icv_len()]);
        prop_assert!(integ.verify(&key, &[&data], &icv));
    }

    #[test]
    fn prf_plus_lengths_and_prefixes(
        prf in any_prf(),
        key in prop::collection::vec(any::<u8>(), 0..80),
        seed in prop::collection::vec(any::<u8>(), 0..80),
        len_a in 0usize..=255 * 64,
        len_b in 0usize..=255 * 64,
    ) {
        let max = 255 * prf.output_len();
        let (short, long) = (len_a.min(len_b), len_a.max(len_b));
        match prf.plus(&key, &[&seed], long) {
            Ok(out) => {
                prop_assert!(long <= max);
                prop_assert_eq!(out.len(), long);
                let s = prf.plus(&key, &[&seed], short).unwrap();
                prop_assert_eq!(&s[..], &out[..short]);
                // The first blocks against prf+ written from the RFC on RustCrypto's HMAC.
                let r = short.min(4 * prf.output_len() + 3);
                prop_assert_eq!(&out[..r], &reference_prf_plus(prf, &key, &seed, r)[..]);
            }
            Err(e) => {
                prop_assert!(long > max);
                prop_assert_eq!(e, CryptoError::PrfPlusTooLong { prf, requested: long, max });
            }
        }
    }

    #[test]
    fn decrypt_never_panics(
        c in any_cipher(),
        key in prop::collection::vec(any::<u8>(), 0..40),
        iv in prop::collection::vec(any::<u8>(), 0..20),
        aad in prop::collection::vec(any::<u8>(), 0..40),
        data in prop::collection::vec(any::<u8>(), 0..100),
        exact in any::<bool>(),
    ) {
        // Half the cases with fitting key and IV sizes so decryption itself runs.
        let (key, iv) = if exact {
            let mut k = key.clone(); k.resize(c.key_len(), 7);
            let mut v = iv.clone(); v.resize(c.iv_len(), 9);
            (k, v)
        } else {
            (key, iv)
        };
        let _ = c.decrypt(&key, &iv, &aad, &data);
        let _ = c.encrypt(&key, &iv, &aad, &data);
    }

    #[test]
    fn from_transform_never_panics(id in any::<u16>(), attr in any::<Option<u16>>(), integ in any::<Option<u16>>()) {
        if let Some(c) = Cipher::from_transform(id, attr) {
            prop_assert_eq!(c.transform_id(), id);
            prop_assert_eq!(Some(c.key_bits()), attr);
            prop_assert!(c.key_len() >= 16);
            let ik = Integrity::from_transform_id(integ.unwrap_or(0));
            let r = derive_ike_keys(Prf::HmacSha256, b"s", b"i", b"r", &[0; 8], &[0; 8], ik, c);
            prop_assert_eq!(r.is_ok(), c.is_aead() == ik.is_none());
        }
        if let Some(p) = Prf::from_transform_id(id) { prop_assert_eq!(p.transform_id(), id); }
        if let Some(i) = Integrity::from_transform_id(id) { prop_assert_eq!(i.transform_id(), id); }
        if let Some(g) = DhGroup::from_id(id) { prop_assert_eq!(g.id(), id); }
        if let Ok((e, i)) = esp_key_lengths(id, attr, integ) {
            prop_assert!(e <= 36 && i <= 64 && e + i > 0);
        }
    }

    #[test]
    fn integrity_verify_never_panics(
        integ in any_integrity(),
        key in prop::collection::vec(any::<u8>(), 0..100),
        data in prop::collection::vec(any::<u8>(), 0..100),
        icv in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        // A random ICV essentially never verifies; one of the right value always does.
        let good = integ.compute(&key, &[&data]);
        prop_assert_eq!(integ.verify(&key, &[&data], &icv), icv == good);
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn agree_never_panics(
        group in prop::sample::select(DhGroup::ALL.to_vec()),
        seed in any::<u8>(),
        peer in prop::collection::vec(any::<u8>(), 0..140),
        exact in any::<bool>(),
    ) {
        let random: Vec<u8> = (0..group.random_len()).map(|i| (i as u8).wrapping_mul(31) ^ seed | 1).collect();
        let k = match group.generate(&random) {
            Ok(k) => k,
            Err(e) => { prop_assert_eq!(e, CryptoError::BadRandom { group }); return Ok(()); }
        };
        let mut peer = peer;
        if exact {
            peer.resize(group.public_len(), 0x5a);
        }
        match k.agree(&peer) {
            Ok(s) => prop_assert_eq!(s.len(), group.shared_len()),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn ecp_and_x25519_agree_both_ways(
        group in prop::sample::select(vec![DhGroup::Ecp256, DhGroup::Ecp384, DhGroup::Ecp521, DhGroup::Curve25519]),
        a in prop::collection::vec(any::<u8>(), 66),
        b in prop::collection::vec(any::<u8>(), 66),
    ) {
        let n = group.random_len();
        let (Ok(ka), Ok(kb)) = (group.generate(&a[..n]), group.generate(&b[..n])) else {
            return Ok(()); // out-of-range scalar: vanishingly rare, tested elsewhere
        };
        let s1 = ka.agree(&kb.public_value()).unwrap();
        let s2 = kb.agree(&ka.public_value()).unwrap();
        prop_assert_eq!(&s1[..], &s2[..]);
        prop_assert_eq!(s1.len(), group.shared_len());
    }
}

proptest! {
    #![proptest_config(config(16))]

    #[test]
    fn modp_matches_num_bigint(
        group in prop::sample::select(vec![DhGroup::Modp1024, DhGroup::Modp1536, DhGroup::Modp2048, DhGroup::Modp3072, DhGroup::Modp4096]),
        xa in prop::collection::vec(any::<u8>(), 40),
        xb in prop::collection::vec(any::<u8>(), 40),
    ) {
        let n = group.random_len();
        let (xa, xb) = (&xa[..n], &xb[..n]);
        let (Ok(a), Ok(b)) = (group.generate(xa), group.generate(xb)) else {
            return Ok(()); // exponent 0 or 1
        };
        let p = BigUint::from_bytes_be(group.modp_prime().unwrap());
        let ya = BigUint::from(2u32).modpow(&BigUint::from_bytes_be(xa), &p);
        prop_assert_eq!(BigUint::from_bytes_be(&a.public_value()), ya);
        prop_assert_eq!(a.public_value().len(), group.public_len());
        let s = a.agree(&b.public_value()).unwrap();
        let expected = BigUint::from_bytes_be(&b.public_value()).modpow(&BigUint::from_bytes_be(xa), &p);
        prop_assert_eq!(BigUint::from_bytes_be(&s), expected);
        prop_assert_eq!(&s[..], &b.agree(&a.public_value()).unwrap()[..]);
    }
}
