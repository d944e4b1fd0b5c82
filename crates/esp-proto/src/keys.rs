//! Turning negotiated key material into precomputed aws-lc-rs contexts, once per SA.
//!
//! aws-lc-rs zeroizes its key schedules when they drop (`EVP_AEAD_CTX_free` and
//! `OPENSSL_free` cleanse, `HMAC_CTX_cleanup` cleanses, `SymmetricCipherKey` zeroizes);
//! the salts this crate keeps itself are zeroized by the SAs' `Drop`.

use aws_lc_rs::{aead, cipher, hmac};
use ike_crypto::Integrity;

use crate::transform::SALT_LEN;
use crate::{EspError, SaKeys, Transform};

/// The encryption and integrity keys checked against the transform (RFC 4106 §8.1,
/// RFC 4543 §7.1, RFC 3602 §5, RFC 4868 §2.1.1).
pub(crate) fn check_lengths(transform: Transform, keys: &SaKeys<'_>) -> Result<(), EspError> {
    transform.validate()?;
    let (enc, integ) = (transform.enc_key_len(), transform.integ_key_len());
    if keys.encryption.len() != enc {
        return Err(EspError::BadKeyLength {
            which: "encryption",
            expected: enc,
            got: keys.encryption.len(),
        });
    }
    if keys.integrity.len() != integ {
        return Err(EspError::BadKeyLength {
            which: "integrity",
            expected: integ,
            got: keys.integrity.len(),
        });
    }
    Ok(())
}

/// AES-GCM key and salt from KEYMAT = key || salt (RFC 4106 §8.1; GMAC: RFC 4543 §7.1,
/// which uses the GCM key with an empty plaintext).
pub(crate) fn gcm(
    key_bits: u16,
    material: &[u8],
) -> Result<(aead::LessSafeKey, [u8; 4]), EspError> {
    let alg = match key_bits {
        128 => &aead::AES_128_GCM,
        192 => &aead::AES_192_GCM,
        _ => &aead::AES_256_GCM,
    };
    let split = material.len().saturating_sub(SALT_LEN);
    let (key, salt) = material.split_at(split);
    let mut s = [0u8; SALT_LEN];
    s.copy_from_slice(salt);
    let key = aead::UnboundKey::new(alg, key).map_err(|_| EspError::BadKeyLength {
        which: "encryption",
        expected: usize::from(key_bits / 8) + SALT_LEN,
        got: material.len(),
    })?;
    Ok((aead::LessSafeKey::new(key), s))
}

/// The AES algorithm for a key size (RFC 3602 §2.1).
pub(crate) fn aes(key_bits: u16) -> &'static cipher::Algorithm {
    match key_bits {
        128 => &cipher::AES_128,
        192 => &cipher::AES_192,
        _ => &cipher::AES_256,
    }
}

/// An AES key of the given size (RFC 3602 §2.1), to wrap for a mode.
pub(crate) fn aes_key(key_bits: u16, key: &[u8]) -> Result<cipher::UnboundCipherKey, EspError> {
    cipher::UnboundCipherKey::new(aes(key_bits), key).map_err(|_| EspError::BadKeyLength {
        which: "encryption",
        expected: usize::from(key_bits / 8),
        got: key.len(),
    })
}

/// The HMAC key of an integrity algorithm (RFC 2404 §2, RFC 4868 §2.1).
pub(crate) fn hmac_key(integ: Integrity, key: &[u8]) -> hmac::Key {
    let alg = match integ {
        Integrity::HmacSha1_96 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        Integrity::HmacSha256_128 => hmac::HMAC_SHA256,
        Integrity::HmacSha384_192 => hmac::HMAC_SHA384,
        Integrity::HmacSha512_256 => hmac::HMAC_SHA512,
    };
    hmac::Key::new(alg, key)
}

/// The GCM/GMAC nonce: salt || explicit IV (RFC 4106 §4, RFC 4543 §3.2).
#[inline]
pub(crate) fn nonce(salt: &[u8; 4], iv: &[u8; 8]) -> aead::Nonce {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(salt);
    n[4..].copy_from_slice(iv);
    aead::Nonce::assume_unique_for_key(n)
}
