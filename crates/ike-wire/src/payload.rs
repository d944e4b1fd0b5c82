//! Payloads (RFC 7296 §3.2-§3.16, RFC 7383 §2.5) and payload chains.
//!
//! ```text
//! Generic payload header:
//! | Next Payload  |C|  RESERVED   |         Payload Length        |
//! ```

use crate::emit::{Emitter, EncodeError};
use crate::limits;
use crate::reader::Reader;
use crate::registry::{AuthMethod, CertEncoding, IdType, NotifyType, PayloadType, ProtocolId};
use crate::sa::{emit_sa, parse_sa, Proposal};
use crate::ts::{emit_ts, parse_ts, TrafficSelector, TsPayload};
use crate::DecodeError;

/// Notify payload (§3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// Protocol the SPI belongs to (0 when there is none).
    pub protocol: ProtocolId,
    /// SPI (usually empty).
    pub spi: Vec<u8>,
    /// The notify type.
    pub notify_type: NotifyType,
    /// Notification data.
    pub data: Vec<u8>,
}

impl Notify {
    /// A notify without SPI.
    pub fn new(notify_type: NotifyType, data: Vec<u8>) -> Notify {
        Notify {
            protocol: ProtocolId(0),
            spi: Vec::new(),
            notify_type,
            data,
        }
    }
}

/// Delete payload (§3.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// IKE (no SPIs: the SA carrying the message) or ESP/AH.
    pub protocol: ProtocolId,
    /// SPIs of the deleted SAs (each 4 bytes for ESP).
    pub spis: Vec<Vec<u8>>,
}

/// The encrypted payload (§3.14) as it travels: the first inner payload's type and the opaque
/// `IV | ciphertext | ICV`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypted {
    /// Type of the first payload inside.
    pub inner_first: PayloadType,
    /// `IV | encrypted content | ICV`.
    pub data: Vec<u8>,
}

/// An encrypted fragment (RFC 7383 §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedFragment {
    /// Type of the first inner payload (fragment 1 only; 0 otherwise).
    pub inner_first: PayloadType,
    /// Fragment number, from 1.
    pub number: u16,
    /// Total fragments.
    pub total: u16,
    /// `IV | encrypted content | ICV`.
    pub data: Vec<u8>,
}

/// Any IKEv2 payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Payload {
    /// Security association: proposals.
    Sa(Vec<Proposal>),
    /// Key exchange: DH group and public value.
    Ke { group: u16, data: Vec<u8> },
    /// Initiator identification.
    IdI { id_type: IdType, data: Vec<u8> },
    /// Responder identification.
    IdR { id_type: IdType, data: Vec<u8> },
    /// Certificate.
    Cert {
        encoding: CertEncoding,
        data: Vec<u8>,
    },
    /// Certificate request.
    CertReq {
        encoding: CertEncoding,
        data: Vec<u8>,
    },
    /// Authentication.
    Auth { method: AuthMethod, data: Vec<u8> },
    /// Nonce.
    Nonce(Vec<u8>),
    /// Notify.
    Notify(Notify),
    /// Delete.
    Delete(Delete),
    /// Vendor ID.
    VendorId(Vec<u8>),
    /// Initiator traffic selectors.
    TsI(TsPayload),
    /// Responder traffic selectors.
    TsR(TsPayload),
    /// Encrypted and authenticated.
    Sk(Encrypted),
    /// Encrypted fragment.
    Skf(EncryptedFragment),
    /// Configuration (kept raw).
    Cp(Vec<u8>),
    /// EAP (kept raw).
    Eap(Vec<u8>),
    /// A non-critical payload this implementation does not know (skipped, §2.5).
    Unknown {
        payload_type: PayloadType,
        data: Vec<u8>,
    },
}

impl Payload {
    /// The payload's type.
    pub fn payload_type(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::SA,
            Payload::Ke { .. } => PayloadType::KE,
            Payload::IdI { .. } => PayloadType::IDI,
            Payload::IdR { .. } => PayloadType::IDR,
            Payload::Cert { .. } => PayloadType::CERT,
            Payload::CertReq { .. } => PayloadType::CERTREQ,
            Payload::Auth { .. } => PayloadType::AUTH,
            Payload::Nonce(_) => PayloadType::NONCE,
            Payload::Notify(_) => PayloadType::NOTIFY,
            Payload::Delete(_) => PayloadType::DELETE,
            Payload::VendorId(_) => PayloadType::VENDOR_ID,
            Payload::TsI(_) => PayloadType::TSI,
            Payload::TsR(_) => PayloadType::TSR,
            Payload::Sk(_) => PayloadType::SK,
            Payload::Skf(_) => PayloadType::SKF,
            Payload::Cp(_) => PayloadType::CP,
            Payload::Eap(_) => PayloadType::EAP,
            Payload::Unknown { payload_type, .. } => *payload_type,
        }
    }

    /// Traffic selector payload from selectors.
    pub fn ts_i(selectors: Vec<TrafficSelector>) -> Payload {
        Payload::TsI(TsPayload {
            selectors,
            unknown: 0,
        })
    }

    /// Traffic selector payload from selectors.
    pub fn ts_r(selectors: Vec<TrafficSelector>) -> Payload {
        Payload::TsR(TsPayload {
            selectors,
            unknown: 0,
        })
    }

    /// The body of an ID payload as covered by AUTH (§2.15: "RestOfIDPayload", the ID type,
    /// reserved bytes and data, without the generic header).
    pub fn id_body(id_type: IdType, data: &[u8]) -> Vec<u8> {
        let mut v = vec![id_type.0, 0, 0, 0];
        v.extend_from_slice(data);
        v
    }

    fn emit_body(&self, out: &mut Emitter) {
        match self {
            Payload::Sa(p) => emit_sa(p, out),
            Payload::Ke { group, data } => {
                out.extend(&group.to_be_bytes());
                out.extend(&[0, 0]);
                out.extend(data);
            }
            Payload::IdI { id_type, data } | Payload::IdR { id_type, data } => {
                out.extend(&Payload::id_body(*id_type, data));
            }
            Payload::Cert { encoding, data } | Payload::CertReq { encoding, data } => {
                out.push(encoding.0);
                out.extend(data);
            }
            Payload::Auth { method, data } => {
                out.extend(&[method.0, 0, 0, 0]);
                out.extend(data);
            }
            Payload::Nonce(d) | Payload::VendorId(d) | Payload::Cp(d) | Payload::Eap(d) => {
                out.extend(d)
            }
            Payload::Notify(n) => {
                out.push(n.protocol.0);
                let spi_size = out.fit_u8("notify SPI size", n.spi.len());
                out.push(spi_size);
                out.extend(&n.notify_type.0.to_be_bytes());
                out.extend(&n.spi);
                out.extend(&n.data);
            }
            Payload::Delete(d) => {
                out.push(d.protocol.0);
                let spi_size = d.spis.first().map_or(0, Vec::len);
                let spi_size = out.fit_u8("delete SPI size", spi_size);
                out.push(spi_size);
                let count = out.fit_u16("delete SPI count", d.spis.len());
                out.extend(&count.to_be_bytes());
                for s in &d.spis {
                    out.extend(s);
                }
            }
            Payload::TsI(t) | Payload::TsR(t) => emit_ts(&t.selectors, out),
            Payload::Sk(e) => out.extend(&e.data),
            Payload::Skf(f) => {
                out.extend(&f.number.to_be_bytes());
                out.extend(&f.total.to_be_bytes());
                out.extend(&f.data);
            }
            Payload::Unknown { data, .. } => out.extend(data),
        }
    }
}

fn parse_body(t: PayloadType, body: &[u8], next: PayloadType) -> Result<Payload, DecodeError> {
    let mut r = Reader::new(body, "payload");
    Ok(match t {
        PayloadType::SA => Payload::Sa(parse_sa(body)?),
        PayloadType::KE => {
            let group = r.u16()?;
            r.take(2)?;
            Payload::Ke {
                group,
                data: r.rest().to_vec(),
            }
        }
        PayloadType::IDI | PayloadType::IDR => {
            let id_type = IdType(r.u8()?);
            r.take(3)?;
            let data = r.rest().to_vec();
            if t == PayloadType::IDI {
                Payload::IdI { id_type, data }
            } else {
                Payload::IdR { id_type, data }
            }
        }
        PayloadType::CERT | PayloadType::CERTREQ => {
            let encoding = CertEncoding(r.u8()?);
            let data = r.rest().to_vec();
            if t == PayloadType::CERT {
                Payload::Cert { encoding, data }
            } else {
                Payload::CertReq { encoding, data }
            }
        }
        PayloadType::AUTH => {
            let method = AuthMethod(r.u8()?);
            r.take(3)?;
            Payload::Auth {
                method,
                data: r.rest().to_vec(),
            }
        }
        PayloadType::NONCE => Payload::Nonce(body.to_vec()),
        PayloadType::NOTIFY => {
            let protocol = ProtocolId(r.u8()?);
            let spi_size = usize::from(r.u8()?);
            let notify_type = NotifyType(r.u16()?);
            let spi = r.take(spi_size)?.to_vec();
            Payload::Notify(Notify {
                protocol,
                spi,
                notify_type,
                data: r.rest().to_vec(),
            })
        }
        PayloadType::DELETE => {
            let protocol = ProtocolId(r.u8()?);
            let spi_size = usize::from(r.u8()?);
            let count = usize::from(r.u16()?);
            if count > limits::DELETE_SPIS_MAX {
                return Err(DecodeError::TooMany {
                    what: "SPIs in a Delete payload",
                    max: limits::DELETE_SPIS_MAX,
                });
            }
            if spi_size.checked_mul(count) != Some(r.remaining()) {
                return Err(DecodeError::Invalid {
                    what: "Delete payload",
                    reason: "SPI size times count does not match its length",
                });
            }
            let spis = (0..count)
                .map(|_| r.take(spi_size).map(<[u8]>::to_vec))
                .collect::<Result<_, _>>()?;
            Payload::Delete(Delete { protocol, spis })
        }
        PayloadType::VENDOR_ID => Payload::VendorId(body.to_vec()),
        PayloadType::TSI => Payload::TsI(parse_ts(body)?),
        PayloadType::TSR => Payload::TsR(parse_ts(body)?),
        PayloadType::SK => Payload::Sk(Encrypted {
            inner_first: next,
            data: body.to_vec(),
        }),
        PayloadType::SKF => {
            let number = r.u16()?;
            let total = r.u16()?;
            if number == 0
                || total == 0
                || number > total
                || usize::from(total) > limits::FRAGMENTS_MAX
            {
                return Err(DecodeError::Invalid {
                    what: "encrypted fragment",
                    reason: "its fragment number or total is out of range",
                });
            }
            Payload::Skf(EncryptedFragment {
                inner_first: next,
                number,
                total,
                data: r.rest().to_vec(),
            })
        }
        PayloadType::CP => Payload::Cp(body.to_vec()),
        PayloadType::EAP => Payload::Eap(body.to_vec()),
        other => Payload::Unknown {
            payload_type: other,
            data: body.to_vec(),
        },
    })
}

/// Parse a payload chain starting with a payload of type `first`.
///
/// An SK or SKF payload ends the chain (RFC 7296 §3.14: it must be last); its Next Payload
/// field names the first payload inside it. An unknown payload with the critical bit set is
/// an error (the caller answers UNSUPPORTED_CRITICAL_PAYLOAD); without it, it is skipped.
pub fn parse_payloads(first: PayloadType, bytes: &[u8]) -> Result<Vec<Payload>, DecodeError> {
    let mut r = Reader::new(bytes, "payload chain");
    let mut out = Vec::new();
    let mut t = first;
    while t != PayloadType::NONE {
        if out.len() >= limits::PAYLOADS_MAX {
            return Err(DecodeError::TooMany {
                what: "payloads in a message",
                max: limits::PAYLOADS_MAX,
            });
        }
        let next = PayloadType(r.u8()?);
        let critical = r.u8()? & 0x80 != 0;
        let len = usize::from(r.u16()?);
        if len < 4 {
            return Err(DecodeError::BadLength {
                what: "payload",
                length: len,
            });
        }
        let body = r.take(len - 4)?;
        let known = t.name().is_some() && t != PayloadType::NONE;
        if !known && critical {
            return Err(DecodeError::UnsupportedCriticalPayload(t.0));
        }
        let payload = parse_body(t, body, next)?;
        let ends_chain = matches!(payload, Payload::Sk(_) | Payload::Skf(_));
        out.push(payload);
        if ends_chain {
            if !r.is_empty() {
                return Err(DecodeError::Invalid {
                    what: "message",
                    reason: "data after the encrypted payload",
                });
            }
            return Ok(out);
        }
        t = next;
    }
    if !r.is_empty() {
        return Err(DecodeError::Invalid {
            what: "payload chain",
            reason: "data after the last payload",
        });
    }
    Ok(out)
}

/// Encode a payload chain; returns the type of the first payload (NONE if empty) and the
/// bytes. An SK/SKF payload must be last; its Next Payload field is its `inner_first`.
///
/// Fails when a count or length does not fit its field on the wire (a payload over 64 KiB,
/// more than 255 selectors ...).
pub fn try_emit_payloads(payloads: &[Payload]) -> Result<(PayloadType, Vec<u8>), EncodeError> {
    let mut out = Emitter::default();
    let first = emit_chain(payloads, &mut out);
    match out.finish() {
        (bytes, None) => Ok((first, bytes)),
        (_, Some(e)) => Err(e),
    }
}

/// [`try_emit_payloads`] for payloads known to fit their fields. A count or length that
/// does not is written saturated (the peer rejects the chain as malformed) and fails a
/// debug assertion.
pub fn emit_payloads(payloads: &[Payload]) -> (PayloadType, Vec<u8>) {
    let mut out = Emitter::default();
    let first = emit_chain(payloads, &mut out);
    let (bytes, overflow) = out.finish();
    debug_assert!(
        overflow.is_none(),
        "emit_payloads on payloads that do not fit the wire: {overflow:?}"
    );
    (first, bytes)
}

/// Appends the chain; returns the type of its first payload.
pub(crate) fn emit_chain(payloads: &[Payload], out: &mut Emitter) -> PayloadType {
    for (i, p) in payloads.iter().enumerate() {
        let next = match p {
            Payload::Sk(e) => e.inner_first,
            Payload::Skf(f) => f.inner_first,
            _ => payloads
                .get(i + 1)
                .map_or(PayloadType::NONE, Payload::payload_type),
        };
        let slot = out.reserve_length("payload length", &[next.0, 0]);
        p.emit_body(out);
        out.fill_length(slot);
    }
    payloads
        .first()
        .map_or(PayloadType::NONE, Payload::payload_type)
}
