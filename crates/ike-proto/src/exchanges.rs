//! The four exchanges, as requester and responder.

use std::net::SocketAddr;
use std::time::Instant;

use ike_crypto::nat_detection_hash;
use ike_wire::{
    find_notify, AuthMethod, Delete, ExchangeType, Header, Message, Notify, NotifyType, Payload,
    ProtocolId, TrafficSelector,
};

use crate::config::{Identity, SessionConfig};
use crate::endpoint::{Endpoint, NAT_T_PORT};
use crate::events::FailReason;
use crate::fragment::Opened;
use crate::random::{self, Random};
use crate::sa::{IkeSa, RequestKind, SaState, Task};
use crate::ProtoError;

use crate::admission::{DropCause, NONCE_MAX, NONCE_MIN};

/// Nonce size we send (RFC 7296 §2.10: at least half the PRF key size, at least 128 bits).
pub(crate) const NONCE_LEN: usize = 32;

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
    // ============================== dispatch ==============================

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
        // The peer's request waits for our key exchange (crate::kex): this is a
        // retransmission of it, answered once the job is done.
        if sa.peer_kex.is_some() {
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
                self.auth_response(now, h, header, inner, spi_in, rng)
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

    /// Answer the current request with an error notify.
    pub(crate) fn respond_error(
        &mut self,
        h: u64,
        header: Header,
        n: NotifyType,
        data: Vec<u8>,
        rng: &mut dyn Random,
    ) {
        self.respond(h, header, &[Payload::Notify(Notify::new(n, data))], rng);
    }

    /// Answer the current request (`header`'s exchange and message ID) with `payloads`;
    /// false if the IKE SA is gone or the answer could not be sealed.
    pub(crate) fn respond(
        &mut self,
        h: u64,
        header: Header,
        payloads: &[Payload],
        rng: &mut dyn Random,
    ) -> bool {
        let Some(sa) = self.sas.get_mut(&h) else {
            return false;
        };
        let Ok(bytes) = sa.seal_message(header.exchange, header.message_id, true, payloads, rng)
        else {
            return false;
        };
        self.send_response(h, header.message_id, bytes);
        true
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
        if !self.respond(h, header, &out, rng) {
            return;
        }
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
