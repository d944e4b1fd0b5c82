//! What a session negotiates: identities, the PSK, the proposals its profiles allow,
//! lifetimes and initiation mode. Built by the runtime from the stored policy.

use std::net::IpAddr;
use std::time::Duration;

use ike_crypto::{Cipher, DhGroup, Integrity, Prf};
use ike_wire::IdType;
use zeroize::Zeroizing;

/// Identifies a session (the runtime uses the policy path).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub String);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IKE identity as it travels in IDi/IDr (RFC 7296 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// ID type.
    pub id_type: IdType,
    /// ID data (address bytes, FQDN/email text, DER DN).
    pub data: Vec<u8>,
}

impl Identity {
    /// ID_IPV4_ADDR / ID_IPV6_ADDR.
    pub fn ip(ip: IpAddr) -> Identity {
        match ip {
            IpAddr::V4(v4) => Identity {
                id_type: IdType::ID_IPV4_ADDR,
                data: v4.octets().to_vec(),
            },
            IpAddr::V6(v6) => Identity {
                id_type: IdType::ID_IPV6_ADDR,
                data: v6.octets().to_vec(),
            },
        }
    }

    /// ID_FQDN.
    pub fn fqdn(name: &str) -> Identity {
        Identity {
            id_type: IdType::ID_FQDN,
            data: name.as_bytes().to_vec(),
        }
    }

    /// ID_RFC822_ADDR.
    pub fn email(addr: &str) -> Identity {
        Identity {
            id_type: IdType::ID_RFC822_ADDR,
            data: addr.as_bytes().to_vec(),
        }
    }

    /// ID_DER_ASN1_DN from the DER encoding of an X.500 name.
    pub fn dn_der(der: Vec<u8>) -> Identity {
        Identity {
            id_type: IdType::ID_DER_ASN1_DN,
            data: der,
        }
    }

    /// The address of an ID_IPV4_ADDR / ID_IPV6_ADDR identity.
    pub fn ip_addr(&self) -> Option<IpAddr> {
        match self.id_type {
            IdType::ID_IPV4_ADDR => {
                let o: [u8; 4] = self.data.as_slice().try_into().ok()?;
                Some(IpAddr::from(o))
            }
            IdType::ID_IPV6_ADDR => {
                let o: [u8; 16] = self.data.as_slice().try_into().ok()?;
                Some(IpAddr::from(o))
            }
            _ => None,
        }
    }

    /// Human-readable form for status and alarms.
    pub fn display(&self) -> String {
        match self.id_type {
            IdType::ID_IPV4_ADDR if self.data.len() == 4 => {
                let octets: [u8; 4] = self.data.as_slice().try_into().unwrap_or_default();
                std::net::Ipv4Addr::from(octets).to_string()
            }
            IdType::ID_IPV6_ADDR if self.data.len() == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&self.data);
                std::net::Ipv6Addr::from(a).to_string()
            }
            IdType::ID_FQDN | IdType::ID_RFC822_ADDR => {
                String::from_utf8_lossy(&self.data).into_owned()
            }
            IdType::ID_DER_ASN1_DN => strait_pki::dn_display(&self.data)
                .unwrap_or_else(|_| format!("{}:{}", self.id_type, hex(&self.data))),
            t => format!("{t}:{}", hex(&self.data)),
        }
    }

    /// Whether a received identity matches this configured one. FQDN and email compare
    /// case-insensitively (DNS names are case-insensitive; strongSwan does the same); DNs
    /// compare by meaning (attribute spellings and spacing aside, RFC 4514), so a peer's
    /// DER encoding need not be byte-identical to ours.
    pub fn matches(&self, other: &Identity) -> bool {
        if self.id_type != other.id_type {
            return false;
        }
        match self.id_type {
            IdType::ID_FQDN | IdType::ID_RFC822_ADDR => self.data.eq_ignore_ascii_case(&other.data),
            IdType::ID_DER_ASN1_DN => {
                self.data == other.data
                    || match (
                        strait_pki::dn_display(&self.data),
                        strait_pki::dn_display(&other.data),
                    ) {
                        (Ok(a), Ok(b)) => strait_pki::dn_equal(&a, &b),
                        _ => false,
                    }
            }
            _ => self.data == other.data,
        }
    }
}

/// Lowercase hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One IKE proposal: every combination of its transforms is acceptable (RFC 7296 §3.3).
/// AEAD and non-AEAD ciphers never share a proposal (RFC 5282 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkeProposal {
    /// Ciphers, preferred first.
    pub ciphers: Vec<Cipher>,
    /// Integrity algorithms (empty for AEAD).
    pub integrity: Vec<Integrity>,
    /// PRFs.
    pub prfs: Vec<Prf>,
    /// DH groups.
    pub groups: Vec<DhGroup>,
}

/// ESP encryption transforms (the tunnel profile's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EspCipher {
    /// ENCR_AES_CBC with key bits.
    AesCbc(u16),
    /// ENCR_AES_GCM_16 with key bits (RFC 4106).
    AesGcm16(u16),
    /// ENCR_NULL_AUTH_AES_GMAC with key bits (RFC 4543).
    NullAuthAesGmac(u16),
    /// ENCR_NULL (needs an integrity algorithm).
    Null,
}

impl EspCipher {
    /// IKEv2 transform ID.
    pub fn transform_id(self) -> u16 {
        match self {
            EspCipher::AesCbc(_) => 12,
            EspCipher::AesGcm16(_) => 20,
            EspCipher::NullAuthAesGmac(_) => 21,
            EspCipher::Null => 11,
        }
    }

    /// Key length attribute (None for NULL).
    pub fn key_bits(self) -> Option<u16> {
        match self {
            EspCipher::AesCbc(b) | EspCipher::AesGcm16(b) | EspCipher::NullAuthAesGmac(b) => {
                Some(b)
            }
            EspCipher::Null => None,
        }
    }

    /// Whether it authenticates by itself (no integrity transform).
    pub fn is_combined(self) -> bool {
        matches!(self, EspCipher::AesGcm16(_) | EspCipher::NullAuthAesGmac(_))
    }

    /// From transform ID and key length attribute.
    pub fn from_transform(id: u16, bits: Option<u16>) -> Option<EspCipher> {
        let aes = |b: Option<u16>| b.filter(|b| matches!(b, 128 | 192 | 256));
        match id {
            12 => aes(bits).map(EspCipher::AesCbc),
            20 => aes(bits).map(EspCipher::AesGcm16),
            21 => aes(bits).map(EspCipher::NullAuthAesGmac),
            11 if bits.is_none() => Some(EspCipher::Null),
            _ => None,
        }
    }

    /// Operator-facing name, in NSX's words.
    pub fn nsx_name(self) -> String {
        match self {
            EspCipher::AesCbc(b) => format!("AES_{b}"),
            EspCipher::AesGcm16(b) => format!("AES_GCM_{b}"),
            EspCipher::NullAuthAesGmac(b) => format!("NO_ENCRYPTION_AUTH_AES_GMAC_{b}"),
            EspCipher::Null => "NO_ENCRYPTION".into(),
        }
    }
}

/// One ESP proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspProposal {
    /// Ciphers.
    pub ciphers: Vec<EspCipher>,
    /// Integrity (empty for combined-mode ciphers).
    pub integrity: Vec<Integrity>,
    /// PFS groups for CREATE_CHILD_SA (empty: no PFS). Never sent in IKE_AUTH.
    pub pfs_groups: Vec<DhGroup>,
    /// Accept extended sequence numbers.
    pub esn: bool,
}

/// Everything one session negotiates.
#[derive(Clone)]
pub struct SessionConfig {
    /// Which session.
    pub id: SessionId,
    /// Local address IKE uses (the local endpoint).
    pub local: IpAddr,
    /// The peer's address.
    pub remote: IpAddr,
    /// Our IKE ID.
    pub local_id: Identity,
    /// The peer's expected IKE ID.
    pub remote_id: Identity,
    /// Pre-shared key (unused with certificate authentication).
    pub psk: Zeroizing<Vec<u8>>,
    /// Certificate authentication instead of the PSK (authentication_mode CERTIFICATE).
    pub certificate: Option<crate::cert_auth::SharedCertificateAuth>,
    /// IKE proposals (from the IKE profile).
    pub ike: Vec<IkeProposal>,
    /// ESP proposals (from the tunnel profile).
    pub esp: Vec<EspProposal>,
    /// IKE SA lifetime.
    pub ike_lifetime: Duration,
    /// Child SA lifetime.
    pub child_lifetime: Duration,
    /// Whether this side initiates (INITIATOR) or only responds (RESPOND_ONLY).
    pub initiate: bool,
    /// Claim to be behind a NAT so that ESP is UDP-encapsulated (contract default).
    pub force_udp_encapsulation: bool,
    /// Traffic selectors to negotiate: IPv4 and/or IPv6 "everything" (route-based).
    pub ipv4: bool,
    /// See `ipv4`.
    pub ipv6: bool,
    /// Dead Peer Detection (the session's NSX DPD profile); `None` when the profile is
    /// disabled. See [`DpdConfig`].
    pub dpd: Option<DpdConfig>,
}

/// When DPD probes are sent (NSX `dpd_probe_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DpdMode {
    /// `PERIODIC`: probe an established IKE SA whenever nothing was heard from the peer
    /// for `interval` (an authenticated IKE message on that IKE SA, or inbound ESP the
    /// runtime reported through [`crate::Endpoint::note_traffic`]). On an idle tunnel that
    /// is one probe every interval; a tunnel carrying traffic both ways is never probed.
    Periodic,
    /// `ON_DEMAND`: probe only when the runtime reported outbound ESP after the last sign
    /// of life and nothing (no inbound ESP, no IKE message from the peer) was received for
    /// `interval`. Traffic that starts after a longer silence is probed at once; an idle
    /// tunnel, or one that only receives, is never probed.
    OnDemand,
}

/// Dead Peer Detection of a session (NSX `IPSecVpnDpdProfile`; liveness checks of RFC
/// 7296 §1.4 and §2.4: a DPD probe is an INFORMATIONAL request with no payloads).
///
/// A probe that gets no answer is retransmitted unchanged (same message ID, §2.1) every
/// [`EndpointConfig::dpd_retransmit_interval`] (0.5 s, NSX) until `retry_count`
/// retransmissions went unanswered; then the peer is dead: the IKE SA and its Child SAs
/// are removed without sending anything (§2.4), and the session is down with "Peer not
/// responding". The peer is therefore declared dead about
/// `interval + 0.5 s × (retry_count + 1)` after the last sign of life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DpdConfig {
    /// Probe mode.
    pub mode: DpdMode,
    /// `dpd_probe_interval` (NSX: PERIODIC 3..360 s, ON_DEMAND 1..10 s). Values under one
    /// second are treated as one second.
    pub interval: Duration,
    /// `retry_count` (NSX 1..100): retransmissions of an unanswered probe.
    pub retry_count: u32,
}

impl DpdConfig {
    /// The interval actually used (at least one second, so a probe cycle always advances
    /// time).
    pub(crate) fn effective_interval(&self) -> Duration {
        self.interval.max(Duration::from_secs(1))
    }
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("id", &self.id)
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("local_id", &self.local_id.display())
            .field("remote_id", &self.remote_id.display())
            .field("psk", &"<redacted>")
            .field("certificate", &self.certificate)
            .field("ike", &self.ike)
            .field("esp", &self.esp)
            .field("initiate", &self.initiate)
            .field("dpd", &self.dpd)
            .finish_non_exhaustive()
    }
}

/// Tunables of the whole endpoint (limits and timers).
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// First retransmission timeout (RFC 7296 §2.4).
    pub retransmit_timeout: Duration,
    /// Backoff factor between retransmissions.
    pub retransmit_backoff: f64,
    /// Sends of one request before the peer is declared unresponsive.
    pub retransmit_tries: u32,
    /// Half-open IKE SAs at which COOKIEs are required (§2.6).
    pub cookie_threshold: usize,
    /// Half-open IKE SAs at which new IKE_SA_INIT requests are dropped.
    pub half_open_max: usize,
    /// Half-open IKE SAs of one peer address at which its new requests are dropped, so one
    /// forged address cannot fill the gateway's table.
    pub peer_half_open_max: usize,
    /// Half-open IKE SAs of one peer address at which it must send COOKIEs.
    pub cookie_peer_threshold: usize,
    /// IKE_SA_INIT requests per second (all peers) at which COOKIEs are required.
    pub cookie_init_rate: u32,
    /// IKE_SA_INIT requests per second from one peer address at which it must send COOKIEs.
    pub cookie_peer_init_rate: u32,
    /// Diffie-Hellman computations per second for unauthenticated requests (all peers) at
    /// which COOKIEs are required.
    pub cookie_dh_rate: u32,
    /// The same for one peer address.
    pub cookie_peer_dh_rate: u32,
    /// Key-exchange computations handed out and not yet finished (see
    /// [`crate::Endpoint::poll_crypto`]); requests beyond it are dropped and retransmitted.
    pub crypto_jobs_max: usize,
    /// Hand key-exchange work to the caller ([`crate::Endpoint::poll_crypto`]) instead of
    /// computing it inside [`crate::Endpoint::handle_datagram`]. Off by default, so a
    /// caller that never polls for crypto work keeps working.
    pub offload_crypto: bool,
    /// IKE SAs kept in all.
    pub ike_sas_max: usize,
    /// A half-open SA (responder) waits this long for IKE_AUTH.
    pub half_open_timeout: Duration,
    /// Rekeys start at lifetime × (1 - jitter) with jitter up to this fraction.
    pub rekey_jitter: f64,
    /// Rekey this long before the hard lifetime at the latest.
    pub rekey_margin: Duration,
    /// How many INVALID_KE_PAYLOAD / COOKIE retries one IKE_SA_INIT may take.
    pub init_retries_max: u32,
    /// Spacing of DPD probe retransmissions (NSX: 0.5 s, fixed, no backoff). Only DPD
    /// probes use it; every other request backs off from `retransmit_timeout`.
    pub dpd_retransmit_interval: Duration,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            retransmit_timeout: Duration::from_secs(2),
            retransmit_backoff: 1.8,
            retransmit_tries: 5,
            cookie_threshold: 64,
            half_open_max: 4096,
            peer_half_open_max: 64,
            cookie_peer_threshold: 8,
            cookie_init_rate: 500,
            cookie_peer_init_rate: 20,
            cookie_dh_rate: 200,
            cookie_peer_dh_rate: 10,
            crypto_jobs_max: 256,
            offload_crypto: false,
            ike_sas_max: 65_536,
            half_open_timeout: Duration::from_secs(30),
            rekey_jitter: 0.1,
            rekey_margin: Duration::from_secs(60),
            init_retries_max: 4,
            dpd_retransmit_interval: Duration::from_millis(500),
        }
    }
}
