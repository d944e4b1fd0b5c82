//! IKE_SA_INIT as initiator (RFC 7296 §1.2): our request, COOKIE and INVALID_KE_PAYLOAD
//! retries, the response and the IKE SA keys (the Diffie-Hellman work as crypto jobs).

use std::net::SocketAddr;
use std::time::Instant;

use ike_crypto::DhGroup;
use ike_wire::{find_notify, ExchangeType, Message, Notify, NotifyType, Payload};

use crate::config::SessionId;
use crate::endpoint::{Endpoint, IKE_PORT, NAT_T_PORT};
use crate::events::FailReason;
use crate::proposal::{accept_ike, describe_ike_allowed, ike_proposals};
use crate::random::{self, Random};
use crate::sa::{IkeSa, RequestKind, SaState};

use crate::exchanges::{
    capability_notifies, first_error, ke_of, nat_detected, nat_notifies, nonce_of,
    note_capabilities, notify_name, reason_for, sa_of, unprotected, with_port, NONCE_LEN,
};

impl Endpoint {
    // ============================== IKE_SA_INIT ==============================

    pub(crate) fn start_init(&mut self, now: Instant, id: &SessionId, rng: &mut dyn Random) {
        let Some(cfg) = self.session_config(id).cloned() else {
            return;
        };
        if self.sas.len() >= self.cfg.ike_sas_max {
            return;
        }
        let Some(group) = cfg.ike.first().and_then(|p| p.groups.first()).copied() else {
            self.set_down(
                now,
                id,
                FailReason::ConfigurationFailed,
                Some("the IKE profile allows no DH group".into()),
            );
            return;
        };
        let local = SocketAddr::new(cfg.local, IKE_PORT);
        let remote = SocketAddr::new(cfg.remote, IKE_PORT);
        let mut sa = IkeSa::new(id.clone(), true, local, remote, now);
        sa.spi_i = loop {
            let s = random::ike_spi(rng);
            if !self.by_spi.contains_key(&s) {
                break s;
            }
        };
        sa.ni = random::vec(rng, NONCE_LEN);
        let h = self.alloc_handle();
        self.register_sa(h, sa);
        self.update_status(now, id);
        // The key pair is computed as a job; IKE_SA_INIT goes out when it is done.
        self.submit_keygen(now, h, group, rng);
    }

    /// Compute a DH key pair for an initiator's IKE_SA_INIT (see [`crate::CryptoJob`]).
    pub(crate) fn submit_keygen(
        &mut self,
        now: Instant,
        h: u64,
        group: DhGroup,
        rng: &mut dyn Random,
    ) {
        let randoms = crate::crypto_jobs::keygen_randoms(group, rng);
        let work = crate::crypto_jobs::Work::Keygen {
            handle: h,
            group,
            randoms,
        };
        self.submit_crypto(now, work, rng);
    }

    /// An initiator's key pair is ready: send IKE_SA_INIT.
    pub(crate) fn keygen_done(
        &mut self,
        now: Instant,
        h: u64,
        dh: Option<ike_crypto::DhPrivate>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return; // removed meanwhile (session changed or deleted)
        };
        if sa.state != SaState::InitSent || sa.outstanding.is_some() || sa.dh.is_some() {
            return;
        }
        let Some(dh) = dh else {
            let session = sa.session.clone();
            self.remove_sa(h);
            self.set_down(
                now,
                &session,
                FailReason::ConfigurationFailed,
                Some("no Diffie-Hellman key pair could be generated; this is a bug, please report it".into()),
            );
            return;
        };
        sa.dh = Some(dh);
        self.send_init(now, h, rng);
    }

    pub(crate) fn send_init(&mut self, now: Instant, h: u64, rng: &mut dyn Random) {
        let Some(sa) = self.sas.get(&h) else { return };
        let Some(cfg) = self.session_config(&sa.session).cloned() else {
            return;
        };
        let Some(dh) = sa.dh.as_ref() else { return };
        let mut payloads = Vec::new();
        if let Some(c) = &sa.cookie {
            payloads.push(Payload::Notify(Notify::new(NotifyType::COOKIE, c.clone())));
        }
        payloads.push(Payload::Sa(ike_proposals(&cfg.ike, &[])));
        payloads.push(Payload::Ke {
            group: dh.group().id(),
            data: dh.public_value(),
        });
        payloads.push(Payload::Nonce(sa.ni.clone()));
        payloads.extend(nat_notifies(
            &sa.spi_i,
            &[0; 8],
            sa.local,
            sa.remote,
            cfg.force_udp_encapsulation,
            rng,
        ));
        payloads.extend(capability_notifies());
        let header = sa.header(ExchangeType::IKE_SA_INIT, 0, false);
        let bytes = unprotected(header, payloads);
        if let Some(sa) = self.sas.get_mut(&h) {
            sa.init_request = bytes.clone();
        }
        self.send_request(now, h, 0, vec![bytes], RequestKind::Init);
    }

    pub(crate) fn init_response(
        &mut self,
        now: Instant,
        h: u64,
        raw: &[u8],
        msg: Message,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        let session = sa.session.clone();
        let Some(cfg) = self.sessions.get(&session).map(|s| s.config.clone()) else {
            return;
        };
        let retries_left = sa.init_attempts < self.cfg.init_retries_max;
        // COOKIE: retry with it in front (§2.6).
        if let Some(c) = find_notify(&msg.payloads, NotifyType::COOKIE) {
            if retries_left && !c.data.is_empty() && c.data.len() <= 64 {
                sa.cookie = Some(c.data.clone());
                sa.init_attempts += 1;
                sa.outstanding = None;
                self.send_init(now, h, rng);
            }
            return;
        }
        if let Some(n) = find_notify(&msg.payloads, NotifyType::INVALID_KE_PAYLOAD) {
            let wanted = (n.data.len() == 2)
                .then(|| crate::be_u16(&n.data))
                .flatten();
            let allowed = wanted
                .and_then(DhGroup::from_id)
                .filter(|g| cfg.ike.iter().any(|p| p.groups.contains(g)));
            match allowed {
                Some(g) if retries_left && sa.dh.as_ref().is_none_or(|d| d.group() != g) => {
                    sa.dh = None;
                    sa.init_attempts += 1;
                    sa.outstanding = None;
                    self.submit_keygen(now, h, g, rng);
                }
                _ => {
                    self.remove_sa(h);
                    let alarm = format!(
                        "the peer asked for DH group {}, which this session's IKE profile does not allow ({}): add it to the IKE profile or change the peer",
                        wanted.map_or("?".into(), |g| format!("GROUP{g}")),
                        describe_ike_allowed(&cfg.ike)
                    );
                    self.fail(now, &session, FailReason::NoProposalChosen, alarm, rng);
                }
            }
            return;
        }
        if let Some(err) = first_error(&msg.payloads) {
            self.remove_sa(h);
            let alarm = if err == NotifyType::NO_PROPOSAL_CHOSEN {
                format!(
                    "the peer answered NO_PROPOSAL_CHOSEN to our IKE proposal {}: none of it is acceptable to the peer; align the IKE profile with the peer",
                    describe_ike_allowed(&cfg.ike)
                )
            } else {
                format!("the peer refused IKE_SA_INIT with {}", notify_name(err))
            };
            self.fail(now, &session, reason_for(err), alarm, rng);
            return;
        }
        let bad = |ep: &mut Endpoint, why: &str, rng: &mut dyn Random| {
            ep.remove_sa(h);
            ep.fail(
                now,
                &session,
                FailReason::InvalidSyntax,
                format!("the peer's IKE_SA_INIT response is invalid: {why}"),
                rng,
            );
        };
        let Some(suite) = sa_of(&msg.payloads).and_then(|s| accept_ike(s, &cfg.ike)) else {
            bad(self, "it chose an IKE proposal we did not offer", rng);
            return;
        };
        let (Some((group, ke)), Some(nr)) = (ke_of(&msg.payloads), nonce_of(&msg.payloads)) else {
            bad(self, "KE or Nonce missing", rng);
            return;
        };
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        // Taken: a second response (a retransmission's answer) finds none and is ignored.
        let Some(dh) = sa.dh.take() else { return };
        if group != suite.group.id() || dh.group() != suite.group || msg.header.spi_r == [0; 8] {
            bad(self, "its KE group does not match the chosen proposal", rng);
            return;
        }
        if suite.group.validate_peer_public(ke).is_err() {
            bad(self, "its DH public value is invalid", rng);
            return;
        }
        sa.spi_r = msg.header.spi_r;
        sa.nr = nr;
        sa.suite = Some(suite);
        note_capabilities(sa, &msg.payloads);
        let work = crate::crypto_jobs::Work::InitiatorKeys {
            handle: h,
            dh,
            peer_ke: ke.to_vec(),
            suite,
            ni: sa.ni.clone(),
            nr: sa.nr.clone(),
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
        };
        sa.init_response = raw.to_vec();
        sa.next_request_id = 1;
        let nat = nat_detected(&msg.payloads, &sa.spi_i, &sa.spi_r, sa.local, sa.remote);
        if nat || cfg.force_udp_encapsulation {
            // §2.23: float to 4500 for everything after IKE_SA_INIT.
            sa.udp_encapsulation = true;
            sa.local = with_port(sa.local, NAT_T_PORT);
            sa.remote = with_port(sa.remote, NAT_T_PORT);
        }
        // IKE_AUTH goes out when the keys are computed (see [`crate::CryptoJob`]).
        self.submit_crypto(now, work, rng);
    }

    /// The initiator's IKE SA keys are computed: send IKE_AUTH.
    pub(crate) fn initiator_keys_done(
        &mut self,
        now: Instant,
        h: u64,
        keys: Option<ike_crypto::IkeKeys>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        if sa.state != SaState::InitSent || sa.keys.is_some() {
            return;
        }
        let Some(keys) = keys else {
            let session = sa.session.clone();
            self.remove_sa(h);
            self.fail(
                now,
                &session,
                FailReason::InvalidSyntax,
                "the peer's IKE_SA_INIT response is invalid: its DH public value is invalid".into(),
                rng,
            );
            return;
        };
        sa.keys = Some(keys);
        self.send_auth(now, h, rng);
    }
}
