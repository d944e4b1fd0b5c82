//! The ESP transforms strait negotiates and their sizes.

use ike_crypto::Integrity;

use crate::EspError;

/// IKEv2 transform type 1 IDs (RFC 7296 §3.3.2, IANA "Transform Type 1").
const ENCR_AES_CBC: u16 = 12;
const ENCR_NULL: u16 = 11;
const ENCR_AES_GCM_16: u16 = 20;
const ENCR_NULL_AUTH_AES_GMAC: u16 = 21;

/// An ESP transform: encryption and integrity together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transform {
    /// AES-GCM with a 16-byte ICV (RFC 4106), 128/192/256-bit key.
    AesGcm16 {
        /// AES key size.
        key_bits: u16,
    },
    /// AES-CBC (RFC 3602) with an HMAC integrity algorithm (RFC 2404, RFC 4868).
    AesCbc {
        /// AES key size.
        key_bits: u16,
        /// Integrity algorithm.
        integ: Integrity,
    },
    /// AES-GMAC, authentication without encryption (RFC 4543).
    NullAuthAesGmac {
        /// AES key size.
        key_bits: u16,
    },
    /// No encryption, HMAC integrity only (RFC 2410).
    Null {
        /// Integrity algorithm.
        integ: Integrity,
    },
}

impl Transform {
    /// The transform negotiated in IKEv2 (RFC 7296 §3.3.2): encryption transform ID, its Key
    /// Length attribute, and the integrity transform (None for combined modes). The
    /// runtime's mapping of `ike_proto::ChildSaParams`:
    /// `Transform::from_ikev2(p.cipher.transform_id(), p.cipher.key_bits(), p.integrity)`.
    pub fn from_ikev2(
        encr: u16,
        key_bits: Option<u16>,
        integ: Option<Integrity>,
    ) -> Result<Transform, EspError> {
        let t = match (encr, key_bits, integ) {
            (ENCR_AES_GCM_16, Some(key_bits), None) => Transform::AesGcm16 { key_bits },
            (ENCR_NULL_AUTH_AES_GMAC, Some(key_bits), None) => {
                Transform::NullAuthAesGmac { key_bits }
            }
            (ENCR_AES_CBC, Some(key_bits), Some(integ)) => Transform::AesCbc { key_bits, integ },
            (ENCR_NULL, None, Some(integ)) => Transform::Null { integ },
            _ => {
                return Err(EspError::UnknownTransform {
                    encr,
                    key_bits,
                    integ: integ.map(Integrity::transform_id),
                })
            }
        };
        t.validate()?;
        Ok(t)
    }

    /// IKEv2 encryption transform ID (RFC 7296 §3.3.2).
    pub fn encr_id(self) -> u16 {
        match self {
            Transform::AesGcm16 { .. } => ENCR_AES_GCM_16,
            Transform::AesCbc { .. } => ENCR_AES_CBC,
            Transform::NullAuthAesGmac { .. } => ENCR_NULL_AUTH_AES_GMAC,
            Transform::Null { .. } => ENCR_NULL,
        }
    }

    /// AES key size in bits, the IKEv2 Key Length attribute (RFC 7296 §3.3.5; None for
    /// NULL).
    pub fn key_bits(self) -> Option<u16> {
        match self {
            Transform::AesGcm16 { key_bits }
            | Transform::AesCbc { key_bits, .. }
            | Transform::NullAuthAesGmac { key_bits } => Some(key_bits),
            Transform::Null { .. } => None,
        }
    }

    /// Integrity algorithm (None for the combined modes GCM and GMAC, RFC 4106 §8.4,
    /// RFC 4543 §7.1).
    pub fn integrity(self) -> Option<Integrity> {
        match self {
            Transform::AesCbc { integ, .. } | Transform::Null { integ } => Some(integ),
            Transform::AesGcm16 { .. } | Transform::NullAuthAesGmac { .. } => None,
        }
    }

    /// Checks the key size: AES is 128, 192 or 256 bits (RFC 3602 §2.1, RFC 4106 §8.1,
    /// RFC 4543 §7.1).
    pub(crate) fn validate(self) -> Result<(), EspError> {
        match self.key_bits() {
            None | Some(128 | 192 | 256) => Ok(()),
            Some(_) => Err(EspError::UnknownTransform {
                encr: self.encr_id(),
                key_bits: self.key_bits(),
                integ: self.integrity().map(Integrity::transform_id),
            }),
        }
    }

    /// Length of the encryption key material in bytes: the AES key, plus the 4-byte salt for
    /// GCM and GMAC (RFC 4106 §8.1, RFC 4543 §7.1: KEYMAT is key || salt); 0 for NULL.
    pub fn enc_key_len(self) -> usize {
        let aes = usize::from(self.key_bits().unwrap_or(0) / 8);
        match self {
            Transform::AesGcm16 { .. } | Transform::NullAuthAesGmac { .. } => aes + SALT_LEN,
            Transform::AesCbc { .. } | Transform::Null { .. } => aes,
        }
    }

    /// Length of the integrity key in bytes (RFC 2404 §3, RFC 4868 §2.1.1; 0 for combined
    /// modes).
    pub fn integ_key_len(self) -> usize {
        self.integrity().map_or(0, Integrity::key_len)
    }

    /// Length of the IV carried in each packet: 8 for GCM and GMAC (RFC 4106 §3.1,
    /// RFC 4543 §3.1), 16 for CBC (RFC 3602 §2.3), none for NULL (RFC 2410 §2).
    pub fn iv_len(self) -> usize {
        match self {
            Transform::AesGcm16 { .. } | Transform::NullAuthAesGmac { .. } => 8,
            Transform::AesCbc { .. } => 16,
            Transform::Null { .. } => 0,
        }
    }

    /// Length of the ICV: 16 for GCM and GMAC (RFC 4106 §6, RFC 4543 §3.4), the truncated
    /// HMAC otherwise (RFC 2404 §2, RFC 4868 §2.3).
    pub fn icv_len(self) -> usize {
        match self.integrity() {
            Some(integ) => integ.icv_len(),
            None => 16,
        }
    }

    /// What the encrypted part (payload, padding, pad length, next header) is padded to a
    /// multiple of: the AES block for CBC (RFC 3602 §2.4), else 4 bytes so the ICV is
    /// 4-byte aligned (RFC 4303 §2.4, RFC 4106 §3.2, RFC 4543 §3.5).
    pub fn pad_align(self) -> usize {
        match self {
            Transform::AesCbc { .. } => 16,
            _ => 4,
        }
    }

    /// Bytes before the inner packet: SPI, sequence number and IV (RFC 4303 §2).
    pub fn header_len(self) -> usize {
        ESP_HEADER_LEN + self.iv_len()
    }

    /// Padding for an inner packet of `inner_len` bytes (RFC 4303 §2.4): the least that
    /// makes payload + padding + 2 a multiple of [`Transform::pad_align`].
    pub fn pad_len(self, inner_len: usize) -> usize {
        let align = self.pad_align();
        let rem = inner_len.wrapping_add(TRAILER_LEN) % align;
        (align - rem) % align
    }

    /// Bytes after the inner packet: padding, pad length, next header and ICV (RFC 4303
    /// §2.4 - §2.8).
    pub fn trailer_len(self, inner_len: usize) -> usize {
        self.pad_len(inner_len) + TRAILER_LEN + self.icv_len()
    }

    /// Everything ESP adds to an inner packet of `inner_len` bytes (RFC 4303 §2).
    pub fn overhead(self, inner_len: usize) -> usize {
        self.header_len() + self.trailer_len(inner_len)
    }

    /// The largest inner packet whose ESP packet fits in `esp_len` bytes (0 if none does):
    /// the VTI MTU for an outer budget (outer MTU minus IP and UDP headers; RFC 4303 §2
    /// layout, RFC 3948 §2.1 UDP header).
    pub fn max_inner_len(self, esp_len: usize) -> usize {
        let fixed = self.header_len() + TRAILER_LEN + self.icv_len();
        let Some(room) = esp_len.checked_sub(fixed) else {
            return 0;
        };
        // payload + 2 must be a multiple of the alignment and fit in room + 2.
        let align = self.pad_align();
        let aligned = (room + TRAILER_LEN) / align * align;
        aligned.saturating_sub(TRAILER_LEN)
    }
}

/// SPI and sequence number (RFC 4303 §2.1, §2.2).
pub(crate) const ESP_HEADER_LEN: usize = 8;
/// Pad Length and Next Header (RFC 4303 §2.5, §2.6).
pub(crate) const TRAILER_LEN: usize = 2;
/// GCM/GMAC salt (RFC 4106 §4, RFC 4543 §3.2).
pub(crate) const SALT_LEN: usize = 4;
