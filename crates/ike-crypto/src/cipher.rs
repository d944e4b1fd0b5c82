//! Ciphers of the IKEv2 Encrypted payload (RFC 7296 §3.14): AES-CBC (RFC 3602) and
//! AES-GCM with a 16-octet ICV (RFC 5282). The IKE layer builds the payload (IV, padding,
//! pad length, ICV placement); this module only transforms bytes.

use std::fmt;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    self, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use zeroize::Zeroizing;

use crate::CryptoError;

/// Transform ID ENCR_AES_CBC (RFC 7296 §3.3.2, RFC 3602).
const ID_AES_CBC: u16 = 12;
/// Transform ID ENCR_AES_GCM_16 (RFC 5282 §7.1).
const ID_AES_GCM_16: u16 = 20;
/// AES block size.
const AES_BLOCK: usize = 16;
/// Salt length of the GCM key material (RFC 5282 §7.1, RFC 4106 §8.1).
const GCM_SALT: usize = 4;
/// Explicit IV length of AES-GCM in IKEv2 (RFC 5282 §3.1).
const GCM_IV: usize = 8;
/// ICV length of ENCR_AES_GCM_16.
const GCM_ICV: usize = 16;

/// A cipher for the IKEv2 SK payload (transform type 1).
///
/// The variants carry the Key Length attribute (RFC 7296 §3.3.5) in bits; values other than
/// 128, 192 and 256 are not AES and make [`Cipher::encrypt`] / [`Cipher::decrypt`] fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// ENCR_AES_CBC (12), RFC 3602; needs a separate integrity algorithm.
    AesCbc {
        /// 128, 192 or 256.
        key_bits: u16,
    },
    /// ENCR_AES_GCM_16 (20), RFC 5282: AEAD with a 16-byte ICV.
    AesGcm16 {
        /// 128, 192 or 256.
        key_bits: u16,
    },
}

enum Aes {
    A128,
    A192,
    A256,
}

impl Cipher {
    /// The cipher for an IKEv2 transform ID and Key Length attribute (bits). AES needs the
    /// attribute (RFC 7296 §3.3.5, RFC 5282 §8); a missing or non-AES length gives None.
    pub fn from_transform(id: u16, key_length_attr: Option<u16>) -> Option<Cipher> {
        let key_bits = key_length_attr.filter(|b| matches!(b, 128 | 192 | 256))?;
        match id {
            ID_AES_CBC => Some(Cipher::AesCbc { key_bits }),
            ID_AES_GCM_16 => Some(Cipher::AesGcm16 { key_bits }),
            _ => None,
        }
    }

    /// The IKEv2 transform ID (type 1).
    pub fn transform_id(self) -> u16 {
        match self {
            Cipher::AesCbc { .. } => ID_AES_CBC,
            Cipher::AesGcm16 { .. } => ID_AES_GCM_16,
        }
    }

    /// The AES key size in bits (the Key Length attribute).
    pub fn key_bits(self) -> u16 {
        match self {
            Cipher::AesCbc { key_bits } | Cipher::AesGcm16 { key_bits } => key_bits,
        }
    }

    /// Length of SK_ei / SK_er in bytes: the AES key, plus for GCM the 4-byte salt
    /// (RFC 5282 §7.1).
    pub fn key_len(self) -> usize {
        let aes = usize::from(self.key_bits()) / 8;
        match self {
            Cipher::AesCbc { .. } => aes,
            Cipher::AesGcm16 { .. } => aes + GCM_SALT,
        }
    }

    /// Length of the IV carried in the payload: 16 for CBC (RFC 3602 §3), 8 for GCM
    /// (RFC 5282 §3.1).
    pub fn iv_len(self) -> usize {
        match self {
            Cipher::AesCbc { .. } => AES_BLOCK,
            Cipher::AesGcm16 { .. } => GCM_IV,
        }
    }

    /// The block size the plaintext must be padded to: 16 for CBC, 1 for GCM (RFC 5282 §3.2
    /// allows but does not need padding).
    pub fn block_len(self) -> usize {
        match self {
            Cipher::AesCbc { .. } => AES_BLOCK,
            Cipher::AesGcm16 { .. } => 1,
        }
    }

    /// Length of the ICV the cipher appends itself: 0 for CBC (the integrity algorithm
    /// adds one), 16 for GCM.
    pub fn icv_len(self) -> usize {
        match self {
            Cipher::AesCbc { .. } => 0,
            Cipher::AesGcm16 { .. } => GCM_ICV,
        }
    }

    /// Whether this is a combined-mode (AEAD) cipher, negotiated without an integrity
    /// algorithm (RFC 5282 §8).
    pub fn is_aead(self) -> bool {
        matches!(self, Cipher::AesGcm16 { .. })
    }

    fn aes(self) -> Result<Aes, CryptoError> {
        match self.key_bits() {
            128 => Ok(Aes::A128),
            192 => Ok(Aes::A192),
            256 => Ok(Aes::A256),
            other => Err(CryptoError::Unsupported {
                transform: "IKE encryption algorithm",
                detail: format!("{other}-bit key for {}", self.name()),
            }),
        }
    }

    /// Checks that the key size is one AES has.
    pub(crate) fn validate(self) -> Result<(), CryptoError> {
        self.aes().map(|_| ())
    }

    fn name(self) -> &'static str {
        match self {
            Cipher::AesCbc { .. } => "ENCR_AES_CBC",
            Cipher::AesGcm16 { .. } => "ENCR_AES_GCM_16",
        }
    }

    fn check_inputs(self, key: &[u8], iv: &[u8]) -> Result<Aes, CryptoError> {
        let aes = self.aes()?;
        if key.len() != self.key_len() {
            return Err(CryptoError::BadLength {
                what: "encryption key",
                algorithm: self.to_string(),
                expected: self.key_len(),
                actual: key.len(),
            });
        }
        if iv.len() != self.iv_len() {
            return Err(CryptoError::BadLength {
                what: "IV",
                algorithm: self.to_string(),
                expected: self.iv_len(),
                actual: iv.len(),
            });
        }
        Ok(aes)
    }

    /// Encrypts `plaintext` with `key` (SK_ei or SK_er) and the payload's IV.
    ///
    /// * CBC: `plaintext` must be a multiple of 16 bytes (the caller adds the padding and
    ///   pad-length byte of RFC 7296 §3.14); `aad` is ignored; the output has the same length.
    /// * GCM: the nonce is the salt (last 4 key bytes) followed by the 8-byte IV
    ///   (RFC 5282 §4); `aad` is the IKE header and the Encrypted payload header
    ///   (RFC 5282 §5.1); the output is the ciphertext followed by the 16-byte ICV.
    pub fn encrypt(
        self,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let aes = self.check_inputs(key, iv)?;
        match self {
            Cipher::AesCbc { .. } => {
                if plaintext.len() % AES_BLOCK != 0 {
                    return Err(CryptoError::NotBlockAligned {
                        what: "plaintext",
                        cipher: self,
                        actual: plaintext.len(),
                        block: AES_BLOCK,
                    });
                }
                if plaintext.is_empty() {
                    return Ok(Vec::new());
                }
                let key = EncryptingKey::cbc(cbc_key(aes, key)?).map_err(|_| lib("AES-CBC"))?;
                // Zeroizing until it holds only ciphertext (an error leaves plaintext in it).
                let mut buf = Zeroizing::new(plaintext.to_vec());
                key.less_safe_encrypt(&mut buf, EncryptionContext::Iv128(iv16(iv)?))
                    .map_err(|_| lib("AES-CBC encryption"))?;
                Ok(std::mem::take(&mut *buf))
            }
            Cipher::AesGcm16 { .. } => {
                let (key, nonce) = gcm_key_nonce(aes, key, iv)?;
                let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + GCM_ICV));
                buf.extend_from_slice(plaintext);
                let tag = key
                    .seal_in_place_separate_tag(nonce, Aad::from(aad), &mut buf)
                    .map_err(|_| lib("AES-GCM encryption"))?;
                buf.extend_from_slice(tag.as_ref());
                Ok(std::mem::take(&mut *buf))
            }
        }
    }

    /// Decrypts what [`Cipher::encrypt`] produced. CBC: `ciphertext` must be a multiple of
    /// 16 bytes, padding is left in place for the caller. GCM: `ciphertext` ends with the
    /// 16-byte ICV, which is verified ([`CryptoError::AuthenticationFailed`]).
    pub fn decrypt(
        self,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let aes = self.check_inputs(key, iv)?;
        match self {
            Cipher::AesCbc { .. } => {
                if ciphertext.len() % AES_BLOCK != 0 {
                    return Err(CryptoError::NotBlockAligned {
                        what: "ciphertext",
                        cipher: self,
                        actual: ciphertext.len(),
                        block: AES_BLOCK,
                    });
                }
                if ciphertext.is_empty() {
                    return Ok(Zeroizing::new(Vec::new()));
                }
                let key = DecryptingKey::cbc(cbc_key(aes, key)?).map_err(|_| lib("AES-CBC"))?;
                let mut buf = Zeroizing::new(ciphertext.to_vec());
                key.decrypt(&mut buf, DecryptionContext::Iv128(iv16(iv)?))
                    .map_err(|_| lib("AES-CBC decryption"))?;
                Ok(buf)
            }
            Cipher::AesGcm16 { .. } => {
                if ciphertext.len() < GCM_ICV {
                    return Err(CryptoError::CiphertextTooShort {
                        cipher: self,
                        actual: ciphertext.len(),
                        icv: GCM_ICV,
                    });
                }
                let (key, nonce) = gcm_key_nonce(aes, key, iv)?;
                let mut buf = Zeroizing::new(ciphertext.to_vec());
                let plain_len = key
                    .open_in_place(nonce, Aad::from(aad), &mut buf)
                    .map_err(|_| CryptoError::AuthenticationFailed { cipher: self })?
                    .len();
                buf.truncate(plain_len);
                Ok(buf)
            }
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}-bit key)", self.name(), self.key_bits())
    }
}

fn lib(operation: &'static str) -> CryptoError {
    CryptoError::Library { operation }
}

fn iv16(iv: &[u8]) -> Result<FixedLength<16>, CryptoError> {
    let iv: [u8; 16] = iv.try_into().map_err(|_| lib("AES-CBC IV"))?;
    Ok(FixedLength::from(iv))
}

fn cbc_key(aes: Aes, key: &[u8]) -> Result<UnboundCipherKey, CryptoError> {
    let alg = match aes {
        Aes::A128 => &cipher::AES_128,
        Aes::A192 => &cipher::AES_192,
        Aes::A256 => &cipher::AES_256,
    };
    UnboundCipherKey::new(alg, key).map_err(|_| lib("AES-CBC key setup"))
}

/// The AES-GCM key and the 12-byte nonce salt || IV (RFC 5282 §4).
fn gcm_key_nonce(aes: Aes, key: &[u8], iv: &[u8]) -> Result<(LessSafeKey, Nonce), CryptoError> {
    let alg = match aes {
        Aes::A128 => &aead::AES_128_GCM,
        Aes::A192 => &aead::AES_192_GCM,
        Aes::A256 => &aead::AES_256_GCM,
    };
    let split = key
        .len()
        .checked_sub(GCM_SALT)
        .ok_or(lib("AES-GCM key setup"))?;
    let (aes_key, salt) = key
        .split_at_checked(split)
        .ok_or(lib("AES-GCM key setup"))?;
    let mut nonce = Zeroizing::new([0u8; 12]);
    for (dst, src) in nonce.iter_mut().zip(salt.iter().chain(iv.iter())) {
        *dst = *src;
    }
    let key = UnboundKey::new(alg, aes_key).map_err(|_| lib("AES-GCM key setup"))?;
    Ok((LessSafeKey::new(key), Nonce::assume_unique_for_key(*nonce)))
}
