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
}
