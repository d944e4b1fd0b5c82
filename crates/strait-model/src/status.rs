//! Runtime status of sessions as NSX reports it (`GET {session}/detailed-status`,
//! `AggregateIPSecVpnSessionStatus`, NSX API reference §6), plus strait's troubleshooting
//! extensions (`interface_name`, `established_time`, `sas`). Pure types: the control plane
//! fills them, the API serves them.

use serde::Serialize;
use utoipa::ToSchema;

/// NSX's session-level failure reasons (contract §Status).
pub mod reasons {
    /// AUTHENTICATION_FAILED or our check of the peer failed.
    pub const AUTHENTICATION_FAILED: &str = "Authentication failed";
    /// NO_PROPOSAL_CHOSEN.
    pub const NO_PROPOSAL_CHOSEN: &str = "No proposal chosen";
    /// Retransmissions exhausted.
    pub const PEER_NOT_RESPONDING: &str = "Peer not responding";
    /// The peer deleted the IKE SA.
    pub const PEER_SENT_DELETE: &str = "Peer sent delete";
    /// TS_UNACCEPTABLE.
    pub const TS_UNACCEPTABLE: &str = "TS unacceptable";
    /// INVALID_SYNTAX.
    pub const INVALID_SYNTAX: &str = "Invalid syntax";
    /// The session cannot run as configured.
    pub const CONFIGURATION_FAILED: &str = "Configuration failed";
    /// Nothing happened yet.
    pub const NEGOTIATION_NOT_STARTED: &str = "Negotiation not started";
    /// The VPN service is disabled.
    pub const IPSEC_SERVICE_NOT_ENABLED: &str = "IPsec service not enabled";
    /// The session is disabled.
    pub const SESSION_NOT_ENABLED: &str = "Session not enabled";
}

/// Where NSX would say the status comes from; strait has one enforcement point.
pub const ENFORCEMENT_POINT: &str = "/infra/sites/default/enforcement-points/default";

/// NSX `IPSecVpnIkeSessionStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IkeSessionStatus {
    /// `UP`, `DOWN` or `NEGOTIATING`.
    pub ike_session_state: String,
    /// One of NSX's reason strings; empty when up.
    pub fail_reason: String,
}

/// NSX `IPSecVpnTrafficCounters`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrafficCounters {
    /// Bytes received through the tunnel.
    pub bytes_in: u64,
    /// Bytes sent through the tunnel.
    pub bytes_out: u64,
    /// Packets received.
    pub packets_in: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Inbound packets dropped.
    pub dropped_packets_in: u64,
    /// Outbound packets dropped.
    pub dropped_packets_out: u64,
}

/// `PolicyRuntimeAlarm.error_details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct AlarmDetails {
    /// More detail lines.
    pub related_errors: Vec<String>,
}

/// NSX `PolicyRuntimeAlarm`: here, what is wrong and what to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuntimeAlarm {
    /// Stable identifier of the kind of problem (e.g. `NO_PROPOSAL_CHOSEN`).
    pub error_id: String,
    /// The exact mismatch and what to change.
    pub message: String,
    /// Further details.
    pub error_details: AlarmDetails,
}

/// An IKE SA, for troubleshooting (strait extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IkeSaStatus {
    /// Initiator SPI (hex).
    pub spi_i: String,
    /// Responder SPI (hex).
    pub spi_r: String,
    /// `INITIATOR` or `RESPONDER`.
    pub role: String,
    /// Negotiated algorithms, e.g. `AES_128/SHA2_256/PRF_SHA2_256/GROUP14`.
    pub algorithms: String,
    /// Local address:port.
    pub local: String,
    /// Peer address:port.
    pub remote: String,
    /// The peer's IKE ID as received.
    pub remote_id: String,
    /// ESP is UDP-encapsulated (port 4500).
    pub udp_encapsulation: bool,
    /// Seconds since establishment.
    pub age_seconds: u64,
    /// Seconds until the next rekey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rekey_in_seconds: Option<u64>,
}

/// A Child SA, for troubleshooting (strait extension; never keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChildSaStatus {
    /// Our inbound SPI (hex).
    pub spi_in: String,
    /// Our outbound SPI (hex).
    pub spi_out: String,
    /// Negotiated algorithms, e.g. `AES_GCM_128/GROUP14`.
    pub algorithms: String,
    /// Seconds since installation.
    pub age_seconds: u64,
    /// Seconds until the next rekey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rekey_in_seconds: Option<u64>,
}

/// The SAs of a session (strait extension).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionSas {
    /// The IKE SA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ike: Option<IkeSaStatus>,
    /// The Child SAs.
    pub child: Vec<ChildSaStatus>,
}

/// NSX `IPSecVpnSessionStatusNsxT` with strait's extensions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionStatusNsxT {
    /// Always `IPSecVpnSessionStatusNsxT`.
    pub resource_type: String,
    /// The session's display name.
    pub display_name: String,
    /// `UP` (IKE and every tunnel up), `DOWN` (nothing up) or `DEGRADED`.
    pub runtime_status: String,
    /// IKE state and failure reason.
    pub ike_status: IkeSessionStatus,
    /// Tunnels configured (1 for a route-based session).
    pub total_tunnels: u64,
    /// Tunnels up.
    pub negotiated_tunnels: u64,
    /// Tunnels down.
    pub failed_tunnels: u64,
    /// Traffic through the session's tunnels.
    pub aggregate_traffic_counters: TrafficCounters,
    /// When this status was computed, epoch ms.
    pub last_update_timestamp: i64,
    /// Always `/infra/sites/default/enforcement-points/default`.
    pub enforcement_point_path: String,
    /// What is wrong and what to change (absent when up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm: Option<RuntimeAlarm>,
    /// The session's VTI (strait extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
    /// When the IKE SA was established, epoch ms (strait extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub established_time: Option<i64>,
    /// Negotiated SAs (strait extension).
    pub sas: SessionSas,
}

/// NSX `AggregateIPSecVpnSessionStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AggregateSessionStatus {
    /// The session's path.
    pub intent_path: String,
    /// One result (one enforcement point).
    pub results: Vec<SessionStatusNsxT>,
}

impl SessionStatusNsxT {
    /// A session that is down for a reason, with no SAs.
    pub fn down(
        display_name: &str,
        reason: &str,
        alarm: Option<RuntimeAlarm>,
        now_ms: i64,
    ) -> SessionStatusNsxT {
        SessionStatusNsxT {
            resource_type: "IPSecVpnSessionStatusNsxT".into(),
            display_name: display_name.into(),
            runtime_status: "DOWN".into(),
            ike_status: IkeSessionStatus {
                ike_session_state: "DOWN".into(),
                fail_reason: reason.into(),
            },
            total_tunnels: 1,
            negotiated_tunnels: 0,
            failed_tunnels: 1,
            aggregate_traffic_counters: TrafficCounters::default(),
            last_update_timestamp: now_ms,
            enforcement_point_path: ENFORCEMENT_POINT.into(),
            alarm,
            interface_name: None,
            established_time: None,
            sas: SessionSas::default(),
        }
    }
}

/// NSX `IpSecVpnTunnelTrafficStatistics`: one tunnel's counters since it came up (or since
/// the last reset). Traffic counters count inner packets crossing the VTI; drops and failures
/// count ESP packets (contract §Status).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct TunnelTrafficStatistics {
    /// `UP` or `DOWN`.
    pub tunnel_status: String,
    /// Why the tunnel is down (NSX reason string); empty when up.
    pub tunnel_down_reason: String,
    /// Local traffic selector, e.g. `0.0.0.0/0` for a route-based session.
    pub local_subnet: String,
    /// Peer traffic selector.
    pub peer_subnet: String,
    /// Inner bytes received from the peer and written to the VTI.
    pub bytes_in: u64,
    /// Inner bytes read from the VTI and sent to the peer.
    pub bytes_out: u64,
    /// Inner packets received from the peer.
    pub packets_in: u64,
    /// Inner packets sent to the peer.
    pub packets_out: u64,
    /// ESP packets from the peer that were dropped (every inbound failure below).
    pub dropped_packets_in: u64,
    /// Packets routed into the VTI that were not sent (no SA, encryption or send failure).
    pub dropped_packets_out: u64,
    /// ESP packets that decrypted to garbage (bad padding or next header).
    pub decryption_failures: u64,
    /// Packets that could not be encrypted.
    pub encryption_failures: u64,
    /// ESP packets whose ICV did not verify.
    pub integrity_failures: u64,
    /// Packets with no SA to carry them (e.g. routed into the VTI before the tunnel is up).
    pub nomatching_policy_errors: u64,
    /// Inbound ESP packets dropped for other reasons (truncated, malformed).
    pub packets_received_other_error: u64,
    /// Outbound packets the socket would not send.
    pub packets_sent_other_error: u64,
    /// ESP packets rejected by the anti-replay window (RFC 4303 §3.4.3).
    pub replay_errors: u64,
    /// Inbound ESP packets for an SPI this tunnel does not have.
    pub sa_mismatch_errors_in: u64,
    /// Outbound packets with no usable SA.
    pub sa_mismatch_errors_out: u64,
    /// Packets not sent because the sequence number would have wrapped (RFC 4303 §3.3.3).
    pub seq_number_overflow_error: u64,
}

impl TunnelTrafficStatistics {
    /// The NSX aggregate of these counters.
    pub fn aggregate(&self) -> TrafficCounters {
        TrafficCounters {
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            packets_in: self.packets_in,
            packets_out: self.packets_out,
            dropped_packets_in: self.dropped_packets_in,
            dropped_packets_out: self.dropped_packets_out,
        }
    }
}

/// NSX `IpSecVpnPolicyTrafficStatistics`: for a route-based session, its tunnel interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PolicyTrafficStatistics {
    /// `{session}/tunnel-interfaces/{id}` (route-based sessions).
    pub tunnel_interface_path: String,
    /// Sum over `tunnel_statistics`.
    pub aggregate_traffic_counters: TrafficCounters,
    /// One entry per tunnel (one for a route-based session).
    pub tunnel_statistics: Vec<TunnelTrafficStatistics>,
}

/// NSX `IPSecVpnIkeTrafficStatistics`. NSX documents it as not supported; strait reports
/// zeros, as NSX does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct IkeTrafficStatistics {
    /// Always 0.
    pub bytes_in: u64,
    /// Always 0.
    pub bytes_out: u64,
    /// Always 0.
    pub packets_in: u64,
    /// Always 0.
    pub packets_out: u64,
    /// Always 0.
    pub fail_count: u64,
}

/// NSX `IPSecVpnSessionStatisticsNsxT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionStatisticsNsxT {
    /// Always `IPSecVpnSessionStatisticsNsxT`.
    pub resource_type: String,
    /// The session's display name.
    pub display_name: String,
    /// IKE state and failure reason.
    pub ike_status: IkeSessionStatus,
    /// Not supported (zeros), as in NSX.
    pub ike_traffic_statistics: IkeTrafficStatistics,
    /// Sum over every tunnel.
    pub aggregate_traffic_counters: TrafficCounters,
    /// Per tunnel interface.
    pub policy_statistics: Vec<PolicyTrafficStatistics>,
    /// When these counters were read, epoch ms.
    pub last_update_timestamp: i64,
    /// Always `/infra/sites/default/enforcement-points/default`.
    pub enforcement_point_path: String,
    /// What is wrong and what to change (absent when up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm: Option<RuntimeAlarm>,
    /// The session's VTI (strait extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
}

/// NSX `AggregateIPSecVpnSessionStatistics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AggregateSessionStatistics {
    /// The session's path.
    pub intent_path: String,
    /// One result (one enforcement point).
    pub results: Vec<SessionStatisticsNsxT>,
}

impl SessionStatisticsNsxT {
    /// Statistics for a session with the given status and tunnel counters (`tunnel_id` is
    /// the session's tunnel interface id, `default` unless set).
    pub fn from_status(
        session_path: &str,
        tunnel_id: &str,
        status: &SessionStatusNsxT,
        tunnel: TunnelTrafficStatistics,
    ) -> SessionStatisticsNsxT {
        let aggregate = tunnel.aggregate();
        SessionStatisticsNsxT {
            resource_type: "IPSecVpnSessionStatisticsNsxT".into(),
            display_name: status.display_name.clone(),
            ike_status: status.ike_status.clone(),
            ike_traffic_statistics: IkeTrafficStatistics::default(),
            aggregate_traffic_counters: aggregate.clone(),
            policy_statistics: vec![PolicyTrafficStatistics {
                tunnel_interface_path: format!("{session_path}/tunnel-interfaces/{tunnel_id}"),
                aggregate_traffic_counters: aggregate,
                tunnel_statistics: vec![tunnel],
            }],
            last_update_timestamp: status.last_update_timestamp,
            enforcement_point_path: ENFORCEMENT_POINT.into(),
            alarm: status.alarm.clone(),
            interface_name: status.interface_name.clone(),
        }
    }
}

/// NSX `IPsecVPNIKESessionSummary`: how a service's sessions are doing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct IkeSessionSummary {
    /// Sessions of the service.
    pub total_sessions: u64,
    /// Sessions UP.
    pub established_sessions: u64,
    /// Sessions DOWN although enabled (disabled sessions are not failures).
    pub failed_sessions: u64,
    /// Sessions DEGRADED.
    pub degraded_sessions: u64,
}

/// NSX `ResourceReference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ResourceReference {
    /// The referenced (or referring) object's policy path.
    pub target_id: String,
    /// Its display name.
    pub target_display_name: String,
    /// Its resource type, e.g. `RouteBasedIPSecVpnSession`, `IPSecVpnLocalEndpoint`.
    pub target_type: String,
    /// Always true (the session exists).
    pub is_valid: bool,
}

/// NSX `IPSecVpnSessionTrafficSummary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionTrafficSummary {
    /// Which session.
    pub ipsec_vpn_session: ResourceReference,
    /// Its traffic.
    pub traffic_counters: TrafficCounters,
}

/// NSX `PolicyIpsecVpnIkeServiceSummary` (`GET {service}/summary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ServiceSummary {
    /// The service's display name.
    pub display_name: String,
    /// The service's policy path.
    pub ipsec_vpn_service_path: String,
    /// Always `/infra/sites/default/enforcement-points/default`.
    pub enforcement_point_path: String,
    /// When this summary was computed, epoch ms.
    pub last_update_timestamp: i64,
    /// Session counts by state.
    pub session_summary: IkeSessionSummary,
    /// Traffic of all sessions together.
    pub aggregate_traffic_counters: TrafficCounters,
    /// Traffic per session.
    pub traffic_summary_per_session: Vec<SessionTrafficSummary>,
}

impl ServiceSummary {
    /// Sum up the sessions of a service, each given by path and current status.
    pub fn of(
        display_name: &str,
        service_path: &str,
        sessions: &[(String, SessionStatusNsxT)],
        now_ms: i64,
    ) -> ServiceSummary {
        let mut summary = IkeSessionSummary::default();
        let mut total = TrafficCounters::default();
        let mut per_session = Vec::new();
        for (path, st) in sessions {
            summary.total_sessions += 1;
            match st.runtime_status.as_str() {
                "UP" => summary.established_sessions += 1,
                "DEGRADED" => summary.degraded_sessions += 1,
                _ => {
                    let disabled = matches!(
                        st.ike_status.fail_reason.as_str(),
                        reasons::SESSION_NOT_ENABLED | reasons::IPSEC_SERVICE_NOT_ENABLED
                    );
                    if !disabled {
                        summary.failed_sessions += 1;
                    }
                }
            }
            let c = &st.aggregate_traffic_counters;
            total.bytes_in += c.bytes_in;
            total.bytes_out += c.bytes_out;
            total.packets_in += c.packets_in;
            total.packets_out += c.packets_out;
            total.dropped_packets_in += c.dropped_packets_in;
            total.dropped_packets_out += c.dropped_packets_out;
            per_session.push(SessionTrafficSummary {
                ipsec_vpn_session: ResourceReference {
                    target_id: path.clone(),
                    target_display_name: st.display_name.clone(),
                    target_type: "RouteBasedIPSecVpnSession".into(),
                    is_valid: true,
                },
                traffic_counters: c.clone(),
            });
        }
        ServiceSummary {
            display_name: display_name.to_owned(),
            ipsec_vpn_service_path: service_path.to_owned(),
            enforcement_point_path: ENFORCEMENT_POINT.into(),
            last_update_timestamp: now_ms,
            session_summary: summary,
            aggregate_traffic_counters: total,
            traffic_summary_per_session: per_session,
        }
    }
}

/// strait's bulk status read, `GET {service}/session-status` (not in NSX, whose summary has
/// no per-session state): one page of a service's sessions, each with its status and
/// statistics as `detailed-status` and `statistics` give them, so that a console table or a
/// monitoring poll of thousands of sessions makes one request per page, not two per session.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SessionStatusList {
    /// The sessions on this page, by path.
    pub results: Vec<SessionStatusRow>,
    /// Number of sessions in the service.
    pub result_count: u64,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One session in a [`SessionStatusList`].
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SessionStatusRow {
    /// The session's policy path.
    pub path: String,
    /// Its display name.
    pub display_name: String,
    /// What `GET {session}/detailed-status` shows.
    pub status: SessionStatusNsxT,
    /// What `GET {session}/statistics` shows.
    pub statistics: SessionStatisticsNsxT,
}

/// What to rekey on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekeyKind {
    /// The IKE SA (CREATE_CHILD_SA with an IKE proposal).
    Ike,
    /// The Child SAs.
    Child,
}

/// Where the API gets runtime status from, and sends operator actions to (implemented by
/// the control plane).
pub trait StatusSource: Send + Sync {
    /// The status of the session at `path`, if the runtime knows it.
    fn session_status(&self, path: &str) -> Option<SessionStatusNsxT>;

    /// Start a rekey of the session's IKE or Child SAs now; false if the runtime cannot
    /// (the session is not up).
    fn rekey(&self, path: &str, kind: RekeyKind) -> bool {
        let _ = (path, kind);
        false
    }

    /// The session's tunnel counters (NSX `IpSecVpnTunnelTrafficStatistics`), if the runtime
    /// has a tunnel for it.
    fn tunnel_statistics(&self, path: &str) -> Option<TunnelTrafficStatistics> {
        let _ = path;
        None
    }

    /// Zero the session's counters; false if the runtime has no tunnel for it.
    fn reset_statistics(&self, path: &str) -> bool {
        let _ = path;
        false
    }

    /// The status of every neighbor of the BGP configuration at `bgp_path` (None: the
    /// runtime has no routing).
    fn bgp_neighbors_status(
        &self,
        bgp_path: &str,
    ) -> Option<Vec<crate::routing_status::BgpNeighborStatus>> {
        let _ = bgp_path;
        None
    }

    /// Routes learned from (or, `advertised`, announced to) the neighbor at `neighbor_path`.
    fn bgp_neighbor_routes(
        &self,
        neighbor_path: &str,
        advertised: bool,
    ) -> Option<Vec<crate::routing_status::RouteDetails>> {
        let _ = (neighbor_path, advertised);
        None
    }

    /// The tier-0's routing table (RIB) or, `forwarding`, what is installed (FIB).
    fn routing_table(
        &self,
        tier0_path: &str,
        forwarding: bool,
    ) -> Option<crate::routing_status::RoutingTable> {
        let _ = (tier0_path, forwarding);
        None
    }
}
