//! IKE SA and Child SA state, and message protection with the SK payload (RFC 7296 §3.14,
//! RFC 5282 for AEAD).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use ike_crypto::{DhPrivate, IkeKeys};
use ike_wire::{
    emit_payloads, flags, parse_payloads, Encrypted, ExchangeType, Header, Payload, PayloadType,
    TrafficSelector, VERSION_2_0,
};
use zeroize::Zeroizing;

use crate::config::SessionId;
use crate::proposal::{EspSuite, IkeSuite};
use crate::random::{self, Random};
use crate::ProtoError;

/// Where an IKE SA is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SaState {
    /// Initiator: IKE_SA_INIT sent.
    InitSent,
    /// Responder: IKE_SA_INIT answered, waiting for IKE_AUTH.
    InitDone,
    /// Initiator: IKE_AUTH sent.
    AuthSent,
    /// Usable.
    Established,
    /// Replaced by a rekeyed IKE SA; kept until its Delete completes.
    Rekeyed,
    /// Delete sent; waiting for the answer.
    Deleting,
}

/// A Child SA.
pub(crate) struct ChildSa {
    pub(crate) spi_in: u32,
    pub(crate) spi_out: u32,
    pub(crate) suite: EspSuite,
    pub(crate) ts_local: Vec<TrafficSelector>,
    pub(crate) ts_remote: Vec<TrafficSelector>,
    pub(crate) established: Instant,
    pub(crate) rekey_at: Instant,
    pub(crate) expire_at: Instant,
    /// Being replaced (a rekey is under way or done and the old one awaits deletion).
    pub(crate) rekeying: bool,
    /// Replaced: delete it once the rekey exchange has finished.
    pub(crate) superseded: bool,
    /// Its hard lifetime passed and its Delete is queued.
    pub(crate) expiring: bool,
    /// We are deleting it: nothing is sent on it any more ([`crate::Event::ChildSaRetired`]
    /// was emitted when the Delete was queued: the peer may remove it before the answer
    /// comes back); it still decrypts until the Delete completes.
    pub(crate) retired: bool,
    /// Our completed rekey of this SA: (new SA's inbound SPI, lowest nonce of the exchange).
    pub(crate) own_rekey: Option<(u32, Vec<u8>)>,
    /// The peer's completed rekey of this SA, likewise.
    pub(crate) peer_rekey: Option<(u32, Vec<u8>)>,
}

/// A request we sent and await an answer to (window size 1, §2.3).
pub(crate) struct Outstanding {
    pub(crate) message_id: u32,
    /// The message as sent: one datagram, or its fragments (RFC 7383).
    pub(crate) datagrams: Vec<Vec<u8>>,
    pub(crate) kind: RequestKind,
    pub(crate) sends: u32,
    pub(crate) next_send: Instant,
}

/// What a request was for, with the state its response completes.
pub(crate) enum RequestKind {
    Init,
    Auth {
        spi_in: u32,
    },
    CreateChild {
        rekey_of: Option<u32>,
        spi_in: u32,
        nonce: Vec<u8>,
        dh: Option<DhPrivate>,
    },
    RekeyIke {
        new_spi: [u8; 8],
        nonce: Vec<u8>,
        dh: DhPrivate,
    },
    DeleteChild {
        spis_in: Vec<u32>,
    },
    DeleteIke,
    Liveness,
    /// A DPD probe (an empty INFORMATIONAL request, §1.4) retransmitted on the DPD schedule
    /// (fixed spacing, `retry_count` retransmissions) instead of the exponential backoff.
    Dpd {
        retry_count: u32,
    },
}

/// Work queued on an IKE SA until the request window is free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Task {
    /// A new Child SA for an IKE SA that has none (after expiry or deletion).
    CreateChild,
    RekeyChild(u32),
    RekeyIke,
    DeleteChildren(Vec<u32>),
    DeleteIke,
    Liveness,
    /// A DPD probe (see [`RequestKind::Dpd`]); dropped unstarted if the peer was heard from
    /// after it was queued.
    Dpd,
}

/// An IKE SA.
pub(crate) struct IkeSa {
    pub(crate) session: SessionId,
    /// Whether we are the (original) initiator of this IKE SA: it sets the I flag and which
    /// keys protect which direction.
    pub(crate) initiator: bool,
    pub(crate) spi_i: [u8; 8],
    pub(crate) spi_r: [u8; 8],
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) state: SaState,
    pub(crate) suite: Option<IkeSuite>,
    pub(crate) keys: Option<IkeKeys>,
    pub(crate) ni: Vec<u8>,
    pub(crate) nr: Vec<u8>,
    pub(crate) dh: Option<DhPrivate>,
    /// The IKE_SA_INIT request and response as sent, for AUTH (§2.15).
    pub(crate) init_request: Vec<u8>,
    pub(crate) init_response: Vec<u8>,
    pub(crate) cookie: Option<Vec<u8>>,
    pub(crate) init_attempts: u32,
    pub(crate) next_request_id: u32,
    pub(crate) expected_peer_id: u32,
    pub(crate) outstanding: Option<Outstanding>,
    /// Our last response, replayed when the peer retransmits its request (§2.1).
    pub(crate) last_response: Option<(u32, Vec<Vec<u8>>)>,
    pub(crate) queue: VecDeque<Task>,
    pub(crate) children: Vec<ChildSa>,
    /// NAT-T: IKE moved to port 4500 and ESP is UDP-encapsulated.
    pub(crate) udp_encapsulation: bool,
    pub(crate) established: Option<Instant>,
    pub(crate) rekey_at: Option<Instant>,
    pub(crate) expire_at: Option<Instant>,
    /// Responder: drop the half-open SA after this.
    pub(crate) half_open_deadline: Option<Instant>,
    /// Responder: when a retransmitted IKE_SA_INIT was last answered (spacing, see
    /// [`crate::admission::RETRANSMIT_ANSWER_SPACING`]).
    pub(crate) init_answered: Option<Instant>,
    /// Responder: the number of the proposal chosen in IKE_SA_INIT.
    pub(crate) init_proposal: u8,
    pub(crate) remote_id: Option<String>,
    /// Our completed rekey of this IKE SA: (new SA, lowest nonce of the exchange).
    pub(crate) own_ike_rekey: Option<(u64, Vec<u8>)>,
    /// The peer's completed rekey of this IKE SA, likewise.
    pub(crate) peer_ike_rekey: Option<(u64, Vec<u8>)>,
    /// Our rekey of this IKE SA has completed (further requests on it are refused).
    pub(crate) own_ike_rekey_done: bool,
    /// Earliest time to try creating a missing Child SA again.
    pub(crate) child_retry_at: Option<Instant>,
    /// Last authenticated IKE message (request or response) from the peer on this SA.
    pub(crate) last_heard: Option<Instant>,
    /// When the last DPD probe on this SA was queued.
    pub(crate) dpd_sent: Option<Instant>,
    /// When its negotiation began (IKE_SA_INIT sent or received, or the rekey completed).
    pub(crate) created: Instant,
    /// We are deleting it (a Delete is queued or under way): it no longer counts as the
    /// session's established IKE SA, and its Child SAs are retired.
    pub(crate) doomed: bool,
    /// Both ends announced IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383 §2.3); a rekeyed IKE SA
    /// inherits it.
    pub(crate) fragmentation: bool,
    /// The peer's SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4), empty if it sent none.
    pub(crate) peer_hashes: Vec<u16>,
    /// The peer's fragmented message being collected (RFC 7383 §2.6).
    pub(crate) reassembly: Option<crate::fragment::Reassembly>,
    /// The authenticated IKE_AUTH message waiting for public-key work: the peer's
    /// certificate check (both roles) or, responder, our signature (see
    /// [`crate::peer_auth`]).
    pub(crate) auth_pending: Option<Box<crate::peer_auth::PendingAuth>>,
    /// Our CREATE_CHILD_SA exchange waiting for its key exchange (see [`crate::kex`]).
    pub(crate) own_kex: Option<crate::kex::PendingKex>,
    /// The peer's CREATE_CHILD_SA request waiting for our key exchange.
    pub(crate) peer_kex: Option<crate::kex::PendingKex>,
    gcm_iv_counter: u64,
}

impl IkeSa {
    pub(crate) fn new(
        session: SessionId,
        initiator: bool,
        local: SocketAddr,
        remote: SocketAddr,
        now: Instant,
    ) -> IkeSa {
        IkeSa {
            session,
            initiator,
            spi_i: [0; 8],
            spi_r: [0; 8],
            local,
            remote,
            state: if initiator {
                SaState::InitSent
            } else {
                SaState::InitDone
            },
            suite: None,
            keys: None,
            ni: Vec::new(),
            nr: Vec::new(),
            dh: None,
            init_request: Vec::new(),
            init_response: Vec::new(),
            cookie: None,
            init_attempts: 0,
            next_request_id: 0,
            expected_peer_id: 0,
            outstanding: None,
            last_response: None,
            queue: VecDeque::new(),
            children: Vec::new(),
            udp_encapsulation: false,
            established: None,
            rekey_at: None,
            expire_at: None,
            half_open_deadline: None,
            init_answered: None,
            init_proposal: 0,
            remote_id: None,
            own_ike_rekey: None,
            peer_ike_rekey: None,
            own_ike_rekey_done: false,
            child_retry_at: None,
            last_heard: None,
            dpd_sent: None,
            created: now,
            doomed: false,
            fragmentation: false,
            peer_hashes: Vec::new(),
            reassembly: None,
            auth_pending: None,
            own_kex: None,
            peer_kex: None,
            gcm_iv_counter: 0,
        }
    }

    /// Our SPI of this IKE SA (what the peer puts in our slot).
    pub(crate) fn local_spi(&self) -> [u8; 8] {
        if self.initiator {
            self.spi_i
        } else {
            self.spi_r
        }
    }

    pub(crate) fn header(&self, exchange: ExchangeType, message_id: u32, response: bool) -> Header {
        let mut f = if self.initiator { flags::INITIATOR } else { 0 };
        if response {
            f |= flags::RESPONSE;
        }
        Header {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            next_payload: PayloadType::NONE,
            version: VERSION_2_0,
            exchange,
            flags: f,
            message_id,
            length: 0,
        }
    }

    fn keys_out(&self) -> Option<(&[u8], &[u8])> {
        let k = self.keys.as_ref()?;
        Some(if self.initiator {
            (&k.sk_ei, &k.sk_ai)
        } else {
            (&k.sk_er, &k.sk_ar)
        })
    }

    fn keys_in(&self) -> Option<(&[u8], &[u8])> {
        let k = self.keys.as_ref()?;
        Some(if self.initiator {
            (&k.sk_er, &k.sk_ar)
        } else {
            (&k.sk_ei, &k.sk_ai)
        })
    }

    /// Build an encrypted message: header, then SK { inner payloads } (§3.14).
    pub(crate) fn seal(
        &mut self,
        exchange: ExchangeType,
        message_id: u32,
        response: bool,
        inner: &[Payload],
        rng: &mut dyn Random,
    ) -> Result<Vec<u8>, ProtoError> {
        let (first, plain) = emit_payloads(inner);
        let plain = Zeroizing::new(plain);
        self.seal_raw(exchange, message_id, response, first, None, &plain, rng)
    }

    /// Encrypt `content` into an SK payload, or an SKF payload when `fragment` is
    /// (number, total) (RFC 7383 §2.5: the fragment fields sit before the IV and are
    /// authenticated with the header).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn seal_raw(
        &mut self,
        exchange: ExchangeType,
        message_id: u32,
        response: bool,
        first: PayloadType,
        fragment: Option<(u16, u16)>,
        content: &[u8],
        rng: &mut dyn Random,
    ) -> Result<Vec<u8>, ProtoError> {
        let suite = self
            .suite
            .ok_or(ProtoError::Internal("sealing before keys exist"))?;
        let cipher = suite.cipher;
        // Pad so that content + pad length byte fills whole blocks (§3.14).
        let block = cipher.block_len().max(1);
        let pad = (block - (content.len() + 1) % block) % block;
        let mut plain = Zeroizing::new(Vec::with_capacity(content.len() + pad + 1));
        plain.extend_from_slice(content);
        plain.resize(content.len() + pad, 0);
        plain.push(u8::try_from(pad).map_err(|_| ProtoError::Internal("padding"))?);
        let iv = if cipher.is_aead() {
            // RFC 5282 §3.1: the IV must never repeat under a key; a counter guarantees it.
            self.gcm_iv_counter += 1;
            self.gcm_iv_counter.to_be_bytes().to_vec()
        } else {
            random::vec(rng, cipher.iv_len())
        };
        let icv_len = if cipher.is_aead() {
            cipher.icv_len()
        } else {
            suite.integrity.map_or(0, |i| i.icv_len())
        };
        let payload_header = if fragment.is_some() { 8 } else { 4 };
        let sk_len = payload_header + iv.len() + plain.len() + icv_len;
        let sk_len16 =
            u16::try_from(sk_len).map_err(|_| ProtoError::Internal("message too large"))?;
        let mut header = self.header(exchange, message_id, response);
        header.next_payload = if fragment.is_some() {
            PayloadType::SKF
        } else {
            PayloadType::SK
        };
        header.length = u32::from(sk_len16) + Header::LEN as u32;
        let mut out = Vec::with_capacity(Header::LEN + sk_len);
        header.emit(&mut out);
        out.push(first.0);
        out.push(0);
        out.extend_from_slice(&sk_len16.to_be_bytes());
        if let Some((number, total)) = fragment {
            out.extend_from_slice(&number.to_be_bytes());
            out.extend_from_slice(&total.to_be_bytes());
        }
        let (enc_key, integ_key) = self.keys_out().ok_or(ProtoError::Internal("no keys"))?;
        if cipher.is_aead() {
            let aad = out.clone();
            let ct = cipher
                .encrypt(enc_key, &iv, &aad, &plain)
                .map_err(ProtoError::Crypto)?;
            out.extend_from_slice(&iv);
            out.extend_from_slice(&ct);
        } else {
            let ct = cipher
                .encrypt(enc_key, &iv, &[], &plain)
                .map_err(ProtoError::Crypto)?;
            out.extend_from_slice(&iv);
            out.extend_from_slice(&ct);
            let integ = suite
                .integrity
                .ok_or(ProtoError::Internal("CBC without integrity"))?;
            let icv = integ.compute(integ_key, &[&out]);
            out.extend_from_slice(&icv);
        }
        Ok(out)
    }

    /// Check and decrypt a received message whose last payload is `sk` (§3.14); returns the
    /// inner payloads.
    pub(crate) fn open(&self, raw: &[u8], sk: &Encrypted) -> Result<Vec<Payload>, ProtoError> {
        let content = self.open_raw(raw, &sk.data, 4)?;
        if sk.inner_first == PayloadType::NONE {
            return Ok(Vec::new());
        }
        parse_payloads(sk.inner_first, &content).map_err(ProtoError::Decode)
    }

    /// Check and decrypt the encrypted payload that ends `raw`: `data` is its
    /// `IV | ciphertext | ICV` and `payload_header` the bytes before it (4 for SK, 8 for
    /// SKF). Returns the content without padding.
    pub(crate) fn open_raw(
        &self,
        raw: &[u8],
        data: &[u8],
        payload_header: usize,
    ) -> Result<Zeroizing<Vec<u8>>, ProtoError> {
        let suite = self.suite.ok_or(ProtoError::Internal("no keys"))?;
        let cipher = suite.cipher;
        let (enc_key, integ_key) = self.keys_in().ok_or(ProtoError::Internal("no keys"))?;
        let sk_start = raw
            .len()
            .checked_sub(payload_header + data.len())
            .ok_or(ProtoError::Malformed("encrypted payload"))?;
        let iv_len = cipher.iv_len();
        let plain = if cipher.is_aead() {
            if data.len() < iv_len + cipher.icv_len() {
                return Err(ProtoError::Malformed("encrypted payload too short"));
            }
            let aad = raw
                .get(..sk_start + payload_header)
                .ok_or(ProtoError::Malformed("encrypted payload"))?;
            let (iv, ct) = data
                .split_at_checked(iv_len)
                .ok_or(ProtoError::Malformed("encrypted payload too short"))?;
            cipher
                .decrypt(enc_key, iv, aad, ct)
                .map_err(|_| ProtoError::IntegrityCheckFailed)?
        } else {
            let integ = suite
                .integrity
                .ok_or(ProtoError::Internal("CBC without integrity"))?;
            let icv_len = integ.icv_len();
            if data.len() < iv_len + icv_len + cipher.block_len() {
                return Err(ProtoError::Malformed("encrypted payload too short"));
            }
            let (covered, icv) = raw
                .split_at_checked(raw.len().saturating_sub(icv_len))
                .ok_or(ProtoError::Malformed("encrypted payload"))?;
            if !integ.verify(integ_key, &[covered], icv) {
                return Err(ProtoError::IntegrityCheckFailed);
            }
            let body = data
                .get(..data.len() - icv_len)
                .ok_or(ProtoError::Malformed("encrypted payload too short"))?;
            let (iv, ct) = body
                .split_at_checked(iv_len)
                .ok_or(ProtoError::Malformed("encrypted payload too short"))?;
            if ct.len() % cipher.block_len() != 0 {
                return Err(ProtoError::Malformed(
                    "encrypted payload is not a whole number of blocks",
                ));
            }
            cipher
                .decrypt(enc_key, iv, &[], ct)
                .map_err(|_| ProtoError::IntegrityCheckFailed)?
        };
        let mut plain = plain;
        let pad = usize::from(
            *plain
                .last()
                .ok_or(ProtoError::Malformed("empty encrypted payload"))?,
        );
        let content_len = plain
            .len()
            .checked_sub(pad + 1)
            .ok_or(ProtoError::Malformed("padding longer than the content"))?;
        plain.truncate(content_len);
        Ok(plain)
    }

    /// The Child SA with our inbound SPI.
    pub(crate) fn child(&self, spi_in: u32) -> Option<&ChildSa> {
        self.children.iter().find(|c| c.spi_in == spi_in)
    }

    pub(crate) fn child_mut(&mut self, spi_in: u32) -> Option<&mut ChildSa> {
        self.children.iter_mut().find(|c| c.spi_in == spi_in)
    }
}
