//! An independent ESP implementation on RustCrypto (aes-gcm, aes + cbc, hmac + sha1/sha2),
//! written straight from the RFCs with Vec and no shared code, for differential tests.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use aes_gcm::AesGcm;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};

use crate::{Integrity, Transform};

/// AES-GCM seal in place with a detached 16-byte tag.
fn gcm_seal(key: &[u8], nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Vec<u8> {
    let n = GenericArray::from_slice(nonce);
    let tag = match key.len() {
        16 => AesGcm::<Aes128, U12>::new_from_slice(key)
            .unwrap()
            .encrypt_in_place_detached(n, aad, buf),
        24 => AesGcm::<Aes192, U12>::new_from_slice(key)
            .unwrap()
            .encrypt_in_place_detached(n, aad, buf),
        32 => AesGcm::<Aes256, U12>::new_from_slice(key)
            .unwrap()
            .encrypt_in_place_detached(n, aad, buf),
        _ => panic!("AES key length"),
    };
    tag.unwrap().to_vec()
}

/// AES-GCM open in place; false if the tag is wrong.
fn gcm_open(key: &[u8], nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
    let n = GenericArray::from_slice(nonce);
    let t = GenericArray::from_slice(tag);
    match key.len() {
        16 => AesGcm::<Aes128, U12>::new_from_slice(key)
            .unwrap()
            .decrypt_in_place_detached(n, aad, buf, t),
        24 => AesGcm::<Aes192, U12>::new_from_slice(key)
            .unwrap()
            .decrypt_in_place_detached(n, aad, buf, t),
        32 => AesGcm::<Aes256, U12>::new_from_slice(key)
            .unwrap()
            .decrypt_in_place_detached(n, aad, buf, t),
        _ => panic!("AES key length"),
    }
    .is_ok()
}

/// AES-CBC without padding (RFC 3602).
fn cbc(key: &[u8], iv: &[u8], buf: &mut [u8], encrypt: bool) {
    assert_eq!(buf.len() % 16, 0, "CBC needs whole blocks");
    macro_rules! run {
        ($aes:ty) => {
            if encrypt {
                let mut c = cbc::Encryptor::<$aes>::new_from_slices(key, iv).unwrap();
                for b in buf.chunks_exact_mut(16) {
                    c.encrypt_block_mut(GenericArray::from_mut_slice(b));
                }
            } else {
                let mut c = cbc::Decryptor::<$aes>::new_from_slices(key, iv).unwrap();
                for b in buf.chunks_exact_mut(16) {
                    c.decrypt_block_mut(GenericArray::from_mut_slice(b));
                }
            }
        };
    }
    match key.len() {
        16 => run!(aes::Aes128),
        24 => run!(aes::Aes192),
        32 => run!(aes::Aes256),
        _ => panic!("AES key length"),
    }
}

/// Truncated HMAC over the concatenation of `parts` (RFC 2404, RFC 4868).
fn hmac(integ: Integrity, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    macro_rules! run {
        ($h:ty) => {{
            let mut m = <Hmac<$h> as Mac>::new_from_slice(key).unwrap();
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }};
    }
    let full = match integ {
        Integrity::HmacSha1_96 => run!(sha1::Sha1),
        Integrity::HmacSha256_128 => run!(sha2::Sha256),
        Integrity::HmacSha384_192 => run!(sha2::Sha384),
        Integrity::HmacSha512_256 => run!(sha2::Sha512),
    };
    full[..integ.icv_len()].to_vec()
}

/// One ESP packet to build.
pub struct Plain<'a> {
    pub transform: Transform,
    pub enc_key: &'a [u8],
    pub integ_key: &'a [u8],
    pub esn: bool,
    pub spi: u32,
    pub seq: u64,
    /// 8 bytes used for GCM/GMAC, 16 for CBC.
    pub iv: [u8; 16],
    pub payload: &'a [u8],
    pub next_header: u8,
    /// None: the default 1, 2, 3, ... to the alignment.
    pub padding: Option<Vec<u8>>,
    /// None: the padding's length.
    pub pad_len_override: Option<u8>,
}

fn align(t: Transform) -> usize {
    match t {
        Transform::AesCbc { .. } => 16,
        _ => 4,
    }
}

fn split_salt(enc_key: &[u8]) -> (&[u8], [u8; 4]) {
    let (k, s) = enc_key.split_at(enc_key.len() - 4);
    (k, s.try_into().unwrap())
}

fn nonce(salt: [u8; 4], iv: &[u8]) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&salt);
    n[4..].copy_from_slice(&iv[..8]);
    n
}

/// RFC 4303 §2: SPI | Seq | IV | payload | padding | pad length | next header | ICV.
pub fn encap(p: &Plain<'_>) -> Vec<u8> {
    let padding = p.padding.clone().unwrap_or_else(|| {
        let a = align(p.transform);
        let n = (a - (p.payload.len() + 2) % a) % a;
        (1..=n as u8).collect()
    });
    let mut plain = p.payload.to_vec();
    plain.extend_from_slice(&padding);
    plain.push(p.pad_len_override.unwrap_or(padding.len() as u8));
    plain.push(p.next_header);

    let spi = p.spi.to_be_bytes();
    let lo = (p.seq as u32).to_be_bytes();
    let hi = ((p.seq >> 32) as u32).to_be_bytes();
    let mut out = [spi, lo].concat();
    match p.transform {
        Transform::AesGcm16 { .. } => {
            let (key, salt) = split_salt(p.enc_key);
            let aad = if p.esn {
                [spi, hi, lo].concat()
            } else {
                [spi, lo].concat()
            };
            let tag = gcm_seal(key, &nonce(salt, &p.iv), &aad, &mut plain);
            out.extend_from_slice(&p.iv[..8]);
            out.extend_from_slice(&plain);
            out.extend_from_slice(&tag);
        }
        Transform::NullAuthAesGmac { .. } => {
            let (key, salt) = split_salt(p.enc_key);
            let mut aad = if p.esn {
                [spi, hi, lo].concat()
            } else {
                [spi, lo].concat()
            };
            aad.extend_from_slice(&p.iv[..8]);
            aad.extend_from_slice(&plain);
            let tag = gcm_seal(key, &nonce(salt, &p.iv), &aad, &mut []);
            out.extend_from_slice(&p.iv[..8]);
            out.extend_from_slice(&plain);
            out.extend_from_slice(&tag);
        }
        Transform::AesCbc { integ, .. } => {
            cbc(p.enc_key, &p.iv, &mut plain, true);
            out.extend_from_slice(&p.iv);
            out.extend_from_slice(&plain);
            let hi_part: &[u8] = if p.esn { &hi } else { &[] };
            let icv = hmac(integ, p.integ_key, &[&out, hi_part]);
            out.extend_from_slice(&icv);
        }
        Transform::Null { integ } => {
            out.extend_from_slice(&plain);
            let hi_part: &[u8] = if p.esn { &hi } else { &[] };
            let icv = hmac(integ, p.integ_key, &[&out, hi_part]);
            out.extend_from_slice(&icv);
        }
    }
    out
}

/// What [`decap`] found.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    pub spi: u32,
    pub seq_lo: u32,
    pub next_header: u8,
    pub payload: Vec<u8>,
    pub padding: Vec<u8>,
    /// Length of payload + padding + 2, which must be aligned.
    pub encrypted_len: usize,
}

/// Verifies and decrypts an ESP packet; `seq_hi` is the high half with ESN.
pub fn decap(
    t: Transform,
    enc_key: &[u8],
    integ_key: &[u8],
    esn: bool,
    seq_hi: u32,
    packet: &[u8],
) -> Result<Opened, &'static str> {
    let spi = u32::from_be_bytes(packet[..4].try_into().unwrap());
    let seq_lo = u32::from_be_bytes(packet[4..8].try_into().unwrap());
    let hi = seq_hi.to_be_bytes();
    let mut plain = match t {
        Transform::AesGcm16 { .. } => {
            let (key, salt) = split_salt(enc_key);
            let iv = &packet[8..16];
            let (body, tag) = packet[16..].split_at(packet.len() - 32);
            let aad = if esn {
                [&packet[..4], &hi[..], &packet[4..8]].concat()
            } else {
                packet[..8].to_vec()
            };
            let mut buf = body.to_vec();
            if !gcm_open(key, &nonce(salt, iv), &aad, &mut buf, tag) {
                return Err("GCM tag");
            }
            buf
        }
        Transform::NullAuthAesGmac { .. } => {
            let (key, salt) = split_salt(enc_key);
            let iv = &packet[8..16];
            let (authed, tag) = packet.split_at(packet.len() - 16);
            let aad = if esn {
                [&packet[..4], &hi[..], &authed[4..]].concat()
            } else {
                authed.to_vec()
            };
            if !gcm_open(key, &nonce(salt, iv), &aad, &mut [], tag) {
                return Err("GMAC tag");
            }
            authed[16..].to_vec()
        }
        Transform::AesCbc { integ, .. } => {
            let (authed, icv) = packet.split_at(packet.len() - integ.icv_len());
            let hi_part: &[u8] = if esn { &hi } else { &[] };
            if hmac(integ, integ_key, &[authed, hi_part]) != icv {
                return Err("HMAC");
            }
            let mut buf = authed[24..].to_vec();
            cbc(enc_key, &authed[8..24], &mut buf, false);
            buf
        }
        Transform::Null { integ } => {
            let (authed, icv) = packet.split_at(packet.len() - integ.icv_len());
            let hi_part: &[u8] = if esn { &hi } else { &[] };
            if hmac(integ, integ_key, &[authed, hi_part]) != icv {
                return Err("HMAC");
            }
            authed[8..].to_vec()
        }
    };
    let encrypted_len = plain.len();
    let next_header = plain.pop().ok_or("empty")?;
    let pad = plain.pop().ok_or("empty")? as usize;
    let padding = plain.split_off(plain.len().checked_sub(pad).ok_or("pad length")?);
    Ok(Opened {
        spi,
        seq_lo,
        next_header,
        payload: plain,
        padding,
        encrypted_len,
    })
}
