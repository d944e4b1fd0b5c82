//! What strait asks of BGP: plain types (the API layer maps NSX's objects onto them) and
//! [`RoutingConfig::validate`], which refuses what BIRD 2.0.12 would refuse, naming the field
//! and what to change.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use zeroize::Zeroizing;

/// The gateway's BGP configuration (NSX: the Tier-0's `BgpRoutingConfig`, its neighbors,
/// route redistribution, route aggregation and prefix lists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingConfig {
    /// BGP router ID (must not be 0.0.0.0).
    pub router_id: Ipv4Addr,
    /// The gateway's AS number (1..=4294967295).
    pub local_as: u32,
    /// Install equal-cost BGP paths as one multipath kernel route.
    pub ecmp: bool,
    /// Graceful restart of every neighbor unless the neighbor overrides the mode.
    pub graceful_restart: GracefulRestart,
    /// Kernel metric of eBGP routes (NSX's admin distance; default 20).
    pub ebgp_admin_distance: Option<u8>,
    /// Kernel metric of iBGP routes (NSX's admin distance; default 200).
    pub ibgp_admin_distance: Option<u8>,
    /// BGP neighbors, one BIRD `bgp` protocol each.
    pub neighbors: Vec<Neighbor>,
    /// What the gateway announces.
    pub redistribute: Redistribution,
    /// Route aggregation.
    pub aggregates: Vec<Aggregate>,
    /// Prefix lists named by the neighbors' route filters.
    pub prefix_lists: Vec<PrefixList>,
    /// Addresses no learned route may cover (strait: its IPsec local endpoints and peers).
    /// A route to a tunnel's own endpoint through that tunnel would carry the tunnel into
    /// itself, so such routes are rejected on import from every neighbor.
    pub never_import: Vec<IpAddr>,
}

/// Graceful restart (RFC 4724).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GracefulRestart {
    /// NSX's `graceful_restart_mode`.
    pub mode: GrMode,
    /// Restart time announced to the peers, seconds (1..=4095; NSX default 180).
    pub restart_time_s: u32,
    /// NSX's stale route time, seconds (1..=3600; NSX default 600). BIRD 2.0.12 has no knob
    /// for it: as a helper BIRD keeps a restarting peer's routes for the restart time the peer
    /// announced. Validated and kept, not rendered.
    pub stale_time_s: u32,
}

impl Default for GracefulRestart {
    fn default() -> Self {
        GracefulRestart {
            mode: GrMode::HelperOnly,
            restart_time_s: 180,
            stale_time_s: 600,
        }
    }
}

/// NSX's graceful restart modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrMode {
    /// No graceful restart capability (`graceful restart off`).
    Disable,
    /// Helper only (`graceful restart aware`): keep a restarting peer's routes.
    HelperOnly,
    /// Restarting speaker and helper (`graceful restart on`).
    GrAndHelper,
}

/// One BGP neighbor. Its `Debug` shows the password as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Neighbor {
    /// A stable ID from the API (e.g. `nbr-1`); [`crate::protocol_name`] turns it into the
    /// BIRD protocol name.
    pub name: String,
    /// Admin state; a disabled neighbor is rendered `disabled`.
    pub enabled: bool,
    /// The neighbor's address.
    pub address: IpAddr,
    /// The neighbor's AS.
    pub remote_as: u32,
    /// Our AS towards this neighbor (default: [`RoutingConfig::local_as`]).
    pub local_as: Option<u32>,
    /// Our source address (usually our VTI address).
    pub source: Option<IpAddr>,
    /// Hold time, seconds: 0 (no keepalives) or 3..=65535.
    pub hold_time_s: u16,
    /// Keepalive time, seconds: 0 for BIRD's default (a third of the hold time), else at most
    /// the hold time; must be 0 when the hold time is 0.
    pub keepalive_s: u16,
    /// TCP-MD5 password (RFC 2385): 1..=80 printable ASCII characters without `"` and `\`.
    /// Goes only into the configuration file (mode 0600), never into a log line.
    pub password: Option<Zeroizing<String>>,
    /// BFD for this session.
    pub bfd: Option<Bfd>,
    /// Accept routes whose AS path contains our own AS (`allow local as`).
    pub allow_as_in: bool,
    /// 1 = directly connected (`direct`), more = `multihop <max_hop>`.
    pub max_hop: u8,
    /// Overrides [`RoutingConfig::graceful_restart`]'s mode.
    pub graceful_restart: Option<GrMode>,
    /// Address families; empty means the neighbor address's family, enabled, unfiltered.
    pub families: Vec<Family>,
}

impl std::fmt::Debug for Neighbor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neighbor")
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("address", &self.address)
            .field("remote_as", &self.remote_as)
            .field("local_as", &self.local_as)
            .field("source", &self.source)
            .field("hold_time_s", &self.hold_time_s)
            .field("keepalive_s", &self.keepalive_s)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("bfd", &self.bfd)
            .field("allow_as_in", &self.allow_as_in)
            .field("max_hop", &self.max_hop)
            .field("graceful_restart", &self.graceful_restart)
            .field("families", &self.families)
            .finish()
    }
}

/// BFD timers of a neighbor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bfd {
    /// Transmit and receive interval, milliseconds (10..=60000).
    pub interval_ms: u32,
    /// Detection multiplier (1..=255): the session is declared down after `interval_ms *
    /// multiplier` without packets.
    pub multiplier: u8,
}

/// An address family of a neighbor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Family {
    /// IPv4 or IPv6 unicast.
    pub afi: Afi,
    /// Whether the family is negotiated.
    pub enabled: bool,
    /// Most routes accepted from the neighbor; beyond it BIRD blocks further routes and the
    /// status says the limit is hit.
    pub max_routes: Option<u32>,
    /// Prefix list the neighbor's routes must be permitted by.
    pub import_filter: Option<String>,
    /// Prefix list the routes we send must be permitted by.
    pub export_filter: Option<String>,
}

/// Address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Afi {
    /// IPv4 unicast.
    Ipv4,
    /// IPv6 unicast.
    Ipv6,
}

impl Afi {
    /// The family of an address or network.
    pub fn of(addr: IpAddr) -> Afi {
        match addr {
            IpAddr::V4(_) => Afi::Ipv4,
            IpAddr::V6(_) => Afi::Ipv6,
        }
    }
    /// The family of a network.
    pub fn of_net(net: &IpNet) -> Afi {
        match net {
            IpNet::V4(_) => Afi::Ipv4,
            IpNet::V6(_) => Afi::Ipv6,
        }
    }
    /// Longest prefix length.
    pub fn max_len(self) -> u8 {
        match self {
            Afi::Ipv4 => 32,
            Afi::Ipv6 => 128,
        }
    }
    /// BIRD's channel name (`ipv4`, `ipv6`).
    pub fn channel(self) -> &'static str {
        match self {
            Afi::Ipv4 => "ipv4",
            Afi::Ipv6 => "ipv6",
        }
    }
}

/// What the gateway announces to its neighbors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Redistribution {
    /// Prefixes to announce (connected, static and IPsec local endpoint routes, already
    /// resolved by the caller into prefixes).
    pub networks: Vec<IpNet>,
}

/// A route aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aggregate {
    /// The covering prefix.
    pub prefix: IpNet,
    /// Announce only the aggregate, not the more specific prefixes it covers.
    pub summary_only: bool,
}

/// A named prefix list (first matching entry decides; no match denies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixList {
    /// Name the neighbors' families refer to.
    pub name: String,
    /// Entries in order.
    pub entries: Vec<PrefixEntry>,
}

/// One prefix list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixEntry {
    /// Permit or deny what matches.
    pub action: Action,
    /// The network; `None` is NSX's `ANY` (every prefix of either family).
    pub network: Option<IpNet>,
    /// Prefix length at least this (default: the network's length, exact match).
    pub ge: Option<u8>,
    /// Prefix length at most this.
    pub le: Option<u8>,
}

/// Prefix list entry action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Accept.
    Permit,
    /// Reject.
    Deny,
}

/// A configuration BIRD would refuse: the field (a path such as `neighbors[nbr-1].hold_time_s`)
/// and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    /// The offending field.
    pub field: String,
    /// What is wrong and what to change.
    pub problem: String,
}

fn err(field: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// Default kernel metric of eBGP routes (NSX's default admin distance).
pub const DEFAULT_EBGP_DISTANCE: u8 = 20;
/// Default kernel metric of iBGP routes (NSX's default admin distance).
pub const DEFAULT_IBGP_DISTANCE: u8 = 200;

impl Neighbor {
    /// Our AS towards this neighbor.
    pub fn effective_local_as(&self, cfg: &RoutingConfig) -> u32 {
        self.local_as.unwrap_or(cfg.local_as)
    }
    /// iBGP when both sides are in the same AS.
    pub fn is_ibgp(&self, cfg: &RoutingConfig) -> bool {
        self.effective_local_as(cfg) == self.remote_as
    }
    /// The families to negotiate (the explicit ones, or the address's family).
    pub fn effective_families(&self) -> Vec<Family> {
        if self.families.is_empty() {
            vec![Family {
                afi: Afi::of(self.address),
                enabled: true,
                max_routes: None,
                import_filter: None,
                export_filter: None,
            }]
        } else {
            self.families.clone()
        }
    }
}

impl RoutingConfig {
    /// Checks everything BIRD 2.0.12 would refuse (and what would make the rendered file
    /// ambiguous), returning every problem found, first problem first.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut p = Vec::new();
        if self.router_id.is_unspecified() {
            p.push(err(
                "router_id",
                "must not be 0.0.0.0; use an IPv4 address of the gateway",
            ));
        }
        if self.local_as == 0 {
            p.push(err(
                "local_as",
                "AS 0 is reserved (RFC 7607); use 1..=4294967295",
            ));
        }
        let gr = &self.graceful_restart;
        if !(1..=4095).contains(&gr.restart_time_s) {
            p.push(err(
                "graceful_restart.restart_time_s",
                "must be 1..=4095 seconds (a 12-bit field of the GR capability)",
            ));
        }
        if !(1..=3600).contains(&gr.stale_time_s) {
            p.push(err(
                "graceful_restart.stale_time_s",
                "must be 1..=3600 seconds",
            ));
        }
        if self.ebgp_admin_distance == Some(0) {
            p.push(err(
                "ebgp_admin_distance",
                "must be 1..=255 (0 means no metric to the kernel)",
            ));
        }
        if self.ibgp_admin_distance == Some(0) {
            p.push(err(
                "ibgp_admin_distance",
                "must be 1..=255 (0 means no metric to the kernel)",
            ));
        }
        let mut lists = BTreeSet::new();
        for (i, pl) in self.prefix_lists.iter().enumerate() {
            let f = format!("prefix_lists[{}]", pl.name);
            if pl.name.is_empty() {
                p.push(err(format!("prefix_lists[{i}].name"), "must not be empty"));
            }
            if !lists.insert(pl.name.as_str()) {
                p.push(err(
                    format!("{f}.name"),
                    "is used by another prefix list; names must be unique",
                ));
            }
            for (j, e) in pl.entries.iter().enumerate() {
                check_entry(&format!("{f}.entries[{j}]"), e, &mut p);
            }
        }
        let mut seen = BTreeSet::new();
        for (i, a) in self.aggregates.iter().enumerate() {
            if !seen.insert(a.prefix.trunc()) {
                p.push(err(
                    format!("aggregates[{i}].prefix"),
                    format!("{} is aggregated twice", a.prefix),
                ));
            }
        }
        let mut names = BTreeSet::new();
        let mut addrs = BTreeSet::new();
        let mut protos = BTreeSet::new();
        for n in &self.neighbors {
            let f = format!("neighbors[{}]", n.name);
            if n.name.is_empty() {
                p.push(err("neighbors[].name", "must not be empty"));
            }
            if !names.insert(n.name.as_str()) {
                p.push(err(
                    format!("{f}.name"),
                    "is used by another neighbor; names must be unique",
                ));
            } else if !protos.insert(crate::render::protocol_name(&n.name)) {
                p.push(err(
                    format!("{f}.name"),
                    "maps to the same BIRD protocol name as another neighbor; rename it",
                ));
            }
            if n.address.is_unspecified() || n.address.is_multicast() {
                p.push(err(
                    format!("{f}.address"),
                    "must be a unicast address of the peer",
                ));
            }
            if !addrs.insert(n.address) {
                p.push(err(
                    format!("{f}.address"),
                    format!("{} is the address of another neighbor", n.address),
                ));
            }
            if n.remote_as == 0 {
                p.push(err(
                    format!("{f}.remote_as"),
                    "AS 0 is reserved (RFC 7607); use 1..=4294967295",
                ));
            }
            if n.local_as == Some(0) {
                p.push(err(
                    format!("{f}.local_as"),
                    "AS 0 is reserved; leave it unset to use the gateway's AS",
                ));
            }
            if let Some(src) = n.source {
                if Afi::of(src) != Afi::of(n.address) {
                    p.push(err(
                        format!("{f}.source"),
                        "must be of the neighbor address's family",
                    ));
                }
                if src.is_unspecified() {
                    p.push(err(
                        format!("{f}.source"),
                        "must be one of the gateway's addresses, or unset",
                    ));
                }
            }
            if n.hold_time_s != 0 && n.hold_time_s < 3 {
                p.push(err(
                    format!("{f}.hold_time_s"),
                    "must be 0 or 3..=65535 seconds",
                ));
            }
            if n.hold_time_s == 0 && n.keepalive_s != 0 {
                p.push(err(
                    format!("{f}.keepalive_s"),
                    "must be 0 when the hold time is 0 (no keepalives)",
                ));
            }
            if n.hold_time_s != 0 && n.keepalive_s > n.hold_time_s {
                p.push(err(
                    format!("{f}.keepalive_s"),
                    format!("must be at most the hold time ({} s)", n.hold_time_s),
                ));
            }
            if let Some(pw) = &n.password {
                let ok = !pw.is_empty()
                    && pw.len() <= 80
                    && pw
                        .bytes()
                        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
                if !ok {
                    p.push(err(
                        format!("{f}.password"),
                        "must be 1..=80 printable ASCII characters without '\"' and '\\' (TCP-MD5 key in BIRD's configuration)",
                    ));
                }
            }
            if let Some(b) = n.bfd {
                if !(10..=60_000).contains(&b.interval_ms) {
                    p.push(err(
                        format!("{f}.bfd.interval_ms"),
                        "must be 10..=60000 milliseconds",
                    ));
                }
                if b.multiplier == 0 {
                    p.push(err(format!("{f}.bfd.multiplier"), "must be 1..=255"));
                }
            }
            if n.max_hop == 0 {
                p.push(err(
                    format!("{f}.max_hop"),
                    "must be 1 (directly connected) ..=255",
                ));
            }
            if !n.families.is_empty() && !n.families.iter().any(|f| f.enabled) {
                p.push(err(
                    format!("{f}.families"),
                    "enable at least one family (or disable the neighbor)",
                ));
            }
            let mut afis = BTreeSet::new();
            for fam in &n.families {
                let ff = format!("{f}.families[{}]", fam.afi.channel());
                if !afis.insert(fam.afi) {
                    p.push(err(ff.clone(), "is listed twice"));
                }
                if fam.max_routes == Some(0) {
                    p.push(err(
                        format!("{ff}.max_routes"),
                        "must be at least 1, or unset for no limit",
                    ));
                }
                for (what, list) in [
                    ("import_filter", &fam.import_filter),
                    ("export_filter", &fam.export_filter),
                ] {
                    if let Some(name) = list {
                        if !lists.contains(name.as_str()) {
                            p.push(err(
                                format!("{ff}.{what}"),
                                format!("names prefix list {name:?}, which does not exist"),
                            ));
                        }
                    }
                }
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(p)
        }
    }
}

fn check_entry(f: &str, e: &PrefixEntry, p: &mut Vec<ConfigError>) {
    let (min, max) = match e.network {
        Some(net) => (net.prefix_len(), Afi::of_net(&net).max_len()),
        None => (0, 128),
    };
    if let Some(ge) = e.ge {
        if ge < min || ge > max {
            p.push(err(
                format!("{f}.ge"),
                format!("must be {min}..={max} (the network's length up to the family's longest)"),
            ));
        }
    }
    if let Some(le) = e.le {
        if le < min || le > max {
            p.push(err(
                format!("{f}.le"),
                format!("must be {min}..={max} (the network's length up to the family's longest)"),
            ));
        }
        if let Some(ge) = e.ge {
            if ge > le {
                p.push(err(
                    format!("{f}.le"),
                    format!("must be at least ge ({ge})"),
                ));
            }
        }
    }
}
