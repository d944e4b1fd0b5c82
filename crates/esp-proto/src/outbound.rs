//! Outbound processing (RFC 4303 §3.3): sequence numbers, IVs, padding, encryption and
//! the ICV, written in place around the inner packet.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::{aead, cipher, hmac};
use zeroize::Zeroize;

use crate::keys;
use crate::transform::{ESP_HEADER_LEN, TRAILER_LEN};
use crate::{EspError, SaKeys, Transform};

/// Sequence number from which [`OutboundSa::near_exhaustion`] says "rekey now" without
/// ESN: 2^16 packets before the 32-bit counter runs out.
const NEAR_EXHAUSTION_32: u64 = (1 << 32) - (1 << 16);
/// The same with ESN: 2^32 packets before the 64-bit counter runs out.
const NEAR_EXHAUSTION_64: u64 = u64::MAX - (1 << 32);

/// The sending half of a Child SA: encapsulates inner IP packets into ESP packets.
///
/// Holds precomputed key schedules; [`OutboundSa::encapsulate`] allocates nothing and takes
/// `&self`: the sequence counter is atomic, so several data-plane workers can send on one SA
/// at once without a lock (each packet claims its own number).
/// Keys are zeroized when it drops, and `Debug` shows none.
pub struct OutboundSa {
    spi: u32,
    transform: Transform,
    esn: bool,
    /// Last sequence number sent (0: none yet; the first packet is 1, RFC 4303 §3.3.3).
    seq: AtomicU64,
    sealer: Sealer,
}

enum Sealer {
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
    key: cipher::EncryptingKey,
    /// K_iv: AES-128 in ECB mode on one block, the IV generator.
    iv_key: cipher::EncryptingKey,
    mac: hmac::Key,
    icv_len: usize,
}

struct NullKeys {
    mac: hmac::Key,
    icv_len: usize,
}

/// Where the parts of one ESP packet go in the caller's buffer.
struct Layout {
    /// First byte of the ESP header (SPI).
    esp: usize,
    /// First byte after the inner packet (padding).
    trailer: usize,
    /// Padding length (the Pad Length field, RFC 4303 §2.5).
    pad: u8,
    /// First byte of the ICV (right after Next Header).
    icv: usize,
    /// One past the ICV.
    end: usize,
}

impl std::fmt::Debug for OutboundSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundSa")
            .field("spi", &format_args!("{:08x}", self.spi))
            .field("transform", &self.transform)
            .field("esn", &self.esn)
            .field("seq", &self.seq.load(Ordering::Relaxed))
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl Drop for OutboundSa {
    fn drop(&mut self) {
        // aws-lc-rs cleanses its own key schedules (see keys.rs); the salt is ours.
        if let Sealer::Gcm { salt, .. } | Sealer::Gmac { salt, .. } = &mut self.sealer {
            salt.zeroize();
        }
    }
}

impl OutboundSa {
    /// An outbound SA (RFC 4303 §3.3) for the peer's `spi`. `keys` must have the lengths of
    /// [`Transform::enc_key_len`] and [`Transform::integ_key_len`] (for GCM and GMAC the
    /// encryption key is key || 4-byte salt, RFC 4106 §8.1, RFC 4543 §7.1).
    ///
    /// `iv_seed` is fresh randomness from the caller (the crate reads no OS randomness), used
    /// only by AES-CBC: IV_n = AES_{K_iv}(SPI || 0 || n) with K_iv = `iv_seed`, the
    /// "encrypted counter" IV of NIST SP 800-38A Appendix C, unpredictable as RFC 3602 §2.3
    /// requires. Use a new seed for every SA. GCM and GMAC use the sequence number as IV,
    /// unique per key (RFC 4106 §3.1, RFC 4543 §3.1).
    pub fn new(
        spi: u32,
        transform: Transform,
        keys: SaKeys<'_>,
        esn: bool,
        mut iv_seed: [u8; 16],
    ) -> Result<OutboundSa, EspError> {
        let sealer = Self::sealer(transform, &keys, &iv_seed);
        iv_seed.zeroize();
        Ok(OutboundSa {
            spi,
            transform,
            esn,
            seq: AtomicU64::new(0),
            sealer: sealer?,
        })
    }

    /// Precomputes the key schedules (RFC 4106 §8.1, RFC 4543 §7.1, RFC 3602 §2.1).
    fn sealer(
        transform: Transform,
        keys: &SaKeys<'_>,
        iv_seed: &[u8; 16],
    ) -> Result<Sealer, EspError> {
        keys::check_lengths(transform, keys)?;
        Ok(match transform {
            Transform::AesGcm16 { key_bits } => {
                let (key, salt) = keys::gcm(key_bits, keys.encryption)?;
                Sealer::Gcm { key, salt }
            }
            Transform::NullAuthAesGmac { key_bits } => {
                let (key, salt) = keys::gcm(key_bits, keys.encryption)?;
                Sealer::Gmac { key, salt }
            }
            Transform::AesCbc { key_bits, integ } => {
                let key = cipher::EncryptingKey::cbc(keys::aes_key(key_bits, keys.encryption)?)
                    .map_err(|_| EspError::EncryptionFailed)?;
                let iv_key = cipher::EncryptingKey::ecb(keys::aes_key(128, iv_seed)?)
                    .map_err(|_| EspError::EncryptionFailed)?;
                Sealer::Cbc(Box::new(CbcKeys {
                    key,
                    iv_key,
                    mac: keys::hmac_key(integ, keys.integrity),
                    icv_len: integ.icv_len(),
                }))
            }
            Transform::Null { integ } => Sealer::Null(Box::new(NullKeys {
                mac: keys::hmac_key(integ, keys.integrity),
                icv_len: integ.icv_len(),
            })),
        })
    }

    /// The SPI this SA puts on its packets (chosen by the peer, RFC 4303 §2.1).
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

    /// The sequence number the next packet will carry (RFC 4303 §3.3.3: the first is 1).
    pub fn next_seq(&self) -> u64 {
        self.seq.load(Ordering::Relaxed).saturating_add(1)
    }

    /// Skip ahead as if packets up to `last_sent` had been sent (RFC 4303 §3.3.3 counter).
    /// Only ever forwards: a GCM/GMAC IV must never repeat under one key (RFC 4106 §3.1), so
    /// a smaller value is ignored. Lets an operator or a test bring an SA to the end of its
    /// sequence space and watch the rekey it triggers.
    pub fn advance_to(&self, last_sent: u64) {
        self.seq.fetch_max(last_sent, Ordering::Relaxed);
    }

    /// Whether the SA should be rekeyed now: within 2^16 packets of the end of the 32-bit
    /// counter, or 2^32 of the 64-bit one with ESN (RFC 4303 §3.3.3: the counter must not
    /// cycle; the SA has to be replaced first).
    pub fn near_exhaustion(&self) -> bool {
        let limit = if self.esn {
            NEAR_EXHAUSTION_64
        } else {
            NEAR_EXHAUSTION_32
        };
        self.next_seq() >= limit
    }

    /// Bytes of ESP header before the inner packet: SPI, sequence number, IV (RFC 4303
    /// §2). The headroom [`OutboundSa::encapsulate`] needs.
    pub fn header_len(&self) -> usize {
        self.transform.header_len()
    }

    /// Bytes ESP adds to an inner packet of `inner_len` bytes: header, IV, padding, pad
    /// length, next header and ICV (RFC 4303 §2), for MTU math.
    pub fn overhead(&self, inner_len: usize) -> usize {
        self.transform.overhead(inner_len)
    }

    /// Bytes after the inner packet (padding, pad length, next header, ICV; RFC 4303 §2.4 -
    /// §2.8): the tailroom [`OutboundSa::encapsulate`] needs.
    pub fn trailer_len(&self, inner_len: usize) -> usize {
        self.transform.trailer_len(inner_len)
    }

    /// The largest inner packet whose ESP packet fits in `esp_len` bytes (RFC 4303 §2),
    /// see [`Transform::max_inner_len`].
    pub fn max_inner_len(&self, esp_len: usize) -> usize {
        self.transform.max_inner_len(esp_len)
    }

    /// Encapsulates in place (RFC 4303 §3.3). `buf[start..start + inner_len]` holds the
    /// inner IP packet; the ESP packet is written around it, from `start - header_len()`
    /// to `start + inner_len + trailer_len(inner_len)`, and that range is returned.
    /// `next_header` is 4 for IPv4 and 41 for IPv6 (RFC 4303 §2.6).
    ///
    /// Errors, with nothing sent and no sequence number used: [`EspError::InsufficientHeadroom`],
    /// [`EspError::BufferTooSmall`], [`EspError::SequenceExhausted`] (rekey first).
    pub fn encapsulate(
        &self,
        buf: &mut [u8],
        start: usize,
        inner_len: usize,
        next_header: u8,
    ) -> Result<Range<usize>, EspError> {
        let layout = self.layout(buf.len(), start, inner_len)?;
        let seq = self.claim_seq()?;
        let iv = self.make_iv(seq)?;
        self.seal(buf, &layout, seq, &iv, next_header)
    }

    /// Test support: encapsulates (RFC 4303 §3.3) with a given sequence number and IV (the
    /// first `iv_len` bytes of `iv`), to reproduce captured packets byte for byte. Never
    /// reuse a GCM IV with the same key outside tests.
    #[cfg(test)]
    pub(crate) fn encapsulate_with(
        &mut self,
        buf: &mut [u8],
        start: usize,
        inner_len: usize,
        next_header: u8,
        seq: u64,
        iv: &[u8],
    ) -> Result<Range<usize>, EspError> {
        let layout = self.layout(buf.len(), start, inner_len)?;
        let mut iv16 = [0u8; 16];
        iv16[..iv.len()].copy_from_slice(iv);
        *self.seq.get_mut() = seq;
        self.seal(buf, &layout, seq, &iv16, next_header)
    }

    /// Test support: pretend `seq` packets were sent already (RFC 4303 §3.3.3 counter).
    #[cfg(test)]
    pub(crate) fn set_last_seq(&mut self, seq: u64) {
        *self.seq.get_mut() = seq;
    }

    /// Places header, payload, trailer and ICV (RFC 4303 §2) in a buffer of `buf_len`
    /// bytes.
    fn layout(&self, buf_len: usize, start: usize, inner_len: usize) -> Result<Layout, EspError> {
        let t = self.transform;
        let header = t.header_len();
        let esp = start
            .checked_sub(header)
            .ok_or(EspError::InsufficientHeadroom { need: header })?;
        // pad < pad_align() <= 16 (RFC 4303 §2.4), so it fits the one-byte Pad Length
        // field (§2.5); the error cannot be reached.
        let pad = u8::try_from(t.pad_len(inner_len)).map_err(|_| EspError::EncryptionFailed)?;
        let too_big = EspError::BufferTooSmall { need: usize::MAX };
        let trailer = start.checked_add(inner_len).ok_or(too_big)?;
        let icv = trailer
            .checked_add(usize::from(pad) + TRAILER_LEN)
            .ok_or(too_big)?;
        let end = icv.checked_add(t.icv_len()).ok_or(too_big)?;
        if end > buf_len {
            return Err(EspError::BufferTooSmall { need: end });
        }
        Ok(Layout {
            esp,
            trailer,
            pad,
            icv,
            end,
        })
    }

    /// The next sequence number, refusing to cycle (RFC 4303 §3.3.3): without ESN the last
    /// is 2^32 - 1, with ESN 2^64 - 1. Atomic: concurrent senders never share a number.
    fn claim_seq(&self) -> Result<u64, EspError> {
        let last = if self.esn {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        self.seq
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |seq| {
                seq.checked_add(1).filter(|next| *next <= last)
            })
            .map(|prev| prev + 1)
            .map_err(|_| EspError::SequenceExhausted)
    }

    /// The IV of packet `seq`: GCM/GMAC the sequence number itself (RFC 4106 §3.1, RFC 4543
    /// §3.1: unique per key is all they need); CBC an unpredictable block, AES_{K_iv} of a
    /// counter block that never repeats for this SPI (RFC 3602 §2.3; NIST SP 800-38A
    /// Appendix C); NULL none.
    fn make_iv(&self, seq: u64) -> Result<[u8; 16], EspError> {
        let mut iv = [0u8; 16];
        match &self.sealer {
            Sealer::Gcm { .. } | Sealer::Gmac { .. } => {
                iv[..8].copy_from_slice(&seq.to_be_bytes());
            }
            Sealer::Cbc(k) => {
                let iv_key = &k.iv_key;
                iv[..4].copy_from_slice(&self.spi.to_be_bytes());
                iv[8..].copy_from_slice(&seq.to_be_bytes());
                iv_key
                    .less_safe_encrypt(&mut iv, cipher::EncryptionContext::None)
                    .map_err(|_| EspError::EncryptionFailed)?;
            }
            Sealer::Null(_) => {}
        }
        Ok(iv)
    }

    /// Builds the packet in `buf` (RFC 4303 §3.3.2, §3.3.4): trailer with the default
    /// padding 1, 2, 3, ... (§2.4), header, IV; then encrypts and computes the ICV.
    fn seal(
        &self,
        buf: &mut [u8],
        l: &Layout,
        seq: u64,
        iv: &[u8; 16],
        next_header: u8,
    ) -> Result<Range<usize>, EspError> {
        let bad = EspError::BufferTooSmall { need: l.end };
        let iv_len = self.transform.iv_len();
        let body = l.esp + ESP_HEADER_LEN + iv_len;

        // Padding, Pad Length, Next Header (RFC 4303 §2.4 - §2.6). pad < 16.
        let trailer = buf.get_mut(l.trailer..l.icv).ok_or(bad)?;
        // The trailer is pad + 2 <= 17 bytes, so the range never runs out.
        for (b, value) in trailer.iter_mut().zip(1..=u8::MAX) {
            *b = value;
        }
        if let [.., pad_len, nh] = trailer {
            *pad_len = l.pad;
            *nh = next_header;
        }

        // SPI, Sequence Number (low 32 bits, §2.2.1), IV.
        let (seq_hi, seq_lo) = crate::seq_halves(seq);
        let mut header = [0u8; ESP_HEADER_LEN + 16];
        header[..4].copy_from_slice(&self.spi.to_be_bytes());
        header[4..8].copy_from_slice(&seq_lo.to_be_bytes());
        header[8..].copy_from_slice(iv);
        let header = header.get(..ESP_HEADER_LEN + iv_len).ok_or(bad)?;
        buf.get_mut(l.esp..body).ok_or(bad)?.copy_from_slice(header);

        match &self.sealer {
            Sealer::Gcm { key, salt } => {
                // RFC 4106 §5: AAD = SPI || Seq, or SPI || Seq-hi || Seq-lo with ESN.
                let mut aad = [0u8; 12];
                aad[..4].copy_from_slice(&self.spi.to_be_bytes());
                let aad: &[u8] = if self.esn {
                    aad[4..8].copy_from_slice(&seq_hi.to_be_bytes());
                    aad[8..].copy_from_slice(&seq_lo.to_be_bytes());
                    &aad
                } else {
                    aad[4..8].copy_from_slice(&seq_lo.to_be_bytes());
                    &aad[..8]
                };
                let nonce = keys::nonce(salt, &gcm_iv(iv));
                let plaintext = buf.get_mut(body..l.icv).ok_or(bad)?;
                let tag = key
                    .seal_in_place_separate_tag(nonce, aead::Aad::from(aad), plaintext)
                    .map_err(|_| EspError::EncryptionFailed)?;
                buf.get_mut(l.icv..l.end)
                    .ok_or(bad)?
                    .copy_from_slice(tag.as_ref());
            }
            Sealer::Gmac { key, salt } => {
                let nonce = keys::nonce(salt, &gcm_iv(iv));
                let tag = if self.esn {
                    gmac_esn_seal(key, nonce, buf, l, seq_hi)?
                } else {
                    // RFC 4543 §3.3: AAD = SPI || Seq || IV || payload || trailer, nothing
                    // encrypted.
                    let aad = buf.get(l.esp..l.icv).ok_or(bad)?;
                    key.seal_in_place_separate_tag(nonce, aead::Aad::from(aad), &mut [])
                        .map_err(|_| EspError::EncryptionFailed)?
                };
                buf.get_mut(l.icv..l.end)
                    .ok_or(bad)?
                    .copy_from_slice(tag.as_ref());
            }
            Sealer::Cbc(k) => {
                let CbcKeys {
                    key, mac, icv_len, ..
                } = &**k;
                // RFC 3602 §3: CBC over payload || padding || pad length || next header.
                let plaintext = buf.get_mut(body..l.icv).ok_or(bad)?;
                key.less_safe_encrypt(
                    plaintext,
                    cipher::EncryptionContext::Iv128(aws_lc_rs::iv::FixedLength::from(*iv)),
                )
                .map_err(|_| EspError::EncryptionFailed)?;
                self.write_icv(mac, *icv_len, buf, l, seq_hi)?;
            }
            Sealer::Null(k) => {
                let NullKeys { mac, icv_len } = &**k;
                self.write_icv(mac, *icv_len, buf, l, seq_hi)?;
            }
        }
        Ok(l.esp..l.end)
    }

    /// HMAC ICV over SPI .. Next Header, then Seq-hi with ESN (RFC 4303 §2.2.1, §3.3.4:
    /// the high bits are authenticated but not sent), truncated (RFC 2404 §2, RFC 4868
    /// §2.3).
    fn write_icv(
        &self,
        mac: &hmac::Key,
        icv_len: usize,
        buf: &mut [u8],
        l: &Layout,
        seq_hi: u32,
    ) -> Result<(), EspError> {
        let bad = EspError::BufferTooSmall { need: l.end };
        let tag = crate::inbound::hmac_icv(
            mac,
            buf.get(l.esp..l.icv).ok_or(bad)?,
            self.esn.then_some(seq_hi),
        );
        let icv = tag.as_ref().get(..icv_len).ok_or(bad)?;
        buf.get_mut(l.icv..l.end).ok_or(bad)?.copy_from_slice(icv);
        Ok(())
    }
}

/// The 8-byte explicit IV of GCM/GMAC (RFC 4106 §3.1, RFC 4543 §3.1).
fn gcm_iv(iv: &[u8; 16]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&iv[..8]);
    out
}

/// GMAC with ESN (RFC 4543 §3.3, with the 64-bit sequence number of RFC 4303 §2.2.1):
/// AAD = SPI || Seq-hi || Seq-lo || IV || payload || trailer, of which Seq-hi is not sent.
/// The AAD is made contiguous by moving everything after the SPI 4 bytes right, into the
/// ICV's room, and moved back afterwards.
fn gmac_esn_seal(
    key: &aead::LessSafeKey,
    nonce: aead::Nonce,
    buf: &mut [u8],
    l: &Layout,
    seq_hi: u32,
) -> Result<aead::Tag, EspError> {
    let bad = EspError::BufferTooSmall { need: l.end };
    // The ICV (16 bytes) follows `icv`, so `icv + 4 <= end <= buf.len()`.
    let shifted_end = l.icv + 4;
    if shifted_end > l.end || l.end > buf.len() {
        return Err(bad);
    }
    buf.copy_within(l.esp + 4..l.icv, l.esp + 8);
    buf.get_mut(l.esp + 4..l.esp + 8)
        .ok_or(bad)?
        .copy_from_slice(&seq_hi.to_be_bytes());
    let aad = buf.get(l.esp..shifted_end).ok_or(bad)?;
    let tag = key
        .seal_in_place_separate_tag(nonce, aead::Aad::from(aad), &mut [])
        .map_err(|_| EspError::EncryptionFailed);
    buf.copy_within(l.esp + 8..shifted_end, l.esp + 4);
    tag
}
