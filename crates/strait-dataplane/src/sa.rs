//! Child SAs as the data plane holds them: what the control plane installs ([`SaInstall`]),
//! and the per-direction state the workers use.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use esp_proto::{EspError, InboundSa, OutboundSa, SaKeys, Transform};
use zeroize::Zeroizing;

use crate::tunnel::Tunnel;

/// How ESP packets travel between the two gateways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encapsulation {
    /// In UDP on port 4500 (RFC 3948): the default, and required through a NAT.
    Udp,
    /// IP protocol 50 (RFC 4303), for sessions that opted out when IKE found no NAT.
    Esp,
}

/// A negotiated Child SA, both directions (from IKE, RFC 7296 §2.17 keys).
pub struct SaInstall {
    /// The session (tunnel) it belongs to.
    pub session: String,
    /// SPI on packets from the peer (we chose it).
    pub spi_in: u32,
    /// SPI on packets to the peer.
    pub spi_out: u32,
    /// The ESP transform.
    pub transform: Transform,
    /// Extended sequence numbers.
    pub esn: bool,
    /// Inbound encryption key (GCM/GMAC: key || salt).
    pub enc_key_in: Zeroizing<Vec<u8>>,
    /// Inbound integrity key.
    pub integ_key_in: Zeroizing<Vec<u8>>,
    /// Outbound encryption key.
    pub enc_key_out: Zeroizing<Vec<u8>>,
    /// Outbound integrity key.
    pub integ_key_out: Zeroizing<Vec<u8>>,
    /// Our outer address (and port 4500 with UDP encapsulation).
    pub local: SocketAddr,
    /// The peer's outer address and port.
    pub remote: SocketAddr,
    /// UDP or plain ESP.
    pub encapsulation: Encapsulation,
    /// We initiated the exchange that made this SA. As responder of a rekey we keep sending
    /// on the old SA until the peer shows it has the new one (RFC 7296 §2.8: the initiator
    /// installs the new SA only when it gets our response).
    pub initiator: bool,
    /// Fresh randomness for the CBC IV generator.
    pub iv_seed: [u8; 16],
}

impl SaInstall {
    /// Its two halves as esp-proto SAs (what the data plane and its simulation install).
    pub fn build(&self, replay_window: u32) -> Result<(OutboundSa, InboundSa), EspError> {
        let outbound = OutboundSa::new(
            self.spi_out,
            self.transform,
            SaKeys {
                encryption: &self.enc_key_out,
                integrity: &self.integ_key_out,
            },
            self.esn,
            self.iv_seed,
        )?;
        let inbound = InboundSa::new(
            self.spi_in,
            self.transform,
            SaKeys {
                encryption: &self.enc_key_in,
                integrity: &self.integ_key_in,
            },
            self.esn,
            replay_window,
        )?;
        Ok((outbound, inbound))
    }
}

impl std::fmt::Debug for SaInstall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaInstall")
            .field("session", &self.session)
            .field("spi_in", &format_args!("{:08x}", self.spi_in))
            .field("spi_out", &format_args!("{:08x}", self.spi_out))
            .field("transform", &self.transform)
            .field("esn", &self.esn)
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("encapsulation", &self.encapsulation)
            .field("initiator", &self.initiator)
            .field("keys", &"<redacted>")
            .finish()
    }
}

/// The sending half of a Child SA, with where its packets go.
pub(crate) struct Outbound {
    pub(crate) sa: OutboundSa,
    pub(crate) remote: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) encapsulation: Encapsulation,
    /// A rekey was requested because the sequence space is running out.
    pub(crate) rekey_requested: AtomicBool,
}

impl Outbound {
    /// Ask for a rekey once (RFC 4303 §3.3.3: replace the SA before the counter cycles).
    pub(crate) fn needs_rekey_request(&self) -> bool {
        self.sa.near_exhaustion() && !self.rekey_requested.swap(true, Ordering::Relaxed)
    }
}

/// The receiving half of a Child SA.
pub(crate) struct Inbound {
    pub(crate) sa: Mutex<InboundSa>,
    pub(crate) tunnel: Arc<Tunnel>,
    /// Set at the first packet that authenticates: the peer has this Child SA, so its
    /// outbound half may be sent on (make-before-break, see `sa_set`).
    pub(crate) used: AtomicBool,
    /// Its SPI (the key of the Child SA in the tunnel's SA set).
    pub(crate) spi_in: u32,
    /// IKE deleted its Child SA: it decrypts only for the grace period (`inbound_linger`).
    pub(crate) lingering: AtomicBool,
}
