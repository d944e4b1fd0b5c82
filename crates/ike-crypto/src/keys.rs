//! Key derivation and authentication values of IKEv2: SKEYSEED and SK_* (RFC 7296 §2.14,
//! §2.18), Child SA KEYMAT (§2.17), shared-key AUTH (§2.15), NAT detection (§2.23) and
//! ESP key sizes (RFC 4303, RFC 4106, RFC 4543).

use std::fmt;
use std::net::IpAddr;

use aws_lc_rs::digest;
use zeroize::Zeroizing;

use crate::{Cipher, CryptoError, Integrity, Prf};

/// Transform ID ENCR_NULL (RFC 7296 §3.3.2; ESP only, RFC 4303 §3.2).
pub const ENCR_NULL: u16 = 11;
/// Transform ID ENCR_AES_CBC (RFC 3602).
pub const ENCR_AES_CBC: u16 = 12;
/// Transform ID ENCR_AES_GCM_16 (RFC 4106 for ESP, RFC 5282 for IKE).
pub const ENCR_AES_GCM_16: u16 = 20;
/// Transform ID ENCR_NULL_AUTH_AES_GMAC (RFC 4543; ESP only).
pub const ENCR_NULL_AUTH_AES_GMAC: u16 = 21;

/// The key pad of shared-key authentication (RFC 7296 §2.15).
const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// The keys of an IKE SA (RFC 7296 §2.14). `sk_ai`/`sk_ar` are empty with an AEAD cipher.
/// `Debug` shows only the lengths.
pub struct IkeKeys {
    /// SK_d: derives Child SA keys and the SKEYSEED of a rekeyed IKE SA.
    pub sk_d: Zeroizing<Vec<u8>>,
    /// SK_ai: integrity key of messages from the original initiator.
    pub sk_ai: Zeroizing<Vec<u8>>,
    /// SK_ar: integrity key of messages from the original responder.
    pub sk_ar: Zeroizing<Vec<u8>>,
    /// SK_ei: encryption key (with GCM salt) of messages from the original initiator.
    pub sk_ei: Zeroizing<Vec<u8>>,
    /// SK_er: encryption key (with GCM salt) of messages from the original responder.
    pub sk_er: Zeroizing<Vec<u8>>,
    /// SK_pi: for the initiator's AUTH payload.
    pub sk_pi: Zeroizing<Vec<u8>>,
    /// SK_pr: for the responder's AUTH payload.
    pub sk_pr: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for IkeKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IkeKeys {{ sk_d: {} bytes, sk_ai/ar: {} bytes, sk_ei/er: {} bytes, sk_pi/pr: {} bytes }}",
            self.sk_d.len(),
            self.sk_ai.len(),
            self.sk_ei.len(),
            self.sk_pi.len()
        )
    }
}

/// The ESP/AH keys of a Child SA, split from KEYMAT in the order of RFC 7296 §2.17:
/// initiator-to-responder first, encryption key before integrity key. `Debug` shows only
/// the lengths.
pub struct ChildSaKeys {
    /// Encryption key (with salt) of the initiator-to-responder SA.
    pub encr_i: Zeroizing<Vec<u8>>,
    /// Integrity key of the initiator-to-responder SA (empty for AEAD).
    pub integ_i: Zeroizing<Vec<u8>>,
    /// Encryption key (with salt) of the responder-to-initiator SA.
    pub encr_r: Zeroizing<Vec<u8>>,
    /// Integrity key of the responder-to-initiator SA (empty for AEAD).
    pub integ_r: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for ChildSaKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChildSaKeys {{ encr: {} bytes, integ: {} bytes }}",
            self.encr_i.len(),
            self.integ_i.len()
        )
    }
}

/// SKEYSEED = prf(Ni | Nr, g^ir) for a new IKE SA (RFC 7296 §2.14). The nonces are the
/// whole Nonce Data; HMAC PRFs take a key of any length, so the §2.14 rule for fixed-key
/// PRFs (first 64 bits of each nonce) does not apply to any PRF here.
pub fn skeyseed(prf: Prf, ni: &[u8], nr: &[u8], g_ir: &[u8]) -> Zeroizing<Vec<u8>> {
    let key = Zeroizing::new([ni, nr].concat());
    prf.compute(&key, &[g_ir])
}

/// SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) for an IKE SA made by rekeying
/// (RFC 7296 §2.18), with the nonces of the CREATE_CHILD_SA exchange. `prf` is the old IKE
/// SA's PRF; the new SA's PRF drives prf+ in [`derive_ike_keys`] (with the new SPIs).
pub fn rekey_skeyseed(
    prf: Prf,
    old_sk_d: &[u8],
    g_ir: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> Zeroizing<Vec<u8>> {
    prf.compute(old_sk_d, &[g_ir, ni, nr])
}

fn integrity_fits(cipher: Cipher, integ: Option<Integrity>) -> Result<(), CryptoError> {
    match (cipher.is_aead(), integ) {
        (true, Some(_)) => Err(CryptoError::IntegrityWithAead {
            cipher: cipher.to_string(),
        }),
        (false, None) => Err(CryptoError::MissingIntegrity {
            cipher: cipher.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Takes the next `len` bytes of key material.
fn take(rest: &mut &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (head, tail) = rest.split_at_checked(len).ok_or(CryptoError::Library {
        operation: "splitting key material",
    })?;
    *rest = tail;
    Ok(Zeroizing::new(head.to_vec()))
}

/// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi |
/// SPIr) (RFC 7296 §2.14). SK_d, SK_pi and SK_pr are as long as the PRF output; SK_a* as the
/// integrity key ([`Integrity::key_len`], none with AEAD); SK_e* as [`Cipher::key_len`]
/// (including the GCM salt, RFC 5282 §7.1). An AEAD cipher with an integrity algorithm,
/// or a non-AEAD cipher without one, is an error (RFC 5282 §8).
#[allow(clippy::too_many_arguments)]
pub fn derive_ike_keys(
    prf: Prf,
    skeyseed: &[u8],
    ni: &[u8],
    nr: &[u8],
    spi_i: &[u8; 8],
    spi_r: &[u8; 8],
    integ: Option<Integrity>,
    cipher: Cipher,
) -> Result<IkeKeys, CryptoError> {
    integrity_fits(cipher, integ)?;
    cipher.validate()?;
    let d_len = prf.output_len();
    let a_len = integ.map_or(0, Integrity::key_len);
    let e_len = cipher.key_len();
    let p_len = prf.output_len();
    let total = d_len + 2 * a_len + 2 * e_len + 2 * p_len;
    let keymat = prf.plus(skeyseed, &[ni, nr, spi_i, spi_r], total)?;
    let mut rest: &[u8] = &keymat;
    Ok(IkeKeys {
        sk_d: take(&mut rest, d_len)?,
        sk_ai: take(&mut rest, a_len)?,
        sk_ar: take(&mut rest, a_len)?,
        sk_ei: take(&mut rest, e_len)?,
        sk_er: take(&mut rest, e_len)?,
        sk_pi: take(&mut rest, p_len)?,
        sk_pr: take(&mut rest, p_len)?,
    })
}

/// KEYMAT = prf+(SK_d, Ni | Nr), or prf+(SK_d, g^ir (new) | Ni | Nr) with PFS
/// (RFC 7296 §2.17), `len` bytes long. Ni and Nr are the nonces of the exchange that
/// creates the Child SA (those of IKE_SA_INIT for the first Child SA).
pub fn child_keymat(
    prf: Prf,
    sk_d: &[u8],
    g_ir: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    match g_ir {
        Some(g_ir) => prf.plus(sk_d, &[g_ir, ni, nr], len),
        None => prf.plus(sk_d, &[ni, nr], len),
    }
}

/// The keys of both directions of a Child SA: [`child_keymat`] of
/// 2 × (`encr_key_len` + `integ_key_len`) bytes, split as RFC 7296 §2.17 orders them. The
/// lengths come from [`esp_key_lengths`].
#[allow(clippy::too_many_arguments)]
pub fn child_sa_keys(
    prf: Prf,
    sk_d: &[u8],
    g_ir: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    encr_key_len: usize,
    integ_key_len: usize,
) -> Result<ChildSaKeys, CryptoError> {
    let one_way = encr_key_len
        .checked_add(integ_key_len)
        .and_then(|n| n.checked_mul(2))
        .ok_or(CryptoError::PrfPlusTooLong {
            prf,
            requested: usize::MAX,
            max: prf.output_len() * 255,
        })?;
    let keymat = child_keymat(prf, sk_d, g_ir, ni, nr, one_way)?;
    let mut rest: &[u8] = &keymat;
    Ok(ChildSaKeys {
        encr_i: take(&mut rest, encr_key_len)?,
        integ_i: take(&mut rest, integ_key_len)?,
        encr_r: take(&mut rest, encr_key_len)?,
        integ_r: take(&mut rest, integ_key_len)?,
    })
}

/// The AUTH Authentication Data for shared-key authentication (RFC 7296 §2.15):
/// `prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)`, the parts of
/// `signed_octets` concatenated (see [`signed_octets`]).
pub fn psk_auth(prf: Prf, psk: &[u8], signed_octets: &[&[u8]]) -> Vec<u8> {
    let key = prf.compute(psk, &[KEY_PAD]);
    prf.compute(&key, signed_octets).to_vec()
}

/// The octets an AUTH payload signs or MACs (RFC 7296 §2.15):
/// RealMessage | Nonce of the peer | prf(SK_p, RestOfIDPayload).
///
/// For the initiator's AUTH: its IKE_SA_INIT request as sent (from the IKE header on,
/// without the non-ESP marker), the responder's Nonce Data, SK_pi and the initiator's IDi
/// payload body (ID Type, 3 reserved bytes, identification data; no generic payload
/// header). For the responder's AUTH: its IKE_SA_INIT response, the initiator's Nonce Data,
/// SK_pr and the IDr body.
pub fn signed_octets(
    prf: Prf,
    message: &[u8],
    peer_nonce: &[u8],
    sk_p: &[u8],
    id_payload_body: &[u8],
) -> Vec<u8> {
    let maced_id = prf.compute(sk_p, &[id_payload_body]);
    let mut out = Vec::with_capacity(message.len() + peer_nonce.len() + maced_id.len());
    out.extend_from_slice(message);
    out.extend_from_slice(peer_nonce);
    out.extend_from_slice(&maced_id);
    out
}

/// Notification data of NAT_DETECTION_SOURCE_IP / NAT_DETECTION_DESTINATION_IP
/// (RFC 7296 §2.23): SHA-1(SPIi | SPIr | IP address | port). In the IKE_SA_INIT request
/// SPIr is zero. The address is 4 bytes for IPv4 and 16 for IPv6; the port is big-endian.
pub fn nat_detection_hash(spi_i: &[u8; 8], spi_r: &[u8; 8], ip: IpAddr, port: u16) -> [u8; 20] {
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(spi_i);
    ctx.update(spi_r);
    match ip {
        IpAddr::V4(v4) => ctx.update(&v4.octets()),
        IpAddr::V6(v6) => ctx.update(&v6.octets()),
    }
    ctx.update(&port.to_be_bytes());
    let digest = ctx.finish();
    let mut out = [0u8; 20];
    if let Some(d) = digest.as_ref().get(..20) {
        out.copy_from_slice(d);
    }
    out
}

fn aes_key_bytes(encr: &'static str, key_bits: Option<u16>) -> Result<usize, CryptoError> {
    match key_bits {
        Some(bits @ (128 | 192 | 256)) => Ok(usize::from(bits) / 8),
        Some(bits) => Err(CryptoError::Unsupported {
            transform: "ESP encryption algorithm",
            detail: format!("{bits}-bit key for {encr}"),
        }),
        None => Err(CryptoError::Unsupported {
            transform: "ESP encryption algorithm",
            detail: format!("{encr} without a Key Length attribute"),
        }),
    }
}

/// Key material sizes of an ESP SA, by IKEv2 transform IDs: (encryption key including
/// salt, integrity key), each per direction. KEYMAT for a Child SA is twice their sum
/// (RFC 7296 §2.17).
///
/// * ENCR_NULL (11): no key; needs integrity (RFC 4303 §3.2: not both NULL).
/// * ENCR_AES_CBC (12, RFC 3602): 16/24/32 bytes; needs integrity.
/// * ENCR_AES_GCM_16 (20, RFC 4106 §8.1) and ENCR_NULL_AUTH_AES_GMAC (21, RFC 4543 §5.1):
///   AES key + 4-byte salt; no integrity algorithm.
///
/// `integ_id` None or `Some(0)` (NONE) means no integrity algorithm.
pub fn esp_key_lengths(
    encr_id: u16,
    key_bits: Option<u16>,
    integ_id: Option<u16>,
) -> Result<(usize, usize), CryptoError> {
    let integ = match integ_id {
        None | Some(0) => None,
        Some(id) => {
            Some(
                Integrity::from_transform_id(id).ok_or_else(|| CryptoError::Unsupported {
                    transform: "ESP integrity algorithm",
                    detail: format!("transform ID {id}"),
                })?,
            )
        }
    };
    let needs_integ = |name: &str| -> Result<usize, CryptoError> {
        integ
            .map(Integrity::key_len)
            .ok_or_else(|| CryptoError::MissingIntegrity {
                cipher: name.to_string(),
            })
    };
    let no_integ = |name: &str| -> Result<(), CryptoError> {
        match integ {
            Some(_) => Err(CryptoError::IntegrityWithAead {
                cipher: name.to_string(),
            }),
            None => Ok(()),
        }
    };
    match encr_id {
        ENCR_NULL => {
            if let Some(bits) = key_bits {
                return Err(CryptoError::Unsupported {
                    transform: "ESP encryption algorithm",
                    detail: format!("Key Length attribute {bits} with ENCR_NULL, which has no key"),
                });
            }
            Ok((0, needs_integ("ENCR_NULL")?))
        }
        ENCR_AES_CBC => {
            let k = aes_key_bytes("ENCR_AES_CBC", key_bits)?;
            Ok((k, needs_integ("ENCR_AES_CBC")?))
        }
        ENCR_AES_GCM_16 => {
            let k = aes_key_bytes("ENCR_AES_GCM_16", key_bits)?;
            no_integ("ENCR_AES_GCM_16")?;
            Ok((k + 4, 0))
        }
        ENCR_NULL_AUTH_AES_GMAC => {
            let k = aes_key_bytes("ENCR_NULL_AUTH_AES_GMAC", key_bits)?;
            no_integ("ENCR_NULL_AUTH_AES_GMAC")?;
            Ok((k + 4, 0))
        }
        other => Err(CryptoError::Unsupported {
            transform: "ESP encryption algorithm",
            detail: format!("transform ID {other}"),
        }),
    }
}
