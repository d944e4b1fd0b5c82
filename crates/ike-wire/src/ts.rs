//! Traffic selectors (RFC 7296 §3.13).
//!
//! ```text
//! |   TS Type     |IP Protocol ID*|       Selector Length         |
//! |           Start Port*         |           End Port*           |
//! ~                         Starting Address*                     ~
//! ~                         Ending Address*                       ~
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::emit::Emitter;
use crate::limits;
use crate::reader::Reader;
use crate::registry::TsType;
use crate::DecodeError;

/// One traffic selector: an address range, a protocol and a port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrafficSelector {
    /// IP protocol (0 = any).
    pub ip_protocol: u8,
    /// First port.
    pub start_port: u16,
    /// Last port.
    pub end_port: u16,
    /// First address.
    pub start: IpAddr,
    /// Last address.
    pub end: IpAddr,
}

impl TrafficSelector {
    /// Everything IPv4: 0.0.0.0-255.255.255.255, any protocol and port (route-based).
    pub const ANY_V4: TrafficSelector = TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: 65535,
        start: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        end: IpAddr::V4(Ipv4Addr::BROADCAST),
    };

    /// Everything IPv6: ::-ffff:...:ffff, any protocol and port.
    pub const ANY_V6: TrafficSelector = TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: 65535,
        start: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        end: IpAddr::V6(Ipv6Addr::new(
            0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
        )),
    };

    /// Whether this selector covers every address, protocol and port of its family.
    pub fn is_any(&self) -> bool {
        *self == Self::ANY_V4 || *self == Self::ANY_V6
    }

    /// The TS type of the address family.
    pub fn ts_type(&self) -> TsType {
        if self.start.is_ipv4() {
            TsType::TS_IPV4_ADDR_RANGE
        } else {
            TsType::TS_IPV6_ADDR_RANGE
        }
    }
}

impl std::fmt::Display for TrafficSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start, self.end)?;
        if self.ip_protocol != 0 || self.start_port != 0 || self.end_port != 65535 {
            write!(
                f,
                "[proto {} ports {}-{}]",
                self.ip_protocol, self.start_port, self.end_port
            )?;
        }
        Ok(())
    }
}

/// A TS payload may also carry selector types this implementation does not know; they are
/// kept so that the responder can narrow them away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsPayload {
    /// The understood selectors.
    pub selectors: Vec<TrafficSelector>,
    /// How many selectors of unknown types were skipped.
    pub unknown: usize,
}

pub(crate) fn parse_ts(body: &[u8]) -> Result<TsPayload, DecodeError> {
    let mut r = Reader::new(body, "traffic selector payload");
    let count = usize::from(r.u8()?);
    r.take(3)?;
    if count > limits::TRAFFIC_SELECTORS_MAX {
        return Err(DecodeError::TooMany {
            what: "traffic selectors",
            max: limits::TRAFFIC_SELECTORS_MAX,
        });
    }
    if count == 0 {
        return Err(DecodeError::Invalid {
            what: "traffic selector payload",
            reason: "it holds no selector",
        });
    }
    let mut selectors = Vec::with_capacity(count);
    let mut unknown = 0;
    for _ in 0..count {
        let ts_type = TsType(r.u8()?);
        let ip_protocol = r.u8()?;
        let len = usize::from(r.u16()?);
        if len < 4 {
            return Err(DecodeError::BadLength {
                what: "traffic selector",
                length: len,
            });
        }
        let mut s = Reader::new(r.take(len - 4)?, "traffic selector");
        let (start, end) = match ts_type {
            TsType::TS_IPV4_ADDR_RANGE if len == 16 => {
                let start_port = s.u16()?;
                let end_port = s.u16()?;
                let start = IpAddr::V4(Ipv4Addr::from(s.array::<4>()?));
                let end = IpAddr::V4(Ipv4Addr::from(s.array::<4>()?));
                ((start_port, start), (end_port, end))
            }
            TsType::TS_IPV6_ADDR_RANGE if len == 40 => {
                let start_port = s.u16()?;
                let end_port = s.u16()?;
                let start = IpAddr::V6(Ipv6Addr::from(s.array::<16>()?));
                let end = IpAddr::V6(Ipv6Addr::from(s.array::<16>()?));
                ((start_port, start), (end_port, end))
            }
            TsType::TS_IPV4_ADDR_RANGE | TsType::TS_IPV6_ADDR_RANGE => {
                return Err(DecodeError::BadLength {
                    what: "traffic selector",
                    length: len,
                });
            }
            _ => {
                unknown += 1;
                continue;
            }
        };
        selectors.push(TrafficSelector {
            ip_protocol,
            start_port: start.0,
            end_port: end.0,
            start: start.1,
            end: end.1,
        });
    }
    if !r.is_empty() {
        return Err(DecodeError::Invalid {
            what: "traffic selector payload",
            reason: "bytes after the last selector",
        });
    }
    Ok(TsPayload { selectors, unknown })
}

pub(crate) fn emit_ts(selectors: &[TrafficSelector], out: &mut Emitter) {
    let count = out.fit_u8("traffic selector count", selectors.len());
    out.push(count);
    out.extend(&[0, 0, 0]);
    for s in selectors {
        out.push(s.ts_type().0);
        out.push(s.ip_protocol);
        let len: u16 = if s.start.is_ipv4() { 16 } else { 40 };
        out.extend(&len.to_be_bytes());
        out.extend(&s.start_port.to_be_bytes());
        out.extend(&s.end_port.to_be_bytes());
        for a in [s.start, s.end] {
            match a {
                IpAddr::V4(v4) => out.extend(&v4.octets()),
                IpAddr::V6(v6) => out.extend(&v6.octets()),
            }
        }
    }
}
