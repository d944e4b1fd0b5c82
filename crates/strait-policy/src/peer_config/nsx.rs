//! NSX's "Key : value" layout (reference §7), with strait's tunnel interface section
//! appended and, for certificate sessions, the certificates the peer needs to know about.

use super::*;

/// NSX's list notation: `[A, B]`, and nothing for an empty list.
pub(super) fn nsx_list<E: NsxEnum>(v: &[E]) -> String {
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
    let mut o = Zeroizing::new(String::with_capacity(4096));
    let out: &mut String = &mut o;
    header(out, input);
    phase1(out, input);
    phase2(out, input);
    session_section(out, input);
    vti_section(out, input);
    o
}

fn header(out: &mut String, input: &PeerConfigInput<'_>) {
    let s = input.session;
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
}

fn phase1(out: &mut String, input: &PeerConfigInput<'_>) {
    let s = input.session;
    let ike = input.ike;
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
    if input.certificate_auth() {
        kv(
            out,
            29,
            "Authentication method",
            AuthenticationMode::Certificate.as_str(),
        );
        certificates(out, input);
    } else {
        kv(
            out,
            29,
            "Authentication method",
            AuthenticationMode::Psk.as_str(),
        );
        match input.psk {
            PskView::Shown(psk) => kv(out, 29, "Pre shared key", &Zeroizing::new(one_line(psk))),
            PskView::Hidden => kv(out, 29, "Pre shared key", HIDDEN_PSK),
            PskView::Absent => kv(out, 29, "Pre shared key", "<not set>"),
        }
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
}

/// A certificate object as `id (subject)`.
fn named(c: &CertRef<'_>) -> String {
    format!("{} ({})", c.id(), one_line(c.subject()))
}

/// The certificate lines of a certificate session: strait's site certificate and its
/// issuer (what the peer must trust), and the CAs strait trusts (who must have issued the
/// peer's certificate).
fn certificates(out: &mut String, input: &PeerConfigInput<'_>) {
    let certs = &input.certs;
    match &certs.site {
        Some(site) => {
            kv(out, 29, "Local certificate", &named(site));
            let issuer = site.leaf().map_or("", |l| l.issuer.as_str());
            let value = match &certs.site_issuer {
                Some(ca) => format!("{} # the peer must trust this CA", named(ca)),
                None => format!(
                    "{} # the peer must trust this CA (not imported into strait)",
                    one_line(issuer)
                ),
            };
            kv(out, 29, "Local certificate issuer", &value);
        }
        None => kv(
            out,
            29,
            "Local certificate",
            "<not set> # set the local endpoint's certificate_path",
        ),
    }
    let cas: Vec<String> = certs.trusted_cas.iter().map(named).collect();
    let value = if cas.is_empty() {
        "<none> # set the local endpoint's trust_ca_paths".to_owned()
    } else {
        format!(
            "[{}] # the peer's certificate must be issued by one of these",
            cas.join(", ")
        )
    };
    kv(out, 29, "Trusted CA certificates", &value);
}

fn phase2(out: &mut String, input: &PeerConfigInput<'_>) {
    let tunnel = input.tunnel;
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
}

fn session_section(out: &mut String, input: &PeerConfigInput<'_>) {
    let s = input.session;
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
    let (local_id, source) = input.local_identity();
    let local_id = one_line(&local_id);
    match (&input.certs.site, source) {
        (Some(site), source) if source != LocalIdSource::LocalEndpoint => kv(
            out,
            16,
            "Local id",
            &format!(
                "{local_id} # from certificate {}: {}",
                site.id(),
                source.describe()
            ),
        ),
        _ => kv(out, 16, "Local id", &local_id),
    }
}

fn vti_section(out: &mut String, input: &PeerConfigInput<'_>) {
    let s = input.session;
    out.push_str(
        "#\n# Tunnel interface (VTI) [route based]\n\
         # Configure the peer's tunnel interface as outlined below\n",
    );
    for v in s.vti_subnets().filter_map(peer_vti) {
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
}
