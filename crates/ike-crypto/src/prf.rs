//! Pseudo-random functions (IKEv2 transform type 2) with prf+ (RFC 7296 §2.13), and
//! integrity algorithms (transform type 3) with truncated ICVs (RFC 2404, RFC 4868).

use std::fmt;

use aws_lc_rs::{constant_time, hmac};
use zeroize::Zeroizing;

use crate::CryptoError;

/// An IKEv2 pseudo-random function (RFC 7296 §3.3.2, transform type 2). All are HMAC
/// based, so any key length is accepted (RFC 2104 §2; RFC 4868 §2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prf {
    /// PRF_HMAC_SHA1 (2), RFC 2104.
    HmacSha1,
    /// PRF_HMAC_SHA2_256 (5), RFC 4868.
    HmacSha256,
    /// PRF_HMAC_SHA2_384 (6), RFC 4868.
    HmacSha384,
    /// PRF_HMAC_SHA2_512 (7), RFC 4868.
    HmacSha512,
}

impl Prf {
    /// All PRFs this crate implements.
    pub const ALL: [Prf; 4] = [
        Prf::HmacSha1,
        Prf::HmacSha256,
        Prf::HmacSha384,
        Prf::HmacSha512,
    ];

    /// The PRF for an IKEv2 transform ID (type 2), or None if not implemented.
    pub fn from_transform_id(id: u16) -> Option<Prf> {
        match id {
            2 => Some(Prf::HmacSha1),
            5 => Some(Prf::HmacSha256),
            6 => Some(Prf::HmacSha384),
            7 => Some(Prf::HmacSha512),
            _ => None,
        }
    }

    /// The IKEv2 transform ID (type 2).
    pub fn transform_id(self) -> u16 {
        match self {
            Prf::HmacSha1 => 2,
            Prf::HmacSha256 => 5,
            Prf::HmacSha384 => 6,
            Prf::HmacSha512 => 7,
        }
    }

    /// Output length in bytes; also the length of SK_d, SK_pi and SK_pr (RFC 7296 §2.14).
    pub fn output_len(self) -> usize {
        match self {
            Prf::HmacSha1 => 20,
            Prf::HmacSha256 => 32,
            Prf::HmacSha384 => 48,
            Prf::HmacSha512 => 64,
        }
    }

    fn hmac_algorithm(self) -> hmac::Algorithm {
        match self {
            Prf::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Prf::HmacSha256 => hmac::HMAC_SHA256,
            Prf::HmacSha384 => hmac::HMAC_SHA384,
            Prf::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    /// prf(key, data), where the parts of `data` are concatenated.
    ///
    /// The output is written straight into the returned zeroizing buffer (no stray copy
    /// of a key on the stack). Like aws-lc-rs's own `hmac::sign`, this panics only if
    /// aws-lc itself fails (memory allocation), never because of the input.
    pub fn compute(self, key: &[u8], data: &[&[u8]]) -> Zeroizing<Vec<u8>> {
        let key = hmac::Key::new(self.hmac_algorithm(), key);
        let mut out = Zeroizing::new(vec![0u8; self.output_len()]);
        let signed = match data {
            [single] => hmac::sign_to_buffer(&key, single, &mut out).map(|_| ()),
            parts => {
                let joined = Zeroizing::new(parts.concat());
                hmac::sign_to_buffer(&key, &joined, &mut out).map(|_| ())
            }
        };
        #[allow(clippy::expect_used)] // only an aws-lc failure (allocation), see above
        signed.expect("aws-lc HMAC failed");
        out
    }

    /// prf+(key, seed) truncated to `len` bytes (RFC 7296 §2.13):
    /// `T1 = prf(K, S | 0x01)`, `Tn = prf(K, Tn-1 | S | n)`; the parts of `seed` are
    /// concatenated. At most 255 blocks can be produced; more is an error.
    pub fn plus(
        self,
        key: &[u8],
        seed: &[&[u8]],
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let block = self.output_len();
        let max = block * 255;
        if len > max {
            return Err(CryptoError::PrfPlusTooLong {
                prf: self,
                requested: len,
                max,
            });
        }
        let mut out = Zeroizing::new(Vec::with_capacity(len.div_ceil(block) * block));
        let mut previous: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
        let mut counter: u8 = 1;
        while out.len() < len {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(seed.len() + 2);
            parts.push(&previous[..]);
            parts.extend_from_slice(seed);
            let n = [counter];
            parts.push(&n);
            let t = self.compute(key, &parts);
            out.extend_from_slice(&t);
            previous = t;
            // len <= 255 blocks, so the counter never passes 255 before the loop ends.
            counter = counter.wrapping_add(1);
        }
        out.truncate(len);
        Ok(out)
    }
}

impl fmt::Display for Prf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Prf::HmacSha1 => "PRF_HMAC_SHA1",
            Prf::HmacSha256 => "PRF_HMAC_SHA2_256",
            Prf::HmacSha384 => "PRF_HMAC_SHA2_384",
            Prf::HmacSha512 => "PRF_HMAC_SHA2_512",
        })
    }
}

/// An IKEv2 integrity algorithm (RFC 7296 §3.3.2, transform type 3): HMAC truncated to
/// the ICV length (RFC 2404 §2, RFC 4868 §2.1.1). The key length is the hash output length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum Integrity {
    /// AUTH_HMAC_SHA1_96 (2), RFC 2404.
    HmacSha1_96,
    /// AUTH_HMAC_SHA2_256_128 (12), RFC 4868.
    HmacSha256_128,
    /// AUTH_HMAC_SHA2_384_192 (13), RFC 4868.
    HmacSha384_192,
    /// AUTH_HMAC_SHA2_512_256 (14), RFC 4868.
    HmacSha512_256,
}

impl Integrity {
    /// All integrity algorithms this crate implements.
    pub const ALL: [Integrity; 4] = [
        Integrity::HmacSha1_96,
        Integrity::HmacSha256_128,
        Integrity::HmacSha384_192,
        Integrity::HmacSha512_256,
    ];

    /// The algorithm for an IKEv2 transform ID (type 3), or None if not implemented
    /// (including 0, NONE).
    pub fn from_transform_id(id: u16) -> Option<Integrity> {
        match id {
            2 => Some(Integrity::HmacSha1_96),
            12 => Some(Integrity::HmacSha256_128),
            13 => Some(Integrity::HmacSha384_192),
            14 => Some(Integrity::HmacSha512_256),
            _ => None,
        }
    }

    /// The IKEv2 transform ID (type 3).
    pub fn transform_id(self) -> u16 {
        match self {
            Integrity::HmacSha1_96 => 2,
            Integrity::HmacSha256_128 => 12,
            Integrity::HmacSha384_192 => 13,
            Integrity::HmacSha512_256 => 14,
        }
    }

    /// Key length in bytes (RFC 2404 §3: 160 bits; RFC 4868 §2.1.1: the hash output length).
    pub fn key_len(self) -> usize {
        self.prf().output_len()
    }

    /// ICV length in bytes (half the hash output, or 96 bits for SHA-1).
    pub fn icv_len(self) -> usize {
        match self {
            Integrity::HmacSha1_96 => 12,
            Integrity::HmacSha256_128 => 16,
            Integrity::HmacSha384_192 => 24,
            Integrity::HmacSha512_256 => 32,
        }
    }

    fn prf(self) -> Prf {
        match self {
            Integrity::HmacSha1_96 => Prf::HmacSha1,
            Integrity::HmacSha256_128 => Prf::HmacSha256,
            Integrity::HmacSha384_192 => Prf::HmacSha384,
            Integrity::HmacSha512_256 => Prf::HmacSha512,
        }
    }

    /// The truncated ICV over the concatenated `data` parts. The key is used as given
    /// (HMAC accepts any length; IKEv2 always passes [`Integrity::key_len`] bytes).
    pub fn compute(self, key: &[u8], data: &[&[u8]]) -> Vec<u8> {
        let full = self.prf().compute(key, data);
        full.get(..self.icv_len()).unwrap_or_default().to_vec()
    }

    /// Whether `icv` is the ICV of `data`; compared in constant time. An ICV of the wrong
    /// length is rejected.
    pub fn verify(self, key: &[u8], data: &[&[u8]], icv: &[u8]) -> bool {
        if icv.len() != self.icv_len() {
            return false;
        }
        let expected = self.compute(key, data);
        constant_time::verify_slices_are_equal(&expected, icv).is_ok()
    }
}

impl fmt::Display for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Integrity::HmacSha1_96 => "AUTH_HMAC_SHA1_96",
            Integrity::HmacSha256_128 => "AUTH_HMAC_SHA2_256_128",
            Integrity::HmacSha384_192 => "AUTH_HMAC_SHA2_384_192",
            Integrity::HmacSha512_256 => "AUTH_HMAC_SHA2_512_256",
        })
    }
}

/// HMAC-SHA-256 of the concatenated `data` parts, e.g. for stateless COOKIE values
/// (RFC 7296 §2.6).
pub fn hmac_sha256(key: &[u8], data: &[&[u8]]) -> [u8; 32] {
    let tag = Prf::HmacSha256.compute(key, data);
    let mut out = [0u8; 32];
    if let Some(t) = tag.get(..32) {
        out.copy_from_slice(t);
    }
    out
}
