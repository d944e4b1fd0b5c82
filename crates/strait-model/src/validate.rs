//! Rules that span objects: references exist and have the right type, a session's local
//! endpoint belongs to its service, VTI subnets do not overlap on a gateway, and so on.
//! Run inside the store transaction that writes the object, so concurrent writers cannot
//! both pass.

use std::net::IpAddr;

use crate::enums::{AuthenticationMode, HaMode};
use crate::identity::IkeIdentity;
use crate::objects::{PolicyObject, RouteBasedSession};
use crate::path::{Kind, ObjectPath};
use crate::problems::{codes, Problems};
use crate::search_keys;

/// Read access to the stored policy tree (as of the current transaction).
///
/// Validation reads what a write touches, never every object of a kind that can number in
/// the thousands (sessions): those are found through [`PolicyView::children`],
/// [`PolicyView::referrers`] and their [`search_keys`](crate::search_keys).
pub trait PolicyView {
    /// The object at `path`, if any.
    fn object(&self, path: &str) -> Option<PolicyObject>;
    /// Every object of `kind` with its path. Only for kinds a gateway has a few of
    /// (local endpoints, BGP neighbors and configurations, certificates).
    fn objects(&self, kind: Kind) -> Vec<(ObjectPath, PolicyObject)>;
    /// The objects of `kind` directly under `parent`.
    fn children(&self, parent: &ObjectPath, kind: Kind) -> Vec<(ObjectPath, PolicyObject)>;
    /// The paths of the objects that refer to `path`.
    fn referrers(&self, path: &str) -> Vec<String>;
    /// Objects with a search key of `scope` overlapping `lo..=hi`: (path, key's lo, key's hi),
    /// at most `limit`.
    fn search(&self, scope: &str, lo: &[u8], hi: &[u8], limit: usize) -> Vec<SearchHit>;
    /// Whether a secret named `name` is stored for `path`.
    fn has_secret(&self, path: &str, name: &str) -> bool;
}

/// One answer of [`PolicyView::search`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The object the key belongs to.
    pub path: String,
    /// The key's range.
    pub lo: Vec<u8>,
    /// The key's range.
    pub hi: Vec<u8>,
}

/// Check `obj`, about to be written at `path`, against the rest of the tree.
pub fn validate_write(
    path: &ObjectPath,
    obj: &PolicyObject,
    view: &dyn PolicyView,
) -> Result<(), Problems> {
    let mut p = Problems::new();
    if let Some(parent) = path.parent() {
        if view.object(parent.as_str()).is_none() {
            p.push(
                "",
                codes::BAD_REFERENCE,
                format!(
                    "{} {} does not exist; create it first (PATCH /policy/api/v1{})",
                    parent.kind().noun(),
                    parent,
                    parent
                ),
            );
            return Err(p);
        }
    }
    match obj {
        PolicyObject::Tier0(g) | PolicyObject::Tier1(g) => {
            check_refs(&mut p, view, &[("tier0_path", g.tier0_path.as_deref(), Kind::Tier0)]);
            if g.ha_mode == HaMode::ActiveActive {
                let services = children(view, path, Kind::VpnService);
                if let Some(s) = services.first() {
                    p.push(
                        "ha_mode",
                        codes::CONFLICT,
                        format!(
                            "IPsec VPN needs an ACTIVE_STANDBY gateway and this gateway has VPN \
                             service {s}; keep ha_mode ACTIVE_STANDBY or delete the service first"
                        ),
                    );
                }
            }
        }
        PolicyObject::VpnService(_) => check_service(&mut p, path, view),
        PolicyObject::LocalEndpoint(le) => {
            check_refs(&mut p, view, &[("certificate_path", le.certificate_path.as_deref(), Kind::Certificate)]);
            for (i, ca) in le.trust_ca_paths.iter().enumerate() {
                check_refs(&mut p, view, &[(&format!("trust_ca_paths[{i}]"), Some(ca.as_str()), Kind::Certificate)]);
            }
            for (i, crl) in le.trust_crl_paths.iter().enumerate() {
                check_refs(&mut p, view, &[(&format!("trust_crl_paths[{i}]"), Some(crl.as_str()), Kind::Crl)]);
            }
            if let Some(cp) = &le.certificate_path {
                if let Some(PolicyObject::Certificate(c)) = view.object(cp) {
                    if !c.has_private_key {
                        p.push(
                            "certificate_path",
                            codes::BAD_REFERENCE,
                            format!(
                                "certificate {cp} was imported without a private key, so this \
                                 gateway cannot authenticate with it; import the site certificate \
                                 with its private_key"
                            ),
                        );
                    }
                }
            }
            // The session-side rules of check_session, seen from the local endpoint: an edit
            // here must not break a session that was valid when it was written.
            let dn_local_id = le.local_id.as_deref().filter(|id| matches!(IkeIdentity::parse(id), Ok(IkeIdentity::Dn(_))));
            for (sp, s) in sessions_using(view, path.as_str()) {
                if s.authentication_mode == AuthenticationMode::Certificate && le.certificate_path.is_none() {
                    p.push(
                        "certificate_path",
                        codes::CONFLICT,
                        format!("session {sp} uses certificate authentication through this local endpoint; keep a certificate_path or change that session first"),
                    );
                }
                if s.authentication_mode == AuthenticationMode::Certificate
                    && le.certificate_path.is_some()
                    && le.trust_ca_paths.is_empty()
                {
                    p.push(
                        "trust_ca_paths",
                        codes::CONFLICT,
                        format!(
                            "session {sp} uses certificate authentication through this local endpoint, \
                             which needs the CA that signed the peer's certificate; keep at least one \
                             trust_ca_paths entry or change that session first"
                        ),
                    );
                }
                if let (Some(id), AuthenticationMode::Psk) = (dn_local_id, s.authentication_mode) {
                    p.push(
                        "local_id",
                        codes::CONFLICT,
                        format!(
                            "{id:?} is a DN, which needs certificate authentication, but session {sp} \
                             uses a PSK through this local endpoint; use an IP, FQDN or email local_id, \
                             or switch that session to authentication_mode CERTIFICATE first"
                        ),
                    );
                }
                if s.peer_address.is_ipv4() != le.local_address.is_ipv4() {
                    p.push(
                        "local_address",
                        codes::CONFLICT,
                        format!(
                            "session {sp} has peer_address {} of the other IP version; keep an {} local_address",
                            s.peer_address,
                            if s.peer_address.is_ipv4() { "IPv4" } else { "IPv6" }
                        ),
                    );
                }
            }
        }
        PolicyObject::Session(s) => check_session(&mut p, path, s, view),
        PolicyObject::BgpNeighbor(n) => check_bgp_neighbor(&mut p, path, n, view),
        PolicyObject::BgpConfig(b) => check_bgp_config(&mut p, path, b, view),
        PolicyObject::Certificate(c) if !c.has_private_key => {
            for lp in view.referrers(path.as_str()).into_iter().filter(|lp| {
                matches!(view.object(lp), Some(PolicyObject::LocalEndpoint(le)) if le.certificate_path.as_deref() == Some(path.as_str()))
            }) {
                p.push(
                    "private_key",
                    codes::CONFLICT,
                    format!("local endpoint {lp} uses this certificate as its site certificate, which needs a private key; import it with private_key"),
                );
            }
        }
        _ => {}
    }
    p.into_result(())
}

fn check_refs(p: &mut Problems, view: &dyn PolicyView, refs: &[(&str, Option<&str>, Kind)]) {
    for (field, value, kind) in refs {
        let Some(value) = value else { continue };
        match view.object(value) {
            Some(o) if o.kind() == *kind => {}
            Some(o) => p.push(
                *field,
                codes::BAD_REFERENCE,
                format!("{value} is {}, not {}", o.kind().a_noun(), kind.a_noun()),
            ),
            None => p.push(
                *field,
                codes::BAD_REFERENCE,
                format!(
                    "{} {value} does not exist; create it first or pick an existing one",
                    kind.noun()
                ),
            ),
        }
    }
}

/// Whether `addr` is an address of this tier-0: one of its sessions' VTI addresses or its
/// local endpoints' addresses.
pub fn gateway_has_address(view: &dyn PolicyView, gateway: &ObjectPath, addr: IpAddr) -> bool {
    let v = search_keys::address_bytes(addr);
    !view
        .search(&search_keys::gateway_address_scope(gateway), &v, &v, 1)
        .is_empty()
}

/// A few addresses of this tier-0 of the same IP version as `like` (for error messages).
fn gateway_address_examples(
    view: &dyn PolicyView,
    gateway: &ObjectPath,
    like: IpAddr,
) -> Vec<String> {
    let (lo, hi) = if like.is_ipv4() {
        (vec![0u8; 4], vec![255u8; 4])
    } else {
        (vec![0u8; 16], vec![255u8; 16])
    };
    view.search(&search_keys::gateway_address_scope(gateway), &lo, &hi, 4)
        .into_iter()
        .filter_map(|h| match h.lo.len() {
            4 => <[u8; 4]>::try_from(h.lo.as_slice())
                .ok()
                .map(|b| IpAddr::from(b).to_string()),
            16 => <[u8; 16]>::try_from(h.lo.as_slice())
                .ok()
                .map(|b| IpAddr::from(b).to_string()),
            _ => None,
        })
        .collect()
}

fn check_bgp_neighbor(
    p: &mut Problems,
    path: &ObjectPath,
    n: &crate::objects::BgpNeighbor,
    view: &dyn PolicyView,
) {
    let gateway = path.gateway();
    // Prefix lists exist and belong to the same tier-0.
    let mut filters: Vec<(String, String)> = Vec::new();
    for (i, f) in n.route_filtering.iter().enumerate() {
        for (j, x) in f.in_route_filters.iter().enumerate() {
            filters.push((
                format!("route_filtering[{i}].in_route_filters[{j}]"),
                x.clone(),
            ));
        }
        for (j, x) in f.out_route_filters.iter().enumerate() {
            filters.push((
                format!("route_filtering[{i}].out_route_filters[{j}]"),
                x.clone(),
            ));
        }
    }
    for (j, x) in n.in_route_filters.iter().enumerate() {
        filters.push((format!("in_route_filters[{j}]"), x.clone()));
    }
    for (j, x) in n.out_route_filters.iter().enumerate() {
        filters.push((format!("out_route_filters[{j}]"), x.clone()));
    }
    for (field, f) in &filters {
        check_refs(
            p,
            view,
            &[(field.as_str(), Some(f.as_str()), Kind::PrefixList)],
        );
        let owner = ObjectPath::parse(f).ok().and_then(|fp| fp.gateway());
        if owner.is_some() && owner != gateway {
            p.push(
                field.as_str(),
                codes::BAD_REFERENCE,
                format!(
                    "prefix list {f} belongs to another gateway; use a prefix list of {}",
                    gateway.as_ref().map_or("this tier-0", |g| g.as_str())
                ),
            );
        }
    }
    // Our side of the session is an address this gateway has.
    if let Some(gw) = &gateway {
        for (i, src) in n.source_addresses.iter().enumerate() {
            if !gateway_has_address(view, gw, *src) {
                let examples = gateway_address_examples(view, gw, *src);
                p.push(
                    format!("source_addresses[{i}]"),
                    codes::BAD_REFERENCE,
                    format!(
                        "{src} is not an address of {gw}; use one of its sessions' VTI addresses or a local endpoint address{}",
                        if examples.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", examples.join(", "))
                        }
                    ),
                );
            }
        }
    }
    // One neighbor per address under a BGP configuration.
    let siblings = path
        .parent()
        .map(|parent| view.children(&parent, Kind::BgpNeighbor))
        .unwrap_or_default();
    for (other, o) in siblings {
        if other.as_str() == path.as_str() {
            continue;
        }
        if let PolicyObject::BgpNeighbor(x) = o {
            if x.neighbor_address == n.neighbor_address {
                p.push(
                    "neighbor_address",
                    codes::CONFLICT,
                    format!(
                        "neighbor {other} already peers with {}; edit that neighbor instead",
                        n.neighbor_address
                    ),
                );
            }
        }
    }
}

fn check_bgp_config(
    p: &mut Problems,
    path: &ObjectPath,
    b: &crate::objects::BgpRoutingConfig,
    view: &dyn PolicyView,
) {
    // strait runs one BGP speaker per tier-0: one locale service of it may run BGP.
    if !b.enabled || b.local_as_num.is_none() {
        return;
    }
    let gateway = path.gateway();
    for (other, o) in view.objects(Kind::BgpConfig) {
        if other.as_str() == path.as_str() || other.gateway() != gateway {
            continue;
        }
        if let PolicyObject::BgpConfig(x) = o {
            if x.enabled && x.local_as_num.is_some() {
                p.push(
                    "local_as_num",
                    codes::CONFLICT,
                    format!(
                        "{other} already runs BGP on this tier-0; strait runs one BGP speaker per tier-0, so configure it there (or disable it first)"
                    ),
                );
            }
        }
    }
}

fn children(view: &dyn PolicyView, parent: &ObjectPath, kind: Kind) -> Vec<ObjectPath> {
    view.children(parent, kind)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

fn sessions_using(view: &dyn PolicyView, le_path: &str) -> Vec<(ObjectPath, RouteBasedSession)> {
    view.referrers(le_path)
        .into_iter()
        .filter_map(|sp| match view.object(&sp) {
            Some(PolicyObject::Session(s)) if s.local_endpoint_path == le_path => {
                Some((ObjectPath::parse(&sp).ok()?, s))
            }
            _ => None,
        })
        .collect()
}

fn check_service(p: &mut Problems, path: &ObjectPath, view: &dyn PolicyView) {
    let Some(gw) = path.parent() else { return };
    if let Some(PolicyObject::Tier0(g) | PolicyObject::Tier1(g)) = view.object(gw.as_str()) {
        if g.ha_mode != HaMode::ActiveStandby {
            p.push(
                "",
                codes::CONFLICT,
                format!(
                    "gateway {gw} is ACTIVE_ACTIVE, and IPsec VPN needs an ACTIVE_STANDBY gateway; \
                     set its ha_mode to ACTIVE_STANDBY first"
                ),
            );
        }
    }
    if let Some(other) = children(view, &gw, Kind::VpnService)
        .into_iter()
        .find(|s| s != path)
    {
        p.push(
            "",
            codes::CONFLICT,
            format!(
                "gateway {gw} already has IPsec VPN service {other}, and a gateway has at most one; \
                 add sessions to that service"
            ),
        );
    }
}

/// How many conflicting sessions one rule reports at most (a /16 VTI subnet could overlap
/// thousands; naming the first few says what to change).
const MAX_CONFLICTS: usize = 16;

fn check_session(
    p: &mut Problems,
    path: &ObjectPath,
    s: &RouteBasedSession,
    view: &dyn PolicyView,
) {
    check_refs(
        p,
        view,
        &[
            (
                "ike_profile_path",
                Some(&s.ike_profile_path),
                Kind::IkeProfile,
            ),
            (
                "tunnel_profile_path",
                Some(&s.tunnel_profile_path),
                Kind::TunnelProfile,
            ),
            (
                "dpd_profile_path",
                Some(&s.dpd_profile_path),
                Kind::DpdProfile,
            ),
        ],
    );
    let service = path.parent_path();
    let le = match view.object(&s.local_endpoint_path) {
        Some(PolicyObject::LocalEndpoint(le)) => Some(le),
        _ => {
            p.push(
                "local_endpoint_path",
                codes::BAD_REFERENCE,
                format!(
                    "local endpoint {} does not exist; create it under {service}/local-endpoints first",
                    s.local_endpoint_path
                ),
            );
            None
        }
    };
    let le_service = s
        .local_endpoint_path
        .rsplitn(3, '/')
        .nth(2)
        .unwrap_or_default();
    if le.is_some() && le_service != service {
        p.push(
            "local_endpoint_path",
            codes::BAD_REFERENCE,
            format!(
                "local endpoint {} belongs to service {le_service}, not to this session's service \
                 {service}; pick a local endpoint of {service}",
                s.local_endpoint_path
            ),
        );
    }
    if let Some(le) = &le {
        if le.local_address == s.peer_address {
            p.push(
                "peer_address",
                codes::CONFLICT,
                format!(
                    "peer_address {} is this gateway's own local endpoint address; give the remote \
                     site's public address",
                    s.peer_address
                ),
            );
        }
        if le.local_address.is_ipv4() != s.peer_address.is_ipv4() {
            p.push(
                "peer_address",
                codes::CONFLICT,
                format!(
                    "peer_address {} and the local endpoint's address {} are of different IP \
                     versions; use a local endpoint of the same version",
                    s.peer_address, le.local_address
                ),
            );
        }
        if s.authentication_mode == AuthenticationMode::Certificate {
            if le.certificate_path.is_none() {
                p.push(
                    "local_endpoint_path",
                    codes::CONFLICT,
                    format!(
                        "certificate authentication needs a site certificate on the local endpoint; \
                         set certificate_path (and trust_ca_paths) on {}, or use PSK",
                        s.local_endpoint_path
                    ),
                );
            } else if le.trust_ca_paths.is_empty() {
                p.push(
                    "local_endpoint_path",
                    codes::CONFLICT,
                    format!(
                        "certificate authentication needs the CA that signed the peer's certificate; \
                         set trust_ca_paths on {}",
                        s.local_endpoint_path
                    ),
                );
            }
        } else if let Some(id) = &le.local_id {
            if matches!(IkeIdentity::parse(id), Ok(IkeIdentity::Dn(_))) {
                p.push(
                    "local_endpoint_path",
                    codes::CONFLICT,
                    format!(
                        "the local endpoint's local_id {id:?} is a DN, which needs certificate \
                         authentication; use an IP or FQDN local_id, or authentication_mode CERTIFICATE"
                    ),
                );
            }
        }
    }
    let gateway = path.gateway();
    let my_subnets: Vec<ipnet::IpNet> = s.vti_subnets().filter_map(|x| x.network()).collect();
    // The only sessions these rules can involve: those with the same peer address, and those
    // whose VTI subnets overlap ours on this gateway (found by search key, not by reading
    // every session).
    let mut others = std::collections::BTreeSet::new();
    let peer = search_keys::address_bytes(s.peer_address);
    // Every session to this peer is looked at: sharing a peer is no conflict by itself
    // (another local address may reach it), so a cap here could skip the one that is.
    for hit in view.search(search_keys::PEER_ADDRESS, &peer, &peer, usize::MAX) {
        others.insert(hit.path);
    }
    if let Some(gw) = &gateway {
        for net in &my_subnets {
            let (lo, hi) = search_keys::network_range(net);
            let scope = search_keys::vti_subnet_scope(gw, net.addr().is_ipv4());
            for hit in view.search(&scope, &lo, &hi, MAX_CONFLICTS) {
                others.insert(hit.path);
            }
        }
    }
    others.remove(path.as_str());
    for op in others {
        let (Ok(op), Some(PolicyObject::Session(o))) = (ObjectPath::parse(&op), view.object(&op))
        else {
            continue;
        };
        // IKE tells sessions apart by local and peer address, so two sessions may not share
        // both, even through two local endpoints with the same address.
        let same_local = o.local_endpoint_path == s.local_endpoint_path
            || le.as_ref().is_some_and(|le| {
                matches!(view.object(&o.local_endpoint_path),
                    Some(PolicyObject::LocalEndpoint(ole)) if ole.local_address == le.local_address)
            });
        if same_local && o.peer_address == s.peer_address {
            p.push(
                "peer_address",
                codes::CONFLICT,
                format!(
                    "session {op} already connects local address {} to {}; one session per local \
                     address and peer: edit that session or use another peer_address",
                    le.as_ref().map_or_else(
                        || s.local_endpoint_path.clone(),
                        |le| le.local_address.to_string()
                    ),
                    s.peer_address
                ),
            );
        }
        if op.gateway() != gateway {
            continue;
        }
        for (i, mine) in my_subnets.iter().enumerate() {
            for theirs in o.vti_subnets().filter_map(|x| x.address()) {
                let theirs_net = theirs.trunc();
                if overlaps(mine, &theirs_net) {
                    p.push(
                        format!("tunnel_interfaces[0].ip_subnets[{i}]"),
                        codes::CONFLICT,
                        format!(
                            "VTI subnet {mine} overlaps {theirs} of session {op} on the same \
                             gateway; give each session its own subnet"
                        ),
                    );
                }
            }
        }
    }
    // The outer addresses must not be reached through the tunnel they carry.
    for (i, net) in my_subnets.iter().enumerate() {
        if let Some(le) = le.as_ref().filter(|le| net.contains(&le.local_address)) {
            p.push(
                format!("tunnel_interfaces[0].ip_subnets[{i}]"),
                codes::CONFLICT,
                format!(
                    "VTI subnet {net} contains the local endpoint's address {}; the tunnel's outer \
                     address must lie outside its inner subnet",
                    le.local_address
                ),
            );
        }
        if net.contains(&s.peer_address) {
            p.push(
                format!("tunnel_interfaces[0].ip_subnets[{i}]"),
                codes::CONFLICT,
                format!(
                    "VTI subnet {net} contains the peer_address {}; the tunnel's outer address must \
                     lie outside its inner subnet",
                    s.peer_address
                ),
            );
        }
    }
}

fn overlaps(a: &ipnet::IpNet, b: &ipnet::IpNet) -> bool {
    match (a, b) {
        (ipnet::IpNet::V4(_), ipnet::IpNet::V4(_)) | (ipnet::IpNet::V6(_), ipnet::IpNet::V6(_)) => {
            a.contains(&b.network()) || b.contains(&a.network())
        }
        _ => false,
    }
}

/// Why an object cannot be deleted: the paths that still refer to it or live under it.
pub fn delete_blockers(
    path: &ObjectPath,
    view: &dyn PolicyView,
    referrers: Vec<String>,
) -> Result<(), Problems> {
    let mut p = Problems::new();
    let mut kids: Vec<String> = Vec::new();
    for kind in Kind::ALL {
        if kind.parent_kinds().contains(&path.kind()) {
            kids.extend(
                children(view, path, kind)
                    .into_iter()
                    .map(|c| c.to_string()),
            );
        }
    }
    if !kids.is_empty() {
        p.push(
            "",
            codes::CONFLICT,
            format!(
                "{} {path} still contains {}; delete {} first",
                path.kind().noun(),
                kids.join(", "),
                if kids.len() == 1 { "it" } else { "them" }
            ),
        );
    }
    if !referrers.is_empty() {
        p.push(
            "",
            codes::CONFLICT,
            format!(
                "{} {path} is in use by {}; change or delete {} first",
                path.kind().noun(),
                referrers.join(", "),
                if referrers.len() == 1 { "it" } else { "them" }
            ),
        );
    }
    p.into_result(())
}

/// Whether two addresses are of the same IP version.
pub fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}
