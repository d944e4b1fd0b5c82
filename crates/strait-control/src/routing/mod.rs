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

mod desired;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use strait_model::routing_status::{
    BgpAddressFamilyStatus, BgpNeighborStatus, RouteDetails, RoutingEntry, RoutingTable,
};
use strait_policy::{Policy, TreeSnapshot};
use strait_routing::{Bird, BirdOptions, Paths, RoutingConfig};

/// How often connected networks are re-read (an interface added on the LAN side).
pub const RESCAN: Duration = Duration::from_secs(10);
/// How often neighbor state and routes are read from BIRD.
pub const STATUS_EVERY: Duration = Duration::from_secs(1);

pub use desired::{desired, Desired, NeighborIntent};

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
                    local_port: st.and_then(|s| s.ports).map(|(l, _)| u64::from(l)),
                    remote_port: st.and_then(|s| s.ports).map(|(_, r)| u64::from(r)),
                    total_in_prefix_count: families.iter().map(|f| f.in_prefix_count).sum(),
                    total_out_prefix_count: families.iter().map(|f| f.out_prefix_count).sum(),
                    address_families: families,
                    graceful_restart_mode: n.gr_mode.to_string(),
                    neighbor_type: "USER".into(),
                    last_update_timestamp: live.read_at_ms,
                    last_error: st.and_then(|s| s.reason.clone()),
                    bfd_status: st.and_then(|s| s.bfd.as_ref()).map(|b| b.state.clone()),
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
        let runs_here = live.desired.tier0.as_deref() == Some(tier0_path);
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

/// What BIRD should run, from the configuration now; `tree` holds the configuration last
/// read and is brought up to date (reading only what changed since).
async fn read_desired(policy: &Policy, tree: &mut Option<Arc<TreeSnapshot>>) -> Option<Desired> {
    let p = policy.clone();
    let previous = tree.clone();
    let read = move || match previous {
        Some(prev) => p.snapshot_since(&prev),
        None => p.snapshot_all(),
    };
    let tree = match tokio::task::spawn_blocking(read).await {
        Ok(Ok(t)) => tree.insert(Arc::new(t)),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "routing: cannot read the configuration");
            return None;
        }
        Err(_) => return None,
    };
    // Connected networks matter only to BGP; without a BGP configuration there is no need
    // to list every interface and address of the host (10,000 VTIs every rescan).
    let bgp_configured = tree.of_kind(strait_model::Kind::BgpConfig).next().is_some();
    let host = if !bgp_configured {
        Vec::new()
    } else {
        match strait_dataplane::host_networks().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "routing: cannot list the host's networks; announcing no connected networks");
                Vec::new()
            }
        }
    };
    Some(desired(tree, &host))
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
    let mut tree = None;
    loop {
        if dirty {
            dirty = false;
            if let Some(d) = read_desired(&policy, &mut tree).await {
                let want = d.config.clone();
                view.write().desired = d;
                if want != applied || bird.as_ref().is_none() != want.is_none() {
                    let error = realize(&mut bird, &state_dir, &opts, want.as_ref()).await;
                    if error.is_none() {
                        applied = want;
                    }
                    // Retried every rescan: logged when it changes, not every 10 s.
                    let previous = view.read().error.clone();
                    if error != previous {
                        match (&error, &previous) {
                            (Some(e), _) => tracing::error!("routing: {e}"),
                            (None, Some(was)) => tracing::info!(was = %was, "routing: resolved"),
                            (None, None) => {}
                        }
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
        // A missing binary is the common case (bird2 not installed): say that alone, not the
        // chain of errors starting it would give.
        if !opts.bird.exists() {
            let why = format!(
                "BGP cannot run: {} (BIRD 2, the routing daemon) is missing: install Debian's bird2, or start straitd with --bird pointing at BIRD",
                opts.bird.display()
            );
            return Some(why);
        }
        match Bird::start(Paths::in_dir(state_dir), opts.clone()).await {
            Ok(b) => {
                tracing::info!(dir = %state_dir.display(), "routing: BIRD started");
                *bird = Some(b);
            }
            Err(e) => {
                return Some(format!("BGP cannot run: BIRD does not start: {e}"));
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
        Err(e) => Some(format!("BGP configuration not applied: {e}")),
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
