//! Security Association payload: proposals and transforms (RFC 7296 §3.3).
//!
//! ```text
//! Proposal substructure:
//! | Last Substruc |   RESERVED    |         Proposal Length       |
//! | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
//! ~                        SPI (variable)                         ~
//! ~                        <Transforms>                           ~
//! Transform substructure:
//! | Last Substruc |   RESERVED    |        Transform Length       |
//! |Transform Type |   RESERVED    |          Transform ID         |
//! ~                      Transform Attributes                     ~
//! Attribute: |A|       Attribute Type        |    AttValue|AttLength  | [value]
//! ```

use crate::emit::Emitter;
use crate::limits;
use crate::reader::Reader;
use crate::registry::{ProtocolId, TransformType};
use crate::DecodeError;

/// The Key Length attribute (RFC 7296 §3.3.5), the only attribute IKEv2 defines.
pub const ATTR_KEY_LENGTH: u16 = 14;

/// One transform of a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transform {
    /// Transform type (ENCR, PRF, INTEG, DH, ESN).
    pub transform_type: TransformType,
    /// Transform ID within its type.
    pub id: u16,
    /// Key Length attribute, in bits (AES).
    pub key_length: Option<u16>,
    /// Whether the transform carried attributes other than Key Length (it must then be
    /// rejected: RFC 7296 §3.3.6, "unrecognized attribute").
    pub has_unknown_attributes: bool,
}

impl Transform {
    /// A transform without attributes.
    pub fn new(transform_type: TransformType, id: u16) -> Transform {
        Transform {
            transform_type,
            id,
            key_length: None,
            has_unknown_attributes: false,
        }
    }

    /// A transform with a key length attribute.
    pub fn with_key_length(transform_type: TransformType, id: u16, bits: u16) -> Transform {
        Transform {
            transform_type,
            id,
            key_length: Some(bits),
            has_unknown_attributes: false,
        }
    }
}

/// One proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Proposal number (1 for the first, consecutive).
    pub number: u8,
    /// IKE or ESP.
    pub protocol: ProtocolId,
    /// SPI: empty in IKE_SA_INIT, 8 bytes for IKE rekeys, 4 for ESP.
    pub spi: Vec<u8>,
    /// The transforms.
    pub transforms: Vec<Transform>,
}

impl Proposal {
    /// Transforms of one type, in order.
    pub fn of_type(&self, t: TransformType) -> impl Iterator<Item = &Transform> {
        self.transforms
            .iter()
            .filter(move |x| x.transform_type == t)
    }
}

pub(crate) fn parse_sa(body: &[u8]) -> Result<Vec<Proposal>, DecodeError> {
    let mut r = Reader::new(body, "SA payload");
    let mut proposals = Vec::new();
    loop {
        if proposals.len() >= limits::PROPOSALS_MAX {
            return Err(DecodeError::TooMany {
                what: "proposals",
                max: limits::PROPOSALS_MAX,
            });
        }
        let last = r.u8()?;
        let _reserved = r.u8()?;
        let len = usize::from(r.u16()?);
        if len < 8 {
            return Err(DecodeError::BadLength {
                what: "proposal",
                length: len,
            });
        }
        let mut p = Reader::new(r.take(len - 4)?, "proposal");
        let number = p.u8()?;
        let protocol = ProtocolId(p.u8()?);
        let spi_size = usize::from(p.u8()?);
        let n_transforms = usize::from(p.u8()?);
        let spi = p.take(spi_size)?.to_vec();
        if n_transforms > limits::TRANSFORMS_MAX {
            return Err(DecodeError::TooMany {
                what: "transforms in a proposal",
                max: limits::TRANSFORMS_MAX,
            });
        }
        let mut transforms = Vec::with_capacity(n_transforms);
        for i in 0..n_transforms {
            let t_last = p.u8()?;
            let _ = p.u8()?;
            let t_len = usize::from(p.u16()?);
            if t_len < 8 {
                return Err(DecodeError::BadLength {
                    what: "transform",
                    length: t_len,
                });
            }
            let mut t = Reader::new(p.take(t_len - 4)?, "transform");
            let transform_type = TransformType(t.u8()?);
            let _ = t.u8()?;
            let id = t.u16()?;
            let mut key_length = None;
            let mut has_unknown_attributes = false;
            let mut attrs = 0;
            while !t.is_empty() {
                attrs += 1;
                if attrs > limits::ATTRIBUTES_MAX {
                    return Err(DecodeError::TooMany {
                        what: "transform attributes",
                        max: limits::ATTRIBUTES_MAX,
                    });
                }
                let af_type = t.u16()?;
                let tv = af_type & 0x8000 != 0;
                let attr_type = af_type & 0x7fff;
                let value = if tv {
                    Some(t.u16()?)
                } else {
                    let l = usize::from(t.u16()?);
                    t.take(l)?;
                    None
                };
                match (attr_type, value) {
                    (ATTR_KEY_LENGTH, Some(v)) => key_length = Some(v),
                    _ => has_unknown_attributes = true,
                }
            }
            let expected_last = if i + 1 == n_transforms { 0 } else { 3 };
            if t_last != expected_last {
                return Err(DecodeError::Invalid {
                    what: "transform",
                    reason: "the Last Substruc field does not match the transform count",
                });
            }
            transforms.push(Transform {
                transform_type,
                id,
                key_length,
                has_unknown_attributes,
            });
        }
        if !p.is_empty() {
            return Err(DecodeError::Invalid {
                what: "proposal",
                reason: "bytes after the last transform",
            });
        }
        proposals.push(Proposal {
            number,
            protocol,
            spi,
            transforms,
        });
        match last {
            0 => break,
            2 => continue,
            _ => {
                return Err(DecodeError::Invalid {
                    what: "proposal",
                    reason: "the Last Substruc field is neither 0 nor 2",
                })
            }
        }
    }
    if !r.is_empty() {
        return Err(DecodeError::Invalid {
            what: "SA payload",
            reason: "bytes after the last proposal",
        });
    }
    Ok(proposals)
}

pub(crate) fn emit_sa(proposals: &[Proposal], out: &mut Emitter) {
    for (i, p) in proposals.iter().enumerate() {
        let last = if i + 1 == proposals.len() { 0 } else { 2 };
        let proposal = out.reserve_length("proposal length", &[last, 0]);
        out.push(p.number);
        out.push(p.protocol.0);
        let spi_size = out.fit_u8("proposal SPI size", p.spi.len());
        out.push(spi_size);
        let transforms = out.fit_u8("transform count", p.transforms.len());
        out.push(transforms);
        out.extend(&p.spi);
        for (j, t) in p.transforms.iter().enumerate() {
            let last = if j + 1 == p.transforms.len() { 0 } else { 3 };
            let transform = out.reserve_length("transform length", &[last, 0]);
            out.push(t.transform_type.0);
            out.push(0);
            out.extend(&t.id.to_be_bytes());
            if let Some(bits) = t.key_length {
                out.extend(&(0x8000 | ATTR_KEY_LENGTH).to_be_bytes());
                out.extend(&bits.to_be_bytes());
            }
            out.fill_length(transform);
        }
        out.fill_length(proposal);
    }
}
