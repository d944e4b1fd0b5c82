//! IKE_SA_INIT as responder (RFC 7296 §1.2): the one exchange anyone can start, so the one
//! that must stay cheap and change nothing until the peer authenticates (see
//! [`crate::admission`] for the rules). Checks run cheapest first; the Diffie-Hellman work
//! comes last, after the KE data has been validated, and is handed out as a
//! [`crate::CryptoJob`].

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use ike_wire::{ExchangeType, Message, Notify, NotifyType, Payload};

use crate::admission::{DropCause, Limits, INIT_REQUEST_MAX, RETRANSMIT_ANSWER_SPACING};
use crate::crypto_jobs::{CryptoDone, Done, Work};
use crate::endpoint::Endpoint;
use crate::exchanges::{
    ke_of, nat_detected, nat_notifies, nonce_of, sa_of, unprotected, NONCE_LEN,
};
use crate::proposal::{describe_ike_allowed, describe_offer, select_ike};
use crate::random::{self, Random};
use crate::sa::{IkeSa, SaState};

impl Endpoint {
    /// Admission's thresholds for requests from `peer`: the per-peer ones grow with the
    /// sessions configured with that address (a hub with 250 sessions from one peer address
    /// to 250 of our addresses legitimately has 250 IKE_SA_INITs from it at once, issue 16);
    /// the gateway-wide ones bound them all.
    fn limits(&self, peer: IpAddr) -> Limits {
        let k = self.sessions_with_peer(peer).max(1);
        let scale = |x: u32| x.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX));
        Limits {
            half_open_max: self.cfg.half_open_max,
            peer_half_open_max: self.cfg.peer_half_open_max.saturating_mul(k),
            cookie_half_open: self.cfg.cookie_threshold,
            cookie_peer_half_open: self.cfg.cookie_peer_threshold.saturating_mul(k),
            cookie_init_rate: self.cfg.cookie_init_rate,
            cookie_peer_init_rate: scale(self.cfg.cookie_peer_init_rate),
            cookie_dh_rate: self.cfg.cookie_dh_rate,
            cookie_peer_dh_rate: scale(self.cfg.cookie_peer_dh_rate),
        }
    }

    /// An IKE_SA_INIT request. Nothing here changes a session's status, alarm or retry
    /// timer: the request is unauthenticated. Refusals are answered as §2.6, §1.2 and
    /// §2.21.1 say and counted ([`DropCause`]).
    pub(crate) fn init_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
        msg: &Message,
        rng: &mut dyn Random,
    ) {
        let header = msg.header;
        let peer = remote.ip();
        // Which session: the one configured between these two addresses. Anything else
        // costs a hash lookup and a count.
        let Some(id) = self.by_addr.get(&(local.ip(), peer)).cloned() else {
            self.admission.dropped(DropCause::NotConfigured, peer, None);
            return;
        };
        if raw.len() > INIT_REQUEST_MAX {
            self.admission.dropped(DropCause::TooLarge, peer, None);
            return;
        }
        // A retransmission of a request we answered: answer again (§2.1), but not faster
        // than a real initiator retransmits, so a capture replayed from many ports is not
        // reflected to the address it claims.
        if let Some(&h) = self.by_init.get(&(peer, header.spi_i)) {
            if let Some(sa) = self.sas.get_mut(&h) {
                let spaced = sa
                    .init_answered
                    .is_none_or(|t| now >= t + RETRANSMIT_ANSWER_SPACING);
                if sa.init_request == raw && !sa.init_response.is_empty() && spaced {
                    sa.init_answered = Some(now);
                    let data = sa.init_response.clone();
                    self.send(local, remote, data);
                } else {
                    self.admission.dropped(DropCause::ReplayedInit, peer, None);
                }
            }
            return;
        }
        self.admission.note_init(now, peer);
        let limits = self.limits(peer);
        if let Some(cause) = self.admission.over_limit(peer, &limits) {
            self.admission.dropped(cause, peer, None);
            return;
        }
        if self.sas.len() >= self.cfg.ike_sas_max {
            self.admission.dropped(DropCause::HalfOpenLimit, peer, None);
            return;
        }
        let refuse = |ep: &mut Endpoint, n: NotifyType, data: Vec<u8>| {
            let mut h2 = header;
            h2.flags = ike_wire::flags::RESPONSE;
            h2.spi_r = [0; 8];
            let bytes = unprotected(h2, vec![Payload::Notify(Notify::new(n, data))]);
            ep.send(local, remote, bytes);
        };
        let Some(ni) = nonce_of(&msg.payloads) else {
            self.admission.dropped(DropCause::Malformed, peer, None);
            refuse(self, NotifyType::INVALID_SYNTAX, Vec::new());
            return;
        };
        // COOKIE (§2.6): under load, only peers that can receive at their address get state
        // or DH work.
        if self.admission.cookie_required(now, peer, &limits) {
            let offered = match msg.payloads.first() {
                Some(Payload::Notify(n)) if n.notify_type == NotifyType::COOKIE => {
                    Some(n.data.as_slice())
                }
                _ => None,
            };
            let valid = offered.is_some_and(|c| {
                self.admission
                    .cookie_valid(now, c, peer, &header.spi_i, &ni, rng)
            });
            if !valid {
                self.admission
                    .dropped(DropCause::CookieRequired, peer, None);
                let cookie = self.admission.cookie(now, peer, &header.spi_i, &ni, rng);
                refuse(self, NotifyType::COOKIE, cookie);
                return;
            }
        }
        let (Some(offer), Some((ke_group, ke_data))) = (sa_of(&msg.payloads), ke_of(&msg.payloads))
        else {
            self.admission.dropped(DropCause::Malformed, peer, None);
            refuse(self, NotifyType::INVALID_SYNTAX, Vec::new());
            return;
        };
        let Some(cfg) = self.session_config(&id).cloned() else {
            return;
        };
        let Some((suite, number)) = select_ike(offer, &cfg.ike) else {
            // What the peer offered goes into the count's example (for the operator), never
            // into the session's status: anyone could have sent it.
            let example = format!(
                "offered {}; this session allows {}",
                describe_offer(offer),
                describe_ike_allowed(&cfg.ike)
            );
            self.admission
                .dropped(DropCause::NoProposalChosen, peer, Some(example));
            refuse(self, NotifyType::NO_PROPOSAL_CHOSEN, Vec::new());
            return;
        };
        if ke_group != suite.group.id() {
            // §1.2: tell the initiator which group we want.
            self.admission.dropped(DropCause::WrongKeGroup, peer, None);
            refuse(
                self,
                NotifyType::INVALID_KE_PAYLOAD,
                suite.group.id().to_be_bytes().to_vec(),
            );
            return;
        }
        // RFC 6989: validate the peer's public value before any DH is computed.
        if suite.group.validate_peer_public(ke_data).is_err() {
            self.admission.dropped(DropCause::InvalidKe, peer, None);
            refuse(self, NotifyType::INVALID_SYNTAX, Vec::new());
            return;
        }
        if self.crypto_busy() {
            self.admission.dropped(DropCause::CryptoBusy, peer, None);
            return;
        }
        self.admission.note_dh(now, peer);
        let mut sa = IkeSa::new(id, false, local, remote, now);
        sa.spi_i = header.spi_i;
        sa.spi_r = loop {
            let s = random::ike_spi(rng);
            if !self.by_spi.contains_key(&s) {
                break s;
            }
        };
        sa.ni = ni;
        sa.nr = random::vec(rng, NONCE_LEN);
        sa.suite = Some(suite);
        sa.init_proposal = number;
        // NAT detection on the request's hashes (SPIr was zero then).
        sa.udp_encapsulation = cfg.force_udp_encapsulation
            || nat_detected(&msg.payloads, &sa.spi_i, &[0; 8], local, remote);
        crate::exchanges::note_capabilities(&mut sa, &msg.payloads);
        sa.init_request = raw.to_vec();
        sa.half_open_deadline = Some(now + self.cfg.half_open_timeout);
        let randoms = crate::crypto_jobs::keygen_randoms(suite.group, rng);
        let h = self.alloc_handle();
        let work = Work::RespondInit {
            handle: h,
            group: suite.group,
            randoms,
            peer_ke: ke_data.to_vec(),
            suite,
            ni: sa.ni.clone(),
            nr: sa.nr.clone(),
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
        };
        self.by_init.insert((peer, header.spi_i), h);
        self.register_sa(h, sa);
        self.admission.half_open_added(peer);
        self.submit_crypto(now, work, rng);
    }

    /// A key-exchange computation finished: answer the IKE_SA_INIT it was for, if that
    /// half-open SA still exists.
    pub(crate) fn crypto_done(&mut self, now: Instant, done: CryptoDone, rng: &mut dyn Random) {
        let job = done.id;
        match done.result {
            Done::KeyExchange { handle, dh, shared } => {
                self.kex_done(now, handle, job, dh, shared, rng)
            }
            Done::RespondInit { handle, keys } => self.init_computed(now, handle, keys, rng),
            Done::Keygen { handle, dh } => self.keygen_done(now, handle, dh, rng),
            Done::InitiatorKeys { handle, keys } => {
                self.initiator_keys_done(now, handle, keys, rng)
            }
            Done::VerifyPeer {
                handle,
                stage,
                result,
            } => self.peer_verified(now, handle, stage, result, rng),
            Done::SignAuth {
                handle,
                stage,
                result,
            } => self.auth_signed(now, handle, stage, result, rng),
        }
    }

    fn init_computed(
        &mut self,
        now: Instant,
        h: u64,
        keys: Option<(Vec<u8>, ike_crypto::IkeKeys)>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else {
            return; // expired or removed while computing
        };
        if sa.state != SaState::InitDone || sa.keys.is_some() {
            debug_assert!(false, "a key exchange finished twice for IKE SA {h}");
            return;
        }
        let Some((public, keys)) = keys else {
            // The KE passed validation, so this is our failure, not the peer's: forget the
            // half-open SA; the peer's retransmission starts over.
            self.remove_sa(h);
            return;
        };
        let Some(suite) = sa.suite else { return };
        let cfg = self.session_config(&sa.session);
        let force = cfg.is_some_and(|c| c.force_udp_encapsulation);
        // A certificate session asks for the peer's certificate here already (§3.7), as
        // strongSwan does.
        let certreq = cfg
            .and_then(|c| c.certificate.as_ref())
            .map(|c| crate::cert_auth::certreq_payload(c));
        let mut payloads = vec![
            Payload::Sa(vec![suite.to_proposal(sa.init_proposal, Vec::new())]),
            Payload::Ke {
                group: suite.group.id(),
                data: public,
            },
            Payload::Nonce(sa.nr.clone()),
        ];
        payloads.extend(nat_notifies(
            &sa.spi_i, &sa.spi_r, sa.local, sa.remote, force, rng,
        ));
        // Announced whether or not the peer did: harmless, and what the peer learns from it
        // is only used if it announced too (RFC 7383 §2.3).
        payloads.extend(crate::exchanges::capability_notifies());
        payloads.extend(certreq);
        let bytes = unprotected(sa.header(ExchangeType::IKE_SA_INIT, 0, true), payloads);
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        sa.keys = Some(keys);
        sa.init_response = bytes.clone();
        sa.init_answered = Some(now);
        self.send_response(h, 0, vec![bytes]);
    }
}
