//! What the protocol tells the runtime: Child SAs to install or remove in the data plane
//! (the boundary modelled on strongSwan's `kernel_ipsec` interface), and session status.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ike_crypto::Integrity;
use ike_wire::TrafficSelector;
use zeroize::Zeroizing;

use crate::config::{EspCipher, SessionId};

/// Keys and parameters of one Child SA, everything an ESP engine needs. Directions are from
/// this gateway's point of view: `inbound` decrypts what the peer sends.
#[derive(Clone)]
pub struct ChildSaParams {
    /// Owning session.
    pub session: SessionId,
    /// SPI the peer puts on packets to us (we chose it).
    pub spi_in: u32,
    /// SPI we put on packets to the peer (the peer chose it).
    pub spi_out: u32,
    /// ESP encryption transform.
    pub cipher: EspCipher,
    /// ESP integrity transform (None for GCM/GMAC).
    pub integrity: Option<Integrity>,
    /// Extended sequence numbers negotiated.
    pub esn: bool,
    /// Inbound encryption key (for GCM/GMAC: key || 4-byte salt, RFC 4106 §8.1).
    pub enc_key_in: Zeroizing<Vec<u8>>,
    /// Inbound integrity key (empty for combined modes).
    pub integ_key_in: Zeroizing<Vec<u8>>,
    /// Outbound encryption key.
    pub enc_key_out: Zeroizing<Vec<u8>>,
    /// Outbound integrity key.
    pub integ_key_out: Zeroizing<Vec<u8>>,
    /// Our traffic selectors.
    pub ts_local: Vec<TrafficSelector>,
    /// The peer's traffic selectors.
    pub ts_remote: Vec<TrafficSelector>,
    /// Our outer address and port (4500 when UDP-encapsulated).
    pub local: SocketAddr,
    /// The peer's outer address and port.
    pub remote: SocketAddr,
    /// ESP in UDP (RFC 3948) rather than IP protocol 50.
    pub udp_encapsulation: bool,
    /// Hard lifetime.
    pub lifetime: Duration,
    /// We initiated the exchange that created this Child SA. The responder of a rekey should
    /// keep sending on the old SA until the initiator shows it has the new one (RFC 7296
    /// §2.8: the initiator installs it only on receiving the response).
    pub we_initiated: bool,
}

impl std::fmt::Debug for ChildSaParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSaParams")
            .field("session", &self.session)
            .field("spi_in", &format_args!("{:08x}", self.spi_in))
            .field("spi_out", &format_args!("{:08x}", self.spi_out))
            .field("cipher", &self.cipher)
            .field("integrity", &self.integrity)
            .field("esn", &self.esn)
            .field("keys", &"<redacted>")
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("udp_encapsulation", &self.udp_encapsulation)
            .finish_non_exhaustive()
    }
}

/// Something the runtime must act on.
#[derive(Debug, Clone)]
pub enum Event {
    /// Install this Child SA (both directions). During a rekey the old one stays installed
    /// until [`Event::ChildSaDeleted`] names it (make-before-break).
    ChildSaInstalled(Box<ChildSaParams>),
    /// Stop sending on a Child SA: we are deleting it (§1.4.1), and the peer may remove it
    /// before our Delete is answered. Its inbound half keeps decrypting until
    /// [`Event::ChildSaDeleted`] names it.
    ChildSaRetired {
        /// Owning session.
        session: SessionId,
        /// Our inbound SPI.
        spi_in: u32,
        /// Our outbound SPI.
        spi_out: u32,
    },
    /// Remove a Child SA (both directions; a retired one's inbound half).
    ChildSaDeleted {
        /// Owning session.
        session: SessionId,
        /// Our inbound SPI.
        spi_in: u32,
        /// Our outbound SPI.
        spi_out: u32,
    },
    /// A session's status changed (see [`crate::Endpoint::status`]).
    StatusChanged(SessionId),
}

/// NSX's IKE session states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IkeState {
    /// Established.
    Up,
    /// Not established.
    Down,
    /// IKE_SA_INIT / IKE_AUTH under way.
    Negotiating,
}

/// NSX's failure reasons (exact strings, contract §Status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// AUTHENTICATION_FAILED, or our check of the peer failed.
    AuthenticationFailed,
    /// NO_PROPOSAL_CHOSEN either way.
    NoProposalChosen,
    /// Retransmissions exhausted.
    PeerNotResponding,
    /// The peer deleted the IKE SA.
    PeerSentDelete,
    /// TS_UNACCEPTABLE.
    TsUnacceptable,
    /// INVALID_SYNTAX or an undecodable message.
    InvalidSyntax,
    /// The session cannot run as configured.
    ConfigurationFailed,
    /// Nothing happened yet (RESPOND_ONLY waiting).
    NegotiationNotStarted,
}

impl FailReason {
    /// NSX's string.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::AuthenticationFailed => "Authentication failed",
            FailReason::NoProposalChosen => "No proposal chosen",
            FailReason::PeerNotResponding => "Peer not responding",
            FailReason::PeerSentDelete => "Peer sent delete",
            FailReason::TsUnacceptable => "TS unacceptable",
            FailReason::InvalidSyntax => "Invalid syntax",
            FailReason::ConfigurationFailed => "Configuration failed",
            FailReason::NegotiationNotStarted => "Negotiation not started",
        }
    }
}

/// A Child SA as status shows it (no keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSaInfo {
    /// Our inbound SPI.
    pub spi_in: u32,
    /// Outbound SPI.
    pub spi_out: u32,
    /// e.g. `AES_GCM_128/GROUP14`.
    pub algorithms: String,
    /// When it was installed.
    pub established: Instant,
    /// When it will be rekeyed.
    pub rekey_at: Option<Instant>,
}

/// An IKE SA as status shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkeSaInfo {
    /// Initiator's SPI.
    pub spi_i: [u8; 8],
    /// Responder's SPI.
    pub spi_r: [u8; 8],
    /// Whether we initiated it.
    pub initiator: bool,
    /// e.g. `AES_128/SHA2_256/PRF_SHA2_256/GROUP14`.
    pub algorithms: String,
    /// Our address.
    pub local: SocketAddr,
    /// Peer's address.
    pub remote: SocketAddr,
    /// NAT detected or UDP encapsulation forced.
    pub udp_encapsulation: bool,
    /// When it was established.
    pub established: Instant,
    /// When it will be rekeyed.
    pub rekey_at: Option<Instant>,
    /// The peer's ID as received.
    pub remote_id: String,
}

/// A session's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStatus {
    /// IKE state.
    pub ike_state: IkeState,
    /// Why it is down (None when up).
    pub fail_reason: Option<FailReason>,
    /// What to change, in the operator's terms (the exact mismatch).
    pub alarm: Option<String>,
    /// The established IKE SA.
    pub ike: Option<IkeSaInfo>,
    /// Installed Child SAs.
    pub children: Vec<ChildSaInfo>,
    /// Last change.
    pub since: Instant,
}
