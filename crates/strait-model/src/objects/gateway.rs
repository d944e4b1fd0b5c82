//! Tier-0 and tier-1 gateways: containers for VPN services and static routes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{limits, Common};
use super::ParseCtx;
use crate::enums::{FailoverMode, HaMode};
use crate::path::Kind;
use crate::problems::Problems;
use crate::reader::ObjectReader;

/// A tier-0 (`Tier0`) or tier-1 (`Tier1`) gateway. strait uses what VPN and routing need;
/// the other NSX gateway settings that clients write and read back (VMware's Terraform
/// provider among them) are validated, stored and shown with NSX's defaults, and have no
/// effect here (see docs/api.md "Gateways"). Fields of NSX's model beyond these are
/// accepted and ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Gateway {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// `ACTIVE_STANDBY` (default; required for VPN) or `ACTIVE_ACTIVE`.
    #[schema(required = false)]
    pub ha_mode: HaMode,
    /// Failover mode; stored for compatibility (strait runs a single node).
    #[schema(required = false)]
    pub failover_mode: FailoverMode,
    /// Tier-1 only: the tier-0 it connects to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier0_path: Option<String>,
    /// Stored for compatibility (no gateway firewall here): default false.
    #[serde(default)]
    #[schema(required = false)]
    pub disable_firewall: bool,
    /// Stored for compatibility: default false.
    #[serde(default)]
    #[schema(required = false)]
    pub default_rule_logging: bool,
    /// Stored for compatibility: default false.
    #[serde(default)]
    #[schema(required = false)]
    pub force_whitelisting: bool,
    /// Stored for compatibility (strait runs no DHCP): default empty, at most one path.
    #[serde(default)]
    #[schema(required = false, max_items = 1)]
    pub dhcp_config_paths: Vec<String>,
    /// Stored for compatibility: default NSX's default ND RA and DAD profiles.
    #[serde(default = "default_ipv6_profile_paths")]
    #[schema(required = false, max_items = 2)]
    pub ipv6_profile_paths: Vec<String>,
    /// Tier-0 only: settings NSX has for its edge nodes' internal links.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub tier0: Option<Tier0Settings>,
}

/// Tier-0 settings stored for compatibility: strait's tier-0 is one node with no transit
/// links and no VRFs, so they change nothing here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tier0Settings {
    /// Default `["169.254.0.0/24"]`.
    #[schema(required = false, schema_with = super::common::address_schemas::cidr_list)]
    pub internal_transit_subnets: Vec<String>,
    /// Default `["100.64.0.0/16"]`.
    #[schema(required = false, schema_with = super::common::address_schemas::cidr_list)]
    pub transit_subnets: Vec<String>,
    /// Default `["169.254.2.0/23"]`.
    #[schema(required = false, schema_with = super::common::address_schemas::cidr_list)]
    pub vrf_transit_subnets: Vec<String>,
    /// Default false.
    #[schema(required = false)]
    pub enable_rd_per_edge: bool,
    /// Default false.
    #[schema(required = false)]
    pub multi_vrf_inter_sr_routing: bool,
    /// Route distinguisher administrator address (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rd_admin_field: Option<String>,
    /// Default `{"connectivity": "ON", "forwarding_up_timer": 5}`.
    #[schema(required = false)]
    pub advanced_config: Tier0AdvancedConfig,
}

/// NSX's `Tier0AdvancedConfig` (stored for compatibility).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tier0AdvancedConfig {
    /// `ON` (default) or `OFF`.
    #[schema(required = false, pattern = "^(ON|OFF)$")]
    pub connectivity: String,
    /// Seconds, 0-300; default 5.
    #[schema(required = false, minimum = 0, maximum = 300)]
    pub forwarding_up_timer: i64,
}

impl Default for Tier0Settings {
    fn default() -> Self {
        Tier0Settings {
            internal_transit_subnets: vec!["169.254.0.0/24".into()],
            transit_subnets: vec!["100.64.0.0/16".into()],
            vrf_transit_subnets: vec!["169.254.2.0/23".into()],
            enable_rd_per_edge: false,
            multi_vrf_inter_sr_routing: false,
            rd_admin_field: None,
            advanced_config: Tier0AdvancedConfig {
                connectivity: "ON".into(),
                forwarding_up_timer: 5,
            },
        }
    }
}

fn default_ipv6_profile_paths() -> Vec<String> {
    vec![
        "/infra/ipv6-ndra-profiles/default".into(),
        "/infra/ipv6-dad-profiles/default".into(),
    ]
}

/// Subnets in a transit-subnet list.
const SUBNETS_MAX: usize = 16;

fn subnets(
    r: &mut ObjectReader<'_>,
    p: &mut Problems,
    name: &'static str,
    default: &[String],
) -> Vec<String> {
    let Some(list) = r.string_list(p, name, SUBNETS_MAX, 64) else {
        return default.to_vec();
    };
    for (i, s) in list.iter().enumerate() {
        if s.parse::<ipnet::IpNet>().is_err() {
            p.field(
                format!("{name}[{i}]"),
                format!("{s:?} is not a subnet in CIDR notation such as 169.254.0.0/24"),
            );
        }
    }
    list
}

impl Tier0Settings {
    fn parse(r: &mut ObjectReader<'_>, p: &mut Problems) -> Tier0Settings {
        let d = Tier0Settings::default();
        let internal_transit_subnets = subnets(
            r,
            p,
            "internal_transit_subnets",
            &d.internal_transit_subnets,
        );
        let transit_subnets = subnets(r, p, "transit_subnets", &d.transit_subnets);
        let vrf_transit_subnets = subnets(r, p, "vrf_transit_subnets", &d.vrf_transit_subnets);
        let advanced_config = match r.object(p, "advanced_config", "Tier0AdvancedConfig") {
            None => d.advanced_config.clone(),
            Some(mut a) => {
                let connectivity = match a.string(p, "connectivity", 8) {
                    None => d.advanced_config.connectivity.clone(),
                    Some(c) if c == "ON" || c == "OFF" => c,
                    Some(c) => {
                        p.field(
                            "advanced_config.connectivity",
                            format!("{c:?} is not ON or OFF"),
                        );
                        c
                    }
                };
                let forwarding_up_timer = a
                    .int(p, "forwarding_up_timer", 0, 300)
                    .unwrap_or(d.advanced_config.forwarding_up_timer);
                a.ignore(crate::reader::IGNORED_METADATA_FIELDS);
                a.finish(p);
                Tier0AdvancedConfig {
                    connectivity,
                    forwarding_up_timer,
                }
            }
        };
        Tier0Settings {
            internal_transit_subnets,
            transit_subnets,
            vrf_transit_subnets,
            enable_rd_per_edge: r.bool(p, "enable_rd_per_edge").unwrap_or(false),
            multi_vrf_inter_sr_routing: r.bool(p, "multi_vrf_inter_sr_routing").unwrap_or(false),
            rd_admin_field: r.string(p, "rd_admin_field", 64).filter(|s| !s.is_empty()),
            advanced_config,
        }
    }
}

impl Gateway {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> Gateway {
        let common = Common::read(r, p, ctx.path.id());
        let ha_mode = r.enumeration(p, "ha_mode").unwrap_or(HaMode::ActiveStandby);
        let failover_mode = r
            .enumeration(p, "failover_mode")
            .unwrap_or(FailoverMode::NonPreemptive);
        let tier0_path = if ctx.path.kind() == Kind::Tier1 {
            r.string(p, "tier0_path", limits::PATH_MAX_CHARS)
                .and_then(|s| {
                    super::check_path_syntax(p, "tier0_path", &s, &[Kind::Tier0]).then_some(s)
                })
        } else {
            if r.raw("tier0_path").is_some() {
                p.field(
                    "tier0_path",
                    "is a tier-1 setting (the tier-0 a tier-1 connects to); remove it from the tier-0",
                );
            }
            None
        };
        let dhcp_config_paths = r
            .string_list(p, "dhcp_config_paths", 1, limits::PATH_MAX_CHARS)
            .unwrap_or_default();
        let ipv6_profile_paths = r
            .string_list(p, "ipv6_profile_paths", 2, limits::PATH_MAX_CHARS)
            .unwrap_or_else(default_ipv6_profile_paths);
        let tier0 = (ctx.path.kind() == Kind::Tier0).then(|| Tier0Settings::parse(r, p));
        Gateway {
            common,
            ha_mode,
            failover_mode,
            tier0_path,
            disable_firewall: r.bool(p, "disable_firewall").unwrap_or(false),
            default_rule_logging: r.bool(p, "default_rule_logging").unwrap_or(false),
            force_whitelisting: r.bool(p, "force_whitelisting").unwrap_or(false),
            dhcp_config_paths,
            ipv6_profile_paths,
            tier0,
        }
    }

    pub(crate) fn references(&self) -> Vec<String> {
        self.tier0_path.iter().cloned().collect()
    }
}
