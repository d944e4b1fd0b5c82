//! The IPsec VPN service, its local endpoints and its route-based sessions.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::common::{limits, Common};
use super::{check_path_syntax, ParseCtx, SecretChange};
use crate::enums::{
    AuthenticationMode, ComplianceSuite, ConnectionInitiationMode, IkeLogLevel, MssDirection,
};
use crate::identity::IkeIdentity;
use crate::path::Kind;
use crate::problems::{codes, Problems};
use crate::reader::{ip_value, json_type, ObjectReader};
use crate::system;

/// NSX `IPSecVpnService`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VpnService {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// Admin status of the whole service (default true). Disabled: every session is down.
    #[schema(required = false)]
    pub enabled: bool,
    /// Session sync to a standby node (default true; strait runs one node and stores it).
    #[schema(required = false)]
    pub ha_sync: bool,
    /// IKE log level: DEBUG, INFO (default), WARN, ERROR, EMERGENCY.
    #[schema(required = false)]
    pub ike_log_level: IkeLogLevel,
}

impl VpnService {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> VpnService {
        let common = Common::read(r, p, ctx.path.id());
        let enabled = r.bool(p, "enabled").unwrap_or(true);
        let ha_sync = r.bool(p, "ha_sync").unwrap_or(true);
        let ike_log_level = r
            .enumeration(p, "ike_log_level")
            .unwrap_or(IkeLogLevel::Info);
        if let Some(v) = r.raw("bypass_rules") {
            if !matches!(v, serde_json::Value::Array(a) if a.is_empty()) {
                p.push(
                    "bypass_rules",
                    codes::UNSUPPORTED,
                    "bypass rules apply to policy-based sessions, which strait does not support \
                     yet; remove bypass_rules (route-based sessions decide by routes)",
                );
            }
        }
        VpnService {
            common,
            enabled,
            ha_sync,
            ike_log_level,
        }
    }
}

/// NSX `IPSecVpnLocalEndpoint`: the local address (and identity) IKE runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LocalEndpoint {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// IPv4 or IPv6 address IKE and ESP use on this gateway.
    #[schema(schema_with = super::common::address_schemas::ip)]
    pub local_address: IpAddr,
    /// Local IKE identity (IP, FQDN, email or DN); defaults to `local_address`. With
    /// certificate authentication the default is the site certificate's identity (its
    /// subjectAltName IP, DNS name or email, else its subject DN), and an explicit value must
    /// be one of those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"\S")]
    pub local_id: Option<String>,
    /// Site certificate (with private key) for certificate authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_path: Option<String>,
    /// CA certificates trusted to sign peers' certificates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust_ca_paths: Vec<String>,
    /// CRLs checked for peers' certificates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust_crl_paths: Vec<String>,
}

impl LocalEndpoint {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> Option<LocalEndpoint> {
        let common = Common::read(r, p, ctx.path.id());
        let local_address = required_ip(
            r,
            p,
            "local_address",
            "give the gateway's public IPv4 or IPv6 address that peers connect to, e.g. 198.51.100.1",
        );
        let local_id = r
            .string(p, "local_id", 1024)
            .and_then(|s| match IkeIdentity::parse(&s) {
                Ok(_) => Some(s),
                Err(e) => {
                    p.field("local_id", e);
                    None
                }
            });
        let certificate_path = r
            .string(p, "certificate_path", limits::PATH_MAX_CHARS)
            .filter(|s| check_path_syntax(p, "certificate_path", s, &[Kind::Certificate]));
        let trust_ca_paths = path_list(r, p, "trust_ca_paths", Kind::Certificate);
        let trust_crl_paths = path_list(r, p, "trust_crl_paths", Kind::Crl);
        r.ignore(&["scope"]);
        let local_address = local_address?;
        Some(LocalEndpoint {
            common,
            local_address,
            // NSX computes the ID from the address when none is given (Terraform reads it back).
            local_id: local_id.or_else(|| Some(local_address.to_string())),
            certificate_path,
            trust_ca_paths,
            trust_crl_paths,
        })
    }

    pub(crate) fn references(&self) -> Vec<String> {
        self.certificate_path
            .iter()
            .chain(&self.trust_ca_paths)
            .chain(&self.trust_crl_paths)
            .cloned()
            .collect()
    }
}

fn path_list<'a>(
    r: &mut ObjectReader<'a>,
    p: &mut Problems,
    name: &'a str,
    kind: Kind,
) -> Vec<String> {
    let list = r
        .string_list(p, name, limits::PATH_LIST_MAX, limits::PATH_MAX_CHARS)
        .unwrap_or_default();
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, s) in list.into_iter().enumerate() {
        let field = format!("{name}[{i}]");
        if out.contains(&s) {
            p.field(field, format!("{s} is listed twice; list each path once"));
        } else if check_path_syntax(p, &field, &s, &[kind]) {
            out.push(s);
        }
    }
    out
}

fn required_ip<'a>(
    r: &mut ObjectReader<'a>,
    p: &mut Problems,
    name: &'a str,
    hint: &str,
) -> Option<IpAddr> {
    let field = r.path_of(name);
    let Some(v) = r.raw(name) else {
        p.field(field, format!("is required; {hint}"));
        return None;
    };
    let ip = ip_value(p, &field, v, hint)?;
    if let Err(why) = check_unicast(ip) {
        p.field(field, format!("{ip} {why}; {hint}"));
        return None;
    }
    Some(ip)
}

/// Reject addresses no IKE peer can have.
pub fn check_unicast(ip: IpAddr) -> Result<(), &'static str> {
    if ip.is_unspecified() {
        return Err("is the unspecified address");
    }
    if ip.is_multicast() {
        return Err("is a multicast address");
    }
    if let IpAddr::V4(v4) = ip {
        if v4.is_broadcast() {
            return Err("is the broadcast address");
        }
    }
    Ok(())
}

/// NSX `TcpMaximumSegmentSizeClamping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TcpMssClamping {
    /// Which TCP connections get their MSS clamped (default NONE).
    #[schema(required = false)]
    pub direction: MssDirection,
    /// MSS value 108 to 8902; absent: derived from the VTI MTU (MTU - 40 for IPv4, - 60 for IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 108, maximum = 8902)]
    pub max_segment_size: Option<u32>,
}

/// MSS bounds from the NSX schema.
pub const MSS_MIN: i64 = 108;
/// MSS upper bound from the NSX schema.
pub const MSS_MAX: i64 = 8902;

/// NSX `TunnelInterfaceIPSubnet`: one address and its prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TunnelInterfaceIpSubnet {
    /// Exactly one address.
    #[schema(schema_with = super::common::address_schemas::one_ip_list)]
    pub ip_addresses: Vec<IpAddr>,
    /// Prefix length: 1-31 for IPv4, 1-127 for IPv6.
    #[schema(minimum = 1, maximum = 127)]
    pub prefix_length: u8,
}

impl TunnelInterfaceIpSubnet {
    /// The subnet as a network (host bits cleared).
    pub fn network(&self) -> Option<ipnet::IpNet> {
        let ip = *self.ip_addresses.first()?;
        ipnet::IpNet::new(ip, self.prefix_length)
            .ok()
            .map(|n| n.trunc())
    }

    /// The address with its prefix, e.g. 169.254.10.1/30.
    pub fn address(&self) -> Option<ipnet::IpNet> {
        let ip = *self.ip_addresses.first()?;
        ipnet::IpNet::new(ip, self.prefix_length).ok()
    }
}

/// NSX `IPSecVpnTunnelInterface`: the session's VTI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TunnelInterface {
    /// Id of the tunnel interface within the session (default `default`).
    #[schema(
        required = false,
        pattern = r"^[A-Za-z0-9_:@~+=-][A-Za-z0-9_.:@~+=-]{0,254}$"
    )]
    pub id: String,
    /// Display name (defaults to the id).
    #[schema(required = false)]
    pub display_name: String,
    /// At most one IPv4 and one IPv6 subnet.
    #[schema(min_items = 1, max_items = 2)]
    pub ip_subnets: Vec<TunnelInterfaceIpSubnet>,
}

/// NSX `RouteBasedIPSecVpnSession`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RouteBasedSession {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// Admin status (default true).
    #[schema(required = false)]
    pub enabled: bool,
    /// PSK (default) or CERTIFICATE; forced to CERTIFICATE by a compliance suite.
    #[schema(required = false)]
    pub authentication_mode: AuthenticationMode,
    /// Compliance suite (default NONE).
    #[schema(required = false)]
    pub compliance_suite: ComplianceSuite,
    /// INITIATOR (default) or RESPOND_ONLY. ON_DEMAND is for policy-based sessions only.
    #[schema(required = false)]
    pub connection_initiation_mode: ConnectionInitiationMode,
    /// The local endpoint (of this session's VPN service) IKE runs on.
    pub local_endpoint_path: String,
    /// The remote site's public IP address ("Remote IP").
    #[schema(schema_with = super::common::address_schemas::ip)]
    pub peer_address: IpAddr,
    /// The remote site's IKE identity ("Remote ID"): IP, FQDN, email, or DN with certificates.
    #[schema(pattern = r"\S")]
    pub peer_id: String,
    /// IKE profile (default `nsx-default-l3vpn-ike-profile`, or the suite's).
    #[schema(required = false)]
    pub ike_profile_path: String,
    /// IPsec tunnel profile (default `nsx-default-l3vpn-tunnel-profile`, or the suite's).
    #[schema(required = false)]
    pub tunnel_profile_path: String,
    /// DPD profile (default `nsx-default-l3vpn-dpd-profile`).
    #[schema(required = false)]
    pub dpd_profile_path: String,
    /// TCP MSS clamping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_mss_clamping: Option<TcpMssClamping>,
    /// Exactly one tunnel interface (VTI).
    #[schema(min_items = 1, max_items = 1)]
    pub tunnel_interfaces: Vec<TunnelInterface>,
    /// Deprecated NSX flag, stored only.
    #[schema(required = false)]
    pub force_whitelisting: bool,
    /// strait extension (default true): carry ESP in UDP port 4500 (RFC 3948) even without a
    /// NAT, as strongSwan's `encap = yes` does. false: plain ESP (IP protocol 50) unless IKE
    /// detects a NAT, in which case UDP encapsulation is still used (RFC 7296 §2.23).
    #[schema(required = false)]
    pub udp_encapsulation: bool,
}

/// PSK maximum length (seed page: "a maximum length of 128 characters").
pub const PSK_MAX_CHARS: usize = 128;

impl RouteBasedSession {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
        secrets: &mut Vec<(&'static str, SecretChange)>,
    ) -> Option<RouteBasedSession> {
        let common = Common::read(r, p, ctx.path.id());
        let enabled = r.bool(p, "enabled").unwrap_or(true);
        let compliance_suite = r
            .enumeration(p, "compliance_suite")
            .unwrap_or(ComplianceSuite::None);
        let suite_on = compliance_suite != ComplianceSuite::None;
        let authentication_mode = match r
            .enumeration::<AuthenticationMode>(p, "authentication_mode")
        {
            Some(AuthenticationMode::Psk) if suite_on => {
                p.push(
                    "authentication_mode",
                    codes::CONFLICT,
                    format!(
                        "compliance suite {compliance_suite} requires CERTIFICATE authentication; \
                         remove authentication_mode (it is set for you) or set compliance_suite to NONE to use a PSK"
                    ),
                );
                AuthenticationMode::Certificate
            }
            Some(m) => m,
            None if suite_on => AuthenticationMode::Certificate,
            None => AuthenticationMode::Psk,
        };
        let connection_initiation_mode = match r.enumeration(p, "connection_initiation_mode") {
            Some(ConnectionInitiationMode::OnDemand) => {
                p.push(
                    "connection_initiation_mode",
                    codes::UNSUPPORTED,
                    "ON_DEMAND does not apply to route-based sessions (NSX: \"Do not use with the \
                     route-based VPN. This mode applies to policy-based VPN only\"); use INITIATOR \
                     or RESPOND_ONLY",
                );
                ConnectionInitiationMode::OnDemand
            }
            Some(m) => m,
            None => ConnectionInitiationMode::Initiator,
        };
        let local_endpoint_path = match r.string(p, "local_endpoint_path", limits::PATH_MAX_CHARS) {
            Some(s) if check_path_syntax(p, "local_endpoint_path", &s, &[Kind::LocalEndpoint]) => {
                Some(s)
            }
            Some(_) => None,
            None => {
                p.field(
                    "local_endpoint_path",
                    "is required; give the path of a local endpoint of this VPN service, e.g. \
                     <service path>/local-endpoints/<id>",
                );
                None
            }
        };
        let peer_address = required_ip(
            r,
            p,
            "peer_address",
            "give the remote site's public IPv4 or IPv6 address (\"Remote IP\"), e.g. 203.0.113.2",
        );
        let peer_id = r
            .required_string(
                p,
                "peer_id",
                1024,
                "give the remote site's IKE ID (\"Remote ID\"): its IP address or FQDN for PSK, its \
                 certificate DN for certificate authentication",
            )
            .and_then(|s| match IkeIdentity::parse(&s) {
                Ok(IkeIdentity::Dn(_)) if authentication_mode == AuthenticationMode::Psk => {
                    p.push(
                        "peer_id",
                        codes::CONFLICT,
                        format!(
                            "{s:?} is a distinguished name, which identifies a certificate; with PSK \
                             authentication use the peer's IP address, FQDN or email ID, or switch \
                             authentication_mode to CERTIFICATE"
                        ),
                    );
                    None
                }
                Ok(_) => Some(s),
                Err(e) => {
                    p.field("peer_id", e);
                    None
                }
            });
        read_psk(r, p, ctx, authentication_mode, secrets);
        let ike_profile_path =
            profile_path(r, p, "ike_profile_path", Kind::IkeProfile, compliance_suite);
        let tunnel_profile_path = profile_path(
            r,
            p,
            "tunnel_profile_path",
            Kind::TunnelProfile,
            compliance_suite,
        );
        let dpd_profile_path =
            profile_path(r, p, "dpd_profile_path", Kind::DpdProfile, compliance_suite);
        let tcp_mss_clamping = read_mss(r, p);
        let tunnel_interfaces = read_tunnel_interfaces(r, p);
        let force_whitelisting = r.bool(p, "force_whitelisting").unwrap_or(false);
        let udp_encapsulation = r.bool(p, "udp_encapsulation").unwrap_or(true);
        if r.raw("site_overrides").is_some() {
            p.push(
                "site_overrides",
                codes::UNSUPPORTED,
                "site_overrides is for NSX Federation global managers; strait is a local manager: \
                 set local_endpoint_path, peer_address, peer_id and tunnel_interfaces directly",
            );
        }
        if r.raw("rules").is_some() {
            p.push(
                "rules",
                codes::UNSUPPORTED,
                "rules belong to policy-based sessions; a route-based session sends whatever is \
                 routed into its tunnel interface: remove rules and add routes instead",
            );
        }
        Some(RouteBasedSession {
            common,
            enabled,
            authentication_mode,
            compliance_suite,
            connection_initiation_mode,
            local_endpoint_path: local_endpoint_path?,
            peer_address: peer_address?,
            peer_id: peer_id?,
            ike_profile_path: ike_profile_path?,
            tunnel_profile_path: tunnel_profile_path?,
            dpd_profile_path: dpd_profile_path?,
            tcp_mss_clamping,
            tunnel_interfaces: tunnel_interfaces?,
            force_whitelisting,
            udp_encapsulation,
        })
    }

    pub(crate) fn references(&self) -> Vec<String> {
        vec![
            self.local_endpoint_path.clone(),
            self.ike_profile_path.clone(),
            self.tunnel_profile_path.clone(),
            self.dpd_profile_path.clone(),
        ]
    }

    /// The VTI's subnets.
    pub fn vti_subnets(&self) -> impl Iterator<Item = &TunnelInterfaceIpSubnet> {
        self.tunnel_interfaces
            .iter()
            .flat_map(|t| t.ip_subnets.iter())
    }
}

fn read_psk<'a>(
    r: &mut ObjectReader<'a>,
    p: &mut Problems,
    ctx: &ParseCtx<'_>,
    mode: AuthenticationMode,
    secrets: &mut Vec<(&'static str, SecretChange)>,
) {
    let present = r.is_present("psk");
    let raw = r.raw("psk");
    match raw {
        None if present && ctx.null_clears_secrets => secrets.push(("psk", SecretChange::Clear)),
        None => {}
        // NSX clients send `"psk": ""` to mean "no PSK here": Terraform's provider always
        // sends the field, empty for certificate sessions and for sessions imported without
        // their key (GET never returns it). An empty string is never a usable key, so it is
        // ignored there: a certificate session needs none, and a stored PSK is kept.
        Some(serde_json::Value::String(s))
            if s.is_empty()
                && (mode == AuthenticationMode::Certificate
                    || ctx.existing_secret("psk").is_some()) => {}
        Some(serde_json::Value::String(s)) => {
            let s = Zeroizing::new(s.clone());
            let n = s.chars().count();
            if mode == AuthenticationMode::Certificate {
                p.push(
                    "psk",
                    codes::CONFLICT,
                    "a pre-shared key is only used with authentication_mode PSK; remove psk or set \
                     authentication_mode to PSK",
                );
            } else if n == 0 {
                p.field(
                    "psk",
                    "the pre-shared key is empty; enter the key agreed with the remote site",
                );
            } else if n > PSK_MAX_CHARS {
                p.field(
                    "psk",
                    format!(
                        "the pre-shared key is {n} characters long; the maximum is {PSK_MAX_CHARS}"
                    ),
                );
            } else if s.chars().any(char::is_control) {
                p.field(
                    "psk",
                    "the pre-shared key contains a control character (such as a newline or tab); \
                     use printable characters only",
                );
            } else {
                secrets.push(("psk", SecretChange::Set(s)));
            }
        }
        Some(other) => p.field(
            "psk",
            format!("expected a string, found {}", json_type(other)),
        ),
    }
    if mode == AuthenticationMode::Psk && raw.is_none_or(|v| v.is_string()) {
        let psk_after = match secrets.iter().find(|(n, _)| *n == "psk") {
            Some((_, SecretChange::Set(_))) => true,
            Some((_, SecretChange::Clear)) => false,
            None => raw.is_some() || ctx.existing_secret("psk").is_some(),
        };
        if !psk_after {
            p.field(
                "psk",
                "is required with authentication_mode PSK (\"Pre-shared Key\"); enter the key agreed \
                 with the remote site, up to 128 characters",
            );
        }
    }
}

fn profile_path<'a>(
    r: &mut ObjectReader<'a>,
    p: &mut Problems,
    name: &'a str,
    kind: Kind,
    suite: ComplianceSuite,
) -> Option<String> {
    let suite_default = system::suite_profile_path(suite, kind);
    match r.string(p, name, limits::PATH_MAX_CHARS) {
        Some(s) => {
            if !check_path_syntax(p, name, &s, &[kind]) {
                return None;
            }
            if let Some(required) = &suite_default {
                if &s != required {
                    p.push(
                        name,
                        codes::CONFLICT,
                        format!(
                            "compliance suite {suite} uses its own {} {required}; remove {name} \
                             (it is set for you) or set compliance_suite to NONE to choose a profile",
                            kind.noun()
                        ),
                    );
                    return None;
                }
            }
            Some(s)
        }
        None => Some(suite_default.unwrap_or_else(|| system::default_profile_path(kind))),
    }
}

fn read_mss<'a>(r: &mut ObjectReader<'a>, p: &mut Problems) -> Option<TcpMssClamping> {
    let mut m = r.object(p, "tcp_mss_clamping", "TcpMaximumSegmentSizeClamping")?;
    let direction = m.enumeration(p, "direction").unwrap_or(MssDirection::None);
    let max_segment_size = m
        .int(p, "max_segment_size", MSS_MIN, MSS_MAX)
        .map(|v| v as u32);
    if direction == MssDirection::None && max_segment_size.is_some() {
        p.push(
            "tcp_mss_clamping.max_segment_size",
            codes::CONFLICT,
            "a max_segment_size has no effect while direction is NONE; set direction to \
             INBOUND_CONNECTION, OUTBOUND_CONNECTION or BOTH, or remove max_segment_size",
        );
    }
    m.finish(p);
    Some(TcpMssClamping {
        direction,
        max_segment_size,
    })
}

fn read_tunnel_interfaces<'a>(
    r: &mut ObjectReader<'a>,
    p: &mut Problems,
) -> Option<Vec<TunnelInterface>> {
    const HINT: &str =
        "give the VTI address in CIDR form, e.g. [{\"ip_subnets\": [{\"ip_addresses\": \
                        [\"169.254.10.1\"], \"prefix_length\": 30}]}]";
    let given = r.raw("tunnel_interfaces").is_some();
    let Some(items) = r.array(p, "tunnel_interfaces", 16) else {
        if !given {
            p.field(
                "tunnel_interfaces",
                format!("is required (\"Tunnel Interface\"); {HINT}"),
            );
        }
        return None;
    };
    let (field, v) = match items.as_slice() {
        [] => {
            p.field("tunnel_interfaces", format!("is empty; {HINT}"));
            return None;
        }
        [only] => only,
        more => {
            let n = more.len();
            p.field(
                "tunnel_interfaces",
                format!(
                    "has {n} entries; a route-based session has exactly one tunnel interface (for \
                     dual stack put one IPv4 and one IPv6 subnet in its ip_subnets)"
                ),
            );
            return None;
        }
    };
    let mut t = ObjectReader::new(v, field, "IPSecVpnTunnelInterface", p)?;
    let id = t
        .string(p, "id", 255)
        .unwrap_or_else(|| "default".to_owned());
    if let Err(e) = crate::path::check_id(&id) {
        p.field(t.path_of("id"), e);
    }
    let display_name = t
        .string(p, "display_name", limits::DISPLAY_NAME_MAX_CHARS)
        .unwrap_or_else(|| id.clone());
    t.ignore(&[
        "description",
        "tags",
        "resource_type",
        "path",
        "parent_path",
        "relative_path",
        "_revision",
        "unique_id",
        "realization_id",
        "marked_for_delete",
        "overridden",
        "_create_time",
        "_create_user",
        "_last_modified_time",
        "_last_modified_user",
        "_system_owned",
        "_protection",
        "_links",
        "_schema",
        "_self",
    ]);
    let subnets_field = t.path_of("ip_subnets");
    let subnets_given = t.raw("ip_subnets").is_some();
    let subnets = match t.array(p, "ip_subnets", 2) {
        Some(s) if !s.is_empty() => s,
        Some(_) => {
            p.field(subnets_field, format!("is empty; {HINT}"));
            t.finish(p);
            return None;
        }
        None => {
            if !subnets_given {
                p.field(subnets_field, format!("is required; {HINT}"));
            }
            t.finish(p);
            return None;
        }
    };
    let mut ip_subnets: Vec<TunnelInterfaceIpSubnet> = Vec::new();
    let mut ok = true;
    for (sf, sv) in subnets {
        match read_subnet(p, &sf, sv) {
            Some(s) => {
                // read_subnet returns exactly one address per subnet.
                let v4 = s.ip_addresses.first().is_some_and(IpAddr::is_ipv4);
                if ip_subnets
                    .iter()
                    .any(|o| o.ip_addresses.first().is_some_and(IpAddr::is_ipv4) == v4)
                {
                    p.push(
                        sf,
                        codes::CONFLICT,
                        format!(
                            "a second {} subnet; a tunnel interface has at most one IPv4 and one IPv6 subnet",
                            if v4 { "IPv4" } else { "IPv6" }
                        ),
                    );
                    ok = false;
                } else {
                    ip_subnets.push(s);
                }
            }
            None => ok = false,
        }
    }
    t.finish(p);
    ok.then(|| {
        vec![TunnelInterface {
            id,
            display_name,
            ip_subnets,
        }]
    })
}

fn read_subnet(
    p: &mut Problems,
    field: &str,
    v: &serde_json::Value,
) -> Option<TunnelInterfaceIpSubnet> {
    let mut s = ObjectReader::new(v, field, "TunnelInterfaceIPSubnet", p)?;
    let addr_field = s.path_of("ip_addresses");
    let addr_given = s.raw("ip_addresses").is_some();
    let ip = match s.array(p, "ip_addresses", 1024).as_deref() {
        Some([(f, v)]) => ip_value(p, f, v, "give the VTI's own address, e.g. 169.254.10.1"),
        Some(list) => {
            p.field(
                addr_field.clone(),
                format!(
                    "has {} addresses; give exactly one (this gateway's VTI address)",
                    list.len()
                ),
            );
            None
        }
        None => {
            if !addr_given {
                p.field(
                    addr_field.clone(),
                    "is required; give exactly one address, e.g. [\"169.254.10.1\"]",
                );
            }
            None
        }
    };
    let prefix_field = s.path_of("prefix_length");
    let prefix_given = s.raw("prefix_length").is_some();
    let prefix = match s.int(p, "prefix_length", 1, 127) {
        Some(v) => Some(v as u8),
        None => {
            if !prefix_given {
                p.field(
                    prefix_field.clone(),
                    "is required; e.g. 30 for a /30 point-to-point subnet",
                );
            }
            None
        }
    };
    s.finish(p);
    let (ip, prefix) = (ip?, prefix?);
    let max = if ip.is_ipv4() { 31 } else { 127 };
    if prefix > max {
        p.field(
            prefix_field,
            format!(
                "/{prefix} is too long for an {} tunnel interface; use 1 to {max} (e.g. 30)",
                if ip.is_ipv4() { "IPv4" } else { "IPv6" }
            ),
        );
        return None;
    }
    let first = format!("{addr_field}[0]");
    if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() {
        p.field(
            first,
            format!("{ip} cannot be a tunnel interface address; use e.g. 169.254.10.1"),
        );
        return None;
    }
    let net = ipnet::IpNet::new(ip, prefix).ok()?;
    let host_bits_zero = net.trunc().addr() == ip;
    let is_v4_broadcast = matches!(net, ipnet::IpNet::V4(n) if n.broadcast() == ip);
    if prefix < max && host_bits_zero {
        p.field(
            first,
            format!(
                "{ip} is the network address of {}; use a host address such as {}",
                net.trunc(),
                next_host(&net)
            ),
        );
        return None;
    }
    if ip.is_ipv4() && prefix < 31 && is_v4_broadcast {
        p.field(
            first,
            format!(
                "{ip} is the broadcast address of {}; use a host address",
                net.trunc()
            ),
        );
        return None;
    }
    Some(TunnelInterfaceIpSubnet {
        ip_addresses: vec![ip],
        prefix_length: prefix,
    })
}

fn next_host(net: &ipnet::IpNet) -> String {
    net.hosts()
        .next()
        .map(|h| h.to_string())
        .unwrap_or_default()
}
