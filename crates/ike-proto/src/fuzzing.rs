//! Hooks for the fuzz targets in `fuzz/` (feature `fuzzing`; absent from every normal build).
//!
//! A fuzzer that only sends bytes never gets past an established IKE SA's integrity check
//! (RFC 7296 §3.14): it cannot forge the ICV. These hooks let `fuzz/fuzz_targets/ike_established.rs`
//! play the peer of a real, established IKE SA: seal a fuzzer-chosen inner payload chain with
//! the keys the peer would use ([`Endpoint::seal_as_peer`]), so CREATE_CHILD_SA,
//! INFORMATIONAL, Delete and rekey handling see authenticated hostile content; and open what
//! an endpoint sent ([`Endpoint::open_as_receiver`]), so real requests can be mutated and
//! sealed again. Nothing here changes an endpoint.

use std::net::SocketAddr;

use ike_wire::{
    emit_payloads, flags, ExchangeType, Header, Message, Payload, PayloadType, VERSION_2_0,
};

use crate::endpoint::{Endpoint, NAT_T_PORT, NON_ESP_MARKER};
use crate::sa::{IkeSa, SaState};

/// What a fuzz target may know of one IKE SA: addresses, SPIs, message IDs, Child SAs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzIkeSa {
    /// Initiator's SPI.
    pub spi_i: [u8; 8],
    /// Responder's SPI.
    pub spi_r: [u8; 8],
    /// Whether this endpoint is the original initiator (the peer then sends without the I flag).
    pub initiator: bool,
    /// Our address and port (where the peer sends to).
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
    /// The state, by name (`InitSent`, `Established`, ...).
    pub state: &'static str,
    /// Whether keys exist, so that [`Endpoint::seal_as_peer`] works.
    pub keyed: bool,
    /// The message ID of our next request.
    pub next_request_id: u32,
    /// The message ID we expect on the peer's next request (§2.3).
    pub expected_peer_id: u32,
    /// The message ID of our request awaiting an answer.
    pub outstanding: Option<u32>,
    /// Child SAs: (inbound SPI, outbound SPI).
    pub children: Vec<(u32, u32)>,
}

/// A datagram as the peer sends it: deliver it with
/// `handle_datagram(now, local, remote, &data, ..)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerDatagram {
    /// Our address (the destination).
    pub local: SocketAddr,
    /// The peer's address (the source).
    pub remote: SocketAddr,
    /// The UDP payload (with the non-ESP marker on port 4500).
    pub data: Vec<u8>,
}

/// The decrypted content of an encrypted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedMessage {
    /// The IKE header as received.
    pub header: Header,
    /// The first inner payload's type.
    pub inner_first: PayloadType,
    /// The inner payload chain, re-encoded.
    pub inner: Vec<u8>,
}

fn state_name(s: SaState) -> &'static str {
    match s {
        SaState::InitSent => "InitSent",
        SaState::InitDone => "InitDone",
        SaState::AuthSent => "AuthSent",
        SaState::Established => "Established",
        SaState::Rekeyed => "Rekeyed",
        SaState::Deleting => "Deleting",
    }
}

impl Endpoint {
    /// Every IKE SA, in handle order.
    pub fn fuzz_ike_sas(&self) -> Vec<FuzzIkeSa> {
        self.sas
            .values()
            .map(|sa| FuzzIkeSa {
                spi_i: sa.spi_i,
                spi_r: sa.spi_r,
                initiator: sa.initiator,
                local: sa.local,
                remote: sa.remote,
                state: state_name(sa.state),
                keyed: sa.keys.is_some() && sa.suite.is_some(),
                next_request_id: sa.next_request_id,
                expected_peer_id: sa.expected_peer_id,
                outstanding: sa.outstanding.as_ref().map(|o| o.message_id),
                children: sa.children.iter().map(|c| (c.spi_in, c.spi_out)).collect(),
            })
            .collect()
    }

    /// An encrypted message from the peer of our IKE SA with SPI `local_spi`: a header with
    /// the SA's SPIs and the given exchange, message ID and flags (any values: they are what
    /// is being fuzzed), and an SK payload (§3.14) holding `inner` as the chain starting with
    /// `inner_first`, sealed with the keys of the peer's direction so that it passes the
    /// integrity check. `iv_seed` fills the IV. None if the SA is unknown or has no keys.
    #[allow(clippy::too_many_arguments)]
    pub fn seal_as_peer(
        &self,
        local_spi: [u8; 8],
        exchange: ExchangeType,
        message_id: u32,
        header_flags: u8,
        inner_first: PayloadType,
        inner: &[u8],
        iv_seed: u64,
    ) -> Option<PeerDatagram> {
        let sa = self.sas.get(self.by_spi.get(&local_spi)?)?;
        let suite = sa.suite?;
        let keys = sa.keys.as_ref()?;
        // The peer's outbound keys are our inbound keys.
        let (enc_key, integ_key) = if sa.initiator {
            (&keys.sk_er, &keys.sk_ar)
        } else {
            (&keys.sk_ei, &keys.sk_ai)
        };
        let cipher = suite.cipher;
        let block = cipher.block_len().max(1);
        let pad = (block - (inner.len() + 1) % block) % block;
        let mut plain = inner.to_vec();
        plain.resize(inner.len() + pad, 0);
        plain.push(u8::try_from(pad).ok()?);
        let iv: Vec<u8> = iv_seed
            .to_be_bytes()
            .iter()
            .cycle()
            .take(cipher.iv_len())
            .copied()
            .collect();
        let icv_len = if cipher.is_aead() {
            cipher.icv_len()
        } else {
            suite.integrity?.icv_len()
        };
        let sk_len = 4 + iv.len() + plain.len() + icv_len;
        let header = Header {
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
            next_payload: PayloadType::SK,
            version: VERSION_2_0,
            exchange,
            flags: header_flags,
            message_id,
            length: u32::try_from(Header::LEN + sk_len).ok()?,
        };
        let mut out = Vec::with_capacity(Header::LEN + sk_len);
        header.emit(&mut out);
        out.push(inner_first.0);
        out.push(0);
        out.extend_from_slice(&u16::try_from(sk_len).ok()?.to_be_bytes());
        if cipher.is_aead() {
            let aad = out.clone();
            let ct = cipher.encrypt(enc_key, &iv, &aad, &plain).ok()?;
            out.extend_from_slice(&iv);
            out.extend_from_slice(&ct);
        } else {
            let ct = cipher.encrypt(enc_key, &iv, &[], &plain).ok()?;
            out.extend_from_slice(&iv);
            out.extend_from_slice(&ct);
            let icv = suite.integrity?.compute(integ_key, &[&out]);
            out.extend_from_slice(&icv);
        }
        Some(peer_datagram(sa, out))
    }

    /// Decrypt an encrypted message addressed to this endpoint (an IKE message, without the
    /// non-ESP marker) with the keys of the IKE SA it names. None if it names no keyed SA,
    /// has no SK payload or does not verify.
    pub fn open_as_receiver(&self, message: &[u8]) -> Option<OpenedMessage> {
        let msg = Message::parse(message).ok()?;
        let header = msg.header;
        // Our SPI is the responder's if the sender is the original initiator.
        let ours = if header.flags & flags::INITIATOR != 0 {
            header.spi_r
        } else {
            header.spi_i
        };
        let sa = self.sas.get(self.by_spi.get(&ours)?)?;
        let sk = msg.payloads.iter().find_map(|p| match p {
            Payload::Sk(sk) => Some(sk),
            _ => None,
        })?;
        let inner = sa.open(message, sk).ok()?;
        let (inner_first, inner) = emit_payloads(&inner);
        Some(OpenedMessage {
            header,
            inner_first,
            inner,
        })
    }
}

fn peer_datagram(sa: &IkeSa, ike: Vec<u8>) -> PeerDatagram {
    let data = if sa.local.port() == NAT_T_PORT {
        let mut d = NON_ESP_MARKER.to_vec();
        d.extend_from_slice(&ike);
        d
    } else {
        ike
    };
    PeerDatagram {
        local: sa.local,
        remote: sa.remote,
        data,
    }
}
