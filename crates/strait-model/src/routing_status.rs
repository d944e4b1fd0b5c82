//! Routing status as NSX reports it: `GET …/bgp/neighbors/status`
//! (`PolicyBgpNeighborsStatusListResult`), `GET …/bgp/neighbors/{id}/routes` and
//! `…/advertised-routes` (`BgpNeighborRoutesListResult`), and `GET
//! /infra/tier-0s/{t0}/routing-table` / `forwarding-table` (`RoutingTableListResult`). Pure
//! types: the routing runtime fills them from BIRD, the API serves them. Fields strait has
//! no source for are left out rather than invented.

use serde::Serialize;
use utoipa::ToSchema;

/// NSX `BgpAddressFamily` in a neighbor's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BgpAddressFamilyStatus {
    /// `IPV4_UNICAST` or `IPV6_UNICAST`.
    #[serde(rename = "type")]
    pub family: String,
    /// Routes learned from the neighbor (accepted by the import filter).
    pub in_prefix_count: u64,
    /// Routes announced to the neighbor.
    pub out_prefix_count: u64,
}

/// NSX `PolicyBgpNeighborStatus`, with strait's `last_error`, `bfd_status` and `alarm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BgpNeighborStatus {
    /// The configured neighbor (policy path).
    pub neighbor_path: String,
    /// The tier-0 it belongs to.
    pub tier0_path: String,
    /// The neighbor's address.
    pub neighbor_address: String,
    /// Our address of the session, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
    /// The neighbor's AS as configured.
    pub remote_as_number: String,
    /// `IDLE`, `CONNECT`, `ACTIVE`, `OPEN_SENT`, `OPEN_CONFIRM`, `ESTABLISHED`, `INVALID`
    /// (not configured: see `alarm`) or `UNKNOWN` (BIRD did not say).
    pub connection_state: String,
    /// Seconds since the session was established (ESTABLISHED only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_since_established: Option<u64>,
    /// The neighbor's router id, once it has sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neighbor_router_id: Option<String>,
    /// Negotiated hold time, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<u64>,
    /// Negotiated keepalive interval, in milliseconds as NSX documents it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive_interval: Option<u64>,
    /// Our TCP port of the Established session (from the kernel's socket table; 179 when
    /// the neighbor opened the connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_port: Option<u64>,
    /// The neighbor's TCP port of the Established session (179 when we opened it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_port: Option<u64>,
    /// Per address family route counts.
    pub address_families: Vec<BgpAddressFamilyStatus>,
    /// Sum of `in_prefix_count`.
    pub total_in_prefix_count: u64,
    /// Sum of `out_prefix_count`.
    pub total_out_prefix_count: u64,
    /// `GR_AND_HELPER`, `HELPER_ONLY` or `DISABLE`, as configured.
    pub graceful_restart_mode: String,
    /// Always `USER` (strait has no inter-SR peering).
    #[serde(rename = "type")]
    pub neighbor_type: String,
    /// When this status was read from the routing daemon, epoch ms.
    pub last_update_timestamp: i64,
    /// strait: why the session is not established, in BIRD's words (e.g. "Hold timer
    /// expired", "Received: Bad peer AS"), if it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// strait: the BFD session's state (`Up`, `Down`, `Init`, `AdminDown`) when BFD is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bfd_status: Option<String>,
    /// strait: what is wrong and what to change, when the neighbor cannot run as
    /// configured (e.g. BGP has no local AS, BIRD is not running).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm: Option<String>,
}

/// NSX `PolicyBgpNeighborsStatusListResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BgpNeighborsStatusList {
    /// One entry per configured neighbor.
    pub results: Vec<BgpNeighborStatus>,
    /// How many.
    pub result_count: u64,
}

/// NSX `RouteDetails`: one BGP route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RouteDetails {
    /// The prefix.
    pub network: String,
    /// Next hop.
    pub next_hop: String,
    /// AS path, space separated.
    pub as_path: String,
    /// LOCAL_PREF, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u64>,
    /// MED, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub med: Option<u64>,
    /// Always 0 (BIRD has no weight).
    pub weight: u64,
}

/// NSX `RoutesPerTransportNode` (strait has one node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RoutesPerTransportNode {
    /// Our address of the session, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
    /// The routes.
    pub routes: Vec<RouteDetails>,
}

/// NSX `BgpNeighborRoutes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BgpNeighborRoutes {
    /// The neighbor.
    pub neighbor_path: String,
    /// Always strait's one enforcement point.
    pub enforcement_point_path: String,
    /// The routes (one node).
    pub edge_node_routes: Vec<RoutesPerTransportNode>,
}

/// NSX `BgpNeighborRoutesListResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BgpNeighborRoutesList {
    /// One entry.
    pub results: Vec<BgpNeighborRoutes>,
    /// 1.
    pub result_count: u64,
}

/// NSX `RoutingEntry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RoutingEntry {
    /// The destination.
    pub network: String,
    /// Next hop, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<String>,
    /// `b` (BGP), `t0s` (static), `t0c` (connected), as NSX abbreviates.
    pub route_type: String,
    /// Administrative distance (BGP: the configured eBGP/iBGP distance or 20/200).
    pub admin_distance: u32,
    /// The session whose VTI the route leaves through (policy path), if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// strait: the kernel interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
    /// Null route.
    pub black_hole: bool,
    /// `SERVICE_ROUTER_TIER0` (strait's one component).
    pub lr_component_type: String,
}

/// NSX `RoutingTable` (one per node; strait has one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RoutingTable {
    /// `SUCCESS`, or `FAILURE` with `error_message`.
    pub status: String,
    /// Why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Entry count.
    pub count: u64,
    /// The routes.
    pub route_entries: Vec<RoutingEntry>,
}

/// NSX `RoutingTableListResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RoutingTableList {
    /// One table.
    pub results: Vec<RoutingTable>,
    /// 1.
    pub result_count: u64,
}
