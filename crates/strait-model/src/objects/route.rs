//! Static routes over session VTIs (NSX `StaticRoutes`).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::Common;
use super::ParseCtx;
use crate::problems::Problems;
use crate::reader::{ip_value, ObjectReader};

/// Next hops per route.
pub const NEXT_HOPS_MAX: usize = 16;

/// NSX `RouterNexthop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RouterNexthop {
    /// Next-hop address; inside a session's VTI subnet, the route goes over that VTI.
    #[schema(schema_with = super::common::address_schemas::ip)]
    pub ip_address: IpAddr,
    /// Administrative distance, 1 to 255 (default 1).
    #[schema(required = false, minimum = 1, maximum = 255)]
    pub admin_distance: u8,
}

/// NSX `StaticRoutes`: `network` via `next_hops`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StaticRoute {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// Destination network in CIDR notation, e.g. `10.2.0.0/16`.
    #[schema(schema_with = super::common::address_schemas::cidr)]
    pub network: IpNet,
    /// One or more next hops.
    #[schema(min_items = 1)]
    pub next_hops: Vec<RouterNexthop>,
}

impl StaticRoute {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> Option<StaticRoute> {
        let common = Common::read(r, p, ctx.path.id());
        let network = r
            .required_string(
                p,
                "network",
                64,
                "give the destination in CIDR notation, e.g. 10.2.0.0/16",
            )
            .and_then(|s| match s.parse::<IpNet>() {
                Ok(net) if net.trunc() != net => {
                    p.field(
                        "network",
                        format!("{s} has host bits set; did you mean {}?", net.trunc()),
                    );
                    None
                }
                Ok(net) => Some(net),
                Err(_) => {
                    p.field(
                        "network",
                        format!("{s:?} is not a CIDR network; write it like 10.2.0.0/16"),
                    );
                    None
                }
            });
        let mut next_hops = Vec::new();
        let hops_given = r.raw("next_hops").is_some();
        match r.array(p, "next_hops", NEXT_HOPS_MAX) {
            None if !hops_given => {
                p.field(
                    "next_hops",
                    "is required; give at least one {\"ip_address\": ...}",
                );
            }
            None => {}
            Some(items) if items.is_empty() => {
                p.field(
                    "next_hops",
                    "is empty; give at least one {\"ip_address\": ...}",
                );
            }
            Some(items) => {
                for (field, v) in items {
                    let Some(mut h) = ObjectReader::new(v, &field, "RouterNexthop", p) else {
                        continue;
                    };
                    let ip = match h.raw("ip_address") {
                        Some(v) => ip_value(
                            p,
                            &h.path_of("ip_address"),
                            v,
                            "give the next-hop address, e.g. the peer's VTI address",
                        ),
                        None => {
                            p.field(h.path_of("ip_address"), "is required; give the next-hop address, e.g. the peer's VTI address 169.254.100.2");
                            None
                        }
                    };
                    let admin_distance = h.int(p, "admin_distance", 1, 255).unwrap_or(1) as u8;
                    h.ignore(&["scope"]);
                    h.finish(p);
                    if let (Some(ip), Some(net)) = (ip, network) {
                        if ip.is_ipv4() != matches!(net, IpNet::V4(_)) {
                            p.field(
                                h_path(&field),
                                format!(
                                    "next hop {ip} and network {net} are of different IP versions"
                                ),
                            );
                            continue;
                        }
                    }
                    if let Some(ip) = ip {
                        next_hops.push(RouterNexthop {
                            ip_address: ip,
                            admin_distance,
                        });
                    }
                }
            }
        }
        r.ignore(&["enabled_on_secondary"]);
        Some(StaticRoute {
            common,
            network: network?,
            next_hops,
        })
    }
}

fn h_path(field: &str) -> String {
    format!("{field}.ip_address")
}
