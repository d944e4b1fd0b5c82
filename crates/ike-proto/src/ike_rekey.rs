//! Rekeying the IKE SA with CREATE_CHILD_SA (RFC 7296 §1.3.2, §2.18) as requester and
//! responder, and simultaneous rekeys (§2.8.2).

use std::time::{Duration, Instant};

use ike_crypto::{derive_ike_keys, rekey_skeyseed, DhPrivate};
use ike_wire::{Header, NotifyType, Payload, ProtocolId};
use zeroize::Zeroizing;

use crate::config::SessionConfig;
use crate::endpoint::Endpoint;
use crate::events::Event;
use crate::exchanges::{first_error, ke_of, min_nonce, nonce_of, sa_of, NONCE_LEN};
use crate::kex::KexStage;
use crate::proposal::IkeSuite;
use crate::proposal::{accept_ike, select_ike};
use crate::random::{self, Random};
use crate::sa::{IkeSa, RequestKind, SaState, Task};

/// How long the loser of an IKE rekey, or the old SA, lingers waiting for the peer's Delete.
const REKEYED_LINGER: Duration = Duration::from_secs(30);

impl Endpoint {
    /// The peer's request to rekey the IKE SA (§2.18): checked before any Diffie-Hellman
    /// work starts; the answer waits for the key-exchange job
    /// ([`Endpoint::ike_rekey_request_keyed`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rekey_ike_request(
        &mut self,
        now: Instant,
        h: u64,
        header: Header,
        inner: &[Payload],
        offer: &[ike_wire::Proposal],
        ni: Vec<u8>,
        cfg: &SessionConfig,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        if other_rekey_under_way(sa) {
            // Another rekey is under way on this IKE SA (§2.25.2).
            self.respond_error(h, header, NotifyType::TEMPORARY_FAILURE, Vec::new(), rng);
            return;
        }
        let Some((suite, number)) = select_ike(offer, &cfg.ike) else {
            self.respond_error(h, header, NotifyType::NO_PROPOSAL_CHOSEN, Vec::new(), rng);
            return;
        };
        let Some(p) = offer
            .iter()
            .find(|p| p.number == number && p.protocol == ProtocolId::IKE && p.spi.len() == 8)
        else {
            self.respond_error(h, header, NotifyType::INVALID_SYNTAX, Vec::new(), rng);
            return;
        };
        let mut peer_spi = [0u8; 8];
        peer_spi.copy_from_slice(&p.spi);
        let Some((g, data)) = ke_of(inner) else {
            self.respond_error(h, header, NotifyType::INVALID_SYNTAX, Vec::new(), rng);
            return;
        };
        if g != suite.group.id() {
            let data = suite.group.id().to_be_bytes().to_vec();
            self.respond_error(h, header, NotifyType::INVALID_KE_PAYLOAD, data, rng);
            return;
        }
        // RFC 6989: the peer's public value is checked before any DH is computed.
        if suite.group.validate_peer_public(data).is_err() {
            self.respond_error(h, header, NotifyType::INVALID_SYNTAX, Vec::new(), rng);
            return;
        }
        let request = IkeRekeyRequest {
            header,
            suite,
            number,
            peer_spi,
            ni,
        };
        let stage = KexStage::IkeRekeyRequest(Box::new(request));
        self.submit_kex(now, h, stage, suite.group, None, Some(data.to_vec()), rng);
    }

    /// The key exchange of the peer's IKE rekey finished: create the new IKE SA and answer.
    pub(crate) fn ike_rekey_request_keyed(
        &mut self,
        now: Instant,
        h: u64,
        request: IkeRekeyRequest,
        dh: Option<DhPrivate>,
        shared: Option<Zeroizing<Vec<u8>>>,
        rng: &mut dyn Random,
    ) {
        let IkeRekeyRequest {
            header,
            suite,
            number,
            peer_spi,
            ni,
        } = request;
        let (Some(dh), Some(g_ir)) = (dh, shared) else {
            // The KE data passed validation, so this is our failure: the peer may retry.
            self.respond_error(h, header, NotifyType::TEMPORARY_FAILURE, Vec::new(), rng);
            return;
        };
        let Some(sa) = self.sas.get(&h) else { return };
        // What happened while the job ran counts as if it had come first: our own rekey
        // of this IKE SA or of a Child SA completed, or the SA is going away.
        if sa.state != SaState::Established || sa.doomed || other_rekey_under_way(sa) {
            self.respond_error(h, header, NotifyType::TEMPORARY_FAILURE, Vec::new(), rng);
            return;
        }
        let Some(cfg) = self.session_config(&sa.session).cloned() else {
            return;
        };
        let our_spi = loop {
            let s = random::ike_spi(rng);
            if !self.by_spi.contains_key(&s) {
                break s;
            }
        };
        let nr = random::vec(rng, NONCE_LEN);
        // The peer initiated this exchange, so it is the initiator of the new IKE SA.
        let Some(new) = self.rekeyed_sa(
            now, h, false, peer_spi, our_spi, &ni, &nr, &g_ir, suite, &cfg, rng,
        ) else {
            return;
        };
        let out = vec![
            Payload::Sa(vec![suite.to_proposal(number, our_spi.to_vec())]),
            Payload::Nonce(nr.clone()),
            Payload::Ke {
                group: suite.group.id(),
                data: dh.public_value(),
            },
        ];
        if !self.respond(h, header, &out, rng) {
            return;
        }
        let nh = self.alloc_handle();
        self.register_sa(nh, new);
        if let Some(sa) = self.sas.get_mut(&h) {
            sa.peer_ike_rekey = Some((nh, min_nonce(&ni, &nr).to_vec()));
        }
        self.resolve_ike_collision(now, h, rng);
    }

    /// Our IKE rekey was answered: an accepted answer makes the new IKE SA after the
    /// key-exchange job ([`Endpoint::ike_rekey_response_keyed`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rekey_ike_response(
        &mut self,
        now: Instant,
        h: u64,
        inner: Vec<Payload>,
        new_spi: [u8; 8],
        nonce: Vec<u8>,
        dh: DhPrivate,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        if first_error(&inner).is_some() {
            self.ike_rekey_later(now, h);
            return;
        }
        let (Some(offer), Some(nr), Some((g, data))) =
            (sa_of(&inner), nonce_of(&inner), ke_of(&inner))
        else {
            self.ike_rekey_later(now, h);
            return;
        };
        let Some(suite) = accept_ike(offer, &cfg.ike) else {
            self.ike_rekey_later(now, h);
            return;
        };
        let Some(p) = offer.first().filter(|p| p.spi.len() == 8) else {
            self.ike_rekey_later(now, h);
            return;
        };
        // RFC 6989: the peer's public value is checked before any DH is computed.
        if g != dh.group().id()
            || suite.group != dh.group()
            || suite.group.validate_peer_public(data).is_err()
        {
            self.ike_rekey_later(now, h);
            return;
        }
        let mut peer_spi = [0u8; 8];
        peer_spi.copy_from_slice(&p.spi);
        let response = IkeRekeyResponse {
            new_spi,
            nonce,
            nr,
            suite,
            peer_spi,
        };
        let stage = KexStage::IkeRekeyResponse(Box::new(response));
        self.submit_kex(
            now,
            h,
            stage,
            suite.group,
            Some(dh),
            Some(data.to_vec()),
            rng,
        );
    }

    /// g^ir of our IKE rekey is computed: make the new IKE SA.
    pub(crate) fn ike_rekey_response_keyed(
        &mut self,
        now: Instant,
        h: u64,
        response: IkeRekeyResponse,
        shared: Option<Zeroizing<Vec<u8>>>,
        rng: &mut dyn Random,
    ) {
        let IkeRekeyResponse {
            new_spi,
            nonce,
            nr,
            suite,
            peer_spi,
        } = response;
        let Some(sa) = self.sas.get(&h) else { return };
        let Some(g_ir) = shared else {
            self.ike_rekey_later(now, h);
            return;
        };
        // Deleted (lifetime, or removed) while the job ran: nothing to rekey.
        if sa.state != SaState::Established || sa.doomed {
            return;
        }
        let Some(cfg) = self.session_config(&sa.session).cloned() else {
            return;
        };
        let Some(new) = self.rekeyed_sa(
            now, h, true, new_spi, peer_spi, &nonce, &nr, &g_ir, suite, &cfg, rng,
        ) else {
            return;
        };
        let nh = self.alloc_handle();
        self.register_sa(nh, new);
        if let Some(sa) = self.sas.get_mut(&h) {
            sa.own_ike_rekey = Some((nh, min_nonce(&nonce, &nr).to_vec()));
            sa.own_ike_rekey_done = true;
        }
        self.resolve_ike_collision(now, h, rng);
    }

    /// Our IKE rekey failed: try again in 5 seconds.
    fn ike_rekey_later(&mut self, now: Instant, h: u64) {
        if let Some(sa) = self.sas.get_mut(&h) {
            sa.rekey_at = Some(now + Duration::from_secs(5));
        }
    }

    /// The IKE SA a rekey creates (§2.18): new SPIs and keys from the old SK_d.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rekeyed_sa(
        &mut self,
        now: Instant,
        h: u64,
        we_initiated: bool,
        spi_i: [u8; 8],
        spi_r: [u8; 8],
        ni: &[u8],
        nr: &[u8],
        g_ir: &[u8],
        suite: crate::proposal::IkeSuite,
        cfg: &SessionConfig,
        rng: &mut dyn Random,
    ) -> Option<IkeSa> {
        let old = self.sas.get(&h)?;
        let old_prf = old.suite?.prf;
        let seed = rekey_skeyseed(old_prf, &old.keys.as_ref()?.sk_d, g_ir, ni, nr);
        let keys = derive_ike_keys(
            suite.prf,
            &seed,
            ni,
            nr,
            &spi_i,
            &spi_r,
            suite.integrity,
            suite.cipher,
        )
        .ok()?;
        let mut sa = IkeSa::new(
            old.session.clone(),
            we_initiated,
            old.local,
            old.remote,
            now,
        );
        sa.spi_i = spi_i;
        sa.spi_r = spi_r;
        sa.ni = ni.to_vec();
        sa.nr = nr.to_vec();
        sa.suite = Some(suite);
        sa.keys = Some(keys);
        sa.state = SaState::Established;
        sa.udp_encapsulation = old.udp_encapsulation;
        sa.remote_id = old.remote_id.clone();
        sa.fragmentation = old.fragmentation;
        sa.peer_hashes = old.peer_hashes.clone();
        sa.established = Some(now);
        let (rekey_at, expire_at) = self.rekey_time(now, cfg.ike_lifetime, rng);
        sa.rekey_at = Some(rekey_at);
        sa.expire_at = Some(expire_at);
        Some(sa)
    }

    /// After an IKE rekey: move the Child SAs to the surviving new IKE SA and delete the
    /// redundant ones (§2.8, collisions §2.8.2: the new SA made with the lowest nonce is
    /// deleted by its creator; the old SA is deleted by the creator of the winner).
    pub(crate) fn resolve_ike_collision(&mut self, now: Instant, h: u64, rng: &mut dyn Random) {
        let Some(sa) = self.sas.get(&h) else { return };
        let outstanding_rekey = matches!(
            sa.outstanding.as_ref().map(|o| &o.kind),
            Some(RequestKind::RekeyIke { .. })
        );
        let (winner, we_delete_old, loser_ours) = match (&sa.own_ike_rekey, &sa.peer_ike_rekey) {
            (Some((own, _)), None) => (*own, true, None),
            (None, Some((peer, _))) if !outstanding_rekey => (*peer, false, None),
            (None, Some(_)) => return, // our own rekey is still in flight: decide when it ends
            (Some((own, own_min)), Some((peer, peer_min))) => {
                if own_min < peer_min {
                    (*peer, false, Some(*own))
                } else {
                    (*own, true, None)
                }
            }
            (None, None) => return,
        };
        let Some(mut old) = self.sas.remove(&h) else {
            return;
        };
        let mut children = std::mem::take(&mut old.children);
        // Child SA work queued on the old IKE SA is dropped with it; carry it over: pending
        // deletions are queued again on the new SA, and interrupted rekeys re-arm.
        let mut deletions = Vec::new();
        for c in &mut children {
            if c.expiring || (c.superseded && c.own_rekey.is_some()) {
                deletions.push(c.spi_in);
            } else if c.rekeying && !c.superseded {
                c.rekeying = false;
            }
        }
        old.state = SaState::Rekeyed;
        old.half_open_deadline = Some(now + REKEYED_LINGER);
        old.queue.clear();
        old.own_ike_rekey = None;
        old.peer_ike_rekey = None;
        if we_delete_old {
            old.queue.push_back(Task::DeleteIke);
        }
        let session = old.session.clone();
        self.sas.insert(h, old);
        match self.sas.get_mut(&winner) {
            // Added to what the winner already has: the peer may have created or rekeyed a
            // Child SA on its new IKE SA before we resolved the collision (found by the
            // gateway simulation, chaos seed 2401: overwriting dropped such a Child SA from
            // IKE without an event, and the data plane kept it).
            Some(w) => w.children.extend(children),
            None => {
                // The winner is already gone (deleted or expired while the collision was
                // pending): the Child SAs go too, announced like any removal, never dropped
                // silently.
                for c in children {
                    self.emit(Event::ChildSaDeleted {
                        session: session.clone(),
                        spi_in: c.spi_in,
                        spi_out: c.spi_out,
                    });
                }
            }
        }
        if !deletions.is_empty() {
            self.delete_children(now, winner, deletions);
            self.drive(now, winner, rng);
        }
        if let Some(l) = loser_ours {
            if let Some(sa) = self.sas.get_mut(&l) {
                sa.state = SaState::Rekeyed;
                sa.doomed = true;
                sa.queue.push_back(Task::DeleteIke);
            }
            self.drive(now, l, rng);
        }
        self.drive(now, h, rng);
        if let Some(session) = self.sas.get(&h).map(|sa| sa.session.clone()) {
            self.update_status(now, &session);
        }
    }
}

/// Whether an exchange of ours on this IKE SA makes the peer's IKE rekey wait (§2.25.2): a
/// Child SA rekey in progress, our CREATE_CHILD_SA request in flight or waiting for its key
/// exchange, or our own IKE rekey already completed. A Child SA request in flight must
/// finish on this IKE SA: once the peer has rekeyed it, the peer deletes it, and a lost
/// answer could no longer be retransmitted (found by `rekeys_with_delayed_key_exchanges_converge`,
/// seed 81: the peer kept a Child SA this end never installed).
fn other_rekey_under_way(sa: &IkeSa) -> bool {
    let child_request_in_flight = matches!(
        sa.outstanding.as_ref().map(|o| &o.kind),
        Some(RequestKind::CreateChild { .. })
    );
    sa.children.iter().any(|c| c.rekeying && !c.superseded)
        || sa.own_ike_rekey_done
        || sa.own_kex.is_some()
        || child_request_in_flight
}

/// The peer's IKE rekey request, checked and waiting for its key exchange.
pub(crate) struct IkeRekeyRequest {
    header: Header,
    suite: IkeSuite,
    number: u8,
    peer_spi: [u8; 8],
    ni: Vec<u8>,
}

/// The peer's accepted answer to our IKE rekey, waiting for g^ir.
pub(crate) struct IkeRekeyResponse {
    new_spi: [u8; 8],
    nonce: Vec<u8>,
    nr: Vec<u8>,
    suite: IkeSuite,
    peer_spi: [u8; 8],
}
