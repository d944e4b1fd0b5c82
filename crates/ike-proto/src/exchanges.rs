//! The four exchanges, as requester and responder.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ike_crypto::{
    child_sa_keys, derive_ike_keys, esp_key_lengths, nat_detection_hash, rekey_skeyseed, DhGroup,
};
use ike_wire::{
    find_notify, AuthMethod, Delete, ExchangeType, Header, Message, Notify, NotifyType, Payload,
    ProtocolId, TrafficSelector,
};

use crate::config::{Identity, SessionConfig, SessionId};
use crate::endpoint::{Endpoint, IKE_PORT, NAT_T_PORT};
use crate::events::{ChildSaParams, Event, FailReason};
use crate::fragment::Opened;
use crate::proposal::{
    accept_esp, accept_ike, describe_esp_allowed, describe_ike_allowed, esp_proposals,
    ike_proposals, select_esp, select_ike, EspSuite,
};
use crate::random::{self, Random};
use crate::sa::{ChildSa, IkeSa, RequestKind, SaState, Task};
use crate::ProtoError;

/// Nonce size we send (RFC 7296 §2.10: at least half the PRF key size, at least 128 bits).
pub(crate) const NONCE_LEN: usize = 32;
use crate::admission::{DropCause, NONCE_MAX, NONCE_MIN};
/// How long the loser of an IKE rekey, or the old SA, lingers waiting for the peer's Delete.
const REKEYED_LINGER: Duration = Duration::from_secs(30);

pub(crate) fn notify_name(n: NotifyType) -> String {
    n.name()
        .map_or_else(|| format!("notify {}", n.0), str::to_owned)
}

pub(crate) fn reason_for(n: NotifyType) -> FailReason {
    match n {
        NotifyType::AUTHENTICATION_FAILED => FailReason::AuthenticationFailed,
        NotifyType::NO_PROPOSAL_CHOSEN | NotifyType::INVALID_KE_PAYLOAD => {
            FailReason::NoProposalChosen
        }
        NotifyType::TS_UNACCEPTABLE | NotifyType::INVALID_SELECTORS => FailReason::TsUnacceptable,
        NotifyType::INVALID_SYNTAX => FailReason::InvalidSyntax,
        _ => FailReason::ConfigurationFailed,
    }
}

pub(crate) fn first_error(payloads: &[Payload]) -> Option<NotifyType> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.notify_type.is_error() => Some(n.notify_type),
        _ => None,
    })
}

pub(crate) fn nonce_of(payloads: &[Payload]) -> Option<Vec<u8>> {
    payloads.iter().find_map(|p| match p {
        Payload::Nonce(n) if (NONCE_MIN..=NONCE_MAX).contains(&n.len()) => Some(n.clone()),
        _ => None,
    })
}

pub(crate) fn ke_of(payloads: &[Payload]) -> Option<(u16, &[u8])> {
    payloads.iter().find_map(|p| match p {
        Payload::Ke { group, data } => Some((*group, data.as_slice())),
        _ => None,
    })
}

pub(crate) fn sa_of(payloads: &[Payload]) -> Option<&[ike_wire::Proposal]> {
    payloads.iter().find_map(|p| match p {
        Payload::Sa(s) => Some(s.as_slice()),
        _ => None,
    })
}

pub(crate) fn ts_of(
    payloads: &[Payload],
) -> (Option<&[TrafficSelector]>, Option<&[TrafficSelector]>) {
    let mut i = None;
    let mut r = None;
    for p in payloads {
        match p {
            Payload::TsI(t) => i = Some(t.selectors.as_slice()),
            Payload::TsR(t) => r = Some(t.selectors.as_slice()),
            _ => {}
        }
    }
    (i, r)
}

/// Route-based: we negotiate "everything" for each address family the VTI has.
pub(crate) fn our_selectors(cfg: &SessionConfig) -> Vec<TrafficSelector> {
    let mut v = Vec::new();
    if cfg.ipv4 {
        v.push(TrafficSelector::ANY_V4);
    }
    if cfg.ipv6 {
        v.push(TrafficSelector::ANY_V6);
    }
    v
}

/// Narrow the peer's selectors to ours (§2.9): each family we want must be covered by a
/// full-range selector on both sides. Returns the agreed selectors, or None.
pub(crate) fn narrow(
    cfg: &SessionConfig,
    ts_i: &[TrafficSelector],
    ts_r: &[TrafficSelector],
) -> Option<Vec<TrafficSelector>> {
    let covers = |list: &[TrafficSelector], want: &TrafficSelector| list.iter().any(|t| t == want);
    let agreed: Vec<TrafficSelector> = our_selectors(cfg)
        .into_iter()
        .filter(|want| covers(ts_i, want) && covers(ts_r, want))
        .collect();
    (!agreed.is_empty()).then_some(agreed)
}

pub(crate) fn describe_ts(ts: &[TrafficSelector]) -> String {
    ts.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn id_from(payloads: &[Payload], initiator: bool) -> Option<Identity> {
    payloads.iter().find_map(|p| match (p, initiator) {
        (Payload::IdI { id_type, data }, true) | (Payload::IdR { id_type, data }, false) => {
            Some(Identity {
                id_type: *id_type,
                data: data.clone(),
            })
        }
        _ => None,
    })
}

pub(crate) fn auth_of(payloads: &[Payload]) -> Option<(AuthMethod, &[u8])> {
    payloads.iter().find_map(|p| match p {
        Payload::Auth { method, data } => Some((*method, data.as_slice())),
        _ => None,
    })
}

pub(crate) fn id_payload(id: &Identity, initiator: bool) -> Payload {
    if initiator {
        Payload::IdI {
            id_type: id.id_type,
            data: id.data.clone(),
        }
    } else {
        Payload::IdR {
            id_type: id.id_type,
            data: id.data.clone(),
        }
    }
}

pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn with_port(addr: SocketAddr, port: u16) -> SocketAddr {
    SocketAddr::new(addr.ip(), port)
}

/// NAT detection (§2.23): whether the hashes the peer sent match the addresses we see.
pub(crate) fn nat_detected(
    payloads: &[Payload],
    spi_i: &[u8; 8],
    spi_r: &[u8; 8],
    local: SocketAddr,
    remote: SocketAddr,
) -> bool {
    let src: Vec<&Notify> = payloads
        .iter()
        .filter_map(|p| match p {
            Payload::Notify(n) if n.notify_type == NotifyType::NAT_DETECTION_SOURCE_IP => Some(n),
            _ => None,
        })
        .collect();
    let dst = find_notify(payloads, NotifyType::NAT_DETECTION_DESTINATION_IP);
    if src.is_empty() && dst.is_none() {
        return false;
    }
    let peer_hash = nat_detection_hash(spi_i, spi_r, remote.ip(), remote.port());
    let our_hash = nat_detection_hash(spi_i, spi_r, local.ip(), local.port());
    let peer_ok = src.iter().any(|n| n.data == peer_hash);
    let us_ok = dst.is_some_and(|n| n.data == our_hash);
    !(peer_ok && us_ok)
}

/// Our NAT_DETECTION notifies. With forced encapsulation the source hash is deliberately
/// wrong, so the peer believes we are behind a NAT and both sides use UDP 4500 (what
/// strongSwan's `encap = yes` does; contract: UDP encapsulation by default).
pub(crate) fn nat_notifies(
    spi_i: &[u8; 8],
    spi_r: &[u8; 8],
    local: SocketAddr,
    remote: SocketAddr,
    force: bool,
    rng: &mut dyn Random,
) -> [Payload; 2] {
    let src = if force {
        random::vec(rng, 20)
    } else {
        nat_detection_hash(spi_i, spi_r, local.ip(), local.port()).to_vec()
    };
    [
        Payload::Notify(Notify::new(NotifyType::NAT_DETECTION_SOURCE_IP, src)),
        Payload::Notify(Notify::new(
            NotifyType::NAT_DETECTION_DESTINATION_IP,
            nat_detection_hash(spi_i, spi_r, remote.ip(), remote.port()).to_vec(),
        )),
    ]
}

/// Hash algorithms we accept in RFC 7427 signatures (§4): SHA2-256, SHA2-384, SHA2-512 and
/// Identity (Ed25519). SHA-1 is not offered.
pub(crate) const SIGNATURE_HASHES: [u16; 4] = [2, 3, 4, 5];

/// The capabilities every IKE_SA_INIT of ours announces: fragmentation (RFC 7383 §2.3) and
/// the signature hashes we verify (RFC 7427 §4).
pub(crate) fn capability_notifies() -> Vec<Payload> {
    let hashes: Vec<u8> = SIGNATURE_HASHES
        .iter()
        .flat_map(|h| h.to_be_bytes())
        .collect();
    vec![
        Payload::Notify(Notify::new(
            NotifyType::IKEV2_FRAGMENTATION_SUPPORTED,
            Vec::new(),
        )),
        Payload::Notify(Notify::new(NotifyType::SIGNATURE_HASH_ALGORITHMS, hashes)),
    ]
}

/// Record what the peer's IKE_SA_INIT announced (see [`capability_notifies`]); at most 16
/// hash algorithms are kept.
pub(crate) fn note_capabilities(sa: &mut IkeSa, payloads: &[Payload]) {
    sa.fragmentation = find_notify(payloads, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
    sa.peer_hashes = find_notify(payloads, NotifyType::SIGNATURE_HASH_ALGORITHMS)
        .map(|n| {
            n.data
                .chunks_exact(2)
                .take(16)
                .filter_map(crate::be_u16)
                .collect()
        })
        .unwrap_or_default();
}

pub(crate) fn unprotected(header: Header, payloads: Vec<Payload>) -> Vec<u8> {
    Message { header, payloads }.emit()
}

/// The nonce order for collisions (§2.8.1): the lowest of the nonces of an exchange.
pub(crate) fn min_nonce<'a>(a: &'a [u8], b: &'a [u8]) -> &'a [u8] {
    if a < b {
        a
    } else {
        b
    }
}

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

    pub(crate) fn handle_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
        msg: Message,
        rng: &mut dyn Random,
    ) {
        let header = msg.header;
        if header.exchange == ExchangeType::IKE_SA_INIT {
            if header.spi_r == [0; 8] && header.message_id == 0 && header.is_initiator() {
                self.init_request(now, local, remote, raw, &msg, rng);
            } else {
                self.admission
                    .dropped(DropCause::Undecodable, remote.ip(), None);
            }
            return;
        }
        let our_spi = if header.is_initiator() {
            header.spi_r
        } else {
            header.spi_i
        };
        let found = self
            .by_spi
            .get(&our_spi)
            .and_then(|h| self.sas.get(h).map(|sa| (*h, sa)));
        let Some((h, sa)) = found else {
            self.admission
                .dropped(DropCause::UnknownSpi, remote.ip(), None);
            return;
        };
        // Keys missing: a responder still computing its IKE_SA_INIT; the peer retransmits.
        if sa.spi_i != header.spi_i || sa.spi_r != header.spi_r || sa.keys.is_none() {
            self.admission
                .dropped(DropCause::UnknownSpi, remote.ip(), None);
            return;
        }
        // Message ID window of one (§2.3): the next request, or a retransmission of the last.
        if header.message_id != sa.expected_peer_id {
            // A fragmented request is answered once, on its first fragment (RFC 7383
            // §2.6.1), not once per fragment.
            let first_fragment = match msg.payloads.last() {
                Some(Payload::Skf(f)) => f.number == 1,
                _ => true,
            };
            if let Some((id, resp)) = &sa.last_response {
                if *id == header.message_id && first_fragment {
                    let (l, r, d) = (sa.local, sa.remote, resp.clone());
                    self.send_all(l, r, d);
                }
            }
            return;
        }
        let inner = match self.open_message(now, h, raw, &msg, remote.ip()) {
            Opened::Message(p) => p,
            Opened::Pending => return,
            // Unauthenticated garbage is dropped silently (§2.21.2), and counted.
            Opened::Failed(ProtoError::IntegrityCheckFailed) => {
                self.admission
                    .dropped(DropCause::IntegrityCheckFailed, remote.ip(), None);
                return;
            }
            // Authentic, with an unknown critical payload: reject the message with the
            // payload's type (§3.2, §3.10.1).
            Opened::Failed(ProtoError::Decode(
                ike_wire::DecodeError::UnsupportedCriticalPayload(t),
            )) => {
                let n = NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD;
                self.respond_error(h, header, n, vec![t], rng);
                return;
            }
            Opened::Failed(_) => {
                // Authentic but malformed: answer INVALID_SYNTAX (§2.21.2).
                self.respond_error(h, header, NotifyType::INVALID_SYNTAX, Vec::new(), rng);
                return;
            }
        };
        // NAT-T: the initiator floated to port 4500 (§2.23); follow it.
        if let Some(sa) = self.sas.get_mut(&h) {
            // An authenticated request: the peer is alive (DPD, §2.4).
            sa.last_heard = Some(now);
            if local.port() == NAT_T_PORT && sa.local.port() != NAT_T_PORT {
                sa.local = local;
                sa.remote = remote;
                sa.udp_encapsulation = true;
            }
        }
        match header.exchange {
            ExchangeType::IKE_AUTH => self.auth_request(now, h, header, inner, rng),
            ExchangeType::CREATE_CHILD_SA => self.create_child_request(now, h, header, inner, rng),
            ExchangeType::INFORMATIONAL => self.info_request(now, h, header, inner, rng),
            _ => {}
        }
    }

    pub(crate) fn handle_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        raw: &[u8],
        msg: Message,
        rng: &mut dyn Random,
    ) {
        let header = msg.header;
        let our_spi = if header.is_initiator() {
            header.spi_r
        } else {
            header.spi_i
        };
        let Some(&h) = self.by_spi.get(&our_spi) else {
            self.admission
                .dropped(DropCause::UnknownSpi, remote.ip(), None);
            return;
        };
        let Some(sa) = self.sas.get(&h) else { return };
        let Some(out) = &sa.outstanding else {
            self.admission
                .dropped(DropCause::Undecodable, remote.ip(), None);
            return;
        };
        if out.message_id != header.message_id || sa.remote.ip() != remote.ip() {
            self.admission
                .dropped(DropCause::Undecodable, remote.ip(), None);
            return;
        }
        if header.exchange == ExchangeType::IKE_SA_INIT {
            if sa.state == SaState::InitSent
                && matches!(out.kind, RequestKind::Init)
                && sa.local.ip() == local.ip()
            {
                self.init_response(now, h, raw, msg, rng);
            }
            return;
        }
        if sa.spi_r != header.spi_r {
            return;
        }
        let session = sa.session.clone();
        let inner = match self.open_message(now, h, raw, &msg, remote.ip()) {
            Opened::Message(p) => p,
            Opened::Pending => return,
            Opened::Failed(ProtoError::IntegrityCheckFailed) => {
                self.admission
                    .dropped(DropCause::IntegrityCheckFailed, remote.ip(), None);
                return;
            }
            Opened::Failed(_) => {
                self.remove_sa(h);
                self.fail(
                    now,
                    &session,
                    FailReason::InvalidSyntax,
                    "the peer's response could not be decoded after decryption".into(),
                    rng,
                );
                return;
            }
        };
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        // An authenticated response: the peer is alive (DPD, §2.4).
        sa.last_heard = Some(now);
        let Some(out) = sa.outstanding.take() else {
            return;
        };
        sa.next_request_id = sa.next_request_id.wrapping_add(1);
        match (header.exchange, out.kind) {
            (ExchangeType::IKE_AUTH, RequestKind::Auth { spi_in }) => {
                self.auth_response(now, h, inner, spi_in, rng)
            }
            (
                ExchangeType::CREATE_CHILD_SA,
                RequestKind::CreateChild {
                    rekey_of,
                    spi_in,
                    nonce,
                    dh,
                },
            ) => self.create_child_response(now, h, inner, rekey_of, spi_in, nonce, dh, rng),
            (ExchangeType::CREATE_CHILD_SA, RequestKind::RekeyIke { new_spi, nonce, dh }) => {
                self.rekey_ike_response(now, h, inner, new_spi, nonce, dh, rng)
            }
            (ExchangeType::INFORMATIONAL, RequestKind::DeleteChild { spis_in }) => {
                self.remove_children(h, &spis_in);
                if let Some(session) = self.sas.get(&h).map(|sa| sa.session.clone()) {
                    self.update_status(now, &session);
                }
            }
            (ExchangeType::INFORMATIONAL, RequestKind::DeleteIke) => {
                let Some(session) = self.sas.get(&h).map(|sa| sa.session.clone()) else {
                    return;
                };
                self.remove_sa(h);
                self.update_status(now, &session);
                self.keep_up(now, &session);
            }
            (ExchangeType::INFORMATIONAL, RequestKind::Liveness | RequestKind::Dpd { .. }) => {}
            _ => {
                // A response of the wrong exchange type: treat as a protocol error.
                let Some(session) = self.sas.get(&h).map(|sa| sa.session.clone()) else {
                    return;
                };
                self.remove_sa(h);
                self.fail(
                    now,
                    &session,
                    FailReason::InvalidSyntax,
                    "the peer answered with an unexpected exchange type".into(),
                    rng,
                );
                return;
            }
        }
        self.drive(now, h, rng);
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

    pub(crate) fn new_child_spi(&self, rng: &mut dyn Random) -> u32 {
        loop {
            let s = random::spi(rng);
            if !self
                .sas
                .values()
                .any(|sa| sa.children.iter().any(|c| c.spi_in == s))
            {
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

    /// Answer the current request with an error notify.
    pub(crate) fn respond_error(
        &mut self,
        h: u64,
        header: Header,
        n: NotifyType,
        data: Vec<u8>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        let Ok(bytes) = sa.seal_message(
            header.exchange,
            header.message_id,
            true,
            &[Payload::Notify(Notify::new(n, data))],
            rng,
        ) else {
            return;
        };
        self.send_response(h, header.message_id, bytes);
    }

    /// Send a Delete for an IKE SA right away without waiting for an answer (used when the
    /// SA is being abandoned).
    pub(crate) fn delete_ike_now(&mut self, h: u64, rng: &mut dyn Random) {
        let Some((l, r)) = self.sas.get(&h).map(|sa| (sa.local, sa.remote)) else {
            return;
        };
        if let Ok(bytes) = self.build_delete_ike(h, rng) {
            self.send(l, r, bytes);
        }
    }

    pub(crate) fn build_delete_ike(
        &mut self,
        h: u64,
        rng: &mut dyn Random,
    ) -> Result<Vec<u8>, ProtoError> {
        let sa = self.sas.get_mut(&h).ok_or(ProtoError::Internal("gone"))?;
        let id = sa.next_request_id;
        sa.next_request_id = id.wrapping_add(1);
        sa.seal(
            ExchangeType::INFORMATIONAL,
            id,
            false,
            &[Payload::Delete(Delete {
                protocol: ProtocolId::IKE,
                spis: vec![],
            })],
            rng,
        )
    }

    // ============================== tasks (our requests) ==============================

    /// Start a queued task; returns whether a request went out.
    pub(crate) fn start_task(
        &mut self,
        now: Instant,
        h: u64,
        task: Task,
        rng: &mut dyn Random,
    ) -> bool {
        let Some(sa) = self.sas.get(&h) else {
            return false;
        };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return false;
        };
        if sa.state == SaState::Rekeyed && !matches!(task, Task::DeleteIke) {
            return false;
        }
        let (inner, kind) = match task {
            Task::CreateChild => {
                if !needs_child(sa) || sa.state != SaState::Established {
                    return false;
                }
                let spi_in = self.new_child_spi(rng);
                let nonce = random::vec(rng, NONCE_LEN);
                let dh = match cfg.esp.iter().find_map(|p| p.pfs_groups.first().copied()) {
                    Some(g) => match generate_dh(g, rng) {
                        Some(d) => Some(d),
                        None => return false,
                    },
                    None => None,
                };
                let mut inner = vec![
                    Payload::Sa(esp_proposals(&cfg.esp, spi_in, dh.is_some())),
                    Payload::Nonce(nonce.clone()),
                ];
                if let Some(d) = &dh {
                    inner.push(Payload::Ke {
                        group: d.group().id(),
                        data: d.public_value(),
                    });
                }
                inner.push(Payload::ts_i(our_selectors(&cfg)));
                inner.push(Payload::ts_r(our_selectors(&cfg)));
                (
                    inner,
                    RequestKind::CreateChild {
                        rekey_of: None,
                        spi_in,
                        nonce,
                        dh,
                    },
                )
            }
            Task::RekeyChild(old) => {
                let Some(child) = sa.child(old) else {
                    return false;
                };
                if child.superseded || child.own_rekey.is_some() {
                    return false;
                }
                let spi_in = self.new_child_spi(rng);
                let nonce = random::vec(rng, NONCE_LEN);
                let group = child
                    .suite
                    .group
                    .or_else(|| cfg.esp.iter().find_map(|p| p.pfs_groups.first().copied()));
                let dh = match group {
                    Some(g) => match generate_dh(g, rng) {
                        Some(d) => Some(d),
                        None => return false,
                    },
                    None => None,
                };
                let mut inner = vec![
                    Payload::Notify(Notify {
                        protocol: ProtocolId::ESP,
                        spi: old.to_be_bytes().to_vec(),
                        notify_type: NotifyType::REKEY_SA,
                        data: vec![],
                    }),
                    Payload::Sa(esp_proposals(&cfg.esp, spi_in, dh.is_some())),
                    Payload::Nonce(nonce.clone()),
                ];
                if let Some(d) = &dh {
                    inner.push(Payload::Ke {
                        group: d.group().id(),
                        data: d.public_value(),
                    });
                }
                inner.push(Payload::ts_i(child.ts_local.clone()));
                inner.push(Payload::ts_r(child.ts_remote.clone()));
                if let Some(sa) = self.sas.get_mut(&h) {
                    if let Some(c) = sa.child_mut(old) {
                        c.rekeying = true;
                    }
                }
                (
                    inner,
                    RequestKind::CreateChild {
                        rekey_of: Some(old),
                        spi_in,
                        nonce,
                        dh,
                    },
                )
            }
            Task::RekeyIke => {
                let Some(suite) = sa.suite else { return false };
                if sa.state != SaState::Established {
                    return false;
                }
                let new_spi = loop {
                    let s = random::ike_spi(rng);
                    if !self.by_spi.contains_key(&s) {
                        break s;
                    }
                };
                let nonce = random::vec(rng, NONCE_LEN);
                let Some(dh) = generate_dh(suite.group, rng) else {
                    return false;
                };
                let inner = vec![
                    Payload::Sa(ike_proposals(&cfg.ike, &new_spi)),
                    Payload::Nonce(nonce.clone()),
                    Payload::Ke {
                        group: dh.group().id(),
                        data: dh.public_value(),
                    },
                ];
                (inner, RequestKind::RekeyIke { new_spi, nonce, dh })
            }
            Task::DeleteChildren(spis) => {
                let spis: Vec<u32> = spis
                    .into_iter()
                    .filter(|s| sa.child(*s).is_some())
                    .collect();
                if spis.is_empty() {
                    return false;
                }
                let inner = vec![Payload::Delete(Delete {
                    protocol: ProtocolId::ESP,
                    spis: spis.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
                })];
                (inner, RequestKind::DeleteChild { spis_in: spis })
            }
            Task::DeleteIke => {
                let inner = vec![Payload::Delete(Delete {
                    protocol: ProtocolId::IKE,
                    spis: vec![],
                })];
                (inner, RequestKind::DeleteIke)
            }
            Task::Liveness => (Vec::new(), RequestKind::Liveness),
            Task::Dpd => {
                // The probe is moot if DPD was switched off, or if the peer showed signs of
                // life while it waited behind another request.
                let Some(dpd) = cfg.dpd else { return false };
                let queued = sa.dpd_sent;
                let esp_in = self.sessions.get(&session).and_then(|s| s.esp_in);
                let heard = sa.last_heard.max(esp_in);
                if sa.state != SaState::Established || (heard.is_some() && heard >= queued) {
                    return false;
                }
                (
                    Vec::new(),
                    RequestKind::Dpd {
                        retry_count: dpd.retry_count,
                    },
                )
            }
        };
        let exchange = match kind {
            RequestKind::CreateChild { .. } | RequestKind::RekeyIke { .. } => {
                ExchangeType::CREATE_CHILD_SA
            }
            _ => ExchangeType::INFORMATIONAL,
        };
        let Some(sa) = self.sas.get_mut(&h) else {
            return false;
        };
        if matches!(kind, RequestKind::DeleteIke) {
            sa.state = SaState::Deleting;
        }
        let id = sa.next_request_id;
        let Ok(bytes) = sa.seal_message(exchange, id, false, &inner, rng) else {
            return false;
        };
        self.send_request(now, h, id, bytes, kind);
        true
    }

    // ============================== CREATE_CHILD_SA ==============================

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
            Some(peer_old_spi) => {
                // The peer names the old Child SA by its inbound SPI, our outbound SPI.
                let Some(old) = sa
                    .children
                    .iter()
                    .find(|c| c.spi_out == peer_old_spi && !c.superseded)
                else {
                    let data = peer_old_spi.to_be_bytes().to_vec();
                    self.respond_error(h, header, NotifyType::CHILD_SA_NOT_FOUND, data, rng);
                    return;
                };
                if old.own_rekey.is_some() {
                    // We finished rekeying it already; the peer will see our Delete.
                    self.respond_error(h, header, NotifyType::CHILD_SA_NOT_FOUND, Vec::new(), rng);
                    return;
                }
                Some(old.spi_in)
            }
        };
        let ke = ke_of(&inner);
        let Some((suite, number, spi_out)) = select_esp(offer, &cfg.esp, ke.is_some()) else {
            self.respond_error(h, header, NotifyType::NO_PROPOSAL_CHOSEN, Vec::new(), rng);
            return;
        };
        let mut g_ir = None;
        let mut ker = None;
        if let Some(group) = suite.group {
            match ke {
                Some((g, data)) if g == group.id() => {
                    let Some(dh) = generate_dh(group, rng) else {
                        return;
                    };
                    let Ok(secret) = dh.agree(data) else {
                        self.respond_error(h, header, NotifyType::INVALID_SYNTAX, Vec::new(), rng);
                        return;
                    };
                    ker = Some(Payload::Ke {
                        group: group.id(),
                        data: dh.public_value(),
                    });
                    g_ir = Some(secret);
                }
                _ => {
                    self.respond_error(
                        h,
                        header,
                        NotifyType::INVALID_KE_PAYLOAD,
                        group.id().to_be_bytes().to_vec(),
                        rng,
                    );
                    return;
                }
            }
        }
        let (Some(ts_i), Some(ts_r)) = ts_of(&inner) else {
            self.respond_error(h, header, NotifyType::TS_UNACCEPTABLE, Vec::new(), rng);
            return;
        };
        let Some(ts) = narrow(&cfg, ts_i, ts_r) else {
            self.respond_error(h, header, NotifyType::TS_UNACCEPTABLE, Vec::new(), rng);
            return;
        };
        let spi_in = self.new_child_spi(rng);
        let nr = random::vec(rng, NONCE_LEN);
        let mut out = vec![
            Payload::Sa(vec![suite.to_proposal(number, spi_in)]),
            Payload::Nonce(nr.clone()),
        ];
        if let Some(k) = ker {
            out.push(k);
        }
        out.push(Payload::ts_i(ts.clone()));
        out.push(Payload::ts_r(ts.clone()));
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        let Ok(bytes) = sa.seal_message(
            ExchangeType::CREATE_CHILD_SA,
            header.message_id,
            true,
            &out,
            rng,
        ) else {
            return;
        };
        self.send_response(h, header.message_id, bytes);
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
            cfg.child_lifetime,
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

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_child_response(
        &mut self,
        now: Instant,
        h: u64,
        inner: Vec<Payload>,
        rekey_of: Option<u32>,
        spi_in: u32,
        nonce: Vec<u8>,
        dh: Option<ike_crypto::DhPrivate>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        let retry_later = |ep: &mut Endpoint, rng: &mut dyn Random| {
            if let Some(old) =
                rekey_of.and_then(|o| ep.sas.get_mut(&h).and_then(|sa| sa.child_mut(o)))
            {
                old.rekeying = false;
                old.rekey_at = now
                    + Duration::from_secs(2)
                    + Duration::from_millis(u64::from(random::bytes::<1>(rng)[0]) * 20);
            }
        };
        if let Some(err) = first_error(&inner) {
            match err {
                NotifyType::INVALID_KE_PAYLOAD => {
                    // Try again with the group the peer wants, if we allow it (§1.3).
                    let wanted = find_notify(&inner, NotifyType::INVALID_KE_PAYLOAD)
                        .filter(|n| n.data.len() == 2)
                        .and_then(|n| crate::be_u16(&n.data))
                        .and_then(DhGroup::from_id);
                    let allowed =
                        wanted.filter(|g| cfg.esp.iter().any(|p| p.pfs_groups.contains(g)));
                    if let (Some(g), Some(old)) = (allowed, rekey_of) {
                        if let Some(c) = self.sas.get_mut(&h).and_then(|sa| sa.child_mut(old)) {
                            c.suite.group = Some(g);
                            c.rekeying = false;
                        }
                        self.queue(h, Task::RekeyChild(old));
                    } else {
                        retry_later(self, rng);
                        self.child_alarm(&session, FailReason::NoProposalChosen, format!(
                            "Child SA rekey failed: the peer wants PFS group {}, which the IPsec profile does not allow",
                            wanted.map_or("?".into(), |g| format!("GROUP{}", g.id()))
                        ));
                    }
                }
                NotifyType::TEMPORARY_FAILURE => retry_later(self, rng),
                NotifyType::CHILD_SA_NOT_FOUND => {
                    // The peer replaced it first (collision, §2.25.1); its rekey stands.
                    if let Some(old) =
                        rekey_of.and_then(|o| self.sas.get_mut(&h).and_then(|sa| sa.child_mut(o)))
                    {
                        old.rekeying = true;
                    }
                }
                other => {
                    retry_later(self, rng);
                    self.child_alarm(&session, reason_for(other), format!(
                        "the peer refused to rekey the Child SA with {}; this session allows ESP {}",
                        notify_name(other),
                        describe_esp_allowed(&cfg.esp, dh.is_some())
                    ));
                }
            }
            return;
        }
        let (Some(offer), Some(nr)) = (sa_of(&inner), nonce_of(&inner)) else {
            retry_later(self, rng);
            return;
        };
        let Some((suite, spi_out)) = accept_esp(offer, &cfg.esp, dh.is_some()) else {
            retry_later(self, rng);
            return;
        };
        let g_ir = match (&dh, ke_of(&inner)) {
            (Some(d), Some((g, data))) if g == d.group().id() && suite.group == Some(d.group()) => {
                match d.agree(data) {
                    Ok(s) => Some(s),
                    Err(_) => {
                        retry_later(self, rng);
                        return;
                    }
                }
            }
            (None, None) => None,
            _ => {
                retry_later(self, rng);
                return;
            }
        };
        let (Some(ts_i), Some(ts_r)) = ts_of(&inner) else {
            return;
        };
        let Some(ts) = narrow(&cfg, ts_i, ts_r) else {
            return;
        };
        if !self.install_child(
            now,
            h,
            suite,
            spi_in,
            spi_out,
            g_ir.as_deref().map(|v| &v[..]),
            &nonce,
            &nr,
            true,
            ts,
            cfg.child_lifetime,
            rng,
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

    /// Delete IKE SA `h` (with a Delete the peer sees): from now on it is not the session's
    /// established SA and its Child SAs are out of the data plane.
    pub(crate) fn doom(&mut self, now: Instant, h: u64, rng: &mut dyn Random) {
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        sa.doomed = true;
        let session = sa.session.clone();
        let spis: Vec<u32> = sa.children.iter().map(|c| c.spi_in).collect();
        self.retire_children(now, h, &spis);
        self.update_status(now, &session);
        self.queue(h, Task::DeleteIke);
        self.drive(now, h, rng);
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
        if sa.children.iter().any(|c| c.rekeying && !c.superseded) || sa.own_ike_rekey_done {
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
            self.respond_error(
                h,
                header,
                NotifyType::INVALID_KE_PAYLOAD,
                suite.group.id().to_be_bytes().to_vec(),
                rng,
            );
            return;
        }
        let Some(dh) = generate_dh(suite.group, rng) else {
            return;
        };
        let Ok(g_ir) = dh.agree(data) else {
            self.respond_error(h, header, NotifyType::INVALID_SYNTAX, Vec::new(), rng);
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
            now, h, false, peer_spi, our_spi, &ni, &nr, &g_ir, suite, cfg, rng,
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
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        let Ok(bytes) = sa.seal_message(
            ExchangeType::CREATE_CHILD_SA,
            header.message_id,
            true,
            &out,
            rng,
        ) else {
            return;
        };
        self.send_response(h, header.message_id, bytes);
        let nh = self.alloc_handle();
        self.register_sa(nh, new);
        if let Some(sa) = self.sas.get_mut(&h) {
            sa.peer_ike_rekey = Some((nh, min_nonce(&ni, &nr).to_vec()));
        }
        self.resolve_ike_collision(now, h, rng);
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rekey_ike_response(
        &mut self,
        now: Instant,
        h: u64,
        inner: Vec<Payload>,
        new_spi: [u8; 8],
        nonce: Vec<u8>,
        dh: ike_crypto::DhPrivate,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        let session = sa.session.clone();
        let Some(cfg) = self.session_config(&session).cloned() else {
            return;
        };
        let later = |ep: &mut Endpoint| {
            if let Some(sa) = ep.sas.get_mut(&h) {
                sa.rekey_at = Some(now + Duration::from_secs(5));
            }
        };
        if first_error(&inner).is_some() {
            later(self);
            return;
        }
        let (Some(offer), Some(nr), Some((g, data))) =
            (sa_of(&inner), nonce_of(&inner), ke_of(&inner))
        else {
            later(self);
            return;
        };
        let Some(suite) = accept_ike(offer, &cfg.ike) else {
            later(self);
            return;
        };
        let Some(p) = offer.first().filter(|p| p.spi.len() == 8) else {
            later(self);
            return;
        };
        if g != dh.group().id() || suite.group != dh.group() {
            later(self);
            return;
        }
        let Ok(g_ir) = dh.agree(data) else {
            later(self);
            return;
        };
        let mut peer_spi = [0u8; 8];
        peer_spi.copy_from_slice(&p.spi);
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

    // ============================== INFORMATIONAL ==============================

    pub(crate) fn info_request(
        &mut self,
        now: Instant,
        h: u64,
        header: Header,
        inner: Vec<Payload>,
        rng: &mut dyn Random,
    ) {
        let Some(sa) = self.sas.get(&h) else { return };
        let session = sa.session.clone();
        let mut out = Vec::new();
        let mut delete_ike = false;
        let mut removed = Vec::new();
        for p in &inner {
            let Payload::Delete(d) = p else { continue };
            if d.protocol == ProtocolId::IKE {
                delete_ike = true;
            } else if d.protocol == ProtocolId::ESP {
                let mut ours = Vec::new();
                for spi in &d.spis {
                    let Some(peer_in) = (spi.len() == 4).then(|| crate::be_u32(spi)).flatten()
                    else {
                        continue;
                    };
                    if let Some(c) = sa.children.iter().find(|c| c.spi_out == peer_in) {
                        ours.push(c.spi_in);
                    }
                }
                if !ours.is_empty() {
                    out.push(Payload::Delete(Delete {
                        protocol: ProtocolId::ESP,
                        spis: ours.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
                    }));
                    removed.extend(ours);
                }
            }
        }
        let was_rekeyed = sa.state == SaState::Rekeyed;
        if delete_ike {
            out.clear();
        }
        let Some(sa) = self.sas.get_mut(&h) else {
            return;
        };
        let Ok(bytes) = sa.seal_message(
            ExchangeType::INFORMATIONAL,
            header.message_id,
            true,
            &out,
            rng,
        ) else {
            return;
        };
        self.send_response(h, header.message_id, bytes);
        if delete_ike {
            // The peer deletes the old IKE SA only once its rekey of it is done (§2.8): if
            // we answered that rekey but held back resolving it while our own rekey was in
            // flight (§2.8.2), the peer's new SA won. Move the Child SAs there first, or
            // they would die with the old SA here while the peer keeps them on the new one.
            let deferred_peer_rekey = self
                .sas
                .get(&h)
                .is_some_and(|sa| sa.peer_ike_rekey.is_some() && sa.own_ike_rekey.is_none());
            if deferred_peer_rekey {
                if let Some(sa) = self.sas.get_mut(&h) {
                    sa.outstanding = None;
                }
                self.resolve_ike_collision(now, h, rng);
            }
            self.remove_sa(h);
            if !was_rekeyed && self.established_sa(&session).is_none() {
                let alarm = "the peer deleted the IKE SA (an administrator stopped the tunnel or the peer restarted); strait negotiates again if it initiates".to_owned();
                self.fail(now, &session, FailReason::PeerSentDelete, alarm, rng);
            }
            self.update_status(now, &session);
            return;
        }
        if !removed.is_empty() {
            self.remove_children(h, &removed);
            self.update_status(now, &session);
        }
        self.drive(now, h, rng);
    }
}

/// Whether an IKE SA carries no usable Child SA (all replaced or expiring).
pub(crate) fn needs_child(sa: &IkeSa) -> bool {
    sa.children
        .iter()
        .all(|c| c.superseded || c.expiring || c.retired)
}

/// A DH private value from fresh randomness (an out-of-range ECP scalar is retried).
pub(crate) fn generate_dh(group: DhGroup, rng: &mut dyn Random) -> Option<ike_crypto::DhPrivate> {
    for _ in 0..8 {
        let r = zeroize::Zeroizing::new(random::vec(rng, group.random_len()));
        if let Ok(d) = group.generate(&r) {
            return Some(d);
        }
    }
    None
}
