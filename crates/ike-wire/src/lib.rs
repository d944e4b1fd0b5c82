//! IKEv2 message codec (RFC 7296 §3; encrypted fragments RFC 7383 §2.5).
//!
//! Pure and bounded: no I/O, no allocation proportional to anything but the input, every
//! count limited (see [`limits`]), and no panic on any input (fuzzed in `fuzz/`). Encrypted
//! payloads stay opaque here; the protocol crate decrypts them and parses the inner chain
//! with [`parse_payloads`].
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

mod emit;
mod header;
mod payload;
mod reader;
pub mod registry;
mod sa;
mod ts;

use emit::Emitter;
pub use emit::EncodeError;
pub use header::{flags, Header, VERSION_2_0};
use payload::emit_chain;
pub use payload::{
    emit_payloads, parse_payloads, try_emit_payloads, Delete, Encrypted, EncryptedFragment, Notify,
    Payload,
};
pub use registry::*;
pub use sa::{Proposal, Transform, ATTR_KEY_LENGTH};
pub use ts::{TrafficSelector, TsPayload};

/// Bounds on untrusted input.
pub mod limits {
    /// Largest IKE message accepted (RFC 7296 §2: 1280 must be accepted; 64 KiB is the UDP max).
    pub const MESSAGE_MAX: usize = 65_535;
    /// Payloads per message (outer or inner).
    pub const PAYLOADS_MAX: usize = 64;
    /// Proposals per SA payload.
    pub const PROPOSALS_MAX: usize = 64;
    /// Transforms per proposal.
    pub const TRANSFORMS_MAX: usize = 128;
    /// Attributes per transform.
    pub const ATTRIBUTES_MAX: usize = 8;
    /// Selectors per TS payload.
    pub const TRAFFIC_SELECTORS_MAX: usize = 32;
    /// SPIs per Delete payload.
    pub const DELETE_SPIS_MAX: usize = 1024;
    /// Fragments per message (RFC 7383).
    pub const FRAGMENTS_MAX: usize = 64;
}

/// Why bytes are not a valid IKEv2 message. Each maps to INVALID_SYNTAX on the wire, except
/// the version and critical-payload cases, which have their own notifies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than a field needs.
    #[error("{what} is truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Structure being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes there.
        available: usize,
    },
    /// A length field is impossible.
    #[error("{what} has an impossible length {length}")]
    BadLength {
        /// Structure.
        what: &'static str,
        /// The length field.
        length: usize,
    },
    /// More items than the limit.
    #[error("too many {what} (at most {max})")]
    TooMany {
        /// Items.
        what: &'static str,
        /// Limit.
        max: usize,
    },
    /// Structurally wrong.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Structure.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// Major version other than 2 (answered with INVALID_MAJOR_VERSION).
    #[error("IKE major version {0} is not supported (only IKEv2)")]
    UnsupportedVersion(u8),
    /// Unknown payload marked critical (answered with UNSUPPORTED_CRITICAL_PAYLOAD).
    #[error("unsupported critical payload type {0}")]
    UnsupportedCriticalPayload(u8),
}

/// A whole message: header and the outer payload chain (an SK payload stays encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The header; `length` matches the encoded size.
    pub header: Header,
    /// Outer payloads.
    pub payloads: Vec<Payload>,
}

impl Message {
    /// Decode a datagram (without the non-ESP marker).
    pub fn parse(bytes: &[u8]) -> Result<Message, DecodeError> {
        if bytes.len() > limits::MESSAGE_MAX {
            return Err(DecodeError::TooMany {
                what: "message bytes",
                max: limits::MESSAGE_MAX,
            });
        }
        let header = Header::parse(bytes)?;
        if header.major_version() != 2 {
            return Err(DecodeError::UnsupportedVersion(header.major_version()));
        }
        let len = header.length as usize;
        if len != bytes.len() || len < Header::LEN {
            return Err(DecodeError::BadLength {
                what: "IKE message",
                length: len,
            });
        }
        let (_, body) = bytes
            .split_at_checked(Header::LEN)
            .ok_or(DecodeError::BadLength {
                what: "IKE message",
                length: len,
            })?;
        let payloads = parse_payloads(header.next_payload, body)?;
        Ok(Message { header, payloads })
    }

    /// Encode; the header's next payload and length are filled in. Fails when a count or
    /// length does not fit its field on the wire (a payload over 64 KiB, more than 255
    /// selectors ...).
    pub fn try_emit(&self) -> Result<Vec<u8>, EncodeError> {
        match self.encode() {
            (bytes, None) => Ok(bytes),
            (_, Some(e)) => Err(e),
        }
    }

    /// [`Message::try_emit`] for a message known to fit its fields. A count or length that
    /// does not is written saturated (the peer rejects the message as malformed) and fails
    /// a debug assertion.
    pub fn emit(&self) -> Vec<u8> {
        let (bytes, overflow) = self.encode();
        debug_assert!(
            overflow.is_none(),
            "Message::emit on a message that does not fit the wire: {overflow:?}"
        );
        bytes
    }

    fn encode(&self) -> (Vec<u8>, Option<EncodeError>) {
        let mut body = Emitter::default();
        let first = emit_chain(&self.payloads, &mut body);
        let (body, overflow) = body.finish();
        let mut out = Emitter::default();
        let mut header = self.header;
        header.next_payload = first;
        header.length = out.fit_u32("IKE message length", Header::LEN + body.len());
        header.emit(&mut out.out);
        out.extend(&body);
        let (bytes, header_overflow) = out.finish();
        (bytes, overflow.or(header_overflow))
    }

    /// The first notify of a type.
    pub fn notify(&self, t: NotifyType) -> Option<&Notify> {
        find_notify(&self.payloads, t)
    }
}

/// The first notify of type `t` in a payload list.
pub fn find_notify(payloads: &[Payload], t: NotifyType) -> Option<&Notify> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.notify_type == t => Some(n),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        Message {
            header: Header {
                spi_i: [1; 8],
                spi_r: [0; 8],
                next_payload: PayloadType::NONE,
                version: VERSION_2_0,
                exchange: ExchangeType::IKE_SA_INIT,
                flags: flags::INITIATOR,
                message_id: 0,
                length: 0,
            },
            payloads: vec![
                Payload::Sa(vec![Proposal {
                    number: 1,
                    protocol: ProtocolId::IKE,
                    spi: vec![],
                    transforms: vec![
                        Transform::with_key_length(
                            TransformType::ENCR,
                            EncrId::ENCR_AES_CBC.0,
                            128,
                        ),
                        Transform::new(TransformType::INTEG, IntegId::AUTH_HMAC_SHA2_256_128.0),
                        Transform::new(TransformType::PRF, PrfId::PRF_HMAC_SHA2_256.0),
                        Transform::new(TransformType::DH, DhId::MODP_2048.0),
                    ],
                }]),
                Payload::Ke {
                    group: 14,
                    data: vec![7; 256],
                },
                Payload::Nonce(vec![9; 32]),
                Payload::Notify(Notify::new(
                    NotifyType::NAT_DETECTION_SOURCE_IP,
                    vec![1; 20],
                )),
                Payload::ts_i(vec![TrafficSelector::ANY_V4, TrafficSelector::ANY_V6]),
                Payload::Delete(Delete {
                    protocol: ProtocolId::ESP,
                    spis: vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]],
                }),
            ],
        }
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let bytes = m.emit();
        let back = Message::parse(&bytes).unwrap();
        assert_eq!(back.payloads, m.payloads);
        assert_eq!(back.header.length as usize, bytes.len());
        assert_eq!(back.emit(), bytes);
    }

    #[test]
    fn rejects_truncation_everywhere() {
        let bytes = sample().emit();
        for cut in 0..bytes.len() {
            assert!(Message::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn unknown_critical_payload_is_reported() {
        let mut bytes = sample().emit();
        // Turn the first payload's type into an unknown one and mark it critical.
        bytes[16] = 200;
        bytes[Header::LEN + 1] = 0x80;
        assert_eq!(
            Message::parse(&bytes),
            Err(DecodeError::UnsupportedCriticalPayload(200))
        );
        bytes[Header::LEN + 1] = 0;
        let m = Message::parse(&bytes).unwrap();
        assert!(matches!(m.payloads[0], Payload::Unknown { .. }));
    }

    #[test]
    fn wrong_version() {
        let mut bytes = sample().emit();
        bytes[17] = 0x10;
        assert_eq!(
            Message::parse(&bytes),
            Err(DecodeError::UnsupportedVersion(1))
        );
    }

    #[test]
    fn try_emit_matches_emit_when_everything_fits() {
        let m = sample();
        assert_eq!(m.try_emit(), Ok(m.emit()));
        assert_eq!(
            try_emit_payloads(&m.payloads),
            Ok(emit_payloads(&m.payloads))
        );
    }

    fn overflow_of(payload: Payload) -> Result<Vec<u8>, EncodeError> {
        let mut m = sample();
        m.payloads.push(payload);
        m.try_emit()
    }

    #[test]
    fn counts_and_lengths_that_do_not_fit_their_fields_are_errors() {
        let mut notify = Notify::new(NotifyType::REKEY_SA, vec![]);
        notify.spi = vec![0; 256];
        assert_eq!(
            overflow_of(Payload::Notify(notify)),
            Err(EncodeError::FieldOverflow {
                field: "notify SPI size",
                value: 256,
                bits: 8
            })
        );
        assert_eq!(
            overflow_of(Payload::ts_r(vec![TrafficSelector::ANY_V4; 256])),
            Err(EncodeError::FieldOverflow {
                field: "traffic selector count",
                value: 256,
                bits: 8
            })
        );
        assert_eq!(
            overflow_of(Payload::Delete(Delete {
                protocol: ProtocolId::ESP,
                spis: vec![vec![0; 4]; 65_536],
            })),
            Err(EncodeError::FieldOverflow {
                field: "delete SPI count",
                value: 65_536,
                bits: 16
            })
        );
        // 4 bytes of generic header + 1 of encoding + the data.
        assert_eq!(
            overflow_of(Payload::Cert {
                encoding: CertEncoding(4),
                data: vec![0; 65_531],
            }),
            Err(EncodeError::FieldOverflow {
                field: "payload length",
                value: 65_536,
                bits: 16
            })
        );
        let mut transforms = vec![Transform::new(TransformType::ENCR, 12); 256];
        let too_many = overflow_of(Payload::Sa(vec![Proposal {
            number: 1,
            protocol: ProtocolId::ESP,
            spi: vec![0; 4],
            transforms: transforms.clone(),
        }]));
        assert_eq!(
            too_many,
            Err(EncodeError::FieldOverflow {
                field: "transform count",
                value: 256,
                bits: 8
            })
        );
        // 255 transforms of 8 bytes each fit every field.
        transforms.truncate(255);
        assert!(overflow_of(Payload::Sa(vec![Proposal {
            number: 1,
            protocol: ProtocolId::ESP,
            spi: vec![0; 4],
            transforms,
        }]))
        .is_ok());
    }

    #[test]
    fn the_largest_payload_that_fits_is_emitted_and_parses() {
        let m = Message {
            payloads: vec![Payload::Cert {
                encoding: CertEncoding(4),
                data: vec![0; 65_530],
            }],
            ..sample()
        };
        let bytes = m.try_emit().unwrap();
        assert_eq!(bytes.len(), Header::LEN + 65_535);
        // Larger than MESSAGE_MAX as a whole, so only the payload chain parses back.
        let back = parse_payloads(PayloadType::CERT, &bytes[Header::LEN..]).unwrap();
        assert_eq!(back, m.payloads);
    }

    #[test]
    #[should_panic(expected = "does not fit the wire")]
    fn emit_asserts_in_debug_builds_on_what_does_not_fit() {
        let mut m = sample();
        m.payloads
            .push(Payload::ts_r(vec![TrafficSelector::ANY_V4; 256]));
        let _ = m.emit();
    }
}
