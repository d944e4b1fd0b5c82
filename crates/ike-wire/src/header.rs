//! The IKE header (RFC 7296 §3.1).
//!
//! ```text
//!                      1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IKE SA Initiator's SPI                  |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IKE SA Responder's SPI                  |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          Message ID                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            Length                             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::reader::Reader;
use crate::registry::{ExchangeType, PayloadType};
use crate::DecodeError;

/// Header flags.
pub mod flags {
    /// Set by the original initiator of the IKE SA.
    pub const INITIATOR: u8 = 0x08;
    /// The sender can speak a higher major version (never set by IKEv2 implementations).
    pub const VERSION: u8 = 0x10;
    /// This message is a response.
    pub const RESPONSE: u8 = 0x20;
}

/// IKEv2 (major version 2, minor 0).
pub const VERSION_2_0: u8 = 0x20;

/// The 28-byte IKE header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Initiator's SPI.
    pub spi_i: [u8; 8],
    /// Responder's SPI (zero in the first IKE_SA_INIT request).
    pub spi_r: [u8; 8],
    /// Type of the first payload.
    pub next_payload: PayloadType,
    /// Major and minor version (0x20).
    pub version: u8,
    /// Exchange type.
    pub exchange: ExchangeType,
    /// Flags (see [`flags`]).
    pub flags: u8,
    /// Message ID.
    pub message_id: u32,
    /// Total message length including the header.
    pub length: u32,
}

impl Header {
    /// Length of the encoded header.
    pub const LEN: usize = 28;

    /// Decode a header (the length field is not checked against anything here).
    pub fn parse(bytes: &[u8]) -> Result<Header, DecodeError> {
        let mut r = Reader::new(bytes, "IKE header");
        let spi_i = r.array()?;
        let spi_r = r.array()?;
        let next_payload = PayloadType(r.u8()?);
        let version = r.u8()?;
        let exchange = ExchangeType(r.u8()?);
        let flags = r.u8()?;
        let message_id = r.u32()?;
        let length = r.u32()?;
        Ok(Header {
            spi_i,
            spi_r,
            next_payload,
            version,
            exchange,
            flags,
            message_id,
            length,
        })
    }

    /// Append the encoded header.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.spi_i);
        out.extend_from_slice(&self.spi_r);
        out.push(self.next_payload.0);
        out.push(self.version);
        out.push(self.exchange.0);
        out.push(self.flags);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }

    /// Whether the Response flag is set.
    pub fn is_response(&self) -> bool {
        self.flags & flags::RESPONSE != 0
    }

    /// Whether the Initiator flag is set.
    pub fn is_initiator(&self) -> bool {
        self.flags & flags::INITIATOR != 0
    }

    /// The major version (2 for IKEv2).
    pub fn major_version(&self) -> u8 {
        self.version >> 4
    }
}
