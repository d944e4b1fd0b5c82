//! The routing configuration the store asks for (pure): the tier-0's BGP configuration,
//! neighbors, prefix lists and route redistribution, plus the host's connected networks,
//! become a [`strait_routing::RoutingConfig`] and what the status needs to explain it.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use strait_model::enums::{GracefulRestartMode, PrefixAction, RouteRedistributionType};
use strait_model::objects::routing::parse_asn;
use strait_model::routing_status::RoutingEntry;
use strait_model::{Kind, ObjectPath, PolicyObject};
use strait_policy::TreeSnapshot;
use strait_routing::{
    Afi, Family, GrMode, GracefulRestart, Neighbor, Redistribution, RoutingConfig,
};

/// What one configured neighbor is, for status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborIntent {
    /// Its policy path (also its name in [`RoutingConfig`]).
    pub path: String,
    /// Its tier-0.
    pub tier0: String,
    /// Its BGP configuration's path.
    pub bgp_path: String,
    /// As configured.
    pub address: IpAddr,
    /// As configured.
    pub source: Option<IpAddr>,
    /// As configured.
    pub remote_as_num: String,
    /// The graceful restart mode in force.
    pub gr_mode: GracefulRestartMode,
    /// Why it cannot run as configured (it is then left out of BIRD's configuration).
    pub problem: Option<String>,
}

/// The routing configuration the store asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    /// What BIRD runs; None: no BGP anywhere, BIRD is stopped.
    pub config: Option<RoutingConfig>,
    /// Every configured neighbor.
    pub neighbors: Vec<NeighborIntent>,
    /// Per tier-0 (path): why its BGP does not run, if it does not.
    pub problems: BTreeMap<String, String>,
    /// VTI interface name → session path, for the routing table's BGP routes (empty
    /// while BGP runs nowhere).
    pub vtis: BTreeMap<String, String>,
    /// Connected VTI subnets and static routes of the BGP tier-0 (for the routing table).
    pub local_routes: Vec<RoutingEntry>,
    /// The tier-0 BGP runs on.
    pub tier0: Option<String>,
}

fn gr(mode: GracefulRestartMode) -> GrMode {
    match mode {
        GracefulRestartMode::Disable => GrMode::Disable,
        GracefulRestartMode::HelperOnly => GrMode::HelperOnly,
        GracefulRestartMode::GrAndHelper => GrMode::GrAndHelper,
    }
}

fn objects(tree: &TreeSnapshot, kind: Kind) -> impl Iterator<Item = (&ObjectPath, &PolicyObject)> {
    tree.of_kind(kind).map(|o| (&o.path, &o.object))
}

fn under(path: &ObjectPath, gateway: &ObjectPath) -> bool {
    path.gateway().as_ref() == Some(gateway)
}

/// The BIRD configuration for `tree` on a host whose interfaces carry `host`.
pub fn desired(tree: &TreeSnapshot, host: &[strait_dataplane::HostNetwork]) -> Desired {
    let mut out = Desired::default();
    let chosen = choose_bgp(tree, &mut out.problems);
    // Every configured neighbor shows in the status, running or not.
    for (path, obj) in objects(tree, Kind::BgpNeighbor) {
        let PolicyObject::BgpNeighbor(n) = obj else {
            continue;
        };
        out.neighbors.push(NeighborIntent {
            path: path.to_string(),
            tier0: path.gateway().map(|g| g.to_string()).unwrap_or_default(),
            bgp_path: path.parent_path().to_owned(),
            address: n.neighbor_address,
            source: n.source_addresses.first().copied(),
            remote_as_num: n.remote_as_num.clone(),
            gr_mode: GracefulRestartMode::HelperOnly,
            problem: None,
        });
    }
    let Some((bgp_path, bgp)) = chosen else {
        for n in &mut out.neighbors {
            n.problem = Some(match out.problems.get(&n.tier0) {
                Some(p) => p.clone(),
                None => format!(
                    "BGP is not running on {}: give its BGP configuration ({}) a local_as_num and keep it enabled",
                    n.tier0, n.bgp_path
                ),
            });
        }
        return out;
    };
    // VTIs of every session, for BGP's interfaces and the routing table's BGP routes
    // (named only while BGP runs: without it, this O(sessions) map would be rebuilt on
    // every change for nothing; issue 16).
    for (path, obj) in objects(tree, Kind::Session) {
        if let PolicyObject::Session(_) = obj {
            out.vtis.insert(
                strait_dataplane::vti::vti_name(path.as_str()),
                path.to_string(),
            );
        }
    }
    let Some(gateway) = bgp_path.gateway() else {
        return out;
    };
    let addrs = TierAddresses::of(tree, &gateway, &mut out.local_routes);
    let router_id = addrs
        .local_endpoints
        .iter()
        .chain(&addrs.vtis)
        .find_map(|a| match a {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        });
    let Some(router_id) = router_id else {
        let why = format!(
            "BGP on {gateway} needs an IPv4 router id: give the tier-0 a local endpoint or a session with an IPv4 VTI address"
        );
        for n in &mut out.neighbors {
            n.problem = Some(why.clone());
        }
        out.problems.insert(gateway.to_string(), why);
        return out;
    };
    out.tier0 = Some(gateway.to_string());
    let vti_names: HashSet<String> = out.vtis.keys().cloned().collect();
    let networks = announced(
        tree,
        &gateway,
        host,
        &addrs,
        &vti_names,
        &mut out.local_routes,
    );
    let neighbors = neighbors(tree, &bgp_path, &bgp, &mut out.neighbors);
    out.config = Some(RoutingConfig {
        router_id,
        local_as: bgp
            .local_as_num
            .as_deref()
            .and_then(|s| parse_asn(s).ok())
            .unwrap_or(0),
        ecmp: bgp.ecmp,
        graceful_restart: GracefulRestart {
            mode: gr(bgp.graceful_restart_config.mode),
            restart_time_s: bgp.graceful_restart_config.timer.restart_timer,
            stale_time_s: bgp.graceful_restart_config.timer.stale_route_timer,
        },
        ebgp_admin_distance: bgp.ebgp_admin_distance,
        ibgp_admin_distance: bgp.ibgp_admin_distance,
        neighbors,
        redistribute: Redistribution { networks },
        aggregates: bgp
            .route_aggregations
            .iter()
            .map(|a| strait_routing::Aggregate {
                prefix: a.prefix,
                summary_only: a.summary_only,
            })
            .collect(),
        prefix_lists: prefix_lists(tree, &gateway),
        // No route learned over a tunnel may carry that tunnel's own endpoints.
        never_import: addrs
            .local_endpoints
            .iter()
            .chain(&addrs.peers)
            .copied()
            .collect(),
    });
    out
}

/// The BGP configuration that runs: one BIRD, one router (validation allows one BGP
/// speaker per tier-0; with several tier-0s running BGP, the first by path runs and the
/// others say in `problems` why they do not).
fn choose_bgp(
    tree: &TreeSnapshot,
    problems: &mut BTreeMap<String, String>,
) -> Option<(ObjectPath, strait_model::objects::BgpRoutingConfig)> {
    let mut chosen: Option<(ObjectPath, strait_model::objects::BgpRoutingConfig)> = None;
    for (path, obj) in objects(tree, Kind::BgpConfig) {
        let PolicyObject::BgpConfig(b) = obj else {
            continue;
        };
        let Some(gw) = path.gateway() else { continue };
        if !b.enabled || b.local_as_num.is_none() {
            continue;
        }
        match &chosen {
            None => chosen = Some((path.clone(), b.clone())),
            Some((c, _)) => {
                problems.insert(
                    gw.to_string(),
                    format!(
                        "strait runs BGP for one tier-0 per host and {} already runs it; disable BGP on one of them",
                        c.gateway().map(|g| g.to_string()).unwrap_or_default()
                    ),
                );
            }
        }
    }
    chosen
}

/// The BGP tier-0's addresses: local endpoints (the uplink), its sessions' peers and VTIs.
struct TierAddresses {
    local_endpoints: Vec<IpAddr>,
    peers: Vec<IpAddr>,
    vtis: Vec<IpAddr>,
}

impl TierAddresses {
    /// Collect them, and the VTI subnets as connected routes for the routing table.
    fn of(tree: &TreeSnapshot, gateway: &ObjectPath, local_routes: &mut Vec<RoutingEntry>) -> Self {
        let mut a = TierAddresses {
            local_endpoints: Vec::new(),
            peers: Vec::new(),
            vtis: Vec::new(),
        };
        for (path, obj) in objects(tree, Kind::LocalEndpoint) {
            if let (true, PolicyObject::LocalEndpoint(le)) = (under(path, gateway), obj) {
                a.local_endpoints.push(le.local_address);
            }
        }
        for (path, obj) in objects(tree, Kind::Session) {
            let (true, PolicyObject::Session(s)) = (under(path, gateway), obj) else {
                continue;
            };
            a.peers.push(s.peer_address);
            for sub in s.tunnel_interfaces.iter().flat_map(|ti| &ti.ip_subnets) {
                a.vtis.extend(sub.ip_addresses.iter().copied());
                if let Some(net) = sub.network() {
                    local_routes.push(RoutingEntry {
                        network: net.to_string(),
                        next_hop: None,
                        route_type: "t0c".into(),
                        admin_distance: 0,
                        interface: Some(path.to_string()),
                        interface_name: Some(strait_dataplane::vti::vti_name(path.as_str())),
                        black_hole: false,
                        lr_component_type: "SERVICE_ROUTER_TIER0".into(),
                    });
                }
            }
        }
        a
    }

    /// Whether `net` holds none of the tunnels' endpoints (announcing one through a tunnel
    /// would route the tunnel into itself).
    fn outside(&self, net: &IpNet) -> bool {
        !self
            .local_endpoints
            .iter()
            .chain(&self.peers)
            .any(|a| net.contains(a))
    }
}

/// What the tier-0 announces, as its locale services' redistribution asks; its static
/// routes also go to the routing table.
fn announced(
    tree: &TreeSnapshot,
    gateway: &ObjectPath,
    host: &[strait_dataplane::HostNetwork],
    addrs: &TierAddresses,
    vti_names: &HashSet<String>,
    local_routes: &mut Vec<RoutingEntry>,
) -> Vec<IpNet> {
    let mut types: Vec<RouteRedistributionType> = Vec::new();
    for (path, obj) in objects(tree, Kind::LocaleServices) {
        if let (true, PolicyObject::LocaleServices(ls)) = (under(path, gateway), obj) {
            types.extend(ls.redistributed_types());
        }
    }
    let mut networks: Vec<IpNet> = Vec::new();
    if types.contains(&RouteRedistributionType::Tier0Connected) {
        for h in host {
            let net = h.address.trunc();
            let link_local = match net {
                IpNet::V4(n) => n.addr().is_loopback() || n.addr().is_link_local(),
                IpNet::V6(n) => {
                    n.addr().is_loopback() || (n.addr().segments()[0] & 0xffc0) == 0xfe80
                }
            };
            // Not the uplink (it carries the tunnels), not the VTIs, not loopback or
            // link-local.
            if !link_local
                && !vti_names.contains(&h.interface)
                && h.interface != "lo"
                && addrs.outside(&net)
            {
                networks.push(net);
            }
        }
    }
    for (path, obj) in objects(tree, Kind::StaticRoute) {
        let (true, PolicyObject::StaticRoute(r)) = (under(path, gateway), obj) else {
            continue;
        };
        for hop in &r.next_hops {
            local_routes.push(RoutingEntry {
                network: r.network.to_string(),
                next_hop: Some(hop.ip_address.to_string()),
                route_type: "t0s".into(),
                admin_distance: u32::from(hop.admin_distance),
                interface: None,
                interface_name: None,
                black_hole: false,
                lr_component_type: "SERVICE_ROUTER_TIER0".into(),
            });
        }
        if types.contains(&RouteRedistributionType::Tier0Static) && addrs.outside(&r.network) {
            networks.push(r.network);
        }
    }
    if types.contains(&RouteRedistributionType::Tier0IpsecLocalIp) {
        networks.extend(addrs.local_endpoints.iter().map(|a| IpNet::from(*a)));
    }
    networks.sort();
    networks.dedup();
    networks
}

/// The tier-0's prefix lists, named by their paths.
fn prefix_lists(tree: &TreeSnapshot, gateway: &ObjectPath) -> Vec<strait_routing::PrefixList> {
    objects(tree, Kind::PrefixList)
        .filter(|(path, _)| under(path, gateway))
        .filter_map(|(path, obj)| match obj {
            PolicyObject::PrefixList(pl) => Some(strait_routing::PrefixList {
                name: path.to_string(),
                entries: pl
                    .prefixes
                    .iter()
                    .map(|e| strait_routing::PrefixEntry {
                        action: match e.action {
                            PrefixAction::Permit => strait_routing::Action::Permit,
                            PrefixAction::Deny => strait_routing::Action::Deny,
                        },
                        network: e.net(),
                        ge: e.ge,
                        le: e.le,
                    })
                    .collect(),
            }),
            _ => None,
        })
        .collect()
}

/// The neighbors of the BGP configuration at `bgp_path`; those that cannot run get their
/// reason in `intents`.
fn neighbors(
    tree: &TreeSnapshot,
    bgp_path: &ObjectPath,
    bgp: &strait_model::objects::BgpRoutingConfig,
    intents: &mut [NeighborIntent],
) -> Vec<Neighbor> {
    let mut out = Vec::new();
    for (path, obj) in objects(tree, Kind::BgpNeighbor) {
        let PolicyObject::BgpNeighbor(n) = obj else {
            continue;
        };
        let intent = intents.iter_mut().find(|i| i.path == path.as_str());
        if path.parent_path() != bgp_path.as_str() {
            if let Some(i) = intent {
                i.problem = Some(format!(
                    "BGP runs from {bgp_path}; this neighbor's BGP configuration has no local_as_num or is disabled"
                ));
            }
            continue;
        }
        let Some(remote_as) = n.remote_as() else {
            continue;
        };
        let password = tree.bgp_passwords.get(path.as_str()).cloned();
        if n.has_password && password.is_none() {
            if let Some(i) = intent {
                i.problem = Some(
                    "the stored password cannot be read (see straitd's log); set password again"
                        .into(),
                );
            }
            continue;
        }
        if let Some(i) = intent {
            i.gr_mode = n
                .graceful_restart_mode
                .unwrap_or(bgp.graceful_restart_config.mode);
        }
        out.push(Neighbor {
            name: path.to_string(),
            enabled: n.enabled,
            address: n.neighbor_address,
            remote_as,
            local_as: n
                .neighbor_local_as_config
                .as_ref()
                .and_then(|l| parse_asn(&l.local_as_num).ok()),
            source: n.source_addresses.first().copied(),
            hold_time_s: u16::try_from(n.hold_down_time).unwrap_or(u16::MAX),
            keepalive_s: u16::try_from(n.keep_alive_time).unwrap_or(u16::MAX),
            password,
            bfd: n.bfd.enabled.then_some(strait_routing::Bfd {
                interval_ms: n.bfd.interval,
                multiplier: n.bfd.multiple,
            }),
            allow_as_in: n.allow_as_in,
            max_hop: n.maximum_hop_limit,
            graceful_restart: n.graceful_restart_mode.map(gr),
            families: families(n),
        });
    }
    out
}

/// A neighbor's address families: `route_filtering`, or the deprecated top-level filters
/// on the family of its address.
fn families(n: &strait_model::objects::BgpNeighbor) -> Vec<Family> {
    let mut families: Vec<Family> = n
        .route_filtering
        .iter()
        .map(|f| Family {
            afi: match f.address_family {
                strait_model::enums::BgpAddressFamily::Ipv6 => Afi::Ipv6,
                _ => Afi::Ipv4,
            },
            enabled: f.enabled,
            max_routes: f.maximum_routes,
            import_filter: f.in_route_filters.first().cloned(),
            export_filter: f.out_route_filters.first().cloned(),
        })
        .collect();
    if families.is_empty() && (!n.in_route_filters.is_empty() || !n.out_route_filters.is_empty()) {
        families.push(Family {
            afi: Afi::of(n.neighbor_address),
            enabled: true,
            max_routes: None,
            import_filter: n.in_route_filters.first().cloned(),
            export_filter: n.out_route_filters.first().cloned(),
        });
    }
    families
}
