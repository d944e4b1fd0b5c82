//! What must hold between the control plane and the data plane after every input, written
//! where code checks it (in the spirit of TigerBeetle's assertions). `docs/invariants.md`
//! lists these with the ones each layer checks on its own (`ike-proto`'s
//! `Endpoint::check_invariants`, `strait-dataplane`'s `TunnelSas::check`).
//!
//! Per session:
//! 1. **A running session has a tunnel, and a tunnel belongs to a running session** (or to
//!    one waiting for the data plane to report its tunnel made: it starts when the report
//!    comes, and until then the tunnel carries nothing).
//! 2. **Both planes see the same Child SAs**: the data plane sends on exactly the Child SAs
//!    IKE has announced and neither retired nor deleted (on every IKE SA of the session),
//!    each with its inbound half in the SPI table; and it still decrypts exactly the Child
//!    SAs IKE is deleting (retired: no longer sent on, RFC 7296 §1.4.1).
//! 3. **A tunnel with SAs has a sender**, chosen by its SA set and published to the workers.
//! 4. **UP means traffic can flow both ways**: a session whose IKE status is UP with a Child
//!    SA has, in its tunnel, an SA to send on and the inbound half of every Child SA (this
//!    follows from 2 and 3, and is checked on its own so that its message is plain).
//!
//! In test and debug builds a violation panics (strict mode). In release builds it is
//! logged at warn, shown as an alarm on the session, and repaired: an SA the data plane
//! holds that IKE does not is removed; a Child SA IKE has that the data plane lacks (or
//! cannot send on) is replaced by rekeying the session's Child SAs; a missing or extra
//! tunnel makes the gateway reconcile again.

use std::collections::BTreeSet;

use ike_proto::{Endpoint, IkeState, SessionId};

use crate::boundary::DataplaneApi;

/// How a violation is repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// Remove an SA IKE does not know from the data plane.
    RemoveFromDataplane {
        /// Inbound SPI.
        spi_in: u32,
        /// Outbound SPI.
        spi_out: u32,
    },
    /// Replace the session's Child SAs (rekey): the new ones are installed afresh.
    RecreateChildSas,
    /// Set the tunnels and sessions from the configuration again.
    Reconcile,
    /// Nothing can be repaired locally (the IKE endpoint's own state): logged and alarmed.
    Report,
}

impl Repair {
    /// In the operator's words.
    pub fn describe(&self) -> String {
        match self {
            Repair::RemoveFromDataplane { spi_in, spi_out } => {
                format!("removed the stale SA {spi_in:08x}/{spi_out:08x} from the tunnel")
            }
            Repair::RecreateChildSas => "re-created the session's Child SAs by a rekey".into(),
            Repair::Reconcile => "set the session's tunnel interface up again".into(),
            Repair::Report => "logged it; nothing to repair locally".into(),
        }
    }
}

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The session (policy path); empty for the IKE endpoint as a whole.
    pub session: String,
    /// What is wrong.
    pub problem: String,
    /// What fixes it.
    pub repair: Repair,
}

/// Check the invariants of `sessions` (and, with `whole`, those of the endpoint and of
/// every tunnel). `refused` are Child SAs the data plane refused and IKE is deleting;
/// `making` the sessions waiting for their tunnel.
pub fn check<D: DataplaneApi + ?Sized>(
    ep: &Endpoint,
    dataplane: &D,
    running: &BTreeSet<String>,
    making: &BTreeSet<String>,
    refused: &BTreeSet<(String, u32)>,
    sessions: &[String],
    whole: bool,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if whole || cfg!(debug_assertions) {
        if let Err(problem) = ep.check_invariants() {
            out.push(Violation {
                session: String::new(),
                problem: format!("the IKE endpoint's state is inconsistent: {problem}"),
                repair: Repair::Report,
            });
        }
    }
    for session in sessions {
        check_session(ep, dataplane, running, making, refused, session, &mut out);
    }
    out
}

fn check_session<D: DataplaneApi + ?Sized>(
    ep: &Endpoint,
    dataplane: &D,
    running: &BTreeSet<String>,
    making: &BTreeSet<String>,
    refused: &BTreeSet<(String, u32)>,
    session: &str,
    out: &mut Vec<Violation>,
) {
    let id = SessionId(session.to_owned());
    let mut violation = |problem: String, repair: Repair| {
        out.push(Violation {
            session: session.to_owned(),
            problem,
            repair,
        })
    };
    let is_running = running.contains(session);
    let Some(dp) = dataplane.sa_state(session) else {
        // 1. A running session has a tunnel.
        if is_running {
            violation(
                "a running session without a tunnel interface".into(),
                Repair::Reconcile,
            );
        }
        return;
    };
    // 1. A tunnel belongs to a running session, or to one about to run.
    if !is_running {
        if making.contains(session) && dp.child_sas.is_empty() {
            return;
        }
        violation(
            "a tunnel interface for a session that does not run".into(),
            Repair::Reconcile,
        );
        return;
    }
    // 2. Both planes see the same Child SAs.
    let ike: Vec<(u32, u32)> = ep
        .installed_child_sas(&id)
        .into_iter()
        .filter(|(spi_in, _)| !refused.contains(&(session.to_owned(), *spi_in)))
        .collect();
    let held: Vec<(u32, u32)> = dp.child_sas.iter().map(|c| (c.spi_in, c.spi_out)).collect();
    for &(spi_in, spi_out) in &held {
        if !ike.contains(&(spi_in, spi_out)) {
            violation(
                format!(
                    "the tunnel holds Child SA {spi_in:08x}/{spi_out:08x}, which IKE does not have"
                ),
                Repair::RemoveFromDataplane { spi_in, spi_out },
            );
        }
    }
    for &(spi_in, spi_out) in &ike {
        if !held.contains(&(spi_in, spi_out)) {
            violation(
                format!(
                    "IKE has Child SA {spi_in:08x}/{spi_out:08x}, which the tunnel does not hold"
                ),
                Repair::RecreateChildSas,
            );
        }
    }
    // A Child SA being deleted is no longer sent on but still decrypts.
    let retiring: Vec<u32> = ep
        .retired_child_sas(&id)
        .into_iter()
        .map(|(spi_in, _)| spi_in)
        .collect();
    if retiring != dp.inbound_only {
        violation(
            format!(
                "Child SAs being deleted in IKE {retiring:08x?} differ from the inbound-only SAs of the tunnel {:08x?}",
                dp.inbound_only
            ),
            Repair::Report,
        );
    }
    for c in dp.child_sas.iter().filter(|c| !c.inbound) {
        violation(
            format!(
                "Child SA {:08x}/{:08x} has no inbound half in the data plane",
                c.spi_in, c.spi_out
            ),
            Repair::RecreateChildSas,
        );
    }
    // 3. A tunnel with SAs has a sender, and the workers send on it.
    if !dp.child_sas.is_empty() && (dp.sender.is_none() || !dp.sender_published) {
        violation(
            "the tunnel holds Child SAs but has none to send on".into(),
            Repair::RecreateChildSas,
        );
    }
    // 4. UP means traffic can flow both ways.
    if let Some(st) = ep.status(&id) {
        if st.ike_state == IkeState::Up && !st.children.is_empty() && dp.sender.is_none() {
            violation(
                "the session is UP but its tunnel has no SA to send on".into(),
                Repair::RecreateChildSas,
            );
        }
    }
}
