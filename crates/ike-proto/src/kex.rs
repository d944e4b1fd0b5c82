//! The Diffie-Hellman work of CREATE_CHILD_SA exchanges (RFC 7296 §1.3: new Child SAs and
//! Child SA rekeys with PFS, IKE SA rekeys) as crypto jobs, like IKE_SA_INIT's, so rekeys
//! of thousands of tunnels are computed off the event loop.
//!
//! An exchange that needs one parks in a [`PendingKex`] on its IKE SA until the job's
//! result comes back, in one of two slots: `own_kex` for our exchange (our request waiting
//! for its key pair, or the peer's accepted answer waiting for g^ir) and `peer_kex` for the
//! peer's request (checked, waiting for our key pair and g^ir). While either is held the
//! IKE SA starts no request of ours, and the peer's retransmissions of a parked request are
//! ignored (it is answered once, when the job is done). A result is matched to its slot by
//! job id, so one for an SA that was removed or rekeyed meanwhile is dropped.

use std::time::Instant;

use ike_crypto::{DhGroup, DhPrivate};
use zeroize::Zeroizing;

use crate::child_sa::{ChildRequest, ChildResponse};
use crate::crypto_jobs::{keygen_randoms, Work};
use crate::endpoint::Endpoint;
use crate::ike_rekey::{IkeRekeyRequest, IkeRekeyResponse};
use crate::random::Random;
use crate::sa::Task;

/// A CREATE_CHILD_SA exchange waiting for crypto job `job`.
pub(crate) struct PendingKex {
    pub(crate) job: u64,
    pub(crate) stage: KexStage,
}

/// Where a CREATE_CHILD_SA exchange resumes when its key exchange is done.
pub(crate) enum KexStage {
    /// Our request (a CreateChild, RekeyChild or RekeyIke task) waits for its key pair.
    Request(Task),
    /// The peer accepted our Child SA request; g^ir is being computed.
    ChildResponse(Box<ChildResponse>),
    /// The peer accepted our IKE rekey; g^ir is being computed.
    IkeRekeyResponse(Box<IkeRekeyResponse>),
    /// The peer's Child SA request waits for our key pair and g^ir.
    ChildRequest(Box<ChildRequest>),
    /// The peer's IKE rekey request waits for our key pair and g^ir.
    IkeRekeyRequest(Box<IkeRekeyRequest>),
}

impl KexStage {
    /// Whether it parks the peer's request (slot `peer_kex`) rather than our exchange.
    fn is_peers(&self) -> bool {
        matches!(
            self,
            KexStage::ChildRequest(_) | KexStage::IkeRekeyRequest(_)
        )
    }
}

impl Endpoint {
    /// Park `stage` on IKE SA `h` and hand out its key exchange: a new key pair of `group`
    /// (or `dh`) and, with the peer's validated KE data, g^ir. Without offloading the job
    /// runs at once and the exchange resumes before this returns.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn submit_kex(
        &mut self,
        now: Instant,
        h: u64,
        stage: KexStage,
        group: DhGroup,
        dh: Option<DhPrivate>,
        peer_ke: Option<Vec<u8>>,
        rng: &mut dyn Random,
    ) {
        let randoms = if dh.is_none() {
            keygen_randoms(group, rng)
        } else {
            Vec::new()
        };
        let work = Work::KeyExchange {
            handle: h,
            group,
            dh,
            randoms,
            peer_ke,
        };
        let job = self.new_crypto_job(work);
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        let slot = if stage.is_peers() {
            &mut sa.peer_kex
        } else {
            &mut sa.own_kex
        };
        debug_assert!(
            slot.is_none(),
            "two key exchanges in one slot of IKE SA {h}"
        );
        *slot = Some(PendingKex { job: job.id, stage });
        self.run_crypto_job(now, job, rng);
    }

    /// The key exchange of job `job` on IKE SA `h` is done: resume its exchange.
    pub(crate) fn kex_done(
        &mut self,
        now: Instant,
        h: u64,
        job: u64,
        dh: Option<DhPrivate>,
        shared: Option<Zeroizing<Vec<u8>>>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return; // removed while computing
        };
        let pending = if sa.own_kex.as_ref().is_some_and(|p| p.job == job) {
            sa.own_kex.take()
        } else if sa.peer_kex.as_ref().is_some_and(|p| p.job == job) {
            sa.peer_kex.take()
        } else {
            None // its exchange was dropped (e.g. the IKE SA was rekeyed away)
        };
        let Some(pending) = pending else { return };
        match pending.stage {
            KexStage::Request(task) => {
                if let Some(dh) = dh {
                    if self.start_task_with(now, h, task, Some(dh), rng) {
                        return;
                    }
                }
            }
            KexStage::ChildResponse(r) => self.child_response_keyed(now, h, *r, shared, rng),
            KexStage::IkeRekeyResponse(r) => self.ike_rekey_response_keyed(now, h, *r, shared, rng),
            KexStage::ChildRequest(r) => self.child_request_keyed(now, h, *r, dh, shared, rng),
            KexStage::IkeRekeyRequest(r) => {
                self.ike_rekey_request_keyed(now, h, *r, dh, shared, rng)
            }
        }
        // The request window may be free again.
        self.drive(now, h, rng);
    }
}
