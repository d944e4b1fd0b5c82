//! IKE_AUTH (RFC 7296 §1.2, §2.15): both sides authenticate, with a pre-shared key or
//! certificates (see [`crate::cert_auth`]), and the first Child SA is created.

use std::time::{Duration, Instant};

use ike_crypto::psk_auth;
use ike_wire::{
    find_notify, AuthMethod, ExchangeType, Header, Notify, NotifyType, Payload, TrafficSelector,
};

use crate::cert_auth::{cert_payloads, certreq_payload};
use crate::config::{Identity, SessionConfig};
use crate::endpoint::Endpoint;
use crate::events::{Event, FailReason};
use crate::exchanges::{
    auth_of, describe_ts, first_error, id_from, id_payload, narrow, notify_name, our_selectors,
    reason_for, sa_of, ts_of,
};
use crate::peer_auth::{PeerAuth, PendingAuth, VerifyStage};
use crate::proposal::{
    accept_esp, describe_esp_allowed, describe_offer, esp_proposals, select_esp, EspSuite,
};
use crate::random::Random;
use crate::sa::{IkeSa, RequestKind, SaState};
use crate::ProtoError;

/// Our AUTH payload: ready (a PSK MAC), or octets to sign with the site certificate's key.
enum OurAuth {
    Ready((AuthMethod, Vec<u8>)),
    Sign(Vec<u8>),
}

/// Which IKE_AUTH message a signature job is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AuthStage {
    /// Our IKE_AUTH request, with the first Child SA's inbound SPI.
    Initiator { spi_in: u32 },
    /// Our IKE_AUTH response (the request waits in [`IkeSa::auth_pending`]).
    Responder,
}

impl Endpoint {
    pub(crate) fn send_auth(&mut self, now: Instant, h: u64, rng: &mut dyn Random) {
        let Some(sa) = self.sas.get(&h) else { return };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        let spi_in = self.new_child_spi(rng);
        let Some(sa) = self.sas.get(&h) else { return };
        match self.our_auth(now, &cfg, sa) {
            Ok(OurAuth::Ready(auth)) => self.send_auth_with(now, h, spi_in, auth, rng),
            // The signature is public-key work: off the event loop (a CryptoJob), then
            // `auth_signed` continues here.
            Ok(OurAuth::Sign(octets)) => {
                let Some(cert) = cfg.certificate.clone() else {
                    return;
                };
                let peer_hashes = sa.peer_hashes.clone();
                let work = crate::crypto_jobs::Work::SignAuth {
                    handle: h,
                    auth: cert,
                    peer_hashes,
                    octets,
                    stage: AuthStage::Initiator { spi_in },
                };
                self.submit_crypto(now, work, rng);
            }
            Err((reason, alarm)) => {
                self.remove_sa(h);
                self.fail(now, &session, reason, alarm, rng);
            }
        }
    }

    /// The initiator's IKE_AUTH request, with our AUTH payload computed.
    fn send_auth_with(
        &mut self,
        now: Instant,
        h: u64,
        spi_in: u32,
        auth: (AuthMethod, Vec<u8>),
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        let others = self.session_sas(&session).len() > 1;
        let mut inner = vec![id_payload(&cfg.local_id, true)];
        if let Some(c) = &cfg.certificate {
            inner.extend(cert_payloads(c));
        }
        if !others {
            // We have no other IKE SA with this peer: it may drop stale ones (§2.4).
            inner.push(Payload::Notify(Notify::new(
                NotifyType::INITIAL_CONTACT,
                Vec::new(),
            )));
        }
        match &cfg.certificate {
            // Ask for the peer's certificate (strongSwan sends it only when asked). IDr is
            // optional (§3.5) and left out: a peer's certificate identity is checked
            // against its certificate, and a wrong guess would make it refuse us.
            Some(c) => inner.push(certreq_payload(c)),
            None => inner.push(id_payload(&cfg.remote_id, false)),
        }
        inner.push(Payload::Auth {
            method: auth.0,
            data: auth.1,
        });
        inner.push(Payload::Sa(esp_proposals(&cfg.esp, spi_in, false)));
        inner.push(Payload::ts_i(our_selectors(&cfg)));
        inner.push(Payload::ts_r(our_selectors(&cfg)));
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        sa.state = SaState::AuthSent;
        let Ok(bytes) = sa.seal_message(ExchangeType::IKE_AUTH, 1, false, &inner, rng) else {
            return;
        };
        self.send_request(now, h, 1, bytes, RequestKind::Auth { spi_in });
    }

    pub(crate) fn auth_request(
        &mut self,
        now: Instant,
        h: u64,
        header: Header,
        inner: Vec<Payload>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        // A retransmission while the peer's certificate or our signature is being computed
        // is answered when they are.
        if sa.state != SaState::InitDone || header.message_id != 1 || sa.auth_pending.is_some() {
            return;
        }
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        if sa.suite.is_none() || sa.keys.is_none() {
            return;
        }
        let deny = |ep: &mut Endpoint,
                    reason: FailReason,
                    notify: NotifyType,
                    alarm: String,
                    rng: &mut dyn Random| {
            ep.respond_error(h, header, notify, Vec::new(), rng);
            ep.remove_sa(h);
            ep.fail(now, &session, reason, alarm, rng);
        };
        let Some(idi) = id_from(&inner, true) else {
            deny(
                self,
                FailReason::InvalidSyntax,
                NotifyType::INVALID_SYNTAX,
                "the peer's IKE_AUTH request has no IDi".into(),
                rng,
            );
            return;
        };
        if !cfg.remote_id.matches(&idi) {
            let alarm = format!(
                "the peer identified itself as {} ({}); this session expects remote ID {} ({}): set the session's remote ID to the peer's ID, or change the peer's local ID",
                idi.display(),
                idi.id_type,
                cfg.remote_id.display(),
                cfg.remote_id.id_type
            );
            deny(
                self,
                FailReason::AuthenticationFailed,
                NotifyType::AUTHENTICATION_FAILED,
                alarm,
                rng,
            );
            return;
        }
        if let Some(idr) = id_from(&inner, false) {
            if !cfg.local_id.matches(&idr) {
                let alarm = format!(
                    "the peer asked for our ID {} ({}), but this gateway's local ID is {} ({}): set the peer's remote ID to ours",
                    idr.display(),
                    idr.id_type,
                    cfg.local_id.display(),
                    cfg.local_id.id_type
                );
                deny(
                    self,
                    FailReason::AuthenticationFailed,
                    NotifyType::AUTHENTICATION_FAILED,
                    alarm,
                    rng,
                );
                return;
            }
        }
        let Some((method, auth)) = auth_of(&inner) else {
            deny(
                self,
                FailReason::InvalidSyntax,
                NotifyType::INVALID_SYNTAX,
                "the peer's IKE_AUTH request has no AUTH".into(),
                rng,
            );
            return;
        };
        let Some(sa) = self.sas.get(&h) else { return };
        match self.check_peer_auth(now, &cfg, sa, &inner, &idi, method, auth) {
            Err((reason, alarm)) => {
                deny(self, reason, NotifyType::AUTHENTICATION_FAILED, alarm, rng)
            }
            Ok(PeerAuth::Verified) => self.respond_authenticated(now, h, header, inner, idi, rng),
            Ok(PeerAuth::Verify(check)) => {
                let pending = PendingAuth {
                    header,
                    inner,
                    peer_id: idi,
                };
                self.verify_peer_later(now, h, pending, check, VerifyStage::Responder, rng);
            }
        }
    }

    /// The peer's IKE_AUTH request is authenticated: our AUTH, RealMessage2 | NonceIData |
    /// prf(SK_pr, IDr') (§2.15), then the answer.
    pub(crate) fn respond_authenticated(
        &mut self,
        now: Instant,
        h: u64,
        header: Header,
        inner: Vec<Payload>,
        idi: Identity,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        match self.our_auth(now, &cfg, sa) {
            Ok(OurAuth::Ready(auth)) => self.auth_reply(now, h, inner, idi, auth, rng),
            Ok(OurAuth::Sign(octets)) => {
                let (Some(cert), Some(sa)) = (cfg.certificate.clone(), self.sas.get_mut(&h)) else {
                    return;
                };
                let peer_hashes = sa.peer_hashes.clone();
                sa.auth_pending = Some(Box::new(PendingAuth {
                    header,
                    inner,
                    peer_id: idi,
                }));
                let work = crate::crypto_jobs::Work::SignAuth {
                    handle: h,
                    auth: cert,
                    peer_hashes,
                    octets,
                    stage: AuthStage::Responder,
                };
                self.submit_crypto(now, work, rng);
            }
            Err((reason, alarm)) => {
                self.respond_error(
                    h,
                    header,
                    NotifyType::AUTHENTICATION_FAILED,
                    Vec::new(),
                    rng,
                );
                self.remove_sa(h);
                self.fail(now, &session, reason, alarm, rng);
            }
        }
    }

    /// The responder's IKE_AUTH response, with our AUTH payload computed: the first Child
    /// SA is negotiated and the IKE SA is established.
    #[allow(clippy::too_many_arguments)]
    fn auth_reply(
        &mut self,
        now: Instant,
        h: u64,
        inner: Vec<Payload>,
        idi: Identity,
        our_auth: (AuthMethod, Vec<u8>),
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        let initial_contact = find_notify(&inner, NotifyType::INITIAL_CONTACT).is_some();
        let mut out = vec![id_payload(&cfg.local_id, false)];
        if let Some(c) = &cfg.certificate {
            out.extend(cert_payloads(c));
        }
        out.push(Payload::Auth {
            method: our_auth.0,
            data: our_auth.1,
        });
        let child = self.negotiate_first_child(&cfg, &inner, rng);
        let mut child_failure = None;
        match &child {
            Ok((suite, spi_in, spi_out, number, ts)) => {
                out.push(Payload::Sa(vec![suite.to_proposal(*number, *spi_in)]));
                out.push(Payload::ts_i(ts.clone()));
                out.push(Payload::ts_r(ts.clone()));
                let _ = spi_out;
            }
            Err((n, alarm)) => {
                out.push(Payload::Notify(Notify::new(*n, Vec::new())));
                child_failure = Some((reason_for(*n), alarm.clone()));
            }
        }
        let (ike_lifetime, child_lifetime) = (cfg.ike_lifetime, cfg.child_lifetime);
        let (rekey_at, expire_at) = self.rekey_time(now, ike_lifetime, rng);
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        debug_assert_eq!(sa.state, SaState::InitDone, "IKE_AUTH answered twice");
        sa.state = SaState::Established;
        sa.half_open_deadline = None;
        sa.established = Some(now);
        sa.rekey_at = Some(rekey_at);
        sa.expire_at = Some(expire_at);
        sa.remote_id = Some(idi.display());
        let (peer, spi_i) = (sa.remote.ip(), sa.spi_i);
        self.admission.half_open_removed(peer);
        self.unindex_init(h, peer, spi_i);
        let Ok(bytes) = self
            .sas
            .get_mut(&h)
            .map_or(Err(ProtoError::Internal("gone")), |sa| {
                sa.seal_message(ExchangeType::IKE_AUTH, 1, true, &out, rng)
            })
        else {
            return;
        };
        self.send_response(h, 1, bytes);
        if let Ok((suite, spi_in, spi_out, _, ts)) = child {
            let Some((ni, nr)) = self.sas.get(&h).map(|sa| (sa.ni.clone(), sa.nr.clone())) else {
                return;
            };
            self.install_child(
                now,
                h,
                suite,
                spi_in,
                spi_out,
                None,
                &ni,
                &nr,
                false,
                ts,
                child_lifetime,
                rng,
            );
        }
        self.established(now, h, initial_contact, child_failure, rng);
    }

    /// Choose the first Child SA's proposal and selectors from an IKE_AUTH request.
    #[allow(clippy::type_complexity)]
    fn negotiate_first_child(
        &mut self,
        cfg: &SessionConfig,
        inner: &[Payload],
        rng: &mut dyn Random,
    ) -> Result<(EspSuite, u32, u32, u8, Vec<TrafficSelector>), (NotifyType, String)> {
        let Some(offer) = sa_of(inner) else {
            return Err((
                NotifyType::NO_PROPOSAL_CHOSEN,
                "the peer's IKE_AUTH request proposes no Child SA".into(),
            ));
        };
        let Some((suite, number, spi_out)) = select_esp(offer, &cfg.esp, false) else {
            return Err((
                NotifyType::NO_PROPOSAL_CHOSEN,
                format!(
                    "peer proposed ESP {}; this session allows {}: align the IPsec (tunnel) profile with the peer's ESP proposal",
                    describe_offer(offer),
                    describe_esp_allowed(&cfg.esp, false)
                ),
            ));
        };
        let (Some(ts_i), Some(ts_r)) = ts_of(inner) else {
            return Err((
                NotifyType::TS_UNACCEPTABLE,
                "the peer sent no traffic selectors".into(),
            ));
        };
        let Some(ts) = narrow(cfg, ts_i, ts_r) else {
            return Err((
                NotifyType::TS_UNACCEPTABLE,
                format!(
                    "peer proposed traffic selectors {} === {}; a route-based session needs {} (set the peer's local and remote traffic selectors to 0.0.0.0/0{})",
                    describe_ts(ts_i),
                    describe_ts(ts_r),
                    describe_ts(&our_selectors(cfg)),
                    if cfg.ipv6 { " and ::/0" } else { "" }
                ),
            ));
        };
        let spi_in = self.new_child_spi(rng);
        Ok((suite, spi_in, spi_out, number, ts))
    }

    pub(crate) fn auth_response(
        &mut self,
        now: Instant,
        h: u64,
        header: Header,
        inner: Vec<Payload>,
        spi_in: u32,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        if sa.suite.is_none() || sa.keys.is_none() {
            return;
        }
        let give_up =
            |ep: &mut Endpoint, reason: FailReason, alarm: String, rng: &mut dyn Random| {
                ep.remove_sa(h);
                ep.fail(now, &session, reason, alarm, rng);
            };
        let Some((method, auth)) = auth_of(&inner) else {
            let (reason, alarm) = match first_error(&inner) {
                Some(NotifyType::AUTHENTICATION_FAILED) => (
                    FailReason::AuthenticationFailed,
                    match &cfg.certificate {
                        None => format!(
                            "the peer rejected our authentication (AUTHENTICATION_FAILED): check that both sides use the same pre-shared key and that the peer expects our ID {} ({}) and has our address {} as its peer",
                            cfg.local_id.display(),
                            cfg.local_id.id_type,
                            cfg.local
                        ),
                        Some(c) => format!(
                            "the peer rejected our authentication (AUTHENTICATION_FAILED): check that the peer trusts the CA that issued our certificate {}, that it expects our ID {} ({}) and has our address {} as its peer",
                            c.credential.subject_display(),
                            cfg.local_id.display(),
                            cfg.local_id.id_type,
                            cfg.local
                        ),
                    },
                ),
                Some(n) => (reason_for(n), format!("the peer refused IKE_AUTH with {}", notify_name(n))),
                None => (FailReason::InvalidSyntax, "the peer's IKE_AUTH response has no AUTH payload".into()),
            };
            give_up(self, reason, alarm, rng);
            return;
        };
        let Some(idr) = id_from(&inner, false) else {
            give_up(
                self,
                FailReason::InvalidSyntax,
                "the peer's IKE_AUTH response has no IDr".into(),
                rng,
            );
            return;
        };
        if !cfg.remote_id.matches(&idr) {
            let alarm = format!(
                "the peer identified itself as {} ({}); this session expects remote ID {} ({}): set the session's remote ID to the peer's ID",
                idr.display(),
                idr.id_type,
                cfg.remote_id.display(),
                cfg.remote_id.id_type
            );
            self.delete_ike_now(h, rng);
            give_up(self, FailReason::AuthenticationFailed, alarm, rng);
            return;
        }
        let Some(sa) = self.sas.get(&h) else { return };
        match self.check_peer_auth(now, &cfg, sa, &inner, &idr, method, auth) {
            Err((reason, alarm)) => {
                self.delete_ike_now(h, rng);
                give_up(self, reason, alarm, rng);
            }
            Ok(PeerAuth::Verified) => self.auth_response_verified(now, h, inner, idr, spi_in, rng),
            Ok(PeerAuth::Verify(check)) => {
                let pending = PendingAuth {
                    header,
                    inner,
                    peer_id: idr,
                };
                let stage = VerifyStage::Initiator { spi_in };
                self.verify_peer_later(now, h, pending, check, stage, rng);
            }
        }
    }

    /// The peer's IKE_AUTH response is authenticated: the IKE SA is established, with the
    /// first Child SA if the peer created it.
    pub(crate) fn auth_response_verified(
        &mut self,
        now: Instant,
        h: u64,
        inner: Vec<Payload>,
        idr: Identity,
        spi_in: u32,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        let (rekey_at, expire_at) = self.rekey_time(now, cfg.ike_lifetime, rng);
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        sa.state = SaState::Established;
        sa.established = Some(now);
        sa.rekey_at = Some(rekey_at);
        sa.expire_at = Some(expire_at);
        sa.remote_id = Some(idr.display());
        // The first Child SA.
        let mut child_failure = None;
        match (sa_of(&inner).and_then(|s| accept_esp(s, &cfg.esp, false)), ts_of(&inner)) {
            (Some((suite, spi_out)), (Some(ts_i), Some(ts_r))) => match narrow(&cfg, ts_i, ts_r) {
                Some(ts) => {
                    let (ni, nr) = (sa.ni.clone(), sa.nr.clone());
                    self.install_child(now, h, suite, spi_in, spi_out, None, &ni, &nr, true, ts, cfg.child_lifetime, rng);
                }
                None => {
                    child_failure = Some((
                        FailReason::TsUnacceptable,
                        format!(
                            "the peer narrowed the traffic selectors to {} === {}; a route-based session needs {}",
                            describe_ts(ts_i),
                            describe_ts(ts_r),
                            describe_ts(&our_selectors(&cfg))
                        ),
                    ))
                }
            },
            _ => {
                let n = first_error(&inner).unwrap_or(NotifyType::NO_PROPOSAL_CHOSEN);
                let alarm = if n == NotifyType::NO_PROPOSAL_CHOSEN {
                    format!(
                        "the peer answered NO_PROPOSAL_CHOSEN to our ESP proposal {}: align the IPsec (tunnel) profile with the peer's ESP proposal",
                        describe_esp_allowed(&cfg.esp, false)
                    )
                } else if n == NotifyType::TS_UNACCEPTABLE {
                    format!(
                        "the peer answered TS_UNACCEPTABLE to our traffic selectors {}: configure the peer for a route-based tunnel (0.0.0.0/0 === 0.0.0.0/0)",
                        describe_ts(&our_selectors(&cfg))
                    )
                } else {
                    format!("the peer did not create the Child SA: {}", notify_name(n))
                };
                child_failure = Some((reason_for(n), alarm));
            }
        }
        self.established(now, h, false, child_failure, rng);
    }

    /// An IKE SA became usable: resolve duplicates with the same peer and update status.
    fn established(
        &mut self,
        now: Instant,
        h: u64,
        initial_contact: bool,
        child_failure: Option<(FailReason, String)>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        let session = sa.session.clone();
        // A Child SA that failed in IKE_AUTH is tried again later, not at once.
        sa.child_retry_at = Some(now + Duration::from_secs(30));
        let (created, spi_i) = (sa.created, sa.spi_i);
        let others: Vec<u64> = self
            .session_sas(&session)
            .into_iter()
            .filter(|o| {
                *o != h
                    && self
                        .sas
                        .get(o)
                        .is_some_and(|sa| sa.state == SaState::Established && !sa.doomed)
            })
            .collect();
        for o in others {
            // INITIAL_CONTACT (§2.4): the peer has no other IKE SA with us, so one we
            // established before this negotiation began is stale (the peer restarted): forget
            // it without a word. One established meanwhile is not: the peer initiated too
            // (both ends INITIATOR, started together) and also said INITIAL_CONTACT in its
            // own IKE_AUTH, so each end would silently drop a different SA and keep one the
            // other no longer has; ESP sent on it is lost. For such duplicates both ends keep
            // the IKE SA with the lower initiator SPI, a rule both compute alike, and the
            // other is deleted with a Delete both ends see.
            let Some(other) = self.sas.get(&o) else {
                continue;
            };
            let stale = initial_contact && other.established.is_some_and(|t| t < created);
            if stale {
                self.remove_sa(o);
                continue;
            }
            let victim = if other.spi_i > spi_i { o } else { h };
            self.doom(now, victim, rng);
        }
        if let Some(s) = self.sessions.get_mut(&session) {
            s.retry_delay = Duration::from_secs(5);
        }
        self.update_status(now, &session);
        if let Some((reason, alarm)) = child_failure {
            if let Some(s) = self.sessions.get_mut(&session) {
                s.status.fail_reason = Some(reason);
                s.status.alarm = Some(alarm);
                self.emit(Event::StatusChanged(session));
            }
        }
        self.drive(now, h, rng);
    }

    /// Our AUTH payload (§2.15): over our IKE_SA_INIT message, the peer's nonce and
    /// prf(SK_p, our ID'), MACed with the PSK or signed with our site certificate's key.
    fn our_auth(
        &self,
        now: Instant,
        cfg: &SessionConfig,
        sa: &IkeSa,
    ) -> Result<OurAuth, (FailReason, String)> {
        let (Some(suite), Some(keys)) = (sa.suite, sa.keys.as_ref()) else {
            return Err((
                FailReason::InvalidSyntax,
                "IKE_AUTH before the keys exist".into(),
            ));
        };
        let (message, peer_nonce, sk_p) = if sa.initiator {
            (&sa.init_request, &sa.nr, &keys.sk_pi)
        } else {
            (&sa.init_response, &sa.ni, &keys.sk_pr)
        };
        let body = Payload::id_body(cfg.local_id.id_type, &cfg.local_id.data);
        let maced = suite.prf.compute(sk_p, &[&body]);
        let Some(cert) = &cfg.certificate else {
            let mac = psk_auth(suite.prf, &cfg.psk, &[message, peer_nonce, &maced]);
            return Ok(OurAuth::Ready((
                AuthMethod::SHARED_KEY_MESSAGE_INTEGRITY_CODE,
                mac,
            )));
        };
        let unix = self.unix_time(now).ok_or_else(|| {
            (
                FailReason::ConfigurationFailed,
                "the gateway's calendar time is unknown, so certificates cannot be checked"
                    .to_owned(),
            )
        })?;
        let (not_before, not_after) = cert.credential.validity();
        let unix_i = i64::try_from(unix).unwrap_or(i64::MAX);
        if unix_i < not_before || unix_i > not_after {
            return Err((
                FailReason::ConfigurationFailed,
                format!(
                    "this gateway's site certificate {} is valid from {} to {} (UTC), not now: import a current certificate and set it as the local endpoint's certificate",
                    cert.credential.subject_display(),
                    utc(not_before),
                    utc(not_after)
                ),
            ));
        }
        let mut octets = Vec::with_capacity(message.len() + peer_nonce.len() + maced.len());
        octets.extend_from_slice(message);
        octets.extend_from_slice(peer_nonce);
        octets.extend_from_slice(&maced);
        Ok(OurAuth::Sign(octets))
    }

    /// Our AUTH signature is computed (see [`crate::CryptoJob`]): send the IKE_AUTH request
    /// or response it was for, if that IKE SA is still waiting for it.
    pub(crate) fn auth_signed(
        &mut self,
        now: Instant,
        h: u64,
        stage: AuthStage,
        result: Result<(AuthMethod, Vec<u8>), String>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return; // removed while signing
        };
        let session = sa.session.clone();
        match stage {
            AuthStage::Initiator { spi_in } => {
                if sa.state != SaState::InitSent || sa.keys.is_none() {
                    return;
                }
                match result {
                    Ok(auth) => self.send_auth_with(now, h, spi_in, auth, rng),
                    Err(alarm) => {
                        self.remove_sa(h);
                        self.fail(now, &session, FailReason::AuthenticationFailed, alarm, rng);
                    }
                }
            }
            AuthStage::Responder => {
                let Some(pending) = sa.auth_pending.take() else {
                    return;
                };
                if sa.state != SaState::InitDone {
                    return;
                }
                let PendingAuth {
                    header,
                    inner,
                    peer_id,
                } = *pending;
                match result {
                    Ok(auth) => self.auth_reply(now, h, inner, peer_id, auth, rng),
                    Err(alarm) => {
                        let n = NotifyType::AUTHENTICATION_FAILED;
                        self.respond_error(h, header, n, Vec::new(), rng);
                        self.remove_sa(h);
                        self.fail(now, &session, FailReason::AuthenticationFailed, alarm, rng);
                    }
                }
            }
        }
    }
}

/// Epoch seconds as an RFC 3339 UTC date for alarms.
fn utc(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} s after 1970"))
}
