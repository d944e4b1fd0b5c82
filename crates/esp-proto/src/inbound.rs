//! Inbound processing (RFC 4303 §3.4): sequence number and anti-replay check, ICV
//! verification, decryption, trailer checks, in place.

use std::ops::Range;

use aws_lc_rs::{aead, cipher, constant_time, hmac};
use zeroize::Zeroize;

use crate::keys;
use crate::replay::ReplayWindow;
use crate::transform::{ESP_HEADER_LEN, TRAILER_LEN};
use crate::{EspError, SaKeys, Transform};

/// GCM/GMAC ICV length (RFC 4106 §6, RFC 4543 §3.4).
const AEAD_TAG_LEN: usize = 16;
/// AES block (RFC 3602 §2.4).
const AES_BLOCK: usize = 16;

/// The receiving half of a Child SA: decapsulates ESP packets, with its anti-replay
/// window.
///
/// Holds precomputed key schedules; [`InboundSa::decapsulate`] allocates nothing.
/// Keys are zeroized when it drops, and `Debug` shows none.
pub struct InboundSa {
    spi: u32,
    transform: Transform,
    esn: bool,
    window: ReplayWindow,
    opener: Opener,
}

enum Opener {
    Gcm {
        key: aead::LessSafeKey,
        salt: [u8; 4],
    },
    Gmac {
        key: aead::LessSafeKey,
        salt: [u8; 4],
    },
    /// Boxed: the HMAC and AES key schedules are large and GCM SAs are the common case.
    Cbc(Box<CbcKeys>),
    Null(Box<NullKeys>),
}

struct CbcKeys {
    key: cipher::DecryptingKey,
    mac: hmac::Key,
    icv_len: usize,
}

struct NullKeys {
    mac: hmac::Key,
    icv_len: usize,
}

impl std::fmt::Debug for InboundSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundSa")
            .field("spi", &format_args!("{:08x}", self.spi))
            .field("transform", &self.transform)
            .field("esn", &self.esn)
            .field("window", &self.window)
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl Drop for InboundSa {
    fn drop(&mut self) {
        // aws-lc-rs cleanses its own key schedules (see keys.rs); the salt is ours.
        if let Opener::Gcm { salt, .. } | Opener::Gmac { salt, .. } = &mut self.opener {
            salt.zeroize();
        }
    }
}

impl InboundSa {
    /// An inbound SA (RFC 4303 §3.4) for our `spi`, with an anti-replay window of
    /// `replay_window` packets (at least 1024, rounded up to a power of two, see
    /// [`ReplayWindow::new`]). Key lengths as for [`crate::OutboundSa::new`].
    pub fn new(
        spi: u32,
        transform: Transform,
        keys: SaKeys<'_>,
        esn: bool,
        replay_window: u32,
    ) -> Result<InboundSa, EspError> {
        keys::check_lengths(transform, &keys)?;
        let opener = match transform {
            Transform::AesGcm16 { key_bits } => {
                let (key, salt) = keys::gcm(key_bits, keys.encryption)?;
                Opener::Gcm { key, salt }
            }
            Transform::NullAuthAesGmac { key_bits } => {
                let (key, salt) = keys::gcm(key_bits, keys.encryption)?;
                Opener::Gmac { key, salt }
            }
            Transform::AesCbc { key_bits, integ } => Opener::Cbc(Box::new(CbcKeys {
                key: cipher::DecryptingKey::cbc(keys::aes_key(key_bits, keys.encryption)?)
                    .map_err(|_| EspError::EncryptionFailed)?,
                mac: keys::hmac_key(integ, keys.integrity),
                icv_len: integ.icv_len(),
            })),
            Transform::Null { integ } => Opener::Null(Box::new(NullKeys {
                mac: keys::hmac_key(integ, keys.integrity),
                icv_len: integ.icv_len(),
            })),
        };
        Ok(InboundSa {
            spi,
            transform,
            esn,
            window: ReplayWindow::new(replay_window),
            opener,
        })
    }

    /// Our SPI, the one the peer puts on packets for this SA (RFC 4303 §2.1).
    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// The transform (RFC 7296 §3.3.2 as negotiated).
    pub fn transform(&self) -> Transform {
        self.transform
    }

    /// Whether extended sequence numbers are in use (RFC 4303 §2.2.1).
    pub fn esn(&self) -> bool {
        self.esn
    }

    /// The anti-replay window (RFC 4303 §3.4.3; its top is the highest sequence number
    /// received).
    pub fn replay_window(&self) -> &ReplayWindow {
        &self.window
    }

    /// Test support: the window (RFC 4303 §3.4.3), to start an SA as if it had carried
    /// traffic already.
    #[cfg(test)]
    pub(crate) fn replay_window_mut(&mut self) -> &mut ReplayWindow {
        &mut self.window
    }

    /// Decapsulates in place (RFC 4303 §3.4), in the order §3.4.3 asks for: sequence
    /// number (reconstructed with ESN, Appendix A2) against the anti-replay window, then
    /// the ICV (constant-time comparison), then decryption and the trailer checks (pad
    /// length, padding 1, 2, 3, ..., §2.4); the window is updated only when all passed.
    ///
    /// Returns the Next Header (4: IPv4, 41: IPv6, 59: a dummy packet to discard, §2.6)
    /// and where the inner packet now is within `packet`. On error the packet's bytes are
    /// unspecified (partly decrypted) and the window is unchanged.
    pub fn decapsulate(&mut self, packet: &mut [u8]) -> Result<(u8, Range<usize>), EspError> {
        let t = self.transform;
        let len = packet.len();
        let header = t.header_len();
        let icv_len = t.icv_len();
        // Smallest packet: header, IV, at least one block for CBC or an empty payload with
        // its two trailer bytes otherwise, ICV (RFC 4303 §2).
        let min_body = match self.opener {
            Opener::Cbc(_) => AES_BLOCK,
            _ => TRAILER_LEN,
        };
        if len < header + min_body + icv_len {
            return Err(EspError::Truncated);
        }
        let (spi, seq_lo) = match packet {
            [a, b, c, d, e, f, g, h, ..] => (
                u32::from_be_bytes([*a, *b, *c, *d]),
                u32::from_be_bytes([*e, *f, *g, *h]),
            ),
            _ => return Err(EspError::Truncated),
        };
        if spi != self.spi {
            return Err(EspError::SpiMismatch { spi });
        }

        // §3.4.3: replay check before the ICV.
        let seq = if self.esn {
            self.window.infer_esn(seq_lo).ok_or(EspError::Replay {
                seq: u64::from(seq_lo),
            })?
        } else {
            u64::from(seq_lo)
        };
        self.window.check(seq)?;
        let (seq_hi, _) = crate::seq_halves(seq);
        let esn_hi = self.esn.then_some(seq_hi);

        let plaintext = match &self.opener {
            Opener::Gcm { key, salt } => {
                // RFC 4106 §5 (AAD), §4 (nonce); the tag is the last 16 bytes.
                let (head, body) = packet.split_at_mut(header);
                let nonce = keys::nonce(salt, &explicit_iv(head)?);
                let mut aad = [0u8; 12];
                aad[..4].copy_from_slice(&spi.to_be_bytes());
                let aad: &[u8] = match esn_hi {
                    Some(hi) => {
                        aad[4..8].copy_from_slice(&hi.to_be_bytes());
                        aad[8..].copy_from_slice(&seq_lo.to_be_bytes());
                        &aad
                    }
                    None => {
                        aad[4..8].copy_from_slice(&seq_lo.to_be_bytes());
                        &aad[..8]
                    }
                };
                key.open_in_place(nonce, aead::Aad::from(aad), body)
                    .map_err(|_| EspError::IntegrityCheckFailed)?;
                header..len - AEAD_TAG_LEN
            }
            Opener::Gmac { key, salt } => {
                let nonce = keys::nonce(salt, &explicit_iv(packet)?);
                match esn_hi {
                    None => {
                        // RFC 4543 §3.3: AAD = everything before the ICV.
                        let (aad, tag) = packet.split_at(len - AEAD_TAG_LEN);
                        key.open_in_place_separate_tag(nonce, aead::Aad::from(aad), tag, &mut [])
                            .map_err(|_| EspError::IntegrityCheckFailed)?;
                        header..len - AEAD_TAG_LEN
                    }
                    Some(hi) => gmac_esn_open(key, nonce, packet, hi)?,
                }
            }
            Opener::Cbc(k) => {
                let CbcKeys { key, mac, icv_len } = &**k;
                // RFC 3602 §3: whole blocks only; checked before spending the HMAC.
                let ct = header..len - icv_len;
                if ct.len() % AES_BLOCK != 0 {
                    return Err(EspError::Malformed);
                }
                verify_icv(mac, *icv_len, packet, esn_hi)?;
                let mut iv = [0u8; 16];
                iv.copy_from_slice(
                    packet
                        .get(ESP_HEADER_LEN..header)
                        .ok_or(EspError::Truncated)?,
                );
                let ciphertext = packet.get_mut(ct.clone()).ok_or(EspError::Truncated)?;
                key.decrypt(
                    ciphertext,
                    cipher::DecryptionContext::Iv128(aws_lc_rs::iv::FixedLength::from(iv)),
                )
                .map_err(|_| EspError::Malformed)?;
                ct
            }
            Opener::Null(k) => {
                let NullKeys { mac, icv_len } = &**k;
                verify_icv(mac, *icv_len, packet, esn_hi)?;
                header..len - icv_len
            }
        };

        let (next_header, inner) = check_trailer(packet, plaintext)?;
        self.window.update(seq);
        Ok((next_header, inner))
    }
}

/// The 8-byte explicit IV after SPI and sequence number (RFC 4106 §3.1, RFC 4543 §3.1).
fn explicit_iv(packet: &[u8]) -> Result<[u8; 8], EspError> {
    let mut iv = [0u8; 8];
    iv.copy_from_slice(
        packet
            .get(ESP_HEADER_LEN..ESP_HEADER_LEN + 8)
            .ok_or(EspError::Truncated)?,
    );
    Ok(iv)
}

/// Pad Length and Next Header at the end of the decrypted payload, and the padding
/// before them, which must be 1, 2, 3, ... (RFC 4303 §2.4 - §2.6). Returns Next Header and
/// the inner packet's range.
fn check_trailer(packet: &[u8], plaintext: Range<usize>) -> Result<(u8, Range<usize>), EspError> {
    let start = plaintext.start;
    let body = packet.get(plaintext).ok_or(EspError::Truncated)?;
    let [rest @ .., pad_len, next_header] = body else {
        return Err(EspError::Truncated);
    };
    let pad = usize::from(*pad_len);
    let inner_len = rest.len().checked_sub(pad).ok_or(EspError::BadPadding)?;
    let padding = rest.get(inner_len..).ok_or(EspError::BadPadding)?;
    // pad <= 255, so i + 1 fits in u8.
    let ok = padding
        .iter()
        .enumerate()
        .all(|(i, &b)| usize::from(b) == i + 1);
    if !ok {
        return Err(EspError::BadPadding);
    }
    Ok((*next_header, start..start + inner_len))
}

/// HMAC over `data`, then Seq-hi with ESN (RFC 4303 §2.2.1, §3.3.4), untruncated. Uses the
/// precomputed key (inner and outer pads hashed once per SA).
pub(crate) fn hmac_icv(mac: &hmac::Key, data: &[u8], esn_hi: Option<u32>) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(mac);
    ctx.update(data);
    if let Some(hi) = esn_hi {
        ctx.update(&hi.to_be_bytes());
    }
    ctx.sign()
}

/// Checks the truncated HMAC ICV at the end of `packet` in constant time (RFC 4303
/// §3.4.4.1, RFC 2404 §2, RFC 4868 §2.3).
fn verify_icv(
    mac: &hmac::Key,
    icv_len: usize,
    packet: &[u8],
    esn_hi: Option<u32>,
) -> Result<(), EspError> {
    let split = packet
        .len()
        .checked_sub(icv_len)
        .ok_or(EspError::Truncated)?;
    let (data, icv) = packet.split_at(split);
    let tag = hmac_icv(mac, data, esn_hi);
    let expected = tag.as_ref().get(..icv_len).ok_or(EspError::Truncated)?;
    constant_time::verify_slices_are_equal(expected, icv)
        .map_err(|_| EspError::IntegrityCheckFailed)
}

/// GMAC with ESN (RFC 4543 §3.3 with RFC 4303 §2.2.1): AAD = SPI || Seq-hi || Seq-lo ||
/// IV || payload || trailer. Seq-hi is not on the wire, so the tag is set aside and
/// everything after the SPI moves 4 bytes right into its place to make the AAD contiguous.
/// Returns the payload's new range.
fn gmac_esn_open(
    key: &aead::LessSafeKey,
    nonce: aead::Nonce,
    packet: &mut [u8],
    seq_hi: u32,
) -> Result<Range<usize>, EspError> {
    let len = packet.len();
    let tag_at = len
        .checked_sub(AEAD_TAG_LEN)
        .filter(|&t| t >= ESP_HEADER_LEN + 8)
        .ok_or(EspError::Truncated)?;
    let mut tag = [0u8; AEAD_TAG_LEN];
    tag.copy_from_slice(packet.get(tag_at..).ok_or(EspError::Truncated)?);
    // 4 + (tag_at - 4) + 4 <= len since the tag is 16 bytes.
    packet.copy_within(4..tag_at, 8);
    packet
        .get_mut(4..8)
        .ok_or(EspError::Truncated)?
        .copy_from_slice(&seq_hi.to_be_bytes());
    let aad = packet.get(..tag_at + 4).ok_or(EspError::Truncated)?;
    key.open_in_place_separate_tag(nonce, aead::Aad::from(aad), &tag, &mut [])
        .map_err(|_| EspError::IntegrityCheckFailed)?;
    Ok(ESP_HEADER_LEN + 4 + 8..tag_at + 4)
}
