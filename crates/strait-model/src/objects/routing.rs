//! Dynamic routing on tier-0 gateways: NSX `LocaleServices` (route redistribution),
//! `BgpRoutingConfig`, `BgpNeighborConfig` and `PrefixList`. strait realizes them with BIRD
//! (crate `strait-routing`); field names, enums and defaults are NSX's (VMware's SDK model,
//! defaults as its Terraform provider sends them).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{limits, Common};
use super::{check_path_syntax, ParseCtx, SecretChange};
use crate::enums::{
    AsPathModifierType, BgpAddressFamily, GracefulRestartMode, NsxEnum, PrefixAction,
    RedistributionDestination, RouteRedistributionType,
};
use crate::path::Kind;
use crate::problems::{codes, Problems};
use crate::reader::{string_value, ObjectReader};

/// Route aggregations per BGP configuration (NSX: 1,000).
pub const ROUTE_AGGREGATIONS_MAX: usize = 1000;
/// Source addresses per neighbor (NSX: 8).
pub const SOURCE_ADDRESSES_MAX: usize = 8;
/// Address families per neighbor (NSX: 2).
pub const ROUTE_FILTERING_MAX: usize = 2;
/// Entries per prefix list.
pub const PREFIXES_MAX: usize = 1000;
/// Redistribution rules per locale service.
pub const REDISTRIBUTION_RULES_MAX: usize = 100;
/// A BGP neighbor's TCP MD5 password (NSX: 32 characters).
pub const NEIGHBOR_PASSWORD_MAX_CHARS: usize = 32;
/// The id of the locale service every tier-0 has, and of the BGP configuration every
/// locale service has.
pub const DEFAULT_LOCALE_SERVICES: &str = "default";

/// An AS number as NSX writes it: ASPLAIN (`"65001"`, up to 4294967295) or ASDOT
/// (`"1.10"` = 1 × 65536 + 10). Zero is reserved (RFC 7607).
pub fn parse_asn(s: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "{:?} is not an AS number; write it as ASPLAIN (e.g. \"65001\") or ASDOT (e.g. \"1.10\")",
            crate::reader::truncate(s, 32)
        )
    };
    let digits = |t: &str| !t.is_empty() && t.len() <= 10 && t.bytes().all(|b| b.is_ascii_digit());
    let asn = match s.split_once('.') {
        None if digits(s) => s.parse::<u32>().map_err(|_| bad())?,
        Some((hi, lo)) if digits(hi) && digits(lo) => {
            let hi = hi.parse::<u16>().map_err(|_| bad())?;
            let lo = lo.parse::<u16>().map_err(|_| bad())?;
            (u32::from(hi) << 16) | u32::from(lo)
        }
        _ => return Err(bad()),
    };
    if asn == 0 {
        return Err(
            "AS 0 is reserved (RFC 7607); use your AS number, e.g. a private one from 64512-65534"
                .into(),
        );
    }
    Ok(asn)
}

fn read_asn(
    r: &mut ObjectReader<'_>,
    p: &mut Problems,
    name: &'static str,
    required: Option<&str>,
) -> Option<String> {
    let s = match required {
        Some(hint) => r.required_string(p, name, 16, hint)?,
        None => r.string(p, name, 16).filter(|s| !s.is_empty())?,
    };
    match parse_asn(&s) {
        Ok(_) => Some(s),
        Err(e) => {
            p.field(r.path_of(name), e);
            None
        }
    }
}

fn read_cidr(p: &mut Problems, field: &str, s: &str) -> Option<IpNet> {
    match s.parse::<IpNet>() {
        Ok(net) if net.trunc() != net => {
            p.field(
                field,
                format!("{s} has host bits set; did you mean {}?", net.trunc()),
            );
            None
        }
        Ok(net) => Some(net),
        Err(_) => {
            p.field(
                field,
                format!(
                    "{:?} is not a CIDR network; write it like 10.2.0.0/16",
                    crate::reader::truncate(s, 64)
                ),
            );
            None
        }
    }
}

/// Policy paths of prefix lists (`…/prefix-lists/{id}`), syntax only; existence and the
/// tier-0 they belong to are checked against the store.
fn read_filter_paths(
    r: &mut ObjectReader<'_>,
    p: &mut Problems,
    name: &'static str,
) -> Vec<String> {
    let field = r.path_of(name);
    let list = r
        .string_list(p, name, 1, limits::PATH_MAX_CHARS)
        .unwrap_or_default();
    list.into_iter()
        .enumerate()
        .filter(|(i, s)| check_path_syntax(p, &format!("{field}[{i}]"), s, &[Kind::PrefixList]))
        .map(|(_, s)| s)
        .collect()
}

// ---------------------------------------------------------------------------------------
// LocaleServices

/// NSX `Tier0RouteRedistributionRule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RedistributionRule {
    /// Rule name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the routes go; `BGP` (the default) is the only destination strait has.
    #[schema(required = false)]
    pub destinations: Vec<RedistributionDestination>,
    /// What to redistribute.
    #[schema(required = false)]
    pub route_redistribution_types: Vec<RouteRedistributionType>,
}

/// NSX `Tier0RouteRedistributionConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RouteRedistributionConfig {
    /// Redistribute into BGP (default true).
    #[schema(required = false)]
    pub bgp_enabled: bool,
    /// Redistribute into OSPF; strait has no OSPF, so only false is accepted.
    #[schema(required = false)]
    pub ospf_enabled: bool,
    /// The rules.
    #[schema(required = false)]
    pub redistribution_rules: Vec<RedistributionRule>,
}

/// NSX `LocaleServices` of a tier-0: where route redistribution is configured. Every tier-0
/// has one called `default`, created with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LocaleServices {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// Route redistribution into BGP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_redistribution_config: Option<RouteRedistributionConfig>,
    /// Deprecated by NSX in favor of `route_redistribution_config`; still honored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_redistribution_types: Vec<RouteRedistributionType>,
    /// Stored for compatibility (strait runs on one node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_cluster_path: Option<String>,
    /// Stored for compatibility (strait runs on one node).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_edge_paths: Vec<String>,
}

impl LocaleServices {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> LocaleServices {
        let common = Common::read(r, p, ctx.path.id());
        let route_redistribution_config = r
            .object(p, "route_redistribution_config", "Tier0RouteRedistributionConfig")
            .map(|mut c| {
                let bgp_enabled = c.bool(p, "bgp_enabled").unwrap_or(true);
                let ospf_enabled = c.bool(p, "ospf_enabled").unwrap_or(false);
                if ospf_enabled {
                    p.push(c.path_of("ospf_enabled"), codes::UNSUPPORTED, "strait has no OSPF; set ospf_enabled false (routes are redistributed into BGP)");
                }
                let mut redistribution_rules = Vec::new();
                for (field, v) in c.array(p, "redistribution_rules", REDISTRIBUTION_RULES_MAX).unwrap_or_default() {
                    let Some(mut rule) = ObjectReader::new(v, &field, "Tier0RouteRedistributionRule", p) else {
                        continue;
                    };
                    let name = rule.string(p, "name", limits::DISPLAY_NAME_MAX_CHARS);
                    let destinations = rule
                        .enum_list::<RedistributionDestination>(p, "destinations", 2)
                        .filter(|d| !d.is_empty())
                        .unwrap_or_else(|| vec![RedistributionDestination::Bgp]);
                    if destinations.contains(&RedistributionDestination::Ospf) {
                        p.push(rule.path_of("destinations"), codes::UNSUPPORTED, "strait has no OSPF; the only destination is BGP");
                    }
                    let types = rule
                        .enum_list::<RouteRedistributionType>(p, "route_redistribution_types", RouteRedistributionType::ALL.len())
                        .unwrap_or_default();
                    if rule.raw("route_map_path").is_some() {
                        p.push(rule.path_of("route_map_path"), codes::UNSUPPORTED, "route maps are not supported; redistribute by type and filter per neighbor with prefix lists (route_filtering)");
                    }
                    rule.finish(p);
                    redistribution_rules.push(RedistributionRule { name, destinations, route_redistribution_types: types });
                }
                c.finish(p);
                RouteRedistributionConfig { bgp_enabled, ospf_enabled, redistribution_rules }
            });
        let route_redistribution_types = r
            .enum_list(
                p,
                "route_redistribution_types",
                RouteRedistributionType::ALL.len(),
            )
            .unwrap_or_default();
        let edge_cluster_path = r.string(p, "edge_cluster_path", limits::PATH_MAX_CHARS);
        let preferred_edge_paths = r
            .string_list(
                p,
                "preferred_edge_paths",
                limits::PATH_LIST_MAX,
                limits::PATH_MAX_CHARS,
            )
            .unwrap_or_default();
        for name in ["ha_vip_configs", "bfd_profile_path"] {
            if r.raw(name).is_some() {
                p.push(r.path_of(name), codes::UNSUPPORTED, format!("{name} is not supported (strait runs on one node and configures BFD per BGP neighbor); remove it"));
            }
        }
        // NSX redistributes routes on tier-0s only; a tier-1's locale service places the
        // gateway on edges and nothing else.
        let on_tier1 = ctx.path.gateway().is_some_and(|g| g.kind() == Kind::Tier1);
        if on_tier1 {
            for name in ["route_redistribution_config", "route_redistribution_types"] {
                let given = match r.raw(name) {
                    None | Some(serde_json::Value::Null) => false,
                    Some(serde_json::Value::Array(a)) => !a.is_empty(),
                    Some(_) => true,
                };
                if given {
                    p.push(r.path_of(name), codes::UNSUPPORTED, format!("{name} applies to tier-0 gateways only (tier-1 gateways have no BGP); remove it, or configure redistribution on a tier-0's locale-services/default"));
                }
            }
        }
        LocaleServices {
            common,
            route_redistribution_config,
            route_redistribution_types,
            edge_cluster_path,
            preferred_edge_paths,
        }
    }

    /// The route types redistributed into BGP (rules and the deprecated list together).
    pub fn redistributed_types(&self) -> Vec<RouteRedistributionType> {
        let mut out: Vec<RouteRedistributionType> = self.route_redistribution_types.clone();
        if let Some(c) = self
            .route_redistribution_config
            .as_ref()
            .filter(|c| c.bgp_enabled)
        {
            for rule in c
                .redistribution_rules
                .iter()
                .filter(|r| r.destinations.contains(&RedistributionDestination::Bgp))
            {
                out.extend(rule.route_redistribution_types.iter().copied());
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

// ---------------------------------------------------------------------------------------
// BgpRoutingConfig

/// NSX `BgpGracefulRestartTimer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GracefulRestartTimer {
    /// Seconds for a restarting peer to come back, 1 to 3600 (default 180).
    #[schema(required = false, minimum = 1, maximum = 3600)]
    pub restart_timer: u32,
    /// Seconds stale routes are kept, 1 to 3600 (default 600).
    #[schema(required = false, minimum = 1, maximum = 3600)]
    pub stale_route_timer: u32,
}

/// NSX `BgpGracefulRestartConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GracefulRestartConfig {
    /// `HELPER_ONLY` (default), `GR_AND_HELPER` or `DISABLE`.
    #[schema(required = false)]
    pub mode: GracefulRestartMode,
    /// Timers.
    #[schema(required = false)]
    pub timer: GracefulRestartTimer,
}

/// NSX `RouteAggregationEntry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RouteAggregation {
    /// The aggregate, e.g. `10.1.0.0/16`.
    #[schema(value_type = String)]
    pub prefix: IpNet,
    /// Announce only the aggregate, not the routes it covers (default true).
    #[schema(required = false)]
    pub summary_only: bool,
}

/// NSX `BgpRoutingConfig` (`…/locale-services/{ls}/bgp`): every locale service has one.
/// BGP runs when it is enabled and has a `local_as_num`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BgpRoutingConfig {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// Run BGP (default true; it also needs `local_as_num`).
    #[schema(required = false)]
    pub enabled: bool,
    /// This gateway's AS, ASPLAIN (`"65001"`) or ASDOT (`"1.10"`); without it BGP is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^([0-9]{1,10}|[0-9]{1,5}\.[0-9]{1,5})$")]
    pub local_as_num: Option<String>,
    /// Install equal-cost paths learned from several neighbors (default true).
    #[schema(required = false)]
    pub ecmp: bool,
    /// Treat paths through different neighbor ASes as equal for ECMP (default true).
    #[schema(required = false)]
    pub multipath_relax: bool,
    /// Stored for compatibility (strait runs one service router).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inter_sr_ibgp: Option<bool>,
    /// Graceful restart (RFC 4724).
    #[schema(required = false)]
    pub graceful_restart_config: GracefulRestartConfig,
    /// Aggregates to announce.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_aggregations: Vec<RouteAggregation>,
    /// Preference of routes learned over eBGP, 1 to 255 (default: BIRD's, 100... see docs/api.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 255)]
    pub ebgp_admin_distance: Option<u8>,
    /// Preference of routes learned over iBGP, 1 to 255.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 255)]
    pub ibgp_admin_distance: Option<u8>,
}

impl BgpRoutingConfig {
    /// The configuration a new locale service starts with.
    pub fn defaults() -> BgpRoutingConfig {
        BgpRoutingConfig {
            common: Common::with_id("bgp"),
            enabled: true,
            local_as_num: None,
            ecmp: true,
            multipath_relax: true,
            inter_sr_ibgp: None,
            graceful_restart_config: GracefulRestartConfig {
                mode: GracefulRestartMode::HelperOnly,
                timer: GracefulRestartTimer {
                    restart_timer: 180,
                    stale_route_timer: 600,
                },
            },
            route_aggregations: Vec::new(),
            ebgp_admin_distance: None,
            ibgp_admin_distance: None,
        }
    }

    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> BgpRoutingConfig {
        let d = BgpRoutingConfig::defaults();
        let common = Common::read(r, p, ctx.path.id());
        let enabled = r.bool(p, "enabled").unwrap_or(d.enabled);
        let local_as_num = read_asn(r, p, "local_as_num", None);
        let ecmp = r.bool(p, "ecmp").unwrap_or(d.ecmp);
        let multipath_relax = r.bool(p, "multipath_relax").unwrap_or(d.multipath_relax);
        let inter_sr_ibgp = r.bool(p, "inter_sr_ibgp");
        let graceful_restart_config =
            match r.object(p, "graceful_restart_config", "BgpGracefulRestartConfig") {
                None => d.graceful_restart_config,
                Some(mut g) => {
                    let mode = g
                        .enumeration(p, "mode")
                        .unwrap_or(GracefulRestartMode::HelperOnly);
                    let timer = match g.object(p, "timer", "BgpGracefulRestartTimer") {
                        None => d.graceful_restart_config.timer.clone(),
                        Some(mut t) => {
                            let restart_timer =
                                t.int(p, "restart_timer", 1, 3600).unwrap_or(180) as u32;
                            let stale_route_timer =
                                t.int(p, "stale_route_timer", 1, 3600).unwrap_or(600) as u32;
                            t.finish(p);
                            GracefulRestartTimer {
                                restart_timer,
                                stale_route_timer,
                            }
                        }
                    };
                    g.finish(p);
                    GracefulRestartConfig { mode, timer }
                }
            };
        let mut route_aggregations: Vec<RouteAggregation> = Vec::new();
        for (field, v) in r
            .array(p, "route_aggregations", ROUTE_AGGREGATIONS_MAX)
            .unwrap_or_default()
        {
            let Some(mut a) = ObjectReader::new(v, &field, "RouteAggregationEntry", p) else {
                continue;
            };
            let prefix = match a.raw("prefix") {
                None => {
                    p.field(
                        a.path_of("prefix"),
                        "is required; give the aggregate in CIDR notation, e.g. 10.1.0.0/16",
                    );
                    None
                }
                Some(v) => string_value(p, &a.path_of("prefix"), v, 64)
                    .and_then(|s| read_cidr(p, &a.path_of("prefix"), &s)),
            };
            let summary_only = a.bool(p, "summary_only").unwrap_or(true);
            a.finish(p);
            if let Some(prefix) = prefix {
                if route_aggregations.iter().any(|x| x.prefix == prefix) {
                    p.field(
                        field,
                        format!("{prefix} is listed twice; list each aggregate once"),
                    );
                    continue;
                }
                route_aggregations.push(RouteAggregation {
                    prefix,
                    summary_only,
                });
            }
        }
        let ebgp_admin_distance = r.int(p, "ebgp_admin_distance", 1, 255).map(|v| v as u8);
        let ibgp_admin_distance = r.int(p, "ibgp_admin_distance", 1, 255).map(|v| v as u8);
        BgpRoutingConfig {
            common,
            enabled,
            local_as_num,
            ecmp,
            multipath_relax,
            inter_sr_ibgp,
            graceful_restart_config,
            route_aggregations,
            ebgp_admin_distance,
            ibgp_admin_distance,
        }
    }
}

// ---------------------------------------------------------------------------------------
// BgpNeighborConfig

/// NSX `BgpBfdConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BgpBfdConfig {
    /// Run BFD (RFC 5880) with this neighbor (default false).
    #[schema(required = false)]
    pub enabled: bool,
    /// Milliseconds between BFD packets, 50 to 60000 (default 500).
    #[schema(required = false, minimum = 50, maximum = 60000)]
    pub interval: u32,
    /// Packets missed before the neighbor is declared down, 2 to 16 (default 3).
    #[schema(required = false, minimum = 2, maximum = 16)]
    pub multiple: u8,
}

/// NSX `BgpRouteFiltering`: one address family of a neighbor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BgpRouteFiltering {
    /// `IPV4` or `IPV6` (`L2VPN_EVPN` is not supported).
    pub address_family: BgpAddressFamily,
    /// Exchange routes of this family (default true).
    #[schema(required = false)]
    pub enabled: bool,
    /// A prefix list (policy path) filtering what is learned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_route_filters: Vec<String>,
    /// A prefix list (policy path) filtering what is announced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_route_filters: Vec<String>,
    /// Routes accepted from the neighbor, 1 to 1000000; beyond it the session is reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000000)]
    pub maximum_routes: Option<u32>,
}

/// NSX `BgpNeighborLocalAsConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BgpNeighborLocalAsConfig {
    /// The AS presented to this neighbor instead of the gateway's.
    #[schema(pattern = r"^([0-9]{1,10}|[0-9]{1,5}\.[0-9]{1,5})$")]
    pub local_as_num: String,
    /// How the AS path is changed (see NSX).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_modifier_type: Option<AsPathModifierType>,
}

/// NSX `BgpNeighborConfig` (`…/bgp/neighbors/{id}`). Its `password` is a secret: stored
/// encrypted, never returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BgpNeighbor {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// The neighbor's address, e.g. the peer's VTI address `169.254.10.2`.
    #[schema(schema_with = super::common::address_schemas::ip)]
    pub neighbor_address: IpAddr,
    /// The neighbor's AS (ASPLAIN or ASDOT).
    #[schema(pattern = r"^([0-9]{1,10}|[0-9]{1,5}\.[0-9]{1,5})$")]
    pub remote_as_num: String,
    /// Our address for the session (the first is used), e.g. our VTI address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = super::common::address_schemas::ip_list)]
    pub source_addresses: Vec<IpAddr>,
    /// Seconds without a message before the neighbor is declared down, 1 to 65535 (default 180).
    #[schema(required = false, minimum = 1, maximum = 65535)]
    pub hold_down_time: u32,
    /// Seconds between keepalives, 1 to 65535, less than hold_down_time (default 60).
    #[schema(required = false, minimum = 1, maximum = 65535)]
    pub keep_alive_time: u32,
    /// Hops to the neighbor, 1 (directly connected, default) to 255.
    #[schema(required = false, minimum = 1, maximum = 255)]
    pub maximum_hop_limit: u8,
    /// Accept routes whose AS path contains our own AS (default false).
    #[schema(required = false)]
    pub allow_as_in: bool,
    /// Peer with this neighbor (default true).
    #[schema(required = false)]
    pub enabled: bool,
    /// Per-neighbor graceful restart; unset follows the BGP configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart_mode: Option<GracefulRestartMode>,
    /// BFD with this neighbor.
    #[schema(required = false)]
    pub bfd: BgpBfdConfig,
    /// Address families with their filters and route limits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_filtering: Vec<BgpRouteFiltering>,
    /// Deprecated by NSX (use route_filtering): a prefix list for what is learned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_route_filters: Vec<String>,
    /// Deprecated by NSX (use route_filtering): a prefix list for what is announced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_route_filters: Vec<String>,
    /// A different local AS for this neighbor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbor_local_as_config: Option<BgpNeighborLocalAsConfig>,
    /// Whether a password is stored (strait extension, read-only; the password is never
    /// returned).
    #[schema(required = false)]
    pub has_password: bool,
}

impl BgpNeighbor {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
        secrets: &mut Vec<(&'static str, SecretChange)>,
    ) -> Option<BgpNeighbor> {
        let common = Common::read(r, p, ctx.path.id());
        let neighbor_address = match r.raw("neighbor_address") {
            None => {
                p.field("neighbor_address", "is required; give the neighbor's address, e.g. the peer's VTI address 169.254.10.2");
                None
            }
            Some(serde_json::Value::String(s)) if s.contains('/') => {
                p.push("neighbor_address", codes::UNSUPPORTED, format!("{:?} is a range; dynamic neighbors are not supported: give one address, e.g. the peer's VTI address", crate::reader::truncate(s, 64)));
                None
            }
            Some(v) => crate::reader::ip_value(
                p,
                "neighbor_address",
                v,
                "give the neighbor's address, e.g. the peer's VTI address 169.254.10.2",
            ),
        };
        let remote_as_num = read_asn(
            r,
            p,
            "remote_as_num",
            Some("give the neighbor's AS number, e.g. \"65002\""),
        );
        let mut source_addresses: Vec<IpAddr> = Vec::new();
        for (field, v) in r
            .array(p, "source_addresses", SOURCE_ADDRESSES_MAX)
            .unwrap_or_default()
        {
            if let Some(ip) = crate::reader::ip_value(
                p,
                &field,
                v,
                "give an address of this gateway, e.g. its VTI address 169.254.10.1",
            ) {
                if let Some(n) = neighbor_address.filter(|n| n.is_ipv4() != ip.is_ipv4()) {
                    p.field(
                        field,
                        format!("{ip} and neighbor_address {n} are of different IP versions"),
                    );
                } else if source_addresses.contains(&ip) {
                    p.field(field, format!("{ip} is listed twice"));
                } else {
                    source_addresses.push(ip);
                }
            }
        }
        let hold_down_time = r.int(p, "hold_down_time", 1, 65535).unwrap_or(180) as u32;
        let keep_alive_time = r.int(p, "keep_alive_time", 1, 65535).unwrap_or(60) as u32;
        if keep_alive_time >= hold_down_time {
            p.field("keep_alive_time", format!("{keep_alive_time} s is not shorter than hold_down_time {hold_down_time} s; keepalives must come more often than the hold time expires (NSX's defaults are 60 and 180)"));
        }
        let maximum_hop_limit = r.int(p, "maximum_hop_limit", 1, 255).unwrap_or(1) as u8;
        let allow_as_in = r.bool(p, "allow_as_in").unwrap_or(false);
        let enabled = r.bool(p, "enabled").unwrap_or(true);
        let graceful_restart_mode = r.enumeration(p, "graceful_restart_mode");
        let bfd = match r.object(p, "bfd", "BgpBfdConfig") {
            None => BgpBfdConfig {
                enabled: false,
                interval: 500,
                multiple: 3,
            },
            Some(mut b) => {
                let enabled = b.bool(p, "enabled").unwrap_or(false);
                let interval = b.int(p, "interval", 50, 60000).unwrap_or(500) as u32;
                let multiple = b.int(p, "multiple", 2, 16).unwrap_or(3) as u8;
                b.finish(p);
                BgpBfdConfig {
                    enabled,
                    interval,
                    multiple,
                }
            }
        };
        let mut route_filtering: Vec<BgpRouteFiltering> = Vec::new();
        for (field, v) in r
            .array(p, "route_filtering", ROUTE_FILTERING_MAX)
            .unwrap_or_default()
        {
            let Some(mut f) = ObjectReader::new(v, &field, "BgpRouteFiltering", p) else {
                continue;
            };
            let family = match f.enumeration::<BgpAddressFamily>(p, "address_family") {
                Some(BgpAddressFamily::L2vpnEvpn) => {
                    p.push(
                        f.path_of("address_family"),
                        codes::UNSUPPORTED,
                        "L2VPN_EVPN is not supported; use IPV4 or IPV6",
                    );
                    None
                }
                Some(a) => Some(a),
                None => {
                    if !f.is_present("address_family") {
                        p.field(f.path_of("address_family"), "is required; IPV4 or IPV6");
                    }
                    None
                }
            };
            let enabled = f.bool(p, "enabled").unwrap_or(true);
            let in_route_filters = read_filter_paths(&mut f, p, "in_route_filters");
            let out_route_filters = read_filter_paths(&mut f, p, "out_route_filters");
            let maximum_routes = f.int(p, "maximum_routes", 1, 1_000_000).map(|v| v as u32);
            f.finish(p);
            if let Some(address_family) = family {
                if route_filtering
                    .iter()
                    .any(|x| x.address_family == address_family)
                {
                    p.field(field, format!("address family {address_family} is listed twice; give each family once"));
                    continue;
                }
                route_filtering.push(BgpRouteFiltering {
                    address_family,
                    enabled,
                    in_route_filters,
                    out_route_filters,
                    maximum_routes,
                });
            }
        }
        let in_route_filters = read_filter_paths(r, p, "in_route_filters");
        let out_route_filters = read_filter_paths(r, p, "out_route_filters");
        let neighbor_local_as_config = r
            .object(p, "neighbor_local_as_config", "BgpNeighborLocalAsConfig")
            .and_then(|mut l| {
                let local_as_num = read_asn(
                    &mut l,
                    p,
                    "local_as_num",
                    Some("give the AS to present to this neighbor, e.g. \"65010\""),
                );
                let as_path_modifier_type = l.enumeration(p, "as_path_modifier_type");
                l.finish(p);
                Some(BgpNeighborLocalAsConfig {
                    local_as_num: local_as_num?,
                    as_path_modifier_type,
                })
            });
        r.ignore(&["has_password"]);
        let has_password = read_password(r, p, ctx, secrets);
        Some(BgpNeighbor {
            common,
            neighbor_address: neighbor_address?,
            remote_as_num: remote_as_num?,
            source_addresses,
            hold_down_time,
            keep_alive_time,
            maximum_hop_limit,
            allow_as_in,
            enabled,
            graceful_restart_mode,
            bfd,
            route_filtering,
            in_route_filters,
            out_route_filters,
            neighbor_local_as_config,
            has_password,
        })
    }

    /// The AS number of the neighbor.
    pub fn remote_as(&self) -> Option<u32> {
        parse_asn(&self.remote_as_num).ok()
    }

    /// Every prefix list this neighbor refers to.
    pub fn references(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .in_route_filters
            .iter()
            .chain(&self.out_route_filters)
            .cloned()
            .collect();
        for f in &self.route_filtering {
            out.extend(
                f.in_route_filters
                    .iter()
                    .chain(&f.out_route_filters)
                    .cloned(),
            );
        }
        out.sort();
        out.dedup();
        out
    }
}

/// `password`: NSX's TCP MD5 password (RFC 2385), write-only. `""` clears it (as NSX
/// documents), `null` clears it on PATCH and keeps it on PUT. Returns whether one is stored
/// after this write.
fn read_password(
    r: &mut ObjectReader<'_>,
    p: &mut Problems,
    ctx: &ParseCtx<'_>,
    secrets: &mut Vec<(&'static str, SecretChange)>,
) -> bool {
    let present = r.is_present("password");
    match r.raw("password") {
        None if present && ctx.null_clears_secrets => {
            secrets.push(("password", SecretChange::Clear));
            false
        }
        None => ctx.existing_secret("password").is_some(),
        Some(serde_json::Value::String(s)) if s.is_empty() => {
            secrets.push(("password", SecretChange::Clear));
            false
        }
        Some(serde_json::Value::String(s)) => {
            let n = s.chars().count();
            if n > NEIGHBOR_PASSWORD_MAX_CHARS {
                p.field("password", format!("is {n} characters long; BGP passwords have at most {NEIGHBOR_PASSWORD_MAX_CHARS}"));
            } else if s.chars().any(|c| c.is_control() || c == '"' || c == '\\') {
                // It goes into BIRD's configuration as a quoted string.
                p.field("password", "contains a control character, a quote or a backslash; use printable characters without \" and \\");
            } else {
                secrets.push((
                    "password",
                    SecretChange::Set(zeroize::Zeroizing::new(s.clone())),
                ));
            }
            true
        }
        Some(other) => {
            p.field(
                "password",
                format!(
                    "expected a string, found {}",
                    crate::reader::json_type(other)
                ),
            );
            false
        }
    }
}

// ---------------------------------------------------------------------------------------
// PrefixList

/// NSX `PrefixEntry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrefixEntry {
    /// A CIDR network, or `ANY` for every network.
    #[schema(
        pattern = r"^(ANY|((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/(3[0-2]|[12]?[0-9]))$"
    )]
    pub network: String,
    /// `PERMIT` (default) or `DENY`.
    #[schema(required = false)]
    pub action: PrefixAction,
    /// Match prefixes at least this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 128)]
    pub ge: Option<u8>,
    /// Match prefixes at most this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 128)]
    pub le: Option<u8>,
}

impl PrefixEntry {
    /// The network, or None for `ANY`.
    pub fn net(&self) -> Option<IpNet> {
        if self.network == "ANY" {
            None
        } else {
            self.network.parse().ok()
        }
    }
}

/// NSX `PrefixList` (`/infra/tier-0s/{t0}/prefix-lists/{id}`): an ordered list of
/// prefixes; the first entry that matches decides, and what matches none is denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrefixList {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// The entries, in order.
    #[schema(min_items = 1)]
    pub prefixes: Vec<PrefixEntry>,
}

impl PrefixList {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> Option<PrefixList> {
        let common = Common::read(r, p, ctx.path.id());
        let given = r.is_present("prefixes");
        let items = r.array(p, "prefixes", PREFIXES_MAX);
        let items = match items {
            Some(items) if !items.is_empty() => items,
            Some(_) => {
                p.field("prefixes", "is empty; give at least one {\"network\": \"10.1.0.0/16\", \"action\": \"PERMIT\"}");
                return None;
            }
            None => {
                if !given {
                    p.field("prefixes", "is required; give at least one {\"network\": \"10.1.0.0/16\", \"action\": \"PERMIT\"}");
                }
                return None;
            }
        };
        let mut prefixes = Vec::new();
        for (field, v) in items {
            let Some(mut e) = ObjectReader::new(v, &field, "PrefixEntry", p) else {
                continue;
            };
            let network = e.required_string(
                p,
                "network",
                64,
                "give a CIDR network such as 10.1.0.0/16, or ANY",
            );
            let net = match network.as_deref() {
                None | Some("ANY") => None,
                Some(s) => match read_cidr(p, &e.path_of("network"), s) {
                    Some(n) => Some(n),
                    None => {
                        e.finish(p);
                        continue;
                    }
                },
            };
            let max_len: i64 = match net {
                Some(IpNet::V4(_)) => 32,
                _ => 128,
            };
            let action = e.enumeration(p, "action").unwrap_or(PrefixAction::Permit);
            let mut prefix_len = |name: &'static str| {
                let v = e.int(p, name, 0, 128)?;
                if v > max_len {
                    p.field(
                        e.path_of(name),
                        format!("{v} is longer than an IPv4 prefix can be; use 0 to 32 with an IPv4 network"),
                    );
                    return None;
                }
                Some(v as u8)
            };
            let ge = prefix_len("ge");
            let le = prefix_len("le");
            if let (Some(n), Some(g)) = (net, ge) {
                if g < n.prefix_len() {
                    p.field(e.path_of("ge"), format!("{g} is shorter than the network's own length /{}; ge must be at least {}", n.prefix_len(), n.prefix_len()));
                }
            }
            if let (Some(g), Some(l)) = (ge, le) {
                if l < g {
                    p.field(
                        e.path_of("le"),
                        format!("{l} is less than ge {g}; le must be at least ge"),
                    );
                }
            }
            e.finish(p);
            if let Some(network) = network {
                prefixes.push(PrefixEntry {
                    network,
                    action,
                    ge,
                    le,
                });
            }
        }
        Some(PrefixList { common, prefixes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_numbers_in_both_notations() {
        assert_eq!(parse_asn("65001"), Ok(65001));
        assert_eq!(parse_asn("4294967295"), Ok(u32::MAX));
        assert_eq!(parse_asn("1.10"), Ok(65546));
        assert_eq!(parse_asn("65535.65535"), Ok(u32::MAX));
        for bad in [
            "",
            "0",
            "0.0",
            "4294967296",
            "1.65536",
            "65001a",
            "-1",
            "1.",
            ".1",
            "1.2.3",
            " 65001",
        ] {
            assert!(parse_asn(bad).is_err(), "{bad:?}");
        }
        assert!(parse_asn("0").unwrap_err().contains("reserved"));
    }
}
