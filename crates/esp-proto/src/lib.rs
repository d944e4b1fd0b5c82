//! Sans-IO ESP engine for strait's data plane (RFC 4303, tunnel mode).
//!
//! An [`OutboundSa`] turns inner IP packets into ESP packets and an [`InboundSa`] turns
//! them back, both in place in the caller's buffer. No I/O, no clocks, no OS randomness
//! (the CBC IV seed is an input), no allocation per packet (key schedules and HMAC pads
//! are precomputed when the SA is made), and no panics on any input.
//!
//! Transforms ([`Transform`]): AES-GCM-16 128/192/256 (RFC 4106), AES-CBC 128/192/256
//! with HMAC-SHA1-96 / SHA2-256-128 / SHA2-384-192 / SHA2-512-256 (RFC 3602, 2404, 4868),
//! AES-GMAC 128/192/256 (RFC 4543), NULL with HMAC (RFC 2410); extended sequence numbers
//! (RFC 4303 §2.2.1, Appendix A2) and an anti-replay window of at least 1024 packets
//! ([`ReplayWindow`], RFC 4303 §3.4.3).
//!
//! UDP encapsulation (RFC 3948) is the caller's: the ESP packet goes right after the UDP
//! header; [`spi_of`] tells ESP from the non-ESP marker and keepalives on port 4500.
//!
//! ```
//! use esp_proto::{InboundSa, OutboundSa, SaKeys, Transform};
//! let t = Transform::AesGcm16 { key_bits: 128 };
//! let keys = SaKeys { encryption: &[7; 20], integrity: &[] };
//! let mut out = OutboundSa::new(0x1234, t, keys, false, [0; 16])?;
//! let mut inb = InboundSa::new(0x1234, t, keys, false, 1024)?;
//!
//! let inner = [0x45u8; 40]; // an IPv4 packet
//! let start = out.header_len();
//! let mut buf = vec![0u8; start + inner.len() + out.trailer_len(inner.len())];
//! buf[start..start + inner.len()].copy_from_slice(&inner);
//! let esp = out.encapsulate(&mut buf, start, inner.len(), 4)?;
//!
//! let packet = &mut buf[esp];
//! assert_eq!(esp_proto::spi_of(packet), Some(0x1234));
//! let (next_header, range) = inb.decapsulate(packet)?;
//! assert_eq!((next_header, &packet[range]), (4, &inner[..]));
//! # Ok::<(), esp_proto::EspError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Wire and API input reach this crate: no panics by construction (issue 12).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::cast_possible_truncation
    )
)]

mod error;
mod inbound;
mod keys;
mod outbound;
mod replay;
mod transform;

#[cfg(test)]
mod tests;

pub use error::{Counter, EspError};

/// The high and low 32-bit halves of a 64-bit sequence number (RFC 4303 §2.2.1: the wire
/// carries the low half, ESN's implicit high half goes into the ICV, Appendix A).
pub(crate) fn seq_halves(seq: u64) -> (u32, u32) {
    let [h0, h1, h2, h3, l0, l1, l2, l3] = seq.to_be_bytes();
    (
        u32::from_be_bytes([h0, h1, h2, h3]),
        u32::from_be_bytes([l0, l1, l2, l3]),
    )
}
pub use ike_crypto::Integrity;
pub use inbound::InboundSa;
pub use outbound::OutboundSa;
pub use replay::{ReplayWindow, MAX_REPLAY_WINDOW, MIN_REPLAY_WINDOW};
pub use transform::Transform;

/// Key material of one direction of a Child SA, as IKEv2 derives it (RFC 7296 §2.17).
#[derive(Clone, Copy)]
pub struct SaKeys<'a> {
    /// Encryption key; for GCM and GMAC the AES key followed by the 4-byte salt
    /// (RFC 4106 §8.1, RFC 4543 §7.1); empty for NULL.
    pub encryption: &'a [u8],
    /// Integrity key; empty for GCM and GMAC.
    pub integrity: &'a [u8],
}

impl std::fmt::Debug for SaKeys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaKeys")
            .field(
                "encryption",
                &format_args!("<{} bytes>", self.encryption.len()),
            )
            .field(
                "integrity",
                &format_args!("<{} bytes>", self.integrity.len()),
            )
            .finish()
    }
}

/// The SPI of an ESP packet, without decoding the rest, to find its SA (RFC 4303 §2.1).
///
/// None when it cannot be ESP: shorter than the 8-byte ESP header, or SPI 0, which on UDP
/// port 4500 is the non-ESP marker of an IKE message (RFC 3948 §2.2; a 1-byte 0xFF NAT
/// keepalive, §2.3, is too short anyway).
pub fn spi_of(packet: &[u8]) -> Option<u32> {
    match packet {
        [a, b, c, d, _, _, _, _, ..] => {
            let spi = u32::from_be_bytes([*a, *b, *c, *d]);
            (spi != 0).then_some(spi)
        }
        _ => None,
    }
}
