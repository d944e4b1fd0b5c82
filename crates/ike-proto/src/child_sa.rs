//! Child SAs (RFC 7296 §1.3, §2.17): creating and rekeying them with CREATE_CHILD_SA as
//! requester and responder, collisions (§2.8.1), installing, retiring and removing them.

use std::time::{Duration, Instant};

use ike_crypto::{child_sa_keys, esp_key_lengths, DhGroup, DhPrivate};
use ike_wire::{find_notify, Header, NotifyType, Payload, ProtocolId, TrafficSelector};
use zeroize::Zeroizing;

use crate::config::{SessionConfig, SessionId};
use crate::endpoint::Endpoint;
use crate::events::{ChildSaParams, Event, FailReason};
use crate::exchanges::{
    first_error, ke_of, min_nonce, narrow, nonce_of, notify_name, reason_for, sa_of, ts_of,
    NONCE_LEN,
};
use crate::kex::KexStage;
use crate::proposal::{accept_esp, describe_esp_allowed, select_esp, EspSuite};
use crate::random::{self, Random};
use crate::sa::{ChildSa, IkeSa, SaState, Task};

impl Endpoint {
    pub(crate) fn new_child_spi(&self, rng: &mut dyn Random) -> u32 {
        loop {
            let s = random::spi(rng);
            if !self.sas.child_spi_in_use(s) {
                return s;
            }
        }
    }

    /// Derive the Child SA's keys (§2.17), add it to the IKE SA and hand it to the data plane.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn install_child(
        &mut self,
        now: Instant,
        h: u64,
        suite: EspSuite,
        spi_in: u32,
        spi_out: u32,
        g_ir: Option<&[u8]>,
        ni: &[u8],
        nr: &[u8],
        we_initiated: bool,
        ts: Vec<TrafficSelector>,
        lifetime: Duration,
        rng: &mut dyn Random,
    ) -> bool {
        let Some(sa) = self.sas.get(&h) else {
            return false;
        };
        let (Some(ike), Some(keys)) = (sa.suite, sa.keys.as_ref()) else {
            return false;
        };
        let Ok((enc_len, integ_len)) = esp_key_lengths(
            suite.cipher.transform_id(),
            suite.cipher.key_bits(),
            suite.integrity.map(|i| i.transform_id()),
        ) else {
            return false;
        };
        let Ok(k) = child_sa_keys(ike.prf, &keys.sk_d, g_ir, ni, nr, enc_len, integ_len) else {
            return false;
        };
        // The initiator's keys protect initiator-to-responder traffic (§2.17).
        let (enc_out, integ_out, enc_in, integ_in) = if we_initiated {
            (k.encr_i, k.integ_i, k.encr_r, k.integ_r)
        } else {
            (k.encr_r, k.integ_r, k.encr_i, k.integ_i)
        };
        let params = ChildSaParams {
            session: sa.session.clone(),
            spi_in,
            spi_out,
            cipher: suite.cipher,
            integrity: suite.integrity,
            esn: suite.esn,
            enc_key_in: enc_in,
            integ_key_in: integ_in,
            enc_key_out: enc_out,
            integ_key_out: integ_out,
            ts_local: ts.clone(),
            ts_remote: ts.clone(),
            local: sa.local,
            remote: sa.remote,
            udp_encapsulation: sa.udp_encapsulation,
            lifetime,
            we_initiated,
        };
        let (rekey_at, expire_at) = self.rekey_time(now, lifetime, rng);
        let Some(sa) = self.sas.get_mut(&h) else {
            return false;
        };
        if sa.children.len() >= 16 {
            return false;
        }
        sa.children.push(ChildSa {
            spi_in,
            spi_out,
            suite,
            ts_local: ts.clone(),
            ts_remote: ts,
            established: now,
            rekey_at,
            expire_at,
            rekeying: false,
            superseded: false,
            retired: false,
            expiring: false,
            own_rekey: None,
            peer_rekey: None,
        });
        self.emit(Event::ChildSaInstalled(Box::new(params)));
        true
    }

    pub(crate) fn remove_children(&mut self, h: u64, spis_in: &[u32]) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        let session = sa.session.clone();
        let mut gone = Vec::new();
        sa.children.retain(|c| {
            if spis_in.contains(&c.spi_in) {
                gone.push((c.spi_in, c.spi_out));
                false
            } else {
                true
            }
        });
        for (spi_in, spi_out) in gone {
            self.emit(Event::ChildSaDeleted {
                session: session.clone(),
                spi_in,
                spi_out,
            });
        }
    }

    // ============================== CREATE_CHILD_SA ==============================

    /// The peer's CREATE_CHILD_SA request: everything is checked before any Diffie-Hellman
    /// work starts; with PFS the answer waits for the key-exchange job
    /// ([`Endpoint::child_request_keyed`]).
    pub(crate) fn create_child_request(
        &mut self,
        now: Instant,
        h: u64,
        header: Header,
        inner: Vec<Payload>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        if sa.state != SaState::Established {
            self.respond_error(h, header, NotifyType::TEMPORARY_FAILURE, Vec::new(), rng);
            return;
        }
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        let Some(offer) = sa_of(&inner) else {
            self.respond_error(h, header, NotifyType::INVALID_SYNTAX, Vec::new(), rng);
            return;
        };
        let Some(ni) = nonce_of(&inner) else {
            self.respond_error(h, header, NotifyType::INVALID_SYNTAX, Vec::new(), rng);
            return;
        };
        if offer.iter().any(|p| p.protocol == ProtocolId::IKE) {
            self.rekey_ike_request(now, h, header, &inner, offer, ni, &cfg, rng);
            return;
        }
        let rekey = find_notify(&inner, NotifyType::REKEY_SA)
            .filter(|n| n.protocol == ProtocolId::ESP && n.spi.len() == 4)
            .and_then(|n| crate::be_u32(&n.spi));
        let old_spi_in = match rekey {
            // A new Child SA: accepted only when this IKE SA carries none (it replaces one
            // that expired or was deleted); a route-based session needs exactly one (§3.10.1).
            None if needs_child(sa) => None,
            None => {
                self.respond_error(h, header, NotifyType::NO_ADDITIONAL_SAS, Vec::new(), rng);
                return;
            }
            Some(peer_old_spi) => match rekey_target(sa, peer_old_spi) {
                Ok(old) => Some(old),
                Err(data) => {
                    self.respond_error(h, header, NotifyType::CHILD_SA_NOT_FOUND, data, rng);
                    return;
                }
            },
        };
        let ke = ke_of(&inner);
        let Some((suite, number, spi_out)) = select_esp(offer, &cfg.esp, ke.is_some()) else {
            self.respond_error(h, header, NotifyType::NO_PROPOSAL_CHOSEN, Vec::new(), rng);
            return;
        };
        let peer_ke = match (suite.group, ke) {
            (None, _) => None,
            (Some(group), Some((g, data))) if g == group.id() => {
                // RFC 6989: the peer's public value is checked before any DH is computed.
                if group.validate_peer_public(data).is_err() {
                    self.respond_error(h, header, NotifyType::INVALID_SYNTAX, Vec::new(), rng);
                    return;
                }
                Some((group, data.to_vec()))
            }
            (Some(group), _) => {
                let data = group.id().to_be_bytes().to_vec();
                self.respond_error(h, header, NotifyType::INVALID_KE_PAYLOAD, data, rng);
                return;
            }
        };
        let (Some(ts_i), Some(ts_r)) = ts_of(&inner) else {
            self.respond_error(h, header, NotifyType::TS_UNACCEPTABLE, Vec::new(), rng);
            return;
        };
        let Some(ts) = narrow(&cfg, ts_i, ts_r) else {
            self.respond_error(h, header, NotifyType::TS_UNACCEPTABLE, Vec::new(), rng);
            return;
        };
        let request = ChildRequest {
            header,
            suite,
            number,
            spi_out,
            ni,
            ts,
            old_spi_in,
            peer_old_spi: rekey,
        };
        match peer_ke {
            Some((group, data)) => {
                let stage = KexStage::ChildRequest(Box::new(request));
                self.submit_kex(now, h, stage, group, None, Some(data), rng);
            }
            None => self.answer_child_request(now, h, request, None, rng),
        }
    }

    /// The key exchange of the peer's CREATE_CHILD_SA request finished: answer it.
    pub(crate) fn child_request_keyed(
        &mut self,
        now: Instant,
        h: u64,
        request: ChildRequest,
        dh: Option<DhPrivate>,
        shared: Option<Zeroizing<Vec<u8>>>,
        rng: &mut dyn Random,
    ) {
        let (Some(dh), Some(shared)) = (dh, shared) else {
            // The KE data passed validation, so this is our failure: the peer may retry.
            let header = request.header;
            self.respond_error(h, header, NotifyType::TEMPORARY_FAILURE, Vec::new(), rng);
            return;
        };
        let kex = ChildKex {
            our_ke: Payload::Ke {
                group: dh.group().id(),
                data: dh.public_value(),
            },
            shared,
        };
        self.answer_child_request(now, h, request, Some(kex), rng);
    }

    /// Answer an accepted Child SA request and install the new Child SA. With PFS this runs
    /// after the key-exchange job, so what the request relied on is checked again: the IKE
    /// SA may have been rekeyed, or the Child SA to be rekeyed replaced, meanwhile.
    fn answer_child_request(
        &mut self,
        now: Instant,
        h: u64,
        request: ChildRequest,
        kex: Option<ChildKex>,
        rng: &mut dyn Random,
    ) {
        let ChildRequest {
            header,
            suite,
            number,
            spi_out,
            ni,
            ts,
            old_spi_in,
            peer_old_spi,
        } = request;
        let Some(sa) = self.sas.get(&h) else { return };
        if sa.state != SaState::Established || sa.doomed {
            self.respond_error(h, header, NotifyType::TEMPORARY_FAILURE, Vec::new(), rng);
            return;
        }
        if let Some(peer_old_spi) = peer_old_spi {
            // As if the request had come after what happened meanwhile (§2.25.1).
            if let Err(data) = rekey_target(sa, peer_old_spi) {
                self.respond_error(h, header, NotifyType::CHILD_SA_NOT_FOUND, data, rng);
                return;
            }
        }
        let session = sa.session.clone();
        let Some(lifetime) = self.session_config(&session).map(|c| c.child_lifetime) else {
            return;
        };
        let spi_in = self.new_child_spi(rng);
        let nr = random::vec(rng, NONCE_LEN);
        let mut out = vec![
            Payload::Sa(vec![suite.to_proposal(number, spi_in)]),
            Payload::Nonce(nr.clone()),
        ];
        let g_ir = kex.map(|k| {
            out.push(k.our_ke);
            k.shared
        });
        out.push(Payload::ts_i(ts.clone()));
        out.push(Payload::ts_r(ts.clone()));
        if !self.respond(h, header, &out, rng) {
            return;
        }
        // Keys: the peer initiated this exchange.
        if !self.install_child(
            now,
            h,
            suite,
            spi_in,
            spi_out,
            g_ir.as_deref().map(|v| &v[..]),
            &ni,
            &nr,
            false,
            ts,
            lifetime,
            rng,
        ) {
            return;
        }
        if let Some(old_spi_in) = old_spi_in {
            if let Some(old) = self.sas.get_mut(&h).and_then(|sa| sa.child_mut(old_spi_in)) {
                old.rekeying = true;
                old.peer_rekey = Some((spi_in, min_nonce(&ni, &nr).to_vec()));
            }
            self.resolve_child_collision(now, h, old_spi_in, rng);
        }
        self.update_status(now, &session);
    }

    /// Our CREATE_CHILD_SA request was answered: errors are handled here; an accepted answer
    /// installs the Child SA, after the key-exchange job with PFS
    /// ([`Endpoint::child_response_keyed`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_child_response(
        &mut self,
        now: Instant,
        h: u64,
        inner: Vec<Payload>,
        rekey_of: Option<u32>,
        spi_in: u32,
        nonce: Vec<u8>,
        dh: Option<DhPrivate>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        if let Some(err) = first_error(&inner) {
            self.child_request_refused(now, h, &inner, err, rekey_of, dh.is_some(), &cfg, rng);
            return;
        }
        let (Some(offer), Some(nr)) = (sa_of(&inner), nonce_of(&inner)) else {
            self.child_rekey_later(now, h, rekey_of, rng);
            return;
        };
        let Some((suite, spi_out)) = accept_esp(offer, &cfg.esp, dh.is_some()) else {
            self.child_rekey_later(now, h, rekey_of, rng);
            return;
        };
        let (Some(ts_i), Some(ts_r)) = ts_of(&inner) else {
            return;
        };
        let Some(ts) = narrow(&cfg, ts_i, ts_r) else {
            return;
        };
        let response = ChildResponse {
            rekey_of,
            spi_in,
            nonce,
            nr,
            suite,
            spi_out,
            ts,
        };
        match (dh, ke_of(&inner)) {
            (Some(d), Some((g, data))) if g == d.group().id() && suite.group == Some(d.group()) => {
                // RFC 6989: the peer's public value is checked before any DH is computed.
                if d.group().validate_peer_public(data).is_err() {
                    self.child_rekey_later(now, h, rekey_of, rng);
                    return;
                }
                let group = d.group();
                let stage = KexStage::ChildResponse(Box::new(response));
                self.submit_kex(now, h, stage, group, Some(d), Some(data.to_vec()), rng);
            }
            (None, None) => self.finish_child_response(now, h, response, None, rng),
            _ => self.child_rekey_later(now, h, rekey_of, rng),
        }
    }

    /// g^ir of our CREATE_CHILD_SA exchange is computed: install the Child SA.
    pub(crate) fn child_response_keyed(
        &mut self,
        now: Instant,
        h: u64,
        response: ChildResponse,
        shared: Option<Zeroizing<Vec<u8>>>,
        rng: &mut dyn Random,
    ) {
        match shared {
            Some(g_ir) => self.finish_child_response(now, h, response, Some(&g_ir), rng),
            None => self.child_rekey_later(now, h, response.rekey_of, rng),
        }
    }

    fn finish_child_response(
        &mut self,
        now: Instant,
        h: u64,
        response: ChildResponse,
        g_ir: Option<&[u8]>,
        rng: &mut dyn Random,
    ) {
        let ChildResponse {
            rekey_of,
            spi_in,
            nonce,
            nr,
            suite,
            spi_out,
            ts,
        } = response;
        let Some(sa) = self.sas.get(&h) else { return };
        // The IKE SA is being deleted (expired or removed while the job ran): no new Child
        // SA on it.
        if sa.state != SaState::Established || sa.doomed {
            return;
        }
        let session = sa.session.clone();
        let Some(lifetime) = self.session_config(&session).map(|c| c.child_lifetime) else {
            return;
        };
        if !self.install_child(
            now, h, suite, spi_in, spi_out, g_ir, &nonce, &nr, true, ts, lifetime, rng,
        ) {
            return;
        }
        if let Some(old) = rekey_of {
            if let Some(c) = self.sas.get_mut(&h).and_then(|sa| sa.child_mut(old)) {
                c.rekeying = true;
                c.own_rekey = Some((spi_in, min_nonce(&nonce, &nr).to_vec()));
            }
            self.resolve_child_collision(now, h, old, rng);
        }
        self.update_status(now, &session);
    }

    /// The peer answered our CREATE_CHILD_SA request with an error notify.
    #[allow(clippy::too_many_arguments)]
    fn child_request_refused(
        &mut self,
        now: Instant,
        h: u64,
        inner: &[Payload],
        err: NotifyType,
        rekey_of: Option<u32>,
        pfs: bool,
        cfg: &SessionConfig,
        rng: &mut dyn Random,
    ) {
        let session = cfg.id.clone();
        match err {
            NotifyType::INVALID_KE_PAYLOAD => {
                // Try again with the group the peer wants, if we allow it (§1.3).
                let wanted = find_notify(inner, NotifyType::INVALID_KE_PAYLOAD)
                    .filter(|n| n.data.len() == 2)
                    .and_then(|n| crate::be_u16(&n.data))
                    .and_then(DhGroup::from_id);
                let allowed = wanted.filter(|g| cfg.esp.iter().any(|p| p.pfs_groups.contains(g)));
                if let (Some(g), Some(old)) = (allowed, rekey_of) {
                    if let Some(c) = self.sas.get_mut(&h).and_then(|sa| sa.child_mut(old)) {
                        c.suite.group = Some(g);
                        c.rekeying = false;
                    }
                    self.queue(h, Task::RekeyChild(old));
                } else {
                    self.child_rekey_later(now, h, rekey_of, rng);
                    self.child_alarm(&session, FailReason::NoProposalChosen, format!(
                        "Child SA rekey failed: the peer wants PFS group {}, which the IPsec profile does not allow",
                        wanted.map_or("?".into(), |g| format!("GROUP{}", g.id()))
                    ));
                }
            }
            NotifyType::TEMPORARY_FAILURE => self.child_rekey_later(now, h, rekey_of, rng),
            NotifyType::CHILD_SA_NOT_FOUND => {
                // The peer replaced it first (collision, §2.25.1); its rekey stands.
                if let Some(old) =
                    rekey_of.and_then(|o| self.sas.get_mut(&h).and_then(|sa| sa.child_mut(o)))
                {
                    old.rekeying = true;
                }
            }
            other => {
                self.child_rekey_later(now, h, rekey_of, rng);
                self.child_alarm(
                    &session,
                    reason_for(other),
                    format!(
                        "the peer refused to rekey the Child SA with {}; this session allows ESP {}",
                        notify_name(other),
                        describe_esp_allowed(&cfg.esp, pfs)
                    ),
                );
            }
        }
    }

    /// Our rekey of Child SA `rekey_of` failed: try again in 2 to 7 seconds.
    fn child_rekey_later(
        &mut self,
        now: Instant,
        h: u64,
        rekey_of: Option<u32>,
        rng: &mut dyn Random,
    ) {
        if let Some(old) =
            rekey_of.and_then(|o| self.sas.get_mut(&h).and_then(|sa| sa.child_mut(o)))
        {
            old.rekeying = false;
            old.rekey_at = now
                + Duration::from_secs(2)
                + Duration::from_millis(u64::from(random::bytes::<1>(rng)[0]) * 20);
        }
    }

    /// After a rekey of `old`: with only our rekey, delete the old Child SA; with both sides'
    /// rekeys (a collision, §2.8.1), the new SA made with the lowest nonce is deleted by its
    /// creator, and the other side's creator deletes the old one.
    pub(crate) fn resolve_child_collision(
        &mut self,
        now: Instant,
        h: u64,
        old: u32,
        rng: &mut dyn Random,
    ) {
        let Some(c) = self.sas.get(&h).and_then(|sa| sa.child(old)) else {
            return;
        };
        match (&c.own_rekey, &c.peer_rekey) {
            (Some(_), None) => {
                self.supersede(h, old);
                self.delete_children(now, h, vec![old]);
            }
            (Some((own_new, own_min)), Some((_, peer_min))) => {
                let own_new = *own_new;
                if own_min < peer_min {
                    // Ours lost: remove our redundant SA; the peer deletes the old one.
                    self.supersede(h, old);
                    self.delete_children(now, h, vec![own_new]);
                } else {
                    self.supersede(h, old);
                    self.delete_children(now, h, vec![old]);
                }
            }
            // Only the peer rekeyed: it deletes the old SA.
            (None, Some(_)) => self.supersede(h, old),
            (None, None) => {}
        }
        self.drive(now, h, rng);
    }

    /// Queue a Delete for Child SAs of IKE SA `h` and retire them now (§1.4.1: stop sending
    /// on an SA being deleted; the peer may remove it before our Delete's answer comes back).
    pub(crate) fn delete_children(&mut self, now: Instant, h: u64, spis_in: Vec<u32>) {
        self.retire_children(now, h, &spis_in);
        self.queue(h, Task::DeleteChildren(spis_in));
    }

    /// Stop sending on Child SAs ([`Event::ChildSaRetired`], once) while IKE still knows them
    /// for the Delete exchange; their inbound halves stay until it completes.
    pub(crate) fn retire_children(&mut self, now: Instant, h: u64, spis_in: &[u32]) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        let session = sa.session.clone();
        let mut gone = Vec::new();
        for c in sa.children.iter_mut() {
            if spis_in.contains(&c.spi_in) && !c.retired {
                c.retired = true;
                gone.push((c.spi_in, c.spi_out));
            }
        }
        let any = !gone.is_empty();
        for (spi_in, spi_out) in gone {
            self.emit(Event::ChildSaRetired {
                session: session.clone(),
                spi_in,
                spi_out,
            });
        }
        if any {
            self.update_status(now, &session);
        }
    }

    pub(crate) fn supersede(&mut self, h: u64, spi_in: u32) {
        if let Some(c) = self.sas.get_mut(&h).and_then(|sa| sa.child_mut(spi_in)) {
            c.superseded = true;
            c.rekeying = true;
        }
    }

    pub(crate) fn child_alarm(&mut self, session: &SessionId, reason: FailReason, alarm: String) {
        if let Some(s) = self.sessions.get_mut(session) {
            s.status.fail_reason = Some(reason);
            s.status.alarm = Some(alarm);
            self.emit(Event::StatusChanged(session.clone()));
        }
    }
}

/// Whether an IKE SA carries no usable Child SA (all replaced or expiring).
pub(crate) fn needs_child(sa: &IkeSa) -> bool {
    sa.children
        .iter()
        .all(|c| c.superseded || c.expiring || c.retired)
}

/// The peer's request to create a Child SA, checked and waiting for its key exchange.
pub(crate) struct ChildRequest {
    header: Header,
    suite: EspSuite,
    /// The number of the peer's proposal we chose.
    number: u8,
    spi_out: u32,
    ni: Vec<u8>,
    ts: Vec<TrafficSelector>,
    /// The Child SA it rekeys (our inbound SPI), and how the peer named it (its inbound SPI).
    old_spi_in: Option<u32>,
    peer_old_spi: Option<u32>,
}

/// The peer's accepted answer to our request to create a Child SA, waiting for g^ir.
pub(crate) struct ChildResponse {
    rekey_of: Option<u32>,
    spi_in: u32,
    nonce: Vec<u8>,
    nr: Vec<u8>,
    suite: EspSuite,
    spi_out: u32,
    ts: Vec<TrafficSelector>,
}

/// Our KE payload and g^ir, for a Child SA with PFS.
struct ChildKex {
    our_ke: Payload,
    shared: Zeroizing<Vec<u8>>,
}

/// The Child SA the peer asks to rekey, named by the peer's inbound SPI (our outbound):
/// our inbound SPI, or the CHILD_SA_NOT_FOUND data if we do not have it or replaced it
/// ourselves already (the peer will see our Delete).
fn rekey_target(sa: &IkeSa, peer_old_spi: u32) -> Result<u32, Vec<u8>> {
    let Some(old) = sa
        .children
        .iter()
        .find(|c| c.spi_out == peer_old_spi && !c.superseded)
    else {
        return Err(peer_old_spi.to_be_bytes().to_vec());
    };
    if old.own_rekey.is_some() {
        return Err(Vec::new());
    }
    Ok(old.spi_in)
}
