use super::nsx::nsx_list;
use super::*;
use strait_model::enums::ComplianceSuite;
use strait_model::objects::{Common, TcpMssClamping, TunnelInterface};
use strait_model::system::{default_profile_path, system_objects};
use strait_model::{Kind, PolicyObject};

const PATH: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/to-site-b";
/// NSX's sample time: Mon Apr 29 07:07:43 GMT 2024.
pub(super) const TIME: i64 = 1_714_374_463_000;

fn system(kind: Kind) -> PolicyObject {
    let p = default_profile_path(kind);
    system_objects()
        .into_iter()
        .find(|(path, _)| path.as_str() == p)
        .map(|(_, o)| o)
        .unwrap()
}

fn defaults() -> (IkeProfile, TunnelProfile, DpdProfile) {
    let (PolicyObject::IkeProfile(i), PolicyObject::TunnelProfile(t), PolicyObject::DpdProfile(d)) = (
        system(Kind::IkeProfile),
        system(Kind::TunnelProfile),
        system(Kind::DpdProfile),
    ) else {
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
        local_endpoint_path: "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le".into(),
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

pub(super) struct Fixture {
    pub(super) s: RouteBasedSession,
    pub(super) le: LocalEndpoint,
    ike: IkeProfile,
    tunnel: TunnelProfile,
    dpd: DpdProfile,
}

impl Fixture {
    pub(super) fn new() -> Fixture {
        let (ike, tunnel, dpd) = defaults();
        Fixture {
            s: session("169.254.100.1", 30),
            le: endpoint(),
            ike,
            tunnel,
            dpd,
        }
    }

    pub(super) fn input<'a>(&'a self, psk: PskView<'a>) -> PeerConfigInput<'a> {
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
            certs: CertificateInput::default(),
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
pub(super) fn assert_balanced(text: &str) {
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
                    v.len() >= 2 && v.ends_with('"') && !v[1..v.len() - 1].contains(['"', '\\']),
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
