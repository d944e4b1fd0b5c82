//! Checking the peer's AUTH payload in IKE_AUTH (RFC 7296 §2.15), both roles.
//!
//! A pre-shared key is a MAC, checked at once. A certificate is public-key work (path
//! validation, CRLs, the signature: 51-210 µs, more with long chains) and, like every
//! public-key computation, leaves the event loop as a [`crate::CryptoJob`]
//! ([`PeerVerification`]). Meanwhile the IKE_AUTH message waits on its IKE SA
//! ([`PendingAuth`]): the responder ignores retransmissions of the request until it can
//! answer, and nothing about the session changes until the job says the peer is who it
//! claims to be.

use std::time::Instant;

use ike_crypto::psk_auth;
use ike_wire::{AuthMethod, Header, NotifyType, Payload};

use crate::cert_auth::{peer_cert_ders, PeerVerification};
use crate::config::{Identity, SessionConfig};
use crate::endpoint::Endpoint;
use crate::events::FailReason;
use crate::exchanges::ct_eq;
use crate::random::Random;
use crate::sa::{IkeSa, SaState};

/// An authenticated IKE_AUTH message waiting for public-key work: the peer's certificate
/// check, or (responder) our own signature.
pub(crate) struct PendingAuth {
    /// The request's header (responder: to answer it); the response's for the initiator.
    pub(crate) header: Header,
    pub(crate) inner: Vec<Payload>,
    /// The ID the peer claimed (IDi, or IDr for the initiator).
    pub(crate) peer_id: Identity,
}

/// Which IKE_AUTH message a verification job is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VerifyStage {
    /// The peer's IKE_AUTH request (we respond).
    Responder,
    /// The peer's IKE_AUTH response to our request, whose first Child SA has inbound SPI
    /// `spi_in`.
    Initiator { spi_in: u32 },
}

/// The outcome of the synchronous part of the check.
pub(crate) enum PeerAuth {
    /// A pre-shared key MAC that verified.
    Verified,
    /// A certificate authentication to check off the event loop.
    Verify(Box<PeerVerification>),
}

impl Endpoint {
    /// Check the peer's AUTH payload: a PSK MAC now; with certificates, everything that
    /// needs no public-key work now (method, calendar time) and the rest as a job. Only
    /// after this (and the job) may the peer change anything.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check_peer_auth(
        &self,
        now: Instant,
        cfg: &SessionConfig,
        sa: &IkeSa,
        inner: &[Payload],
        peer_id: &Identity,
        method: AuthMethod,
        auth: &[u8],
    ) -> Result<PeerAuth, (FailReason, String)> {
        let failed = |alarm: String| (FailReason::AuthenticationFailed, alarm);
        let (Some(suite), Some(keys)) = (sa.suite, sa.keys.as_ref()) else {
            return Err(failed("IKE_AUTH before the keys exist".into()));
        };
        // The peer signed its own IKE_SA_INIT message, our nonce and its ID.
        let (message, our_nonce, sk_p) = if sa.initiator {
            (&sa.init_response, &sa.ni, &keys.sk_pr)
        } else {
            (&sa.init_request, &sa.nr, &keys.sk_pi)
        };
        let body = Payload::id_body(peer_id.id_type, &peer_id.data);
        let maced = suite.prf.compute(sk_p, &[&body]);
        let Some(cert) = &cfg.certificate else {
            if method != AuthMethod::SHARED_KEY_MESSAGE_INTEGRITY_CODE {
                return Err(failed(format!(
                    "the peer authenticates with {method} but this session uses a pre-shared key: use PSK on the peer too, or set the session's authentication mode to CERTIFICATE"
                )));
            }
            let expected = psk_auth(suite.prf, &cfg.psk, &[message, our_nonce, &maced]);
            if !ct_eq(&expected, auth) {
                return Err(failed("the peer's AUTH payload does not verify with this session's pre-shared key: the two sides have different PSKs; set the same key on both".into()));
            }
            return Ok(PeerAuth::Verified);
        };
        if method == AuthMethod::SHARED_KEY_MESSAGE_INTEGRITY_CODE {
            return Err(failed("the peer authenticates with a pre-shared key but this session uses certificates: set the peer to public-key (certificate) authentication, or set the session's authentication mode to PSK".into()));
        }
        let now_unix = self.unix_time(now).ok_or_else(|| {
            failed(
                "the gateway's calendar time is unknown, so certificates cannot be checked".into(),
            )
        })?;
        let mut octets = Vec::with_capacity(message.len() + our_nonce.len() + maced.len());
        octets.extend_from_slice(message);
        octets.extend_from_slice(our_nonce);
        octets.extend_from_slice(&maced);
        Ok(PeerAuth::Verify(Box::new(PeerVerification {
            auth: cert.clone(),
            certs: peer_cert_ders(inner),
            claimed: peer_id.clone(),
            now_unix,
            method,
            data: auth.to_vec(),
            octets,
        })))
    }

    /// Park the IKE_AUTH message on its IKE SA and hand its certificate check out as a job;
    /// [`Endpoint::peer_verified`] continues.
    pub(crate) fn verify_peer_later(
        &mut self,
        now: Instant,
        h: u64,
        pending: PendingAuth,
        check: Box<PeerVerification>,
        stage: VerifyStage,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        debug_assert!(
            sa.auth_pending.is_none(),
            "IKE SA {h} parks two IKE_AUTH messages"
        );
        sa.auth_pending = Some(Box::new(pending));
        let work = crate::crypto_jobs::Work::VerifyPeer {
            handle: h,
            check,
            stage,
        };
        self.submit_crypto(now, work, rng);
    }

    /// The peer's certificate check is done (see [`crate::CryptoJob`]): refuse it, or go on
    /// with the IKE_AUTH message it was for, if that IKE SA is still waiting.
    pub(crate) fn peer_verified(
        &mut self,
        now: Instant,
        h: u64,
        stage: VerifyStage,
        result: Result<(), String>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return; // removed (expired, deleted, reconfigured) while checking
        };
        let waiting = match stage {
            VerifyStage::Responder => SaState::InitDone,
            VerifyStage::Initiator { .. } => SaState::AuthSent,
        };
        if sa.state != waiting {
            return;
        }
        let Some(pending) = sa.auth_pending.take() else {
            return;
        };
        let session = sa.session.clone();
        let PendingAuth {
            header,
            inner,
            peer_id,
        } = *pending;
        match (stage, result) {
            (VerifyStage::Responder, Ok(())) => {
                self.respond_authenticated(now, h, header, inner, peer_id, rng)
            }
            (VerifyStage::Initiator { spi_in }, Ok(())) => {
                self.auth_response_verified(now, h, inner, peer_id, spi_in, rng)
            }
            (VerifyStage::Responder, Err(alarm)) => {
                let n = NotifyType::AUTHENTICATION_FAILED;
                self.respond_error(h, header, n, Vec::new(), rng);
                self.remove_sa(h);
                self.fail(now, &session, FailReason::AuthenticationFailed, alarm, rng);
            }
            (VerifyStage::Initiator { .. }, Err(alarm)) => {
                self.delete_ike_now(h, rng);
                self.remove_sa(h);
                self.fail(now, &session, FailReason::AuthenticationFailed, alarm, rng);
            }
        }
    }
}
