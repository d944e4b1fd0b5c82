//! Routing status under `/policy/api/v1`: `…/bgp/neighbors/status`,
//! `…/bgp/neighbors/{id}/routes` and `/advertised-routes`, and a tier-0's `routing-table`
//! and `forwarding-table` (NSX shapes, see `strait_model::routing_status`).

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use strait_model::routing_status::{
    BgpNeighborRoutes, BgpNeighborRoutesList, BgpNeighborStatus, BgpNeighborsStatusList,
    RoutesPerTransportNode, RoutingTable, RoutingTableList,
};
use strait_model::{Kind, PolicyObject};

use crate::body::Query;
use crate::error::ApiError;
use crate::policy_routes::{require_get, status_target, IGNORED_PARAMS};
use crate::{blocking, AppState};

/// NSX query parameters of these calls that pick an edge node or enforcement point; strait
/// has one of each, so they are accepted and change nothing.
const NODE_PARAMS: &[&str] = &[
    "edge_path",
    "edge_id",
    "transport_node_id",
    "component_type",
    "bgp_neighbor_type",
    "stats_type",
];

fn known<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut k: Vec<&str> = IGNORED_PARAMS.to_vec();
    k.extend_from_slice(NODE_PARAMS);
    k.extend_from_slice(extra);
    k
}

/// Route a routing-status URL, or None if `path` is not one.
pub(crate) async fn dispatch(
    state: &AppState,
    method: &Method,
    path: &str,
    q: &Query,
) -> Option<Result<Response, ApiError>> {
    if let Some(bgp) = path.strip_suffix("/neighbors/status") {
        return Some(neighbors_status(state, method, bgp, q).await);
    }
    for (suffix, advertised) in [("/advertised-routes", true), ("/routes", false)] {
        if let Some(neighbor) = path.strip_suffix(suffix) {
            if strait_model::ObjectPath::parse(neighbor)
                .is_ok_and(|p| p.kind() == Kind::BgpNeighbor)
            {
                return Some(neighbor_routes(state, method, neighbor, advertised, q).await);
            }
        }
    }
    for (suffix, forwarding) in [("/routing-table", false), ("/forwarding-table", true)] {
        if let Some(t0) = path.strip_suffix(suffix) {
            return Some(routing_table(state, method, t0, forwarding, q).await);
        }
    }
    None
}

/// `GET …/bgp/neighbors/status`.
async fn neighbors_status(
    state: &AppState,
    method: &Method,
    bgp: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    require_get(method, &format!("{bgp}/neighbors/status"))?;
    q.only(&known(&[]))?;
    let (path, _) = status_target(state, bgp, Kind::BgpConfig, "neighbors/status").await?;
    let live = state
        .status
        .as_ref()
        .and_then(|s| s.bgp_neighbors_status(path.as_str()));
    let results = match live {
        Some(r) => r,
        None => {
            // No routing runtime (the API alone): every configured neighbor, state unknown.
            let prefix = format!("{}/neighbors/", path.as_str());
            let neighbors = blocking(state, |pol| pol.snapshot(Kind::BgpNeighbor)).await?;
            neighbors
                .iter()
                .filter(|o| o.path.as_str().starts_with(&prefix))
                .filter_map(|o| match &o.object {
                    PolicyObject::BgpNeighbor(n) => Some(BgpNeighborStatus {
                        neighbor_path: o.path.to_string(),
                        tier0_path: o.path.gateway().map(|g| g.to_string()).unwrap_or_default(),
                        neighbor_address: n.neighbor_address.to_string(),
                        source_address: n.source_addresses.first().map(ToString::to_string),
                        remote_as_number: n.remote_as_num.clone(),
                        connection_state: "UNKNOWN".into(),
                        time_since_established: None,
                        neighbor_router_id: None,
                        hold_time: None,
                        keep_alive_interval: None,
                        local_port: None,
                        remote_port: None,
                        address_families: Vec::new(),
                        total_in_prefix_count: 0,
                        total_out_prefix_count: 0,
                        graceful_restart_mode: n
                            .graceful_restart_mode
                            .map_or("HELPER_ONLY".into(), |m| m.to_string()),
                        neighbor_type: "USER".into(),
                        last_update_timestamp: strait_policy::now_ms(),
                        last_error: None,
                        bfd_status: None,
                        alarm: Some("the routing runtime is not running in this process".into()),
                    }),
                    _ => None,
                })
                .collect()
        }
    };
    let body = BgpNeighborsStatusList {
        result_count: results.len() as u64,
        results,
    };
    Ok(axum::Json(body).into_response())
}

/// `GET …/bgp/neighbors/{id}/routes` and `…/advertised-routes`.
async fn neighbor_routes(
    state: &AppState,
    method: &Method,
    neighbor: &str,
    advertised: bool,
    q: &Query,
) -> Result<Response, ApiError> {
    let what = if advertised {
        "advertised-routes"
    } else {
        "routes"
    };
    require_get(method, &format!("{neighbor}/{what}"))?;
    q.only(&known(&["count"]))?;
    let (path, stored) = status_target(state, neighbor, Kind::BgpNeighbor, what).await?;
    let mut routes = state
        .status
        .as_ref()
        .and_then(|s| s.bgp_neighbor_routes(path.as_str(), advertised))
        .unwrap_or_default();
    if let Some(n) = q.u32("count")? {
        routes.truncate(n as usize);
    }
    let source_address = stored
        .pointer("/source_addresses/0")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let body = BgpNeighborRoutesList {
        result_count: 1,
        results: vec![BgpNeighborRoutes {
            neighbor_path: path.to_string(),
            enforcement_point_path: strait_model::status::ENFORCEMENT_POINT.into(),
            edge_node_routes: vec![RoutesPerTransportNode {
                source_address,
                routes,
            }],
        }],
    };
    Ok(axum::Json(body).into_response())
}

/// `GET /infra/tier-0s/{t0}/routing-table` and `…/forwarding-table`, with NSX's
/// `route_source` (BGP, STATIC, CONNECTED) and `network_prefix` (an address or a CIDR)
/// filters.
async fn routing_table(
    state: &AppState,
    method: &Method,
    t0: &str,
    forwarding: bool,
    q: &Query,
) -> Result<Response, ApiError> {
    let what = if forwarding {
        "forwarding-table"
    } else {
        "routing-table"
    };
    require_get(method, &format!("{t0}/{what}"))?;
    q.only(&known(&[
        "route_source",
        "network_prefix",
        "cursor",
        "page_size",
        "sort_by",
        "sort_ascending",
        "included_fields",
    ]))?;
    let (path, _) = status_target(state, t0, Kind::Tier0, what).await?;
    let want_type = match q.get("route_source") {
        None => None,
        Some("BGP") => Some("b"),
        Some("STATIC") => Some("t0s"),
        Some("CONNECTED") => Some("t0c"),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "route_source={other:?} is not one strait has; use BGP, STATIC or CONNECTED"
            )))
        }
    };
    let prefix = match q.get("network_prefix") {
        None => None,
        Some(s) => Some(parse_prefix(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "network_prefix={s:?} is neither an address nor a CIDR network; e.g. 10.2.0.0/16 or 10.2.1.1"
            ))
        })?),
    };
    let mut table = state
        .status
        .as_ref()
        .and_then(|s| s.routing_table(path.as_str(), forwarding))
        .unwrap_or_else(|| RoutingTable {
            status: "FAILURE".into(),
            error_message: Some("the routing runtime is not running in this process".into()),
            count: 0,
            route_entries: Vec::new(),
        });
    table.route_entries.retain(|e| {
        want_type.is_none_or(|t| e.route_type == t)
            && prefix.is_none_or(|p| {
                e.network.parse::<ipnet::IpNet>().is_ok_and(|n| {
                    n == p || (p.prefix_len() == p.max_prefix_len() && n.contains(&p.addr()))
                })
            })
    });
    table.count = table.route_entries.len() as u64;
    let body = RoutingTableList {
        result_count: 1,
        results: vec![table],
    };
    Ok(axum::Json(body).into_response())
}

/// An address (as a host prefix) or a CIDR network.
fn parse_prefix(s: &str) -> Option<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}
