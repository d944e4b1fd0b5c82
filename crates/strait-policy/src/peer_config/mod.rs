//! The remote side's configuration of a session (`GET {session}/peer-config`, NSX's
//! "Download Config"): what the peer must configure to talk to strait, as NSX's text layout
//! (`nsx`) or as a swanctl.conf for a strongSwan peer (`strongswan`).
//!
//! The renderers are pure functions of the stored objects ([`PeerConfigInput`]), so they are
//! tested without a store; [`Policy::peer_config`] reads those objects in one transaction.
//! Words follow strait's point of view in the NSX layout ("Local" = strait, "Peer" = the
//! remote site, as NSX does), and the peer's in the swanctl.conf ("local" = the peer).
//!
//! The pre-shared key is included only when the caller is an admin ([`PskView::Shown`]); the
//! text holding it is returned in a [`Zeroizing`] string and is never logged.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use strait_model::enums::{
    AuthenticationMode, ComplianceSuite, ConnectionInitiationMode, DhGroup, DigestAlgorithm,
    DpdProbeMode, IkeEncryption, IkeVersion, MssDirection, TunnelEncryption,
};
use strait_model::objects::{
    Certificate, DpdProfile, IkeProfile, LocalEndpoint, RouteBasedSession, TunnelInterfaceIpSubnet,
    TunnelProfile, X509Certificate,
};
use strait_model::NsxEnum;
use zeroize::Zeroizing;

mod nsx;
mod read;
mod strongswan;
mod swan_syntax;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_certs;

pub use nsx::nsx;
pub use strongswan::{
    strongswan, swan_dn, swan_esp_cipher, swan_esp_proposals, swan_group, swan_ike_cipher,
    swan_ike_proposals, swan_integrity, swan_prf, swan_secret, SwanDn, SwanFiles,
};

/// NSX's enforcement point (strait has exactly one).
pub const ENFORCEMENT_POINT_PATH: &str = "/infra/sites/default/enforcement-points/default";

/// What replaces the pre-shared key for callers who may not see it (contract: `<hidden>`),
/// with a comment saying why.
pub const HIDDEN_PSK: &str = "<hidden> # only admins can see the pre-shared key";

/// The text layout of a peer configuration (`?format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerConfigFormat {
    /// NSX's "Key : value" layout (default).
    #[default]
    Nsx,
    /// A swanctl.conf for a strongSwan 5.9 peer.
    StrongSwan,
}

impl PeerConfigFormat {
    /// The accepted `format` values, for error messages.
    pub const ALLOWED: &'static str = "nsx (default), strongswan";

    /// Parse a `format` query value (ASCII case-insensitive).
    pub fn parse(s: &str) -> Option<PeerConfigFormat> {
        if s.eq_ignore_ascii_case("nsx") {
            Some(PeerConfigFormat::Nsx)
        } else if s.eq_ignore_ascii_case("strongswan") {
            Some(PeerConfigFormat::StrongSwan)
        } else {
            None
        }
    }
}

/// The session's pre-shared key as the caller may see it.
#[derive(Clone, Copy)]
pub enum PskView<'a> {
    /// The key (admins).
    Shown(&'a str),
    /// A key exists but the caller may not see it.
    Hidden,
    /// No key: certificate authentication, or none stored.
    Absent,
}

impl std::fmt::Debug for PskView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PskView::Shown(_) => "Shown(<redacted>)",
            PskView::Hidden => "Hidden",
            PskView::Absent => "Absent",
        })
    }
}

/// A certificate object as the peer configuration names it (its stored body only: private
/// keys are kept apart, as secrets, and never reach the renderers).
#[derive(Debug, Clone, Copy)]
pub struct CertRef<'a> {
    /// The object's policy path, e.g. `/infra/certificates/site-a`.
    pub path: &'a str,
    /// The certificate object.
    pub cert: &'a Certificate,
}

impl<'a> CertRef<'a> {
    /// The object's id (the last path segment).
    pub fn id(&self) -> &'a str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }

    /// The leaf (first) certificate's details.
    pub fn leaf(&self) -> Option<&'a X509Certificate> {
        self.cert.details.first()
    }

    /// The leaf's subject DN (empty if the object has no parsed details).
    pub fn subject(&self) -> &'a str {
        self.leaf().map_or("", |l| l.subject.as_str())
    }
}

/// The certificates a certificate session's peer configuration names.
#[derive(Debug, Clone, Copy, Default)]
pub struct CertificateInput<'a> {
    /// The local endpoint's site certificate (`certificate_path`), if it exists.
    pub site: Option<CertRef<'a>>,
    /// The imported CA certificate that issued the site certificate, if one was imported
    /// (see [`issuer_of`]).
    pub site_issuer: Option<CertRef<'a>>,
    /// The local endpoint's trusted CAs (`trust_ca_paths`) that exist, in its order.
    pub trusted_cas: &'a [CertRef<'a>],
}

/// Everything a peer configuration is made from.
#[derive(Debug, Clone, Copy)]
pub struct PeerConfigInput<'a> {
    /// The session's policy path.
    pub session_path: &'a str,
    /// The session's `unique_id` (NSX's "IPSecVPNSession Id").
    pub session_unique_id: &'a str,
    /// The session.
    pub session: &'a RouteBasedSession,
    /// The gateway (tier-0 or tier-1) the session's VPN service lives under.
    pub gateway_path: &'a str,
    /// The gateway's `unique_id` (NSX's "Logical router Id").
    pub gateway_unique_id: &'a str,
    /// The session's local endpoint.
    pub local_endpoint: &'a LocalEndpoint,
    /// The effective IKE profile.
    pub ike: &'a IkeProfile,
    /// The effective tunnel profile.
    pub tunnel: &'a TunnelProfile,
    /// The effective DPD profile.
    pub dpd: &'a DpdProfile,
    /// The pre-shared key, or why it is not shown.
    pub psk: PskView<'a>,
    /// The certificates (certificate sessions; empty for PSK sessions).
    pub certs: CertificateInput<'a>,
    /// When the text is generated (epoch ms), for "Generated Time".
    pub generated_ms: i64,
}

/// Where strait's IKE ID comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalIdSource {
    /// The local endpoint's `local_id` (or its address, for PSK sessions).
    LocalEndpoint,
    /// The site certificate's subjectAltName IP address.
    SanIp,
    /// The site certificate's subjectAltName DNS name.
    SanDns,
    /// The site certificate's subjectAltName e-mail address.
    SanEmail,
    /// The site certificate's subject DN.
    SubjectDn,
}

impl LocalIdSource {
    /// Words for a comment, e.g. "its subjectAltName DNS name".
    pub fn describe(self) -> &'static str {
        match self {
            LocalIdSource::LocalEndpoint => "the local endpoint's local_id",
            LocalIdSource::SanIp => "its subjectAltName IP address",
            LocalIdSource::SanDns => "its subjectAltName DNS name",
            LocalIdSource::SanEmail => "its subjectAltName e-mail address",
            LocalIdSource::SubjectDn => "its subject DN",
        }
    }
}

/// The identity NSX derives from a site certificate: subjectAltName IP, else DNS name, else
/// e-mail, else the subject DN.
pub fn certificate_identity(leaf: &X509Certificate) -> (String, LocalIdSource) {
    if let Some(ip) = leaf.san_ip.iter().find_map(|s| s.parse::<IpAddr>().ok()) {
        return (ip.to_string(), LocalIdSource::SanIp);
    }
    if let Some(d) = leaf.san_dns.first() {
        return (d.clone(), LocalIdSource::SanDns);
    }
    if let Some(e) = leaf.san_email.first() {
        return (e.clone(), LocalIdSource::SanEmail);
    }
    (leaf.subject.clone(), LocalIdSource::SubjectDn)
}

/// The imported CA certificate among `candidates` that issued `site`'s leaf: a CA whose
/// subject is the leaf's issuer (DNs compared as X.500 names), not the site certificate
/// itself; the first in `candidates` order.
pub fn issuer_of<'a>(site: &CertRef<'a>, candidates: &[CertRef<'a>]) -> Option<CertRef<'a>> {
    let issuer = site.leaf()?.issuer.as_str();
    candidates
        .iter()
        .find(|c| {
            c.path != site.path
                && c.leaf()
                    .is_some_and(|l| l.is_ca && strait_pki::dn_equal(&l.subject, issuer))
        })
        .copied()
}

impl PeerConfigInput<'_> {
    /// Whether the session authenticates with certificates: `authentication_mode`
    /// CERTIFICATE, which any compliance suite other than NONE forces.
    pub fn certificate_auth(&self) -> bool {
        self.session.authentication_mode == AuthenticationMode::Certificate
            || self.session.compliance_suite != ComplianceSuite::None
    }

    /// strait's IKE ID and where it comes from, as the runtime chooses it. PSK sessions: the
    /// local endpoint's `local_id`, else its address. Certificate sessions: a `local_id` set
    /// to something other than the local address (the model's default), else the identity
    /// derived from the site certificate (NSX), else the address.
    pub fn local_identity(&self) -> (String, LocalIdSource) {
        let le = self.local_endpoint;
        let address = le.local_address.to_string();
        if !self.certificate_auth() {
            let id = le.local_id.clone().unwrap_or(address);
            return (id, LocalIdSource::LocalEndpoint);
        }
        if let Some(given) = le.local_id.as_deref().filter(|id| **id != address) {
            return (given.to_owned(), LocalIdSource::LocalEndpoint);
        }
        match self.certs.site.as_ref().and_then(CertRef::leaf) {
            Some(leaf) => certificate_identity(leaf),
            None => (address, LocalIdSource::LocalEndpoint),
        }
    }

    /// strait's IKE ID ([`Self::local_identity`]).
    pub fn local_id(&self) -> String {
        self.local_identity().0
    }
}

/// Render the peer configuration in `format`.
pub fn render(input: &PeerConfigInput<'_>, format: PeerConfigFormat) -> Zeroizing<String> {
    match format {
        PeerConfigFormat::Nsx => nsx(input),
        PeerConfigFormat::StrongSwan => strongswan(input),
    }
}

// ---- shared helpers ------------------------------------------------------------------------

/// `s` on one line: control characters (newlines, tabs) become spaces, so that free text
/// (names, descriptions) cannot break a line-oriented file or end a comment.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Java's `Date.toString()` in GMT, as NSX prints "Generated Time": `Mon Apr 29 07:07:43 GMT
/// 2024`.
pub fn nsx_time(epoch_ms: i64) -> String {
    const JAVA_DATE: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] GMT [year]"
    );
    time::OffsetDateTime::from_unix_timestamp(epoch_ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(JAVA_DATE).ok())
        .unwrap_or_else(|| format!("{epoch_ms} ms since 1970"))
}

/// The address and prefix the peer's tunnel interface should use, for one of the session's
/// VTI subnets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerVti {
    /// strait's own VTI address.
    pub ours: IpAddr,
    /// The peer's address.
    pub peer: IpAddr,
    /// The prefix length both use.
    pub prefix_length: u8,
    /// Whether the subnet has exactly two usable addresses (/30, /31, /127), so the peer's
    /// is the only one left; otherwise `peer` is a suggestion (the next free host after ours).
    pub only_choice: bool,
}

/// The peer's side of a VTI subnet: in a subnet with two usable hosts (IPv4 /30 and /31,
/// IPv6 /127) the other one; in larger subnets the next host address after strait's (the
/// first one after the last), which is only a suggestion.
pub fn peer_vti(subnet: &TunnelInterfaceIpSubnet) -> Option<PeerVti> {
    let ours = *subnet.ip_addresses.first()?;
    let prefix = subnet.prefix_length;
    let (bits, value) = match ours {
        IpAddr::V4(a) => (32u32, u128::from(u32::from(a))),
        IpAddr::V6(a) => (128u32, u128::from(a)),
    };
    if u32::from(prefix) >= bits || prefix == 0 {
        return None;
    }
    let host_bits = bits - u32::from(prefix);
    let size: u128 = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    let network = value & !size;
    let last = network | size;
    // Usable hosts: both addresses of an IPv4 /31 (RFC 3021) or IPv6 /127 (RFC 6164);
    // otherwise not the network address, and for IPv4 not the broadcast address.
    let (first, last) = if host_bits == 1 {
        (network, last)
    } else if bits == 32 {
        (network + 1, last - 1)
    } else {
        (network + 1, last)
    };
    if value < first || value > last {
        return None;
    }
    let peer = if value < last { value + 1 } else { first };
    if peer == value {
        return None;
    }
    let to_ip = |v: u128| -> IpAddr {
        if bits == 32 {
            IpAddr::V4(Ipv4Addr::from(v as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from(v))
        }
    };
    Some(PeerVti {
        ours,
        peer: to_ip(peer),
        prefix_length: prefix,
        only_choice: last - first == 1,
    })
}

fn network_of(v: &PeerVti) -> String {
    let sub = TunnelInterfaceIpSubnet {
        ip_addresses: vec![v.ours],
        prefix_length: v.prefix_length,
    };
    sub.network().map(|n| n.to_string()).unwrap_or_default()
}

/// The PRF digests strait offers for an IKE profile: those of its proposals
/// ([`IkeProfile::proposals`]), each once.
fn prf_digests(p: &IkeProfile) -> Vec<DigestAlgorithm> {
    let mut v: Vec<DigestAlgorithm> = Vec::new();
    for d in p.proposals().into_iter().flat_map(|spec| spec.prfs) {
        if !v.contains(&d) {
            v.push(d);
        }
    }
    v
}
