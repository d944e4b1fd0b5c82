//! The status board: what the runtime knows about each session, turned into NSX status on
//! request (ages and rekey countdowns are computed at read time).

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ike_proto::{FailReason, IkeState, SessionStatus};
use strait_model::status::{
    reasons, AlarmDetails, ChildSaStatus, IkeSaStatus, IkeSessionStatus, RuntimeAlarm, SessionSas,
    SessionStatusNsxT, StatusSource, TrafficCounters, ENFORCEMENT_POINT,
};

/// What the runtime knows about one session.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) display_name: String,
    /// Not running: reason and alarm.
    pub(crate) idle: Option<(&'static str, Option<String>)>,
    /// Running: the protocol's status.
    pub(crate) status: Option<SessionStatus>,
    /// The last time the invariant checks repaired something, and what (shown as the
    /// alarm of an UP session for [`REPAIR_ALARM_FOR`]).
    pub(crate) repair: Option<(Instant, String)>,
}

/// How long a repair stays visible as an alarm on an UP session.
pub const REPAIR_ALARM_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// Status of every session, shared with the API.
#[derive(Default)]
pub struct StatusBoard {
    entries: RwLock<BTreeMap<String, Entry>>,
}

pub(crate) fn epoch_ms(t: Instant) -> i64 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    now_ms - Instant::now().saturating_duration_since(t).as_millis() as i64
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn reason_str(r: FailReason) -> &'static str {
    r.as_str()
}

fn error_id(reason: &str) -> String {
    reason.to_ascii_uppercase().replace(' ', "_")
}

impl StatusBoard {
    pub(crate) fn replace(&self, entries: BTreeMap<String, Entry>) {
        *self.entries.write().unwrap_or_else(|e| e.into_inner()) = entries;
    }

    /// Set the entries of `paths`: those in `entries` are replaced, the others removed
    /// (sessions deleted from the configuration); every other entry stays.
    pub(crate) fn merge(&self, paths: &[String], mut entries: BTreeMap<String, Entry>) {
        let mut board = self.entries.write().unwrap_or_else(|e| e.into_inner());
        for p in paths {
            match entries.remove(p) {
                Some(e) => board.insert(p.clone(), e),
                None => board.remove(p),
            };
        }
    }

    pub(crate) fn update(&self, path: &str, f: impl FnOnce(&mut Entry)) {
        if let Some(e) = self
            .entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(path)
        {
            f(e);
        }
    }

    pub(crate) fn get(&self, path: &str) -> Option<Entry> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned()
    }

    /// Paths the board knows.
    pub fn paths(&self) -> Vec<String> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}

impl StatusSource for StatusBoard {
    fn session_status(&self, path: &str) -> Option<SessionStatusNsxT> {
        let e = self.get(path)?;
        let now = Instant::now();
        let now_ms = epoch_ms(now);
        let alarm = |reason: &str, message: Option<String>| {
            message.map(|m| RuntimeAlarm {
                error_id: error_id(reason),
                message: m,
                error_details: AlarmDetails::default(),
            })
        };
        if let Some((reason, message)) = &e.idle {
            return Some(SessionStatusNsxT::down(
                &e.display_name,
                reason,
                alarm(reason, message.clone()),
                now_ms,
            ));
        }
        let Some(st) = &e.status else {
            return Some(SessionStatusNsxT::down(
                &e.display_name,
                reasons::NEGOTIATION_NOT_STARTED,
                None,
                now_ms,
            ));
        };
        let secs = |t: Instant| now.saturating_duration_since(t).as_secs();
        let until = |t: Option<Instant>| t.map(|t| t.saturating_duration_since(now).as_secs());
        let sas = SessionSas {
            ike: st.ike.as_ref().map(|i| IkeSaStatus {
                spi_i: hex(&i.spi_i),
                spi_r: hex(&i.spi_r),
                role: if i.initiator {
                    "INITIATOR".into()
                } else {
                    "RESPONDER".into()
                },
                algorithms: i.algorithms.clone(),
                local: i.local.to_string(),
                remote: i.remote.to_string(),
                remote_id: i.remote_id.clone(),
                udp_encapsulation: i.udp_encapsulation,
                age_seconds: secs(i.established),
                rekey_in_seconds: until(i.rekey_at),
            }),
            child: st
                .children
                .iter()
                .map(|c| ChildSaStatus {
                    spi_in: format!("{:08x}", c.spi_in),
                    spi_out: format!("{:08x}", c.spi_out),
                    algorithms: c.algorithms.clone(),
                    age_seconds: secs(c.established),
                    rekey_in_seconds: until(c.rekey_at),
                })
                .collect(),
        };
        let tunnel_up = !st.children.is_empty();
        let (ike_state, runtime) = match (st.ike_state, tunnel_up) {
            (IkeState::Up, true) => ("UP", "UP"),
            (IkeState::Up, false) => ("UP", "DEGRADED"),
            (IkeState::Negotiating, _) => ("NEGOTIATING", "DOWN"),
            (IkeState::Down, _) => ("DOWN", "DOWN"),
        };
        let fail = match (st.ike_state, st.fail_reason) {
            (IkeState::Up, _) if tunnel_up => String::new(),
            (_, Some(r)) => reason_str(r).to_owned(),
            (_, None) => String::new(),
        };
        Some(SessionStatusNsxT {
            resource_type: "IPSecVpnSessionStatusNsxT".into(),
            display_name: e.display_name.clone(),
            runtime_status: runtime.into(),
            ike_status: IkeSessionStatus {
                ike_session_state: ike_state.into(),
                fail_reason: fail.clone(),
            },
            total_tunnels: 1,
            negotiated_tunnels: u64::from(tunnel_up),
            failed_tunnels: u64::from(!tunnel_up),
            aggregate_traffic_counters: TrafficCounters::default(),
            last_update_timestamp: now_ms,
            enforcement_point_path: ENFORCEMENT_POINT.into(),
            alarm: if !fail.is_empty() {
                alarm(&fail, st.alarm.clone())
            } else {
                e.repair
                    .as_ref()
                    .filter(|(at, _)| now.saturating_duration_since(*at) < REPAIR_ALARM_FOR)
                    .map(|(_, m)| RuntimeAlarm {
                        error_id: "DATAPLANE_REPAIRED".into(),
                        message: m.clone(),
                        error_details: AlarmDetails::default(),
                    })
            },
            interface_name: None,
            established_time: st.ike.as_ref().map(|i| epoch_ms(i.established)),
            sas,
        })
    }
}
