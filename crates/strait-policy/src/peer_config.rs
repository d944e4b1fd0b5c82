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
    AuthenticationMode, ConnectionInitiationMode, DhGroup, DigestAlgorithm, DpdProbeMode,
    IkeEncryption, IkeVersion, MssDirection, TunnelEncryption,
};
use strait_model::objects::{
    DpdProfile, IkeProfile, LocalEndpoint, RouteBasedSession, TunnelInterfaceIpSubnet,
    TunnelProfile,
};
use strait_model::problems::codes;
use strait_model::{Kind, NsxEnum, ObjectPath, PolicyObject};
use zeroize::Zeroizing;

use crate::view::typed;
use crate::{Actor, Policy, PolicyError};

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
    /// When the text is generated (epoch ms), for "Generated Time".
    pub generated_ms: i64,
}

impl PeerConfigInput<'_> {
    /// strait's IKE ID: the local endpoint's `local_id`, else its address (as the runtime
    /// does).
    pub fn local_id(&self) -> String {
        self.local_endpoint
            .local_id
            .clone()
            .unwrap_or_else(|| self.local_endpoint.local_address.to_string())
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

// ---- NSX layout ----------------------------------------------------------------------------

/// NSX's list notation: `[A, B]`, and nothing for an empty list.
fn nsx_list<E: NsxEnum>(v: &[E]) -> String {
    if v.is_empty() {
        String::new()
    } else {
        format!(
            "[{}]",
            v.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
        )
    }
}

fn kv(out: &mut String, width: usize, key: &str, value: &str) {
    let _ = writeln!(out, "{key:<width$}: {value}");
}

fn comment_kv(out: &mut String, width: usize, key: &str, value: &str) {
    let _ = writeln!(out, "# {key:<width$}: {value}");
}

/// NSX's layout (reference §7), with strait's tunnel interface section appended.
pub fn nsx(input: &PeerConfigInput<'_>) -> Zeroizing<String> {
    let s = input.session;
    let ike = input.ike;
    let tunnel = input.tunnel;
    let mut o = Zeroizing::new(String::with_capacity(4096));
    let out: &mut String = &mut o;
    let name = one_line(&s.common.display_name);
    let description = one_line(s.common.description.as_deref().unwrap_or_default());
    let tier = if input.gateway_path.starts_with("/infra/tier-1s/") {
        "Tier 1 path"
    } else {
        "Tier 0 path"
    };

    out.push_str("# Suggestive peer configuration for Policy IPSec Vpn Session\n#\n");
    comment_kv(out, 32, "IPSec VPN session path", input.session_path);
    comment_kv(out, 32, "IPSec VPN session name", &name);
    comment_kv(out, 32, "IPSec VPN session description", &description);
    comment_kv(out, 32, tier, input.gateway_path);
    out.push_str("#\n");
    comment_kv(out, 26, "Enforcement point path", ENFORCEMENT_POINT_PATH);
    comment_kv(out, 26, "Enforcement point type", "NSX");
    out.push_str("#\n# Suggestive peer configuration for IPSec VPN Connection\n#\n");
    comment_kv(out, 27, "IPSecVPNSession Id", input.session_unique_id);
    comment_kv(out, 27, "IPSecVPNSession name", &name);
    comment_kv(out, 27, "IPSecVPNSession description", &description);
    comment_kv(out, 27, "IPSecVPNSession enabled", &s.enabled.to_string());
    comment_kv(out, 27, "IPSecVPNSession type", "Route based VPN");
    comment_kv(out, 27, "Logical router Id", input.gateway_unique_id);
    comment_kv(out, 27, "Generated Time", &nsx_time(input.generated_ms));

    out.push_str(
        "#\n# Internet Key Exchange Configuration [Phase 1]\n\
         # Configure the IKE SA as outlined below\n",
    );
    kv(out, 29, "IKE version", ike.ike_version.as_str());
    kv(
        out,
        29,
        "Connection initiation mode",
        s.connection_initiation_mode.as_str(),
    );
    kv(
        out,
        29,
        "Authentication method",
        s.authentication_mode.as_str(),
    );
    match input.psk {
        PskView::Shown(psk) => kv(out, 29, "Pre shared key", &Zeroizing::new(one_line(psk))),
        PskView::Hidden => kv(out, 29, "Pre shared key", HIDDEN_PSK),
        PskView::Absent if s.authentication_mode == AuthenticationMode::Psk => {
            kv(out, 29, "Pre shared key", "<not set>")
        }
        PskView::Absent => {}
    }
    kv(
        out,
        29,
        "Authentication algorithm",
        &nsx_list(&ike.digest_algorithms),
    );
    kv(
        out,
        29,
        "Encryption algorithm",
        &nsx_list(&ike.encryption_algorithms),
    );
    kv(out, 29, "SA life time", &ike.sa_life_time.to_string());
    kv(
        out,
        29,
        "Negotiation mode",
        match ike.ike_version {
            IkeVersion::IkeV2 => "Not applicable for ikev2",
            IkeVersion::IkeV1 | IkeVersion::IkeFlex => "Main mode",
        },
    );
    kv(out, 29, "DH group", &nsx_list(&ike.dh_groups));
    kv(out, 29, "Prf Algorithm", &nsx_list(&prf_digests(ike)));

    out.push_str(
        "#\n# IPsec_configuration [Phase 2]\n# Configure the IPsec SA as outlined below\n",
    );
    kv(out, 32, "Transform Protocol", "ESP");
    kv(
        out,
        32,
        "Authentication algorithm",
        &nsx_list(&tunnel.digest_algorithms),
    );
    kv(out, 32, "Sa life time", &tunnel.sa_life_time.to_string());
    kv(
        out,
        32,
        "Encryption algorithm",
        &nsx_list(&tunnel.encryption_algorithms),
    );
    kv(out, 32, "Encapsulation mode", "TUNNEL_MODE");
    kv(
        out,
        32,
        "Enable perfect forward secrecy",
        &tunnel.enable_perfect_forward_secrecy.to_string(),
    );
    kv(
        out,
        32,
        "Perfect forward secrecy DH group",
        &nsx_list(&tunnel.dh_groups),
    );

    out.push_str("#\n# IPsec Dead Peer Detection (DPD) settings\n");
    kv(out, 20, "DPD enabled", &input.dpd.enabled.to_string());
    kv(
        out,
        20,
        "DPD probe interval",
        &input.dpd.dpd_probe_interval.to_string(),
    );

    out.push_str("#\n# IPSec VPN Session Configuration\n");
    kv(
        out,
        16,
        "Peer address",
        &format!("{} # Peer gateway public IP.", s.peer_address),
    );
    kv(out, 16, "Peer id", &one_line(&s.peer_id));
    out.push_str("#\n");
    kv(
        out,
        16,
        "Local address",
        &format!(
            "{} # Local gateway public IP.",
            input.local_endpoint.local_address
        ),
    );
    kv(out, 16, "Local id", &one_line(&input.local_id()));

    out.push_str(
        "#\n# Tunnel interface (VTI) [route based]\n\
         # Configure the peer's tunnel interface as outlined below\n",
    );
    for subnet in s.vti_subnets() {
        let Some(v) = peer_vti(subnet) else {
            continue;
        };
        kv(
            out,
            26,
            "Local tunnel interface",
            &format!(
                "{}/{} # this gateway's VTI address",
                v.ours, v.prefix_length
            ),
        );
        let note = if v.only_choice {
            "address and prefix the peer's VTI should use".to_owned()
        } else {
            format!(
                "suggested: any free address of {} other than {} works",
                network_of(&v),
                v.ours
            )
        };
        kv(
            out,
            26,
            "Peer tunnel interface",
            &format!("{}/{} # {note}", v.peer, v.prefix_length),
        );
    }
    let mss = s.tcp_mss_clamping.as_ref();
    let direction = mss.map_or(MssDirection::None, |m| m.direction);
    kv(out, 26, "TCP MSS clamping direction", direction.as_str());
    if direction != MssDirection::None {
        let value = match mss.and_then(|m| m.max_segment_size) {
            Some(v) => v.to_string(),
            None => "automatic # VTI MTU - 40 (IPv4) / - 60 (IPv6)".to_owned(),
        };
        kv(out, 26, "TCP MSS value", &value);
    }
    kv(
        out,
        26,
        "UDP encapsulation",
        if s.udp_encapsulation {
            "true # ESP in UDP port 4500 (RFC 3948), also without a NAT"
        } else {
            "false # plain ESP (IP protocol 50) unless a NAT is found"
        },
    );
    o
}

// ---- strongSwan ----------------------------------------------------------------------------

/// strongSwan's keyword for an IKE cipher.
pub fn swan_ike_cipher(e: IkeEncryption) -> &'static str {
    match e {
        IkeEncryption::Aes128 => "aes128",
        IkeEncryption::Aes256 => "aes256",
        IkeEncryption::AesGcm128 => "aes128gcm16",
        IkeEncryption::AesGcm192 => "aes192gcm16",
        IkeEncryption::AesGcm256 => "aes256gcm16",
    }
}

/// strongSwan's keyword for a digest used as integrity algorithm (HMAC, truncated to half).
pub fn swan_integrity(d: DigestAlgorithm) -> &'static str {
    match d {
        DigestAlgorithm::Sha1 => "sha1",
        DigestAlgorithm::Sha2_256 => "sha256",
        DigestAlgorithm::Sha2_384 => "sha384",
        DigestAlgorithm::Sha2_512 => "sha512",
    }
}

/// strongSwan's keyword for a digest used as PRF.
pub fn swan_prf(d: DigestAlgorithm) -> &'static str {
    match d {
        DigestAlgorithm::Sha1 => "prfsha1",
        DigestAlgorithm::Sha2_256 => "prfsha256",
        DigestAlgorithm::Sha2_384 => "prfsha384",
        DigestAlgorithm::Sha2_512 => "prfsha512",
    }
}

/// strongSwan's keyword for a DH group.
pub fn swan_group(g: DhGroup) -> &'static str {
    match g {
        DhGroup::Group2 => "modp1024",
        DhGroup::Group5 => "modp1536",
        DhGroup::Group14 => "modp2048",
        DhGroup::Group15 => "modp3072",
        DhGroup::Group16 => "modp4096",
        DhGroup::Group19 => "ecp256",
        DhGroup::Group20 => "ecp384",
        DhGroup::Group21 => "ecp521",
        DhGroup::Group31 => "curve25519",
    }
}

/// strongSwan's keyword for an ESP transform.
pub fn swan_esp_cipher(e: TunnelEncryption) -> &'static str {
    match e {
        TunnelEncryption::Aes128 => "aes128",
        TunnelEncryption::Aes256 => "aes256",
        TunnelEncryption::AesGcm128 => "aes128gcm16",
        TunnelEncryption::AesGcm192 => "aes192gcm16",
        TunnelEncryption::AesGcm256 => "aes256gcm16",
        TunnelEncryption::NoEncryptionAuthAesGmac128 => "aes128gmac",
        TunnelEncryption::NoEncryptionAuthAesGmac192 => "aes192gmac",
        TunnelEncryption::NoEncryptionAuthAesGmac256 => "aes256gmac",
        TunnelEncryption::NoEncryption => "null",
    }
}

/// The peer's IKE proposals, the same split strait makes ([`IkeProfile::proposals`]: CBC
/// ciphers with the profile's digests as integrity and PRF; GCM ciphers, RFC 5282, with
/// PRF-HMAC-SHA2-256).
pub fn swan_ike_proposals(p: &IkeProfile) -> Vec<String> {
    let groups: Vec<&str> = p.dh_groups.iter().map(|g| swan_group(*g)).collect();
    p.proposals()
        .iter()
        .map(|spec| {
            let mut parts: Vec<&str> = spec.ciphers.iter().map(|e| swan_ike_cipher(*e)).collect();
            parts.extend(spec.integrity.iter().map(|d| swan_integrity(*d)));
            parts.extend(spec.prfs.iter().map(|d| swan_prf(*d)));
            parts.extend(&groups);
            parts.join("-")
        })
        .collect()
}

/// The peer's ESP proposals, the same split strait makes ([`TunnelProfile::proposals`]), with
/// the DH groups (PFS on rekeys) when PFS is on.
pub fn swan_esp_proposals(p: &TunnelProfile) -> Vec<String> {
    let pfs: Vec<&str> = p.pfs_groups().iter().map(|g| swan_group(*g)).collect();
    p.proposals()
        .iter()
        .map(|spec| {
            let mut parts: Vec<&str> = spec.ciphers.iter().map(|e| swan_esp_cipher(*e)).collect();
            parts.extend(spec.integrity.iter().map(|d| swan_integrity(*d)));
            parts.extend(&pfs);
            parts.join("-")
        })
        .collect()
}

/// A connection (section) name swanctl accepts: letters, digits, `-` and `_` (a `.` would
/// split swanctl's setting keys).
fn swan_name(session_id: &str) -> String {
    let id: String = session_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("strait-{id}")
}

/// Characters never written inside a quoted swanctl.conf string: the quote and escape
/// characters, `$` (references), `#` and braces (comments and sections, should a parser
/// ever look inside quotes).
fn unquotable(c: char) -> bool {
    !(' '..='~').contains(&c) || matches!(c, '"' | '\\' | '$' | '#' | '{' | '}')
}

/// Whether `s` can be written between double quotes in swanctl.conf as is.
fn quotable(s: &str) -> bool {
    !s.chars().any(unquotable)
}

/// A string value for swanctl.conf: quoted when that is safe, else `None`.
fn swan_quote(s: &str) -> Option<String> {
    quotable(s).then(|| format!("\"{s}\""))
}

/// An IKE ID for swanctl.conf (IDs strait accepts are always quotable; anything else is
/// written with its unsafe characters replaced, and flagged).
fn swan_id(s: &str) -> String {
    swan_quote(s).unwrap_or_else(|| {
        let safe: String = s
            .chars()
            .map(|c| if unquotable(c) { '?' } else { c })
            .collect();
        format!("\"{safe}\"  # CHECK: characters that swanctl.conf cannot quote were replaced by ?")
    })
}

/// The PSK as a swanctl secret: quoted when that is safe and it does not look like swanctl's
/// `0x`/`0s` encodings, else hex (`0x...`) of its UTF-8 bytes, which is exactly what strait
/// uses as the key.
pub fn swan_secret(psk: &str) -> Zeroizing<String> {
    let lower = psk.get(..2).map(str::to_ascii_lowercase);
    let encoded_prefix = matches!(lower.as_deref(), Some("0x" | "0s"));
    if quotable(psk) && !encoded_prefix {
        return Zeroizing::new(format!("\"{psk}\""));
    }
    let mut hex = Zeroizing::new(String::with_capacity(2 + psk.len() * 2));
    hex.push_str("0x");
    for b in psk.as_bytes() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// A swanctl.conf (strongSwan 5.9) for the peer: connection, child and PSK secret, with
/// comments for the tunnel interface and for the strongswan.conf of a kernel-libipsec peer.
pub fn strongswan(input: &PeerConfigInput<'_>) -> Zeroizing<String> {
    let s = input.session;
    let le = input.local_endpoint;
    let session_id = input
        .session_path
        .rsplit('/')
        .next()
        .unwrap_or(input.session_path);
    let name = swan_name(session_id);
    let local_id = input.local_id();
    let psk_auth = s.authentication_mode == AuthenticationMode::Psk;
    let mut o = Zeroizing::new(String::with_capacity(8192));
    let out: &mut String = &mut o;
    let c = |out: &mut String, line: &str| {
        let _ = writeln!(out, "# {line}");
    };

    // Header.
    c(
        out,
        &format!(
            "swanctl.conf for the remote peer of strait IPsec session {}",
            input.session_path
        ),
    );
    c(
        out,
        &format!(
            "(\"{}\"), generated by strait on {}.",
            one_line(&s.common.display_name),
            nsx_time(input.generated_ms)
        ),
    );
    c(
        out,
        &format!(
            "Profiles: IKE {}, tunnel {}, DPD {}.",
            s.ike_profile_path, s.tunnel_profile_path, s.dpd_profile_path
        ),
    );
    out.push_str("#\n");
    c(
        out,
        &format!(
            "In this file \"local\" is this peer ({}, ID {}) and \"remote\" is strait",
            s.peer_address,
            one_line(&s.peer_id)
        ),
    );
    c(
        out,
        &format!("({}, ID {}).", le.local_address, one_line(&local_id)),
    );
    c(
        out,
        "Load it with `swanctl --load-all` (e.g. as /etc/swanctl/conf.d/strait.conf, or",
    );
    c(out, "with `swanctl --load-all --file <this file>`).");
    if !s.enabled {
        c(
            out,
            "NOTE: the session is disabled in strait; enable it there to bring the tunnel up.",
        );
    }
    if !psk_auth {
        c(
            out,
            "NOTE: the session uses certificate authentication, which strait's IKE does not do",
        );
        c(
            out,
            "yet; it stays down until then. Fill in the certificates below (certs, cacerts).",
        );
    }
    if input.ike.ike_version != IkeVersion::IkeV2 {
        c(
            out,
            &format!(
                "NOTE: the IKE profile uses {}; strait speaks IKEv2 only, so the session stays down.",
                input.ike.ike_version
            ),
        );
    }

    // Tunnel interface.
    out.push_str("#\n");
    c(
        out,
        "Tunnel interface (route based). strait's VTI and the address this peer's",
    );
    c(out, "tunnel interface should use:");
    let vtis: Vec<PeerVti> = s.vti_subnets().filter_map(peer_vti).collect();
    for v in &vtis {
        c(
            out,
            &format!("  strait VTI: {}/{}", v.ours, v.prefix_length),
        );
        if v.only_choice {
            c(
                out,
                &format!("  peer VTI:   {}/{}", v.peer, v.prefix_length),
            );
        } else {
            c(
                out,
                &format!(
                    "  peer VTI:   {}/{}   (suggested: any free address of {} other than {})",
                    v.peer,
                    v.prefix_length,
                    network_of(v),
                    v.ours
                ),
            );
        }
    }
    c(
        out,
        "With kernel-libipsec (userspace ESP over its TUN device ipsec0, which charon creates",
    );
    c(
        out,
        "at start and removes at exit; configure it after every charon start):",
    );
    for v in &vtis {
        c(
            out,
            &format!("  ip addr add {}/{} dev ipsec0", v.peer, v.prefix_length),
        );
    }
    c(out, "  ip link set ipsec0 up");
    c(
        out,
        "and route the networks behind strait into it: ip route add <network> dev ipsec0",
    );
    c(
        out,
        "With kernel ESP, an XFRM interface instead (and uncomment if_id_in/if_id_out below):",
    );
    c(out, "  ip link add xfrm-strait type xfrm if_id 42");
    for v in &vtis {
        c(
            out,
            &format!(
                "  ip addr add {}/{} dev xfrm-strait",
                v.peer, v.prefix_length
            ),
        );
    }
    c(out, "  ip link set xfrm-strait up");

    // strongswan.conf for kernel-libipsec.
    out.push_str("#\n");
    c(
        out,
        "strongswan.conf for a kernel-libipsec peer (a kernel without ESP/XFRM, e.g. a container):",
    );
    c(out, "  charon {");
    c(out, "      load_modular = no");
    c(out, "      load = openssl random nonce sha1 sha2 hmac kdf pem pkcs1 pkcs8 x509 revocation constraints pubkey kernel-libipsec kernel-netlink socket-default vici");
    c(out, "      routing_table = 221");
    c(out, "      routing_table_prio = 40000");
    c(out, "  }");
    c(
        out,
        "- openssl first (fast AES-GCM); sha1 sha2 hmac kdf for the PRF; kernel-libipsec before",
    );
    c(
        out,
        "  kernel-netlink (the first kernel-ipsec backend wins). Debian disables kernel-libipsec",
    );
    c(
        out,
        "  in /etc/strongswan.d/charon/kernel-libipsec.conf, hence the explicit list.",
    );
    c(
        out,
        "- libipsec routes the traffic selectors (0/0 here) into ipsec0 from its own table;",
    );
    c(
        out,
        "  install_routes = no does not stop it, so that table is looked up after main (32766):",
    );
    c(
        out,
        "  then your routes decide what enters the tunnel, as route-based VPN needs.",
    );
    c(
        out,
        "- libipsec only does ESP in UDP (port 4500); no ESN, no IPComp.",
    );

    // Connection.
    let ts = {
        let mut v = Vec::new();
        if vtis.iter().any(|v| v.ours.is_ipv4()) {
            v.push("0.0.0.0/0");
        }
        if vtis.iter().any(|v| v.ours.is_ipv6()) {
            v.push("::/0");
        }
        if v.is_empty() {
            v.push("0.0.0.0/0");
        }
        v.join(", ")
    };
    let respond_only = s.connection_initiation_mode == ConnectionInitiationMode::RespondOnly;
    let w = |out: &mut String, indent: usize, line: &str| {
        let _ = writeln!(out, "{:indent$}{line}", "");
    };
    out.push_str("connections {\n");
    w(out, 4, &format!("{name} {{"));
    w(
        out,
        8,
        &format!(
            "version = {}",
            if input.ike.ike_version == IkeVersion::IkeV1 {
                1
            } else {
                2
            }
        ),
    );
    w(out, 8, "# this peer's address (strait's peer_address)");
    w(out, 8, &format!("local_addrs = {}", s.peer_address));
    w(out, 8, "# strait's local endpoint");
    w(out, 8, &format!("remote_addrs = {}", le.local_address));
    w(
        out,
        8,
        &format!(
            "# IKE profile: {} / {} / {}",
            nsx_list(&input.ike.encryption_algorithms),
            nsx_list(&input.ike.digest_algorithms),
            nsx_list(&input.ike.dh_groups)
        ),
    );
    w(
        out,
        8,
        &format!("proposals = {}", swan_ike_proposals(input.ike).join(", ")),
    );
    w(out, 8, "# strait's IKE SA lifetime (sa_life_time)");
    w(out, 8, &format!("rekey_time = {}s", input.ike.sa_life_time));
    let dpd = input.dpd;
    if dpd.enabled {
        w(
            out,
            8,
            &format!(
                "# strait's DPD profile: {}, every {} s, {} retries",
                dpd.dpd_probe_mode, dpd.dpd_probe_interval, dpd.retry_count
            ),
        );
        if dpd.dpd_probe_mode == DpdProbeMode::OnDemand {
            w(
                out,
                8,
                "# (strongSwan probes only when nothing was received for dpd_delay, like ON_DEMAND)",
            );
        }
        w(out, 8, &format!("dpd_delay = {}s", dpd.dpd_probe_interval));
    } else {
        w(out, 8, "# DPD is disabled in strait's DPD profile");
        w(out, 8, "dpd_delay = 0s");
    }
    if s.udp_encapsulation {
        w(
            out,
            8,
            "# strait carries ESP in UDP 4500 (udp_encapsulation, RFC 3948), also without a NAT",
        );
        w(out, 8, "encap = yes");
    } else {
        w(
            out,
            8,
            "# strait sends plain ESP for this session (udp_encapsulation false) unless there is a",
        );
        w(
            out,
            8,
            "# NAT; a kernel-libipsec peer uses ESP in UDP anyway (it forces NAT traversal)",
        );
        w(out, 8, "encap = no");
    }
    w(out, 8, "mobike = no");
    w(out, 8, "# retry forever");
    w(out, 8, "keyingtries = 0");
    w(out, 8, "local {");
    if psk_auth {
        w(out, 12, "auth = psk");
    } else {
        w(out, 12, "auth = pubkey");
        w(
            out,
            12,
            "# certs = <this peer's certificate, in /etc/swanctl/x509>",
        );
    }
    w(out, 12, "# strait's peer_id");
    w(out, 12, &format!("id = {}", swan_id(&s.peer_id)));
    w(out, 8, "}");
    w(out, 8, "remote {");
    w(
        out,
        12,
        if psk_auth {
            "auth = psk"
        } else {
            "auth = pubkey"
        },
    );
    if !psk_auth {
        w(
            out,
            12,
            "# cacerts = <the CA that signed strait's certificate, in /etc/swanctl/x509ca>",
        );
    }
    w(
        out,
        12,
        "# strait's local ID (its local endpoint's local_id)",
    );
    w(out, 12, &format!("id = {}", swan_id(&local_id)));
    w(out, 8, "}");
    w(out, 8, "children {");
    w(out, 12, &format!("{name} {{"));
    w(
        out,
        16,
        "# route based: everything both ways; routes into the tunnel interface decide",
    );
    w(out, 16, &format!("local_ts = {ts}"));
    w(out, 16, &format!("remote_ts = {ts}"));
    let t = input.tunnel;
    w(
        out,
        16,
        &format!(
            "# tunnel profile: {} / {} / PFS {} {}",
            nsx_list(&t.encryption_algorithms),
            if t.digest_algorithms.is_empty() {
                "no digest".to_owned()
            } else {
                nsx_list(&t.digest_algorithms)
            },
            t.enable_perfect_forward_secrecy,
            nsx_list(&t.dh_groups)
        ),
    );
    if t.enable_perfect_forward_secrecy {
        w(
            out,
            16,
            "# (the DH groups are for PFS when the Child SA is rekeyed)",
        );
    }
    w(
        out,
        16,
        &format!("esp_proposals = {}", swan_esp_proposals(t).join(", ")),
    );
    w(out, 16, "mode = tunnel");
    w(out, 16, "# strait's IPsec SA lifetime (sa_life_time)");
    w(out, 16, &format!("rekey_time = {}s", t.sa_life_time));
    if respond_only {
        w(
            out,
            16,
            "# strait only responds (connection_initiation_mode RESPOND_ONLY), so this peer must",
        );
        w(
            out,
            16,
            "# initiate: at load, again when strait stops answering (DPD) or closes the tunnel",
        );
        w(out, 16, "start_action = start");
        w(out, 16, "dpd_action = restart");
        w(out, 16, "close_action = start");
    } else {
        w(
            out,
            16,
            "# strait initiates (connection_initiation_mode INITIATOR) at once and again after any",
        );
        w(
            out,
            16,
            "# failure, so this peer waits for it: initiating too would race strait and can leave",
        );
        w(
            out,
            16,
            &format!(
                "# two IKE SAs. To bring the tunnel up from here: swanctl --initiate --child {name}"
            ),
        );
        w(out, 16, "start_action = none");
        w(out, 16, "dpd_action = restart");
    }
    w(
        out,
        16,
        "# updown = /path/to/script   # e.g. to add routes into the tunnel interface on up",
    );
    w(
        out,
        16,
        "# if_id_in = 42   # with an XFRM interface (if_id 42) instead of kernel-libipsec",
    );
    w(out, 16, "# if_id_out = 42");
    w(out, 12, "}");
    w(out, 8, "}");
    w(out, 4, "}");
    out.push_str("}\n");

    // Secrets.
    out.push_str("secrets {\n");
    match input.psk {
        PskView::Shown(psk) if psk_auth => {
            w(out, 4, &format!("ike-{name} {{"));
            w(out, 8, "# this peer's ID and strait's");
            w(out, 8, &format!("id-1 = {}", swan_id(&s.peer_id)));
            w(out, 8, &format!("id-2 = {}", swan_id(&local_id)));
            if swan_secret(psk).starts_with("0x") {
                w(
                    out,
                    8,
                    "# the key in hex (its UTF-8 bytes): it has characters a quoted string cannot hold",
                );
            }
            let mut line = Zeroizing::new(String::from("secret = "));
            line.push_str(&swan_secret(psk));
            w(out, 8, &line);
            w(out, 4, "}");
        }
        _ if psk_auth => {
            let why = match input.psk {
                PskView::Hidden => {
                    "the pre-shared key is hidden: only admins can see the pre-shared key;"
                }
                _ => "the session has no pre-shared key yet;",
            };
            w(out, 4, &format!("# {why}"));
            w(
                out,
                4,
                "# ask an admin for this file, or add the key agreed with strait's operator:",
            );
            w(out, 4, &format!("# ike-{name} {{"));
            w(out, 4, &format!("#     id-1 = {}", swan_id(&s.peer_id)));
            w(out, 4, &format!("#     id-2 = {}", swan_id(&local_id)));
            w(out, 4, "#     secret = \"<pre-shared key>\"");
            w(out, 4, "# }");
        }
        _ => {
            w(
                out,
                4,
                "# certificate authentication: the private key goes to /etc/swanctl/private",
            );
        }
    }
    out.push_str("}\n");
    o
}

// ---- reading the objects -------------------------------------------------------------------

fn missing(what: &str, path: &str) -> PolicyError {
    PolicyError::invalid(
        "",
        codes::BAD_REFERENCE,
        format!(
            "the session's {what} {path} is missing or unreadable; fix the session's references"
        ),
    )
}

impl Policy {
    /// The peer configuration of a stored session, rendered in `format`, generated at
    /// `generated_ms` (epoch ms). The PSK is included only for admins. Read in one
    /// transaction.
    pub fn peer_config(
        &self,
        session: &str,
        actor: &Actor,
        format: PeerConfigFormat,
        generated_ms: i64,
    ) -> Result<Zeroizing<String>, PolicyError> {
        let path = ObjectPath::parse(session)?;
        if path.kind() != Kind::Session {
            return Err(PolicyError::NotFound {
                noun: Kind::Session.noun(),
                path: path.to_string(),
            });
        }
        self.store
            .read(|tx| -> Result<Zeroizing<String>, PolicyError> {
                let not_found = || PolicyError::NotFound {
                    noun: Kind::Session.noun(),
                    path: path.to_string(),
                };
                let stored = tx.object(path.as_str())?.ok_or_else(not_found)?;
                let Some((_, PolicyObject::Session(s))) = typed(&stored) else {
                    return Err(not_found());
                };
                let gateway_path = path.gateway().ok_or_else(not_found)?;
                let gateway = tx
                    .object(gateway_path.as_str())?
                    .ok_or_else(|| missing("gateway", gateway_path.as_str()))?;
                let get = |p: &str, what: &str| -> Result<PolicyObject, PolicyError> {
                    tx.object(p)?
                        .as_ref()
                        .and_then(typed)
                        .map(|(_, o)| o)
                        .ok_or_else(|| missing(what, p))
                };
                let PolicyObject::LocalEndpoint(le) =
                    get(&s.local_endpoint_path, "local endpoint")?
                else {
                    return Err(missing("local endpoint", &s.local_endpoint_path));
                };
                let PolicyObject::IkeProfile(ike) = get(&s.ike_profile_path, "IKE profile")? else {
                    return Err(missing("IKE profile", &s.ike_profile_path));
                };
                let PolicyObject::TunnelProfile(tunnel) =
                    get(&s.tunnel_profile_path, "tunnel profile")?
                else {
                    return Err(missing("tunnel profile", &s.tunnel_profile_path));
                };
                let PolicyObject::DpdProfile(dpd) = get(&s.dpd_profile_path, "DPD profile")? else {
                    return Err(missing("DPD profile", &s.dpd_profile_path));
                };
                // The secret is read only for those who may see it.
                let secret = if s.authentication_mode == AuthenticationMode::Psk && actor.is_admin()
                {
                    tx.secret(path.as_str(), "psk")?
                } else {
                    None
                };
                let psk = match (&secret, s.authentication_mode) {
                    (Some(k), _) => PskView::Shown(k.as_str()),
                    (None, AuthenticationMode::Psk)
                        if !actor.is_admin() && tx.has_secret(path.as_str(), "psk")? =>
                    {
                        PskView::Hidden
                    }
                    _ => PskView::Absent,
                };
                let input = PeerConfigInput {
                    session_path: path.as_str(),
                    session_unique_id: &stored.unique_id,
                    session: &s,
                    gateway_path: gateway_path.as_str(),
                    gateway_unique_id: &gateway.unique_id,
                    local_endpoint: &le,
                    ike: &ike,
                    tunnel: &tunnel,
                    dpd: &dpd,
                    psk,
                    generated_ms,
                };
                Ok(render(&input, format))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strait_model::enums::ComplianceSuite;
    use strait_model::objects::{Common, TcpMssClamping, TunnelInterface};
    use strait_model::system::{default_profile_path, system_objects};

    const PATH: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/to-site-b";
    /// NSX's sample time: Mon Apr 29 07:07:43 GMT 2024.
    const TIME: i64 = 1_714_374_463_000;

    fn system(kind: Kind) -> PolicyObject {
        let p = default_profile_path(kind);
        system_objects()
            .into_iter()
            .find(|(path, _)| path.as_str() == p)
            .map(|(_, o)| o)
            .unwrap()
    }

    fn defaults() -> (IkeProfile, TunnelProfile, DpdProfile) {
        let (
            PolicyObject::IkeProfile(i),
            PolicyObject::TunnelProfile(t),
            PolicyObject::DpdProfile(d),
        ) = (
            system(Kind::IkeProfile),
            system(Kind::TunnelProfile),
            system(Kind::DpdProfile),
        )
        else {
            panic!("system profiles")
        };
        (i, t, d)
    }

    fn session(vti: &str, prefix: u8) -> RouteBasedSession {
        RouteBasedSession {
            common: Common {
                display_name: "to-site-b".into(),
                description: Some("Branch office".into()),
                tags: vec![],
            },
            enabled: true,
            authentication_mode: AuthenticationMode::Psk,
            compliance_suite: ComplianceSuite::None,
            connection_initiation_mode: ConnectionInitiationMode::Initiator,
            local_endpoint_path: "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le"
                .into(),
            peer_address: "203.0.113.2".parse().unwrap(),
            peer_id: "203.0.113.2".into(),
            ike_profile_path: default_profile_path(Kind::IkeProfile),
            tunnel_profile_path: default_profile_path(Kind::TunnelProfile),
            dpd_profile_path: default_profile_path(Kind::DpdProfile),
            tcp_mss_clamping: None,
            tunnel_interfaces: vec![TunnelInterface {
                id: "default".into(),
                display_name: "default".into(),
                ip_subnets: vec![TunnelInterfaceIpSubnet {
                    ip_addresses: vec![vti.parse().unwrap()],
                    prefix_length: prefix,
                }],
            }],
            force_whitelisting: false,
            udp_encapsulation: true,
        }
    }

    fn endpoint() -> LocalEndpoint {
        LocalEndpoint {
            common: Common::with_id("le"),
            local_address: "198.51.100.1".parse().unwrap(),
            local_id: Some("198.51.100.1".into()),
            certificate_path: None,
            trust_ca_paths: vec![],
            trust_crl_paths: vec![],
        }
    }

    struct Fixture {
        s: RouteBasedSession,
        le: LocalEndpoint,
        ike: IkeProfile,
        tunnel: TunnelProfile,
        dpd: DpdProfile,
    }

    impl Fixture {
        fn new() -> Fixture {
            let (ike, tunnel, dpd) = defaults();
            Fixture {
                s: session("169.254.100.1", 30),
                le: endpoint(),
                ike,
                tunnel,
                dpd,
            }
        }

        fn input<'a>(&'a self, psk: PskView<'a>) -> PeerConfigInput<'a> {
            PeerConfigInput {
                session_path: PATH,
                session_unique_id: "6f1c2a5e-0000-4000-8000-000000000001",
                session: &self.s,
                gateway_path: "/infra/tier-0s/t0",
                gateway_unique_id: "6f1c2a5e-0000-4000-8000-000000000002",
                local_endpoint: &self.le,
                ike: &self.ike,
                tunnel: &self.tunnel,
                dpd: &self.dpd,
                psk,
                generated_ms: TIME,
            }
        }
    }

    const GOLDEN_NSX: &str = "\
# Suggestive peer configuration for Policy IPSec Vpn Session
#
# IPSec VPN session path          : /infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/to-site-b
# IPSec VPN session name          : to-site-b
# IPSec VPN session description   : Branch office
# Tier 0 path                     : /infra/tier-0s/t0
#
# Enforcement point path    : /infra/sites/default/enforcement-points/default
# Enforcement point type    : NSX
#
# Suggestive peer configuration for IPSec VPN Connection
#
# IPSecVPNSession Id         : 6f1c2a5e-0000-4000-8000-000000000001
# IPSecVPNSession name       : to-site-b
# IPSecVPNSession description: Branch office
# IPSecVPNSession enabled    : true
# IPSecVPNSession type       : Route based VPN
# Logical router Id          : 6f1c2a5e-0000-4000-8000-000000000002
# Generated Time             : Mon Apr 29 07:07:43 GMT 2024
#
# Internet Key Exchange Configuration [Phase 1]
# Configure the IKE SA as outlined below
IKE version                  : IKE_V2
Connection initiation mode   : INITIATOR
Authentication method        : PSK
Pre shared key               : correct horse battery staple
Authentication algorithm     : [SHA2_256]
Encryption algorithm         : [AES_128]
SA life time                 : 86400
Negotiation mode             : Not applicable for ikev2
DH group                     : [GROUP14]
Prf Algorithm                : [SHA2_256]
#
# IPsec_configuration [Phase 2]
# Configure the IPsec SA as outlined below
Transform Protocol              : ESP
Authentication algorithm        : 
Sa life time                    : 3600
Encryption algorithm            : [AES_GCM_128]
Encapsulation mode              : TUNNEL_MODE
Enable perfect forward secrecy  : true
Perfect forward secrecy DH group: [GROUP14]
#
# IPsec Dead Peer Detection (DPD) settings
DPD enabled         : true
DPD probe interval  : 60
#
# IPSec VPN Session Configuration
Peer address    : 203.0.113.2 # Peer gateway public IP.
Peer id         : 203.0.113.2
#
Local address   : 198.51.100.1 # Local gateway public IP.
Local id        : 198.51.100.1
#
# Tunnel interface (VTI) [route based]
# Configure the peer's tunnel interface as outlined below
Local tunnel interface    : 169.254.100.1/30 # this gateway's VTI address
Peer tunnel interface     : 169.254.100.2/30 # address and prefix the peer's VTI should use
TCP MSS clamping direction: NONE
UDP encapsulation         : true # ESP in UDP port 4500 (RFC 3948), also without a NAT
";

    #[test]
    fn nsx_format_of_the_nsx_defaults_matches_the_golden_text() {
        let f = Fixture::new();
        let text = nsx(&f.input(PskView::Shown("correct horse battery staple")));
        if text.as_str() != GOLDEN_NSX {
            for (i, (a, b)) in text.lines().zip(GOLDEN_NSX.lines()).enumerate() {
                assert_eq!(a, b, "line {}", i + 1);
            }
        }
        assert_eq!(text.as_str(), GOLDEN_NSX);
        // Format selection goes through render().
        assert_eq!(
            render(
                &f.input(PskView::Shown("correct horse battery staple")),
                PeerConfigFormat::Nsx
            )
            .as_str(),
            GOLDEN_NSX
        );
    }

    #[test]
    fn generated_time_is_javas_date_in_gmt() {
        assert_eq!(nsx_time(TIME), "Mon Apr 29 07:07:43 GMT 2024");
        assert_eq!(nsx_time(0), "Thu Jan 01 00:00:00 GMT 1970");
        assert_eq!(nsx_time(951_782_400_000), "Tue Feb 29 00:00:00 GMT 2000");
        assert_eq!(nsx_time(4_102_444_799_000), "Thu Dec 31 23:59:59 GMT 2099");
    }

    #[test]
    fn formats_parse() {
        assert_eq!(PeerConfigFormat::parse("nsx"), Some(PeerConfigFormat::Nsx));
        assert_eq!(
            PeerConfigFormat::parse("strongSwan"),
            Some(PeerConfigFormat::StrongSwan)
        );
        assert_eq!(PeerConfigFormat::parse("xml"), None);
        assert_eq!(PeerConfigFormat::default(), PeerConfigFormat::Nsx);
    }

    #[test]
    fn psk_is_hidden_for_non_admins() {
        let f = Fixture::new();
        let secret = "correct horse battery staple";
        for format in [PeerConfigFormat::Nsx, PeerConfigFormat::StrongSwan] {
            let shown = render(&f.input(PskView::Shown(secret)), format);
            assert!(shown.contains(secret), "{format:?}");
            let hidden = render(&f.input(PskView::Hidden), format);
            assert!(!hidden.contains(secret), "{format:?}");
            assert!(
                hidden.contains("only admins can see the pre-shared key"),
                "{}",
                *hidden
            );
        }
        let nsx_hidden = nsx(&f.input(PskView::Hidden));
        assert!(nsx_hidden.contains(
            "Pre shared key               : <hidden> # only admins can see the pre-shared key\n"
        ));
        // The hidden strongSwan file has no secret entry at all (only comments).
        let swan = strongswan(&f.input(PskView::Hidden));
        let secrets = swan.split("secrets {").nth(1).unwrap();
        assert!(secrets
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l == "}"));
    }

    #[test]
    fn every_algorithm_maps() {
        let ike: Vec<&str> = IkeEncryption::ALL
            .iter()
            .map(|e| swan_ike_cipher(*e))
            .collect();
        assert_eq!(
            ike,
            [
                "aes128",
                "aes256",
                "aes128gcm16",
                "aes192gcm16",
                "aes256gcm16"
            ]
        );
        let integ: Vec<&str> = DigestAlgorithm::ALL
            .iter()
            .map(|d| swan_integrity(*d))
            .collect();
        assert_eq!(integ, ["sha1", "sha256", "sha384", "sha512"]);
        let prf: Vec<&str> = DigestAlgorithm::ALL.iter().map(|d| swan_prf(*d)).collect();
        assert_eq!(prf, ["prfsha1", "prfsha256", "prfsha384", "prfsha512"]);
        let groups: Vec<&str> = DhGroup::ALL.iter().map(|g| swan_group(*g)).collect();
        assert_eq!(
            groups,
            [
                "modp1024",
                "modp1536",
                "modp2048",
                "modp3072",
                "modp4096",
                "ecp256",
                "ecp384",
                "ecp521",
                "curve25519"
            ]
        );
        let esp: Vec<&str> = TunnelEncryption::ALL
            .iter()
            .map(|e| swan_esp_cipher(*e))
            .collect();
        assert_eq!(
            esp,
            [
                "aes128",
                "aes256",
                "aes128gcm16",
                "aes192gcm16",
                "aes256gcm16",
                "aes128gmac",
                "aes192gmac",
                "aes256gmac",
                "null"
            ]
        );
    }

    #[test]
    fn proposals_follow_straits_split() {
        let (mut ike, mut tunnel, _) = defaults();
        assert_eq!(
            swan_ike_proposals(&ike),
            ["aes128-sha256-prfsha256-modp2048"]
        );
        assert_eq!(swan_esp_proposals(&tunnel), ["aes128gcm16-modp2048"]);
        // GCM-only IKE: PRF-HMAC-SHA2-256, no integrity.
        ike.encryption_algorithms = vec![IkeEncryption::AesGcm128, IkeEncryption::AesGcm256];
        ike.digest_algorithms = vec![];
        ike.dh_groups = vec![DhGroup::Group19, DhGroup::Group31];
        assert_eq!(
            swan_ike_proposals(&ike),
            ["aes128gcm16-aes256gcm16-prfsha256-ecp256-curve25519"]
        );
        // Mixed: CBC with the digests, GCM apart.
        ike.encryption_algorithms = vec![IkeEncryption::Aes256, IkeEncryption::AesGcm256];
        ike.digest_algorithms = vec![DigestAlgorithm::Sha2_384, DigestAlgorithm::Sha2_512];
        ike.dh_groups = vec![DhGroup::Group20];
        assert_eq!(
            swan_ike_proposals(&ike),
            [
                "aes256-sha384-sha512-prfsha384-prfsha512-ecp384",
                "aes256gcm16-prfsha256-ecp384"
            ]
        );
        assert_eq!(
            nsx_list(&prf_digests(&ike)),
            "[SHA2_384, SHA2_512, SHA2_256]"
        );
        // ESP: combined apart from CBC/NULL with digests; no groups without PFS.
        tunnel.encryption_algorithms = vec![
            TunnelEncryption::AesGcm256,
            TunnelEncryption::NoEncryptionAuthAesGmac128,
            TunnelEncryption::Aes128,
            TunnelEncryption::NoEncryption,
        ];
        tunnel.digest_algorithms = vec![DigestAlgorithm::Sha1, DigestAlgorithm::Sha2_256];
        tunnel.dh_groups = vec![DhGroup::Group14, DhGroup::Group21];
        assert_eq!(
            swan_esp_proposals(&tunnel),
            [
                "aes256gcm16-aes128gmac-modp2048-ecp521",
                "aes128-null-sha1-sha256-modp2048-ecp521"
            ]
        );
        tunnel.enable_perfect_forward_secrecy = false;
        assert_eq!(
            swan_esp_proposals(&tunnel),
            ["aes256gcm16-aes128gmac", "aes128-null-sha1-sha256"]
        );
    }

    #[test]
    fn strongswan_file_for_the_defaults() {
        let f = Fixture::new();
        let text = strongswan(&f.input(PskView::Shown("correct horse battery staple")));
        for needle in [
            "connections {\n    strait-to-site-b {\n        version = 2\n",
            "        local_addrs = 203.0.113.2\n",
            "        remote_addrs = 198.51.100.1\n",
            "        proposals = aes128-sha256-prfsha256-modp2048\n",
            "        rekey_time = 86400s\n",
            "        dpd_delay = 60s\n",
            "        encap = yes\n",
            "            auth = psk\n            # strait's peer_id\n            id = \"203.0.113.2\"\n",
            "            id = \"198.51.100.1\"\n",
            "                local_ts = 0.0.0.0/0\n",
            "                remote_ts = 0.0.0.0/0\n",
            "                esp_proposals = aes128gcm16-modp2048\n",
            "                rekey_time = 3600s\n",
            "                start_action = none\n",
            "                dpd_action = restart\n",
            "#   ip addr add 169.254.100.2/30 dev ipsec0\n",
            "routing_table_prio = 40000",
            "kernel-libipsec kernel-netlink",
            "secrets {\n    ike-strait-to-site-b {\n",
            "        id-1 = \"203.0.113.2\"\n        id-2 = \"198.51.100.1\"\n",
            "        secret = \"correct horse battery staple\"\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{}", *text);
        }
        assert_balanced(&text);
        // RESPOND_ONLY: the peer must initiate.
        let mut f = Fixture::new();
        f.s.connection_initiation_mode = ConnectionInitiationMode::RespondOnly;
        let text = strongswan(&f.input(PskView::Absent));
        assert!(text.contains("                start_action = start\n"));
        assert!(text.contains("                close_action = start\n"));
        assert_balanced(&text);
    }

    /// Outside comments and quoted strings, braces balance and every line is a section
    /// opening, a closing brace or one `key = value` setting.
    fn assert_balanced(text: &str) {
        let mut depth = 0i32;
        for line in text.lines() {
            let code = strip_comment(line);
            let t = code.trim();
            if t.is_empty() {
                continue;
            }
            if let Some(name) = t.strip_suffix('{') {
                let name = name.trim();
                assert!(
                    !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                    "bad section line {line:?}"
                );
                depth += 1;
            } else if t == "}" {
                depth -= 1;
                assert!(depth >= 0, "unbalanced at {line:?}");
            } else {
                let (k, v) = t
                    .split_once(" = ")
                    .unwrap_or_else(|| panic!("bad line {line:?}"));
                assert!(!k.contains(['{', '}', '"', ' ']), "bad key in {line:?}");
                if v.starts_with('"') {
                    assert!(
                        v.len() >= 2
                            && v.ends_with('"')
                            && !v[1..v.len() - 1].contains(['"', '\\']),
                        "bad quoted value in {line:?}"
                    );
                } else {
                    assert!(!v.contains(['{', '}', '"', '\\']), "bad value in {line:?}");
                }
            }
        }
        assert_eq!(depth, 0, "unbalanced braces in\n{text}");
    }

    /// The line without a `#` comment that is outside double quotes.
    fn strip_comment(line: &str) -> &str {
        let mut quoted = false;
        for (i, c) in line.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '#' if !quoted => return &line[..i],
                _ => {}
            }
        }
        line
    }

    #[test]
    fn hostile_psk_keeps_the_secrets_section_well_formed() {
        let f = Fixture::new();
        for psk in [
            "a\"b\\c}\nsecret = evil {",
            "}}}",
            "x\" # }",
            "0xdeadbeef",
            "0sAAAA",
            "${HOME}",
            "pässwörd",
            "tab\there",
        ] {
            let text = strongswan(&f.input(PskView::Shown(psk)));
            assert_balanced(&text);
            let secrets = text.split("\nsecrets {\n").nth(1).unwrap();
            let lines: Vec<&str> = secrets
                .lines()
                .filter(|l| l.trim_start().starts_with("secret = "))
                .collect();
            assert_eq!(lines.len(), 1, "{secrets}");
            let value = lines[0].trim_start().strip_prefix("secret = ").unwrap();
            // Hex of the UTF-8 bytes: exactly the key strait uses.
            let hex: String = psk.bytes().map(|b| format!("{b:02x}")).collect();
            assert_eq!(value, format!("0x{hex}"), "{psk:?}");
            assert!(!text.contains("evil"));
        }
        // A plain key stays readable.
        let text = strongswan(&f.input(PskView::Shown("plain key, with spaces!")));
        assert!(text.contains("        secret = \"plain key, with spaces!\"\n"));
        assert_balanced(&text);
        // NSX layout: one line whatever the key holds.
        let text = nsx(&f.input(PskView::Shown("line1\nline2")));
        assert!(text.contains("Pre shared key               : line1 line2\n"));
    }

    #[test]
    fn hostile_names_stay_in_their_comments() {
        let mut f = Fixture::new();
        f.s.common.display_name = "x\n}\nconnections { evil".into();
        f.s.common.description = Some("line\nIKE version : IKE_V1".into());
        let text = strongswan(&f.input(PskView::Hidden));
        assert_balanced(&text);
        let text = nsx(&f.input(PskView::Hidden));
        assert!(!text.contains("\nIKE version : IKE_V1"));
        assert!(text.lines().all(|l| !l.starts_with("connections")));
    }

    #[test]
    fn peer_vti_addresses() {
        let v = |a: &str, p: u8| {
            peer_vti(&TunnelInterfaceIpSubnet {
                ip_addresses: vec![a.parse().unwrap()],
                prefix_length: p,
            })
            .map(|v| (v.peer.to_string(), v.only_choice))
        };
        assert_eq!(v("169.254.100.1", 30), Some(("169.254.100.2".into(), true)));
        assert_eq!(v("169.254.100.2", 30), Some(("169.254.100.1".into(), true)));
        assert_eq!(v("169.254.100.4", 31), Some(("169.254.100.5".into(), true)));
        assert_eq!(v("169.254.100.5", 31), Some(("169.254.100.4".into(), true)));
        assert_eq!(v("10.0.0.1", 24), Some(("10.0.0.2".into(), false)));
        assert_eq!(v("10.0.0.254", 24), Some(("10.0.0.1".into(), false)));
        assert_eq!(v("fd00::1", 127), Some(("fd00::".into(), true)));
        assert_eq!(v("fd00::0", 127), Some(("fd00::1".into(), true)));
        assert_eq!(v("fd00::1", 126), Some(("fd00::2".into(), false)));
        assert_eq!(v("fd00::3", 126), Some(("fd00::1".into(), false)));
        assert_eq!(v("fd00::1", 64), Some(("fd00::2".into(), false)));
        assert_eq!(v("10.0.0.0", 24), None, "network address");
    }

    #[test]
    fn dual_stack_and_larger_subnets_are_explained() {
        let mut f = Fixture::new();
        f.s.tunnel_interfaces[0].ip_subnets = vec![
            TunnelInterfaceIpSubnet {
                ip_addresses: vec!["10.9.0.1".parse().unwrap()],
                prefix_length: 24,
            },
            TunnelInterfaceIpSubnet {
                ip_addresses: vec!["fd00:1::1".parse().unwrap()],
                prefix_length: 64,
            },
        ];
        f.s.tcp_mss_clamping = Some(TcpMssClamping {
            direction: MssDirection::Both,
            max_segment_size: Some(1360),
        });
        f.s.connection_initiation_mode = ConnectionInitiationMode::RespondOnly;
        let text = nsx(&f.input(PskView::Hidden));
        for needle in [
            "Connection initiation mode   : RESPOND_ONLY\n",
            "Local tunnel interface    : 10.9.0.1/24 # this gateway's VTI address\n",
            "Peer tunnel interface     : 10.9.0.2/24 # suggested: any free address of 10.9.0.0/24 other than 10.9.0.1 works\n",
            "Local tunnel interface    : fd00:1::1/64 # this gateway's VTI address\n",
            "Peer tunnel interface     : fd00:1::2/64 # suggested",
            "TCP MSS clamping direction: BOTH\nTCP MSS value             : 1360\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{}", *text);
        }
        let swan = strongswan(&f.input(PskView::Hidden));
        assert!(swan.contains("local_ts = 0.0.0.0/0, ::/0\n"), "{}", *swan);
        assert!(swan.contains("#   ip addr add fd00:1::2/64 dev ipsec0\n"));
        assert_balanced(&swan);
    }

    #[test]
    fn certificate_sessions_and_tier1_gateways() {
        let mut f = Fixture::new();
        f.s.authentication_mode = AuthenticationMode::Certificate;
        f.s.peer_id = "C=US, O=Peer, CN=site-c".into();
        let mut input = f.input(PskView::Absent);
        input.gateway_path = "/infra/tier-1s/t1";
        let text = nsx(&input);
        assert!(text.contains("Authentication method        : CERTIFICATE\n"));
        assert!(!text.contains("Pre shared key"));
        assert!(text.contains("# Tier 1 path                     : /infra/tier-1s/t1\n"));
        let swan = strongswan(&input);
        assert!(swan.contains("auth = pubkey"));
        assert!(swan.contains("id = \"C=US, O=Peer, CN=site-c\""));
        assert_balanced(&swan);
    }
}
