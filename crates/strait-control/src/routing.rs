//! BGP over the VTIs (issue 14): from the stored configuration to one supervised BIRD
//! (crate `strait-routing`), and its state back to the API.
//!
//! [`desired`] is pure: the tier-0's BGP configuration, neighbors, prefix lists and route
//! redistribution, plus the host's connected networks, become a
//! [`strait_routing::RoutingConfig`]. [`RoutingRuntime`] runs beside the IKE control plane:
//! on every committed change (and every [`RESCAN`], for connected networks) it recomputes
//! the configuration and, if it changed, applies it (BIRD reconfigures without resetting
//! unrelated sessions); every [`STATUS_EVERY`] it reads the neighbors and routes back, which
//! the API serves from memory. BIRD starts when a tier-0 has BGP with a local AS and stops
//! (withdrawing its routes from the kernel) when none has.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ipnet::IpNet;
use strait_model::enums::{GracefulRestartMode, PrefixAction, RouteRedistributionType};
use strait_model::objects::routing::parse_asn;
use strait_model::routing_status::{
    BgpAddressFamilyStatus, BgpNeighborStatus, RouteDetails, RoutingEntry, RoutingTable,
};
use strait_model::{Kind, ObjectPath, PolicyObject};
use strait_policy::{Policy, TreeSnapshot};
use strait_routing::{
    Afi, Bird, BirdOptions, Family, GrMode, GracefulRestart, Neighbor, Paths, Redistribution,
    RoutingConfig,
};

/// How often connected networks are re-read (an interface added on the LAN side).
pub const RESCAN: Duration = Duration::from_secs(10);
/// How often neighbor state and routes are read from BIRD.
pub const STATUS_EVERY: Duration = Duration::from_secs(1);

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
    /// Whether BFD is on.
    pub bfd: bool,
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
    /// VTI interface name → session path, for the routing table.
    pub vtis: BTreeMap<String, String>,
    /// Connected VTI subnets and static routes of the BGP tier-0 (for the routing table).
    pub local_routes: Vec<RoutingEntry>,
}

fn gr(mode: GracefulRestartMode) -> GrMode {
    match mode {
        GracefulRestartMode::Disable => GrMode::Disable,
        GracefulRestartMode::HelperOnly => GrMode::HelperOnly,
        GracefulRestartMode::GrAndHelper => GrMode::GrAndHelper,
    }
}

fn objects(tree: &TreeSnapshot, kind: Kind) -> impl Iterator<Item = (&ObjectPath, &PolicyObject)> {
    tree.objects
        .iter()
        .filter(move |o| o.path.kind() == kind)
        .map(|o| (&o.path, &o.object))
}

fn under(path: &ObjectPath, gateway: &ObjectPath) -> bool {
    path.gateway().as_ref() == Some(gateway)
}

/// The BIRD configuration for `tree` on a host whose interfaces carry `host`.
pub fn desired(tree: &TreeSnapshot, host: &[strait_dataplane::HostNetwork]) -> Desired {
    let mut out = Desired::default();
    // The tier-0 whose BGP runs: one BIRD, one router (validation allows one BGP speaker per
    // tier-0; with several tier-0s running BGP, the first by path runs and the others say why
    // they do not).
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
                out.problems.insert(
                    gw.to_string(),
                    format!(
                        "strait runs BGP for one tier-0 per host and {} already runs it; disable BGP on one of them",
                        c.gateway().map(|g| g.to_string()).unwrap_or_default()
                    ),
                );
            }
        }
    }
    // VTIs of every session, for the routing table's interfaces.
    for (path, obj) in objects(tree, Kind::Session) {
        if let PolicyObject::Session(_) = obj {
            out.vtis.insert(
                strait_dataplane::vti::vti_name(path.as_str()),
                path.to_string(),
            );
        }
    }
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
            bfd: n.bfd.enabled,
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
    let Some(gateway) = bgp_path.gateway() else {
        return out;
    };
    let local_as = bgp
        .local_as_num
        .as_deref()
        .and_then(|s| parse_asn(s).ok())
        .unwrap_or(0);
    // Addresses of the tier-0: local endpoints (the uplink) and VTIs.
    let mut local_endpoints: Vec<IpAddr> = Vec::new();
    for (path, obj) in objects(tree, Kind::LocalEndpoint) {
        if let (true, PolicyObject::LocalEndpoint(le)) = (under(path, &gateway), obj) {
            local_endpoints.push(le.local_address);
        }
    }
    let mut peers: Vec<IpAddr> = Vec::new();
    let mut vti_addresses: Vec<IpAddr> = Vec::new();
    for (path, obj) in objects(tree, Kind::Session) {
        if let (true, PolicyObject::Session(s)) = (under(path, &gateway), obj) {
            peers.push(s.peer_address);
            for ti in &s.tunnel_interfaces {
                for sub in &ti.ip_subnets {
                    vti_addresses.extend(sub.ip_addresses.iter().copied());
                    if let Some(net) = sub.network() {
                        out.local_routes.push(RoutingEntry {
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
        }
    }
    let router_id = local_endpoints
        .iter()
        .chain(&vti_addresses)
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
    // What to announce.
    let vti_names: HashSet<String> = out.vtis.keys().cloned().collect();
    let mut types: Vec<RouteRedistributionType> = Vec::new();
    for (path, obj) in objects(tree, Kind::LocaleServices) {
        if let (true, PolicyObject::LocaleServices(ls)) = (under(path, &gateway), obj) {
            types.extend(ls.redistributed_types());
        }
    }
    let mut networks: Vec<IpNet> = Vec::new();
    let outside = |net: &IpNet| {
        !local_endpoints
            .iter()
            .chain(&peers)
            .any(|a| net.contains(a))
    };
    if types.contains(&RouteRedistributionType::Tier0Connected) {
        for h in host {
            let net = h.address.trunc();
            let link_local = match net {
                IpNet::V4(n) => n.addr().is_loopback() || n.addr().is_link_local(),
                IpNet::V6(n) => {
                    n.addr().is_loopback() || (n.addr().segments()[0] & 0xffc0) == 0xfe80
                }
            };
            // Not the uplink (it carries the tunnels: announcing it through them would route
            // the tunnel into itself), not the VTIs, not loopback or link-local.
            if !link_local
                && !vti_names.contains(&h.interface)
                && h.interface != "lo"
                && outside(&net)
            {
                networks.push(net);
            }
        }
    }
    for (path, obj) in objects(tree, Kind::StaticRoute) {
        if let (true, PolicyObject::StaticRoute(r)) = (under(path, &gateway), obj) {
            for hop in &r.next_hops {
                out.local_routes.push(RoutingEntry {
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
            if types.contains(&RouteRedistributionType::Tier0Static) && outside(&r.network) {
                networks.push(r.network);
            }
        }
    }
    if types.contains(&RouteRedistributionType::Tier0IpsecLocalIp) {
        networks.extend(local_endpoints.iter().map(|a| IpNet::from(*a)));
    }
    networks.sort();
    networks.dedup();
    // Prefix lists of this tier-0, by path.
    let mut prefix_lists = Vec::new();
    for (path, obj) in objects(tree, Kind::PrefixList) {
        if let (true, PolicyObject::PrefixList(pl)) = (under(path, &gateway), obj) {
            prefix_lists.push(strait_routing::PrefixList {
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
            });
        }
    }
    // The neighbors of the chosen BGP configuration.
    let mut neighbors = Vec::new();
    for (path, obj) in objects(tree, Kind::BgpNeighbor) {
        let PolicyObject::BgpNeighbor(n) = obj else {
            continue;
        };
        let intent = out.neighbors.iter_mut().find(|i| i.path == path.as_str());
        if path.parent_path() != bgp_path.as_str() {
            if let Some(i) = intent {
                i.problem = Some(format!(
                    "BGP runs from {bgp_path}; this neighbor's BGP configuration has no local_as_num or is disabled"
                ));
            }
            continue;
        }
        let mode = n
            .graceful_restart_mode
            .unwrap_or(bgp.graceful_restart_config.mode);
        let local_as_override = n
            .neighbor_local_as_config
            .as_ref()
            .and_then(|l| parse_asn(&l.local_as_num).ok());
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
        if families.is_empty()
            && (!n.in_route_filters.is_empty() || !n.out_route_filters.is_empty())
        {
            families.push(Family {
                afi: Afi::of(n.neighbor_address),
                enabled: true,
                max_routes: None,
                import_filter: n.in_route_filters.first().cloned(),
                export_filter: n.out_route_filters.first().cloned(),
            });
        }
        if let Some(i) = intent {
            i.gr_mode = mode;
        }
        neighbors.push(Neighbor {
            name: path.to_string(),
            enabled: n.enabled,
            address: n.neighbor_address,
            remote_as,
            local_as: local_as_override,
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
            families,
        });
    }
    out.config = Some(RoutingConfig {
        router_id,
        local_as,
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
        prefix_lists,
        // No route learned over a tunnel may carry that tunnel's own endpoints.
        never_import: local_endpoints.iter().chain(&peers).copied().collect(),
    });
    out
}

/// What the API reads, refreshed by the runtime.
#[derive(Default)]
struct Live {
    desired: Desired,
    status: Option<strait_routing::RoutingStatus>,
    /// Routes announced to each neighbor (BIRD protocol name → routes).
    advertised: BTreeMap<String, Vec<strait_routing::Route>>,
    /// Why BIRD is not doing what the configuration asks (it refused it, it is not installed).
    error: Option<String>,
    read_at_ms: i64,
}

/// The routing state for the API (cheap to clone).
#[derive(Clone, Default)]
pub struct RoutingView {
    live: Arc<RwLock<Live>>,
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn route_details(r: &strait_routing::Route) -> Option<RouteDetails> {
    Some(RouteDetails {
        network: r.prefix?.to_string(),
        next_hop: r
            .bgp_next_hop
            .clone()
            .or_else(|| {
                r.next_hops
                    .first()
                    .and_then(|h| h.via)
                    .map(|v| v.to_string())
            })
            .unwrap_or_default(),
        as_path: r.as_path.clone(),
        local_pref: r.local_pref.map(u64::from),
        med: r.med.map(u64::from),
        weight: 0,
    })
}

impl RoutingView {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        self.live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Live> {
        self.live
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// NSX neighbor status of every neighbor of the BGP configuration at `bgp_path`.
    pub fn neighbors_status(&self, bgp_path: &str) -> Vec<BgpNeighborStatus> {
        let live = self.read();
        let now = now_unix();
        live.desired
            .neighbors
            .iter()
            .filter(|n| n.bgp_path == bgp_path)
            .map(|n| {
                let protocol = strait_routing::protocol_name(&n.path);
                let st = live
                    .status
                    .as_ref()
                    .and_then(|s| s.neighbors.iter().find(|x| x.protocol == protocol));
                let bird = st.and_then(|s| s.bird.as_ref());
                let bgp = bird.and_then(|b| b.bgp.as_ref());
                let families: Vec<BgpAddressFamilyStatus> = bird
                    .map(|b| {
                        b.channels
                            .iter()
                            .map(|c| BgpAddressFamilyStatus {
                                family: format!("{}_UNICAST", c.name.to_uppercase()),
                                in_prefix_count: c.imported,
                                out_prefix_count: c.exported,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let state = match (&n.problem, st) {
                    (Some(_), _) => "INVALID".to_owned(),
                    (None, Some(s)) => s.connection_state.as_nsx().to_owned(),
                    (None, None) => "UNKNOWN".to_owned(),
                };
                let alarm = n.problem.clone().or_else(|| live.error.clone()).or_else(|| {
                    st.filter(|s| s.max_routes_hit).map(|_| {
                        "the neighbor sent more routes than maximum_routes allows; further routes are dropped: raise maximum_routes or filter on the neighbor".to_owned()
                    })
                });
                BgpNeighborStatus {
                    neighbor_path: n.path.clone(),
                    tier0_path: n.tier0.clone(),
                    neighbor_address: n.address.to_string(),
                    source_address: bgp
                        .and_then(|b| b.source_address)
                        .or(n.source)
                        .map(|a| a.to_string()),
                    remote_as_number: n.remote_as_num.clone(),
                    time_since_established: st
                        .and_then(|s| s.established_since)
                        .map(|t| now.saturating_sub(t)),
                    connection_state: state,
                    neighbor_router_id: bgp.and_then(|b| b.neighbor_id).map(|i| i.to_string()),
                    hold_time: bgp.and_then(|b| b.hold_time_s).map(u64::from),
                    keep_alive_interval: bgp.and_then(|b| b.keepalive_s).map(|k| u64::from(k) * 1000),
                    local_port: None,
                    remote_port: None,
                    total_in_prefix_count: families.iter().map(|f| f.in_prefix_count).sum(),
                    total_out_prefix_count: families.iter().map(|f| f.out_prefix_count).sum(),
                    address_families: families,
                    graceful_restart_mode: n.gr_mode.to_string(),
                    neighbor_type: "USER".into(),
                    last_update_timestamp: live.read_at_ms,
                    last_error: st.and_then(|s| s.reason.clone()),
                    bfd_status: None,
                    alarm,
                }
            })
            .collect()
    }

    /// Routes learned from (or announced to) a neighbor.
    pub fn neighbor_routes(&self, neighbor_path: &str, advertised: bool) -> Vec<RouteDetails> {
        let live = self.read();
        let protocol = strait_routing::protocol_name(neighbor_path);
        if advertised {
            return live
                .advertised
                .get(&protocol)
                .map(|rs| rs.iter().filter_map(route_details).collect())
                .unwrap_or_default();
        }
        live.status
            .as_ref()
            .map(|s| {
                s.routes
                    .iter()
                    .filter(|r| r.protocol == protocol)
                    .filter_map(route_details)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The tier-0's routing table (or, `forwarding`, its installed routes only).
    pub fn routing_table(&self, tier0_path: &str, forwarding: bool) -> RoutingTable {
        let live = self.read();
        let runs_here = live.desired.neighbors.iter().any(|n| n.tier0 == tier0_path)
            || live.desired.local_routes.iter().any(|r| {
                r.interface
                    .as_deref()
                    .is_some_and(|i| i.starts_with(&format!("{tier0_path}/")))
            });
        let mut entries: Vec<RoutingEntry> = if runs_here {
            live.desired.local_routes.clone()
        } else {
            Vec::new()
        };
        let ebgp = live
            .desired
            .config
            .as_ref()
            .and_then(|c| c.ebgp_admin_distance)
            .map_or(20, u32::from);
        if let Some(st) = live.status.as_ref().filter(|_| runs_here) {
            for r in st.routes.iter().filter(|r| r.protocol.starts_with("bgp_")) {
                if forwarding && !r.primary {
                    continue;
                }
                let Some(prefix) = r.prefix else { continue };
                for hop in &r.next_hops {
                    let interface_name = hop.interface.clone();
                    entries.push(RoutingEntry {
                        network: prefix.to_string(),
                        next_hop: hop.via.map(|v| v.to_string()),
                        route_type: "b".into(),
                        admin_distance: ebgp,
                        interface: interface_name
                            .as_ref()
                            .and_then(|i| live.desired.vtis.get(i).cloned()),
                        interface_name,
                        black_hole: false,
                        lr_component_type: "SERVICE_ROUTER_TIER0".into(),
                    });
                }
            }
        }
        entries.sort_by(|a, b| {
            a.network
                .cmp(&b.network)
                .then(a.route_type.cmp(&b.route_type))
        });
        let error_message = live.error.clone().filter(|_| runs_here);
        RoutingTable {
            status: if error_message.is_some() {
                "FAILURE"
            } else {
                "SUCCESS"
            }
            .into(),
            error_message,
            count: entries.len() as u64,
            route_entries: entries,
        }
    }
}

/// The routing runtime (see the module documentation).
pub struct RoutingRuntime {
    view: RoutingView,
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl RoutingRuntime {
    /// Start on the current tokio runtime; BIRD's files go to `state_dir`.
    pub fn start(policy: Policy, state_dir: PathBuf, opts: BirdOptions) -> RoutingRuntime {
        let view = RoutingView::default();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run(policy, state_dir, opts, view.clone(), stopped));
        RoutingRuntime { view, task, stop }
    }

    /// What the API reads.
    pub fn view(&self) -> RoutingView {
        self.view.clone()
    }

    /// Stop BIRD (its routes leave the kernel) and the task.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

async fn read_desired(policy: &Policy) -> Option<Desired> {
    let p = policy.clone();
    let tree = match tokio::task::spawn_blocking(move || p.snapshot_all()).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "routing: cannot read the configuration");
            return None;
        }
        Err(_) => return None,
    };
    let host = match strait_dataplane::host_networks().await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "routing: cannot list the host's networks; announcing no connected networks");
            Vec::new()
        }
    };
    Some(desired(&tree, &host))
}

async fn run(
    policy: Policy,
    state_dir: PathBuf,
    opts: BirdOptions,
    view: RoutingView,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut changes = policy.subscribe();
    let mut bird: Option<Bird> = None;
    let mut applied: Option<RoutingConfig> = None;
    let mut rescan = tokio::time::interval(RESCAN);
    let mut status_tick = tokio::time::interval(STATUS_EVERY);
    let mut dirty = true;
    loop {
        if dirty {
            dirty = false;
            if let Some(d) = read_desired(&policy).await {
                let want = d.config.clone();
                view.write().desired = d;
                if want != applied || bird.as_ref().is_none() != want.is_none() {
                    let error = realize(&mut bird, &state_dir, &opts, want.as_ref()).await;
                    if error.is_none() {
                        applied = want;
                    }
                    view.write().error = error;
                }
            }
        }
        tokio::select! {
            r = changes.changed() => {
                if r.is_err() {
                    break;
                }
                dirty = true;
            }
            _ = rescan.tick() => dirty = true,
            _ = status_tick.tick() => {
                if let Some(b) = bird.as_ref() {
                    refresh_status(b, &view).await;
                }
            }
            _ = stopped.changed() => break,
        }
    }
    if let Some(b) = bird.take() {
        if let Err(e) = b.shutdown().await {
            tracing::warn!(error = %e, "routing: stopping BIRD failed");
        }
    }
}

/// Make BIRD run `want` (start it if needed), or stop it. Returns what went wrong.
async fn realize(
    bird: &mut Option<Bird>,
    state_dir: &std::path::Path,
    opts: &BirdOptions,
    want: Option<&RoutingConfig>,
) -> Option<String> {
    let Some(cfg) = want else {
        if let Some(b) = bird.take() {
            tracing::info!("routing: no tier-0 runs BGP any more; stopping BIRD");
            if let Err(e) = b.shutdown().await {
                return Some(format!("stopping BIRD failed: {e}"));
            }
        }
        return None;
    };
    if bird.is_none() {
        if let Err(e) = std::fs::create_dir_all(state_dir) {
            return Some(format!("cannot create {}: {e}", state_dir.display()));
        }
        match Bird::start(Paths::in_dir(state_dir), opts.clone()).await {
            Ok(b) => {
                tracing::info!(dir = %state_dir.display(), "routing: BIRD started");
                *bird = Some(b);
            }
            Err(e) => {
                let hint = if opts.bird.exists() {
                    String::new()
                } else {
                    format!(
                        " ({} is missing: install Debian's bird2)",
                        opts.bird.display()
                    )
                };
                tracing::error!(error = %e, "routing: cannot start BIRD{hint}");
                return Some(format!("BGP cannot run: BIRD does not start: {e}{hint}"));
            }
        }
    }
    let b = bird.as_ref()?;
    match b.apply(cfg).await {
        Ok(()) => {
            tracing::info!(
                neighbors = cfg.neighbors.len(),
                "routing: configuration applied"
            );
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "routing: BIRD did not take the configuration");
            Some(format!("BGP configuration not applied: {e}"))
        }
    }
}

async fn refresh_status(b: &Bird, view: &RoutingView) {
    match b.status().await {
        Ok(st) => {
            let mut advertised = BTreeMap::new();
            for n in &st.neighbors {
                if n.connection_state != strait_routing::ConnectionState::Established {
                    continue;
                }
                let cmd = format!("show route all export {}", n.protocol);
                if let Ok(reply) = b.command(&cmd).await {
                    if let Ok(routes) = strait_routing::parse_routes(&reply) {
                        advertised.insert(n.protocol.clone(), routes);
                    }
                }
            }
            let mut live = view.write();
            live.status = Some(st);
            live.advertised = advertised;
            live.read_at_ms = strait_policy::now_ms();
        }
        Err(e) => {
            tracing::debug!(error = %e, "routing: cannot read BIRD's status");
            let mut live = view.write();
            live.status = None;
            live.read_at_ms = strait_policy::now_ms();
        }
    }
}
