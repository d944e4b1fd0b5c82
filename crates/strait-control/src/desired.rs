//! From the stored policy to what ike-proto negotiates: one [`SessionConfig`] per enabled
//! route-based PSK session, or the reason the session cannot run.

use std::collections::BTreeMap;
use std::time::Duration;

use ike_crypto::{Cipher, DhGroup, Integrity, Prf};
use ike_proto::{
    DpdConfig, DpdMode, EspCipher, EspProposal, Identity, IkeProposal, SessionConfig, SessionId,
};
use strait_dataplane::mss::MssDirection;
use strait_dataplane::{vti_mtu, DfPolicy, TunnelSpec, VtiRoute};
use strait_model::enums::{
    AuthenticationMode, ComplianceSuite, ConnectionInitiationMode, DfPolicy as NsxDf,
    DhGroup as NsxGroup, DigestAlgorithm, DpdProbeMode, IkeEncryption, IkeLogLevel, IkeVersion,
    MssDirection as NsxMss, TunnelEncryption,
};
use strait_model::identity::IkeIdentity;
use strait_model::objects::{
    IkeProfile, LocalEndpoint, RouteBasedSession, TunnelProfile, VpnService,
};
use strait_model::status::reasons;
use strait_model::{Kind, PolicyObject};
use strait_policy::TreeSnapshot;
use zeroize::Zeroizing;

/// A stored session, and what the runtime should do with it.
#[derive(Debug, Clone)]
pub struct Desired {
    /// The session's policy path.
    pub path: String,
    /// Its display name.
    pub display_name: String,
    /// Negotiate this, or why not.
    pub plan: Plan,
}

/// Run it, or report why it does not run.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Negotiate with this configuration, over this tunnel.
    Run(Box<SessionConfig>, Box<TunnelSpec>),
    /// Not running: NSX reason string and what to change.
    Idle {
        /// NSX fail_reason.
        reason: &'static str,
        /// Alarm text (None when simply disabled).
        alarm: Option<String>,
    },
}

fn group(g: NsxGroup) -> Option<DhGroup> {
    DhGroup::from_id(match g {
        NsxGroup::Group2 => 2,
        NsxGroup::Group5 => 5,
        NsxGroup::Group14 => 14,
        NsxGroup::Group15 => 15,
        NsxGroup::Group16 => 16,
        NsxGroup::Group19 => 19,
        NsxGroup::Group20 => 20,
        NsxGroup::Group21 => 21,
        NsxGroup::Group31 => 31,
    })
}

fn integrity(d: DigestAlgorithm) -> Integrity {
    match d {
        DigestAlgorithm::Sha1 => Integrity::HmacSha1_96,
        DigestAlgorithm::Sha2_256 => Integrity::HmacSha256_128,
        DigestAlgorithm::Sha2_384 => Integrity::HmacSha384_192,
        DigestAlgorithm::Sha2_512 => Integrity::HmacSha512_256,
    }
}

fn prf(d: DigestAlgorithm) -> Prf {
    match d {
        DigestAlgorithm::Sha1 => Prf::HmacSha1,
        DigestAlgorithm::Sha2_256 => Prf::HmacSha256,
        DigestAlgorithm::Sha2_384 => Prf::HmacSha384,
        DigestAlgorithm::Sha2_512 => Prf::HmacSha512,
    }
}

/// IKE proposals from an NSX IKE profile, split as [`IkeProfile::proposals`] says (the
/// contract's rules, shared with the peer configuration strait hands out).
pub fn ike_proposals(p: &IkeProfile) -> Vec<IkeProposal> {
    let groups: Vec<DhGroup> = p.dh_groups.iter().filter_map(|g| group(*g)).collect();
    p.proposals()
        .into_iter()
        .map(|spec| IkeProposal {
            ciphers: spec.ciphers.iter().map(|e| ike_cipher(*e)).collect(),
            integrity: spec.integrity.iter().map(|d| integrity(*d)).collect(),
            prfs: spec.prfs.iter().map(|d| prf(*d)).collect(),
            groups: groups.clone(),
        })
        .collect()
}

fn ike_cipher(e: IkeEncryption) -> Cipher {
    match e {
        IkeEncryption::Aes128 => Cipher::AesCbc { key_bits: 128 },
        IkeEncryption::Aes256 => Cipher::AesCbc { key_bits: 256 },
        IkeEncryption::AesGcm128 => Cipher::AesGcm16 { key_bits: 128 },
        IkeEncryption::AesGcm192 => Cipher::AesGcm16 { key_bits: 192 },
        IkeEncryption::AesGcm256 => Cipher::AesGcm16 { key_bits: 256 },
    }
}

fn esp_cipher(e: TunnelEncryption) -> EspCipher {
    match e {
        TunnelEncryption::Aes128 => EspCipher::AesCbc(128),
        TunnelEncryption::Aes256 => EspCipher::AesCbc(256),
        TunnelEncryption::AesGcm128 => EspCipher::AesGcm16(128),
        TunnelEncryption::AesGcm192 => EspCipher::AesGcm16(192),
        TunnelEncryption::AesGcm256 => EspCipher::AesGcm16(256),
        TunnelEncryption::NoEncryptionAuthAesGmac128 => EspCipher::NullAuthAesGmac(128),
        TunnelEncryption::NoEncryptionAuthAesGmac192 => EspCipher::NullAuthAesGmac(192),
        TunnelEncryption::NoEncryptionAuthAesGmac256 => EspCipher::NullAuthAesGmac(256),
        TunnelEncryption::NoEncryption => EspCipher::Null,
    }
}

/// ESP proposals from an NSX tunnel profile, split as [`TunnelProfile::proposals`] says, with
/// its PFS groups.
pub fn esp_proposals(p: &TunnelProfile) -> Vec<EspProposal> {
    let pfs: Vec<DhGroup> = p.pfs_groups().iter().filter_map(|g| group(*g)).collect();
    p.proposals()
        .into_iter()
        .map(|spec| EspProposal {
            ciphers: spec.ciphers.iter().map(|e| esp_cipher(*e)).collect(),
            integrity: spec.integrity.iter().map(|d| integrity(*d)).collect(),
            pfs_groups: pfs.clone(),
            // NO_ESN preferred; ESN accepted from a peer that insists (RFC 4303 §2.2.1).
            esn: true,
        })
        .collect()
}

/// An NSX ID string as an IKE identity (contract: IP literal, `=` DN, `@` email, else FQDN).
pub fn identity(s: &str) -> Option<Identity> {
    match IkeIdentity::parse(s).ok()? {
        IkeIdentity::Ip(ip) => Some(Identity::ip(ip)),
        IkeIdentity::Fqdn(f) => Some(Identity::fqdn(&f)),
        IkeIdentity::Rfc822(e) => Some(Identity::email(&e)),
        IkeIdentity::Dn(_) => None,
    }
}

fn idle(reason: &'static str, alarm: Option<String>) -> Plan {
    Plan::Idle { reason, alarm }
}

/// What to run, for every stored session.
pub fn desired(tree: &TreeSnapshot) -> Vec<Desired> {
    tree.of_kind(Kind::Session)
        .filter_map(|o| match &o.object {
            PolicyObject::Session(s) => Some(Desired {
                path: o.path.to_string(),
                display_name: s.common.display_name.clone(),
                plan: plan(tree, o.path.as_str(), s),
            }),
            _ => None,
        })
        .collect()
}

/// What to run, for the sessions among `paths` that are stored (the others are gone).
pub fn desired_for<'a>(
    tree: &TreeSnapshot,
    paths: impl IntoIterator<Item = &'a str>,
) -> Vec<Desired> {
    paths
        .into_iter()
        .filter_map(|path| match tree.get(path) {
            Some(PolicyObject::Session(s)) => Some(Desired {
                path: path.to_owned(),
                display_name: s.common.display_name.clone(),
                plan: plan(tree, path, s),
            }),
            _ => None,
        })
        .collect()
}

fn plan(tree: &TreeSnapshot, path: &str, s: &RouteBasedSession) -> Plan {
    let service_path = path.rsplitn(3, '/').nth(2).unwrap_or_default();
    let Some(PolicyObject::VpnService(service)) = tree.get(service_path) else {
        return idle(
            reasons::CONFIGURATION_FAILED,
            Some(format!(
                "the session's VPN service {service_path} is missing"
            )),
        );
    };
    let VpnService {
        enabled: service_enabled,
        ..
    } = service;
    if !service_enabled {
        return idle(
            reasons::IPSEC_SERVICE_NOT_ENABLED,
            Some(format!("the IPsec VPN service {service_path} is disabled; enable it to bring its sessions up")),
        );
    }
    if !s.enabled {
        return idle(reasons::SESSION_NOT_ENABLED, None);
    }
    let Some(PolicyObject::LocalEndpoint(le)) = tree.get(&s.local_endpoint_path) else {
        return idle(
            reasons::CONFIGURATION_FAILED,
            Some(format!(
                "local endpoint {} is missing",
                s.local_endpoint_path
            )),
        );
    };
    let LocalEndpoint {
        local_address,
        local_id,
        ..
    } = le;
    let (Some(PolicyObject::IkeProfile(ike)), Some(PolicyObject::TunnelProfile(tunnel))) = (
        tree.get(&s.ike_profile_path),
        tree.get(&s.tunnel_profile_path),
    ) else {
        return idle(
            reasons::CONFIGURATION_FAILED,
            Some("the session's IKE or tunnel profile is missing".into()),
        );
    };
    if ike.ike_version != IkeVersion::IkeV2
        && matches!(
            s.compliance_suite,
            ComplianceSuite::Foundation | ComplianceSuite::Fips
        )
    {
        return idle(
            reasons::CONFIGURATION_FAILED,
            Some(format!(
                "compliance suite {} uses {} (its system IKE profile), and strait speaks IKEv2 only for now: choose CNSA, PRIME, SUITE_B_GCM_128 or SUITE_B_GCM_256 (IKEv2), or NONE with your own IKE_V2 profile",
                s.compliance_suite, ike.ike_version
            )),
        );
    }
    if ike.ike_version != IkeVersion::IkeV2 {
        return idle(
            reasons::CONFIGURATION_FAILED,
            Some(format!(
                "IKE profile {} uses {}; strait speaks IKEv2 only: use an IKE_V2 profile",
                s.ike_profile_path, ike.ike_version
            )),
        );
    }
    let remote_identity = match crate::certs::identity_with_dn(&s.peer_id) {
        Ok(id) => id,
        Err(e) => return idle(reasons::CONFIGURATION_FAILED, Some(e)),
    };
    let (psk, certificate, local_identity) =
        if s.authentication_mode == AuthenticationMode::Certificate {
            match crate::certs::certificate_auth(tree, &s.local_endpoint_path, le, s) {
                Ok((auth, local)) => (Zeroizing::new(Vec::new()), Some(auth), local),
                Err(alarm) => return idle(reasons::CONFIGURATION_FAILED, Some(alarm)),
            }
        } else {
            let Some(psk) = tree.psks.get(path) else {
                return idle(
                    reasons::CONFIGURATION_FAILED,
                    Some("the session has no pre-shared key; set psk".into()),
                );
            };
            let local_id_str = local_id
                .clone()
                .unwrap_or_else(|| local_address.to_string());
            let local = match crate::certs::identity_with_dn(&local_id_str) {
                Ok(id) => id,
                Err(e) => return idle(reasons::CONFIGURATION_FAILED, Some(e)),
            };
            (Zeroizing::new(psk.as_bytes().to_vec()), None, local)
        };
    let ipv4 = s
        .vti_subnets()
        .any(|n| n.ip_addresses.first().is_some_and(|a| a.is_ipv4()));
    let ipv6 = s
        .vti_subnets()
        .any(|n| n.ip_addresses.first().is_some_and(|a| a.is_ipv6()));
    let config = SessionConfig {
        id: SessionId(path.to_owned()),
        local: *local_address,
        remote: s.peer_address,
        local_id: local_identity,
        remote_id: remote_identity,
        psk,
        certificate,
        ike: ike_proposals(ike),
        esp: esp_proposals(tunnel),
        ike_lifetime: Duration::from_secs(ike.sa_life_time),
        child_lifetime: Duration::from_secs(tunnel.sa_life_time),
        initiate: s.connection_initiation_mode == ConnectionInitiationMode::Initiator,
        force_udp_encapsulation: s.udp_encapsulation,
        ipv4,
        ipv6,
        dpd: dpd(tree, &s.dpd_profile_path),
    };
    let mut tunnel_spec = tunnel_spec(path, s, local_address.is_ipv6(), &config.esp, tunnel);
    tunnel_spec.routes = static_routes(tree, path, s);
    Plan::Run(Box::new(config), Box::new(tunnel_spec))
}

/// DPD from the session's DPD profile (reference §3.3); a missing or disabled profile means
/// no probes.
fn dpd(tree: &TreeSnapshot, profile_path: &str) -> Option<DpdConfig> {
    let Some(PolicyObject::DpdProfile(p)) = tree.get(profile_path) else {
        return None;
    };
    p.enabled.then(|| DpdConfig {
        mode: match p.dpd_probe_mode {
            DpdProbeMode::Periodic => DpdMode::Periodic,
            DpdProbeMode::OnDemand => DpdMode::OnDemand,
        },
        interval: Duration::from_secs(u64::from(p.dpd_probe_interval)),
        retry_count: p.retry_count,
    })
}

/// The ESP transforms a session may negotiate (for the VTI MTU).
fn esp_transforms(proposals: &[EspProposal]) -> Vec<esp_proto::Transform> {
    let mut out = Vec::new();
    for p in proposals {
        for c in &p.ciphers {
            let integs: Vec<Option<Integrity>> = if c.is_combined() {
                vec![None]
            } else {
                p.integrity.iter().copied().map(Some).collect()
            };
            for i in integs {
                if let Ok(t) = esp_proto::Transform::from_ikev2(c.transform_id(), c.key_bits(), i) {
                    out.push(t);
                }
            }
        }
    }
    out
}

/// The session's VTI: its subnets, an MTU that leaves room for ESP, MSS clamping and the DF
/// policy.
fn tunnel_spec(
    path: &str,
    s: &RouteBasedSession,
    outer_ipv6: bool,
    esp: &[EspProposal],
    profile: &TunnelProfile,
) -> TunnelSpec {
    let mtu = vti_mtu(outer_ipv6, &esp_transforms(esp));
    let (mss_direction, mss_value) = match &s.tcp_mss_clamping {
        Some(m) => (
            match m.direction {
                NsxMss::None => MssDirection::None,
                NsxMss::InboundConnection => MssDirection::InboundConnection,
                NsxMss::OutboundConnection => MssDirection::OutboundConnection,
                NsxMss::Both => MssDirection::Both,
            },
            m.max_segment_size.and_then(|v| u16::try_from(v).ok()),
        ),
        None => (MssDirection::None, None),
    };
    TunnelSpec {
        session: path.to_owned(),
        addresses: s.vti_subnets().filter_map(|n| n.address()).collect(),
        mtu,
        mss_direction,
        mss_value,
        df: match profile.df_policy {
            NsxDf::Copy => DfPolicy::Copy,
            NsxDf::Clear => DfPolicy::Clear,
        },
        routes: Vec::new(),
    }
}

/// The IKE log level asked for by the VPN services: the most verbose `ike_log_level` of the
/// enabled services (INFO when there is none), as a tracing level name.
pub fn ike_log_level(tree: &TreeSnapshot) -> &'static str {
    let rank = |l: IkeLogLevel| match l {
        IkeLogLevel::Debug => 0,
        IkeLogLevel::Info => 1,
        IkeLogLevel::Warn => 2,
        IkeLogLevel::Error | IkeLogLevel::Emergency => 3,
    };
    let most_verbose = tree
        .of_kind(Kind::VpnService)
        .filter_map(|o| match &o.object {
            PolicyObject::VpnService(v) if v.enabled => Some(rank(v.ike_log_level)),
            _ => None,
        })
        .min()
        .unwrap_or(1);
    ["debug", "info", "warn", "error"]
        .get(most_verbose)
        .copied()
        .unwrap_or("info")
}

/// The gateway a policy path belongs to: `/infra/tier-0s/t0/...` → `/infra/tier-0s/t0`.
fn gateway_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/infra/")?;
    let mut parts = rest.splitn(3, '/');
    let (tier, id) = (parts.next()?, parts.next()?);
    Some(&path[..("/infra/".len() + tier.len() + 1 + id.len())])
}

/// The kernel routes over a session's VTI: every static route of the session's gateway with a
/// next hop inside one of the VTI's subnets (contract §Routes), with the next hop's admin
/// distance as metric; the lowest distance wins when several next hops use this VTI.
pub fn static_routes(
    tree: &TreeSnapshot,
    session_path: &str,
    s: &RouteBasedSession,
) -> Vec<VtiRoute> {
    let Some(gateway) = gateway_of(session_path) else {
        return Vec::new();
    };
    let subnets: Vec<ipnet::IpNet> = s.vti_subnets().filter_map(|n| n.address()).collect();
    let mut routes: BTreeMap<ipnet::IpNet, u32> = BTreeMap::new();
    for o in tree.of_kind(Kind::StaticRoute) {
        let PolicyObject::StaticRoute(r) = &o.object else {
            continue;
        };
        if gateway_of(o.path.as_str()) != Some(gateway) {
            continue;
        }
        for hop in &r.next_hops {
            let on_this_vti = subnets.iter().any(|n| {
                n.contains(&hop.ip_address) && n.addr().is_ipv4() == r.network.addr().is_ipv4()
            });
            if on_this_vti {
                let metric = u32::from(hop.admin_distance);
                routes
                    .entry(r.network.trunc())
                    .and_modify(|m| *m = (*m).min(metric))
                    .or_insert(metric);
            }
        }
    }
    routes
        .into_iter()
        .map(|(net, metric)| VtiRoute { net, metric })
        .collect()
}

/// Static routes that no VTI carries: for each, its path and the next hops that lie in no
/// session's tunnel-interface subnet on its gateway (strait stores them but installs nothing;
/// the runtime logs them so that the operator learns why the route is missing).
pub fn routes_without_vti(tree: &TreeSnapshot) -> Vec<(String, Vec<std::net::IpAddr>)> {
    let mut subnets: Vec<(&str, ipnet::IpNet)> = Vec::new();
    for o in tree.of_kind(Kind::Session) {
        if let (PolicyObject::Session(s), Some(g)) = (&o.object, gateway_of(o.path.as_str())) {
            subnets.extend(s.vti_subnets().filter_map(|n| n.address()).map(|n| (g, n)));
        }
    }
    let mut out = Vec::new();
    for o in tree.of_kind(Kind::StaticRoute) {
        let PolicyObject::StaticRoute(r) = &o.object else {
            continue;
        };
        let gateway = gateway_of(o.path.as_str());
        let stray: Vec<std::net::IpAddr> = r
            .next_hops
            .iter()
            .map(|h| h.ip_address)
            .filter(|ip| {
                !subnets
                    .iter()
                    .any(|(g, n)| Some(*g) == gateway && n.contains(ip))
            })
            .collect();
        if stray.len() == r.next_hops.len() {
            out.push((o.path.to_string(), stray));
        }
    }
    out
}

/// Whether a path names a session (for the API's status routes).
pub fn is_session(path: &str) -> bool {
    strait_model::ObjectPath::parse(path).is_ok_and(|p| p.kind() == Kind::Session)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strait_model::objects::Common;

    fn ike(enc: Vec<IkeEncryption>, dig: Vec<DigestAlgorithm>) -> IkeProfile {
        IkeProfile {
            common: Common::with_id("p"),
            ike_version: IkeVersion::IkeV2,
            encryption_algorithms: enc,
            digest_algorithms: dig,
            dh_groups: vec![NsxGroup::Group14, NsxGroup::Group31],
            sa_life_time: 86_400,
        }
    }

    #[test]
    fn nsx_default_ike_profile() {
        let p = ike_proposals(&ike(
            vec![IkeEncryption::Aes128],
            vec![DigestAlgorithm::Sha2_256],
        ));
        assert_eq!(
            p,
            vec![IkeProposal {
                ciphers: vec![Cipher::AesCbc { key_bits: 128 }],
                integrity: vec![Integrity::HmacSha256_128],
                prfs: vec![Prf::HmacSha256],
                groups: vec![DhGroup::Modp2048, DhGroup::Curve25519],
            }]
        );
    }

    #[test]
    fn gcm_and_cbc_get_separate_proposals() {
        let p = ike_proposals(&ike(
            vec![IkeEncryption::AesGcm256, IkeEncryption::Aes256],
            vec![DigestAlgorithm::Sha2_384],
        ));
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].ciphers, vec![Cipher::AesCbc { key_bits: 256 }]);
        assert_eq!(p[1].ciphers, vec![Cipher::AesGcm16 { key_bits: 256 }]);
        assert!(p[1].integrity.is_empty());
        assert_eq!(p[1].prfs, vec![Prf::HmacSha256]);
    }

    #[test]
    fn tunnel_profiles() {
        let t = TunnelProfile {
            common: Common::with_id("t"),
            encryption_algorithms: vec![
                TunnelEncryption::AesGcm128,
                TunnelEncryption::NoEncryption,
            ],
            digest_algorithms: vec![DigestAlgorithm::Sha2_256],
            enable_perfect_forward_secrecy: false,
            dh_groups: vec![NsxGroup::Group14],
            df_policy: strait_model::enums::DfPolicy::Copy,
            sa_life_time: 3600,
        };
        let p = esp_proposals(&t);
        assert_eq!(p[0].ciphers, vec![EspCipher::AesGcm16(128)]);
        assert_eq!(p[1].ciphers, vec![EspCipher::Null]);
        assert_eq!(p[1].integrity, vec![Integrity::HmacSha256_128]);
        assert!(p.iter().all(|x| x.pfs_groups.is_empty()), "PFS off");
    }

    #[test]
    fn identities_follow_the_contract() {
        assert_eq!(
            identity("203.0.113.5").unwrap().id_type,
            ike_wire::IdType::ID_IPV4_ADDR
        );
        assert_eq!(
            identity("vpn.example.com").unwrap().id_type,
            ike_wire::IdType::ID_FQDN
        );
        assert_eq!(
            identity("a@b.example").unwrap().id_type,
            ike_wire::IdType::ID_RFC822_ADDR
        );
        assert!(identity("C=US, CN=x").is_none());
    }
}
