//! strait's IKEv2 protocol engine (RFC 7296), sans-IO in the style of quinn-proto: no
//! sockets, clocks, threads or OS randomness inside. Every entry point takes `now`, and
//! randomness comes from the caller's [`Random`].
//!
//! - In: [`Endpoint::handle_datagram`], [`Endpoint::handle_timeout`],
//!   [`Endpoint::note_traffic`] (ESP seen by the data plane, for DPD), and commands
//!   ([`Endpoint::set_session`], [`Endpoint::remove_session`], [`Endpoint::initiate`],
//!   [`Endpoint::rekey_child`], [`Endpoint::rekey_ike`], [`Endpoint::check_liveness`]).
//! - Out: [`Endpoint::poll_transmit`] (datagrams to send), [`Endpoint::poll_event`]
//!   (Child SAs for the data plane, status changes), [`Endpoint::poll_timeout`].
//!
//! Exchanges: IKE_SA_INIT with NAT detection, COOKIE (§2.6) and INVALID_KE_PAYLOAD
//! (§1.2); IKE_AUTH with PSK (§2.15) creating the first Child SA with 0.0.0.0/0 and ::/0
//! selectors (route-based); CREATE_CHILD_SA for Child and IKE rekeys (§1.3, §2.8) with
//! collision handling (§2.8.1, §2.8.2); INFORMATIONAL deletes, liveness and error notifies;
//! retransmission with backoff (§2.1, §2.4); NAT-T floating to port 4500 (§2.23); Dead
//! Peer Detection with NSX's PERIODIC and ON_DEMAND modes (empty INFORMATIONAL probes,
//! §1.4 and §2.4, resent every 0.5 s `retry_count` times; see [`DpdConfig`]).
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
        clippy::unimplemented
    )
)]

pub mod admission;
pub mod cert_auth;
mod child_sa;
pub mod config;
mod crypto_jobs;
mod endpoint;
pub mod events;
mod exchanges;
mod fragment;
/// Test hooks for fuzzers: seal messages as an authenticated peer (feature `fuzzing` only).
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod ike_auth;
mod ike_rekey;
mod init_initiator;
mod init_responder;
mod kex;
mod peer_auth;
pub mod proposal;
pub mod random;
mod sa;
mod sa_table;
mod tasks;
mod timer_queue;

pub use admission::{DropCause, DropReport};
pub use cert_auth::{CertificateAuth, KeyRequirement, SharedCertificateAuth};
pub use config::{
    DpdConfig, DpdMode, EndpointConfig, EspCipher, EspProposal, Identity, IkeProposal,
    SessionConfig, SessionId,
};
pub use crypto_jobs::{CryptoDone, CryptoJob};
pub use endpoint::{Endpoint, Transmit};
pub use events::{
    ChildSaInfo, ChildSaParams, Event, FailReason, IkeSaInfo, IkeState, SessionStatus,
};
pub use random::{Random, TestRandom};

/// The first four bytes of `b` as a big-endian u32 (an SPI), if it has them.
pub(crate) fn be_u32(b: &[u8]) -> Option<u32> {
    b.get(..4)?.try_into().ok().map(u32::from_be_bytes)
}

/// The first two bytes of `b` as a big-endian u16, if it has them.
pub(crate) fn be_u16(b: &[u8]) -> Option<u16> {
    b.get(..2)?.try_into().ok().map(u16::from_be_bytes)
}

/// Internal failures while processing a message. Peers never see these texts; they map to
/// notifies and to status reasons.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The message did not decode.
    #[error("undecodable message: {0}")]
    Decode(#[from] ike_wire::DecodeError),
    /// A field or payload is missing or wrong.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// The ICV or AEAD tag did not verify.
    #[error("integrity check failed")]
    IntegrityCheckFailed,
    /// A cryptographic operation failed.
    #[error("crypto: {0}")]
    Crypto(ike_crypto::CryptoError),
    /// A bug or impossible state.
    #[error("internal: {0}")]
    Internal(&'static str),
}
