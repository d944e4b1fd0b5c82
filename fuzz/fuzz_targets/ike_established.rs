//! The IKE engine past authentication. Two real `Endpoint`s (A initiates, B responds; PSK,
//! X25519 or ECP-256, AES-GCM or AES-CBC/HMAC, deterministic randomness seeded from the input,
//! virtual time) complete IKE_SA_INIT and IKE_AUTH over a lossless link; then the input is a
//! program of operations:
//!
//! - the link: deliver, drop, duplicate or reorder the real datagrams between A and B, or
//!   replay an old one;
//! - time: advance the clock by a chosen step or to the next timer, and run the timers;
//! - commands: rekey the Child SA or the IKE SA, liveness check, note ESP traffic, delete a
//!   Child SA, initiate, change DPD, remove and add the session again;
//! - injection: a message "from the peer" sealed with the established IKE SA's real keys
//!   (`Endpoint::seal_as_peer`, feature `fuzzing`), so it passes the integrity check and
//!   reaches CREATE_CHILD_SA / INFORMATIONAL / Delete / rekey handling: chosen exchange type,
//!   message ID (the expected one, the previous, the outstanding request's, or any) and flags,
//!   and an inner payload chain built from real pieces (proposals from the configuration,
//!   nonces, real or garbage KE data, traffic selectors, notifies and Deletes naming real
//!   SPIs) or raw bytes.
//!
//! After every operation, on both sides: no panic, `Endpoint::check_invariants()` holds, the
//! Child SAs the events installed are exactly those `installed_child_sas` reports, and one
//! operation produces a bounded number of datagrams.
#![no_main]

use std::collections::{BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ike_crypto::{Cipher, DhGroup, Integrity, Prf};
use ike_proto::fuzzing::FuzzIkeSa;
use ike_proto::proposal::{esp_proposals, ike_proposals};
use ike_proto::{
    DpdConfig, DpdMode, Endpoint, EndpointConfig, EspCipher, EspProposal, Event, Identity,
    IkeProposal, Random, SessionConfig, SessionId, TestRandom, Transmit,
};
use ike_wire::{
    emit_payloads, flags, AuthMethod, Delete, ExchangeType, IdType, Notify, NotifyType, Payload,
    PayloadType, ProtocolId, TrafficSelector, TsPayload,
};
use libfuzzer_sys::fuzz_target;

const A_IP: &str = "198.51.100.1";
const B_IP: &str = "198.51.100.2";
/// Operations per input.
const OPS_MAX: usize = 96;
/// Datagrams in flight per direction (more are lost, like a full queue).
const IN_FLIGHT_MAX: usize = 64;
/// Old datagrams kept for replays.
const HISTORY_MAX: usize = 64;

/// The fuzz input, read front to back; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What byte 0 of the input selects.
#[derive(Clone, Copy)]
struct Setup {
    gcm: bool,
    ecp256: bool,
    pfs: bool,
    dpd: Option<DpdMode>,
    /// Both ends initiate (a simultaneous start; the lossless handshake must still converge).
    both_initiate: bool,
}

impl Setup {
    fn from(b: u8) -> Setup {
        Setup {
            gcm: b & 1 != 0,
            ecp256: b & 2 != 0,
            pfs: b & 4 != 0,
            dpd: match (b >> 3) & 3 {
                0 | 3 => None,
                1 => Some(DpdMode::Periodic),
                _ => Some(DpdMode::OnDemand),
            },
            both_initiate: b & 0x20 != 0,
        }
    }

    fn group(self) -> DhGroup {
        if self.ecp256 {
            DhGroup::Ecp256
        } else {
            DhGroup::Curve25519
        }
    }

    fn ike(self) -> Vec<IkeProposal> {
        vec![if self.gcm {
            IkeProposal {
                ciphers: vec![Cipher::AesGcm16 { key_bits: 128 }],
                integrity: vec![],
                prfs: vec![Prf::HmacSha256],
                groups: vec![self.group()],
            }
        } else {
            IkeProposal {
                ciphers: vec![Cipher::AesCbc { key_bits: 128 }],
                integrity: vec![Integrity::HmacSha256_128],
                prfs: vec![Prf::HmacSha256],
                groups: vec![self.group()],
            }
        }]
    }

    fn esp(self) -> Vec<EspProposal> {
        vec![EspProposal {
            ciphers: vec![EspCipher::AesGcm16(128)],
            integrity: vec![],
            pfs_groups: if self.pfs { vec![self.group()] } else { vec![] },
            esn: false,
        }]
    }

    fn session(self, local: &str, remote: &str, initiate: bool, dpd_secs: u64) -> SessionConfig {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        SessionConfig {
            id: SessionId("s".into()),
            local: ip(local),
            remote: ip(remote),
            local_id: Identity::ip(ip(local)),
            remote_id: Identity::ip(ip(remote)),
            psk: zeroize::Zeroizing::new(b"fuzz-psk".to_vec()),
            certificate: None,
            ike: self.ike(),
            esp: self.esp(),
            ike_lifetime: Duration::from_secs(3600),
            child_lifetime: Duration::from_secs(600),
            initiate,
            force_udp_encapsulation: true,
            ipv4: true,
            ipv6: false,
            dpd: self.dpd.map(|mode| DpdConfig {
                mode,
                interval: Duration::from_secs(dpd_secs),
                retry_count: 3,
            }),
        }
    }
}

/// One endpoint with its randomness and the Child SAs its events installed.
struct Side {
    ep: Endpoint,
    rng: TestRandom,
    ip: IpAddr,
    installed: BTreeSet<(u32, u32)>,
    /// Datagrams it sent that have not arrived yet.
    in_flight: VecDeque<Transmit>,
}

impl Side {
    fn new(ip: &str, seed: u64) -> Side {
        let mut rng = TestRandom::new(seed);
        let ep = Endpoint::new(EndpointConfig::default(), &mut rng);
        Side {
            ep,
            rng,
            ip: ip.parse().unwrap(),
            installed: BTreeSet::new(),
            in_flight: VecDeque::new(),
        }
    }

    /// Drain its outputs and check it.
    fn settle(&mut self, who: &str) {
        let mut sent = 0;
        while let Some(t) = self.ep.poll_transmit() {
            sent += 1;
            assert!(
                sent < 10_000,
                "{who}: one operation made more than 10,000 datagrams"
            );
            assert_eq!(
                t.local.ip(),
                self.ip,
                "{who} sent from an address that is not its own"
            );
            if self.in_flight.len() < IN_FLIGHT_MAX {
                self.in_flight.push_back(t);
            }
        }
        while let Some(e) = self.ep.poll_event() {
            match e {
                Event::ChildSaInstalled(p) => {
                    assert!(
                        self.installed.insert((p.spi_in, p.spi_out)),
                        "{who}: Child SA {:08x}/{:08x} installed twice",
                        p.spi_in,
                        p.spi_out
                    );
                }
                Event::ChildSaRetired {
                    spi_in, spi_out, ..
                }
                | Event::ChildSaDeleted {
                    spi_in, spi_out, ..
                } => {
                    self.installed.remove(&(spi_in, spi_out));
                }
                Event::StatusChanged(_) => {}
            }
        }
        if let Err(e) = self.ep.check_invariants() {
            panic!("{who}: endpoint invariant violated: {e}");
        }
        let mut want: Vec<(u32, u32)> = Vec::new();
        let ids: Vec<SessionId> = self.ep.sessions().cloned().collect();
        for id in &ids {
            want.extend(self.ep.installed_child_sas(id));
        }
        want.sort_unstable();
        let have: Vec<(u32, u32)> = self.installed.iter().copied().collect();
        assert_eq!(
            want, have,
            "{who}: installed Child SAs differ from what the events installed"
        );
    }
}

struct World {
    setup: Setup,
    a: Side,
    b: Side,
    now: Instant,
    /// Delivered datagrams (to A?, datagram), for replays.
    history: VecDeque<(bool, Transmit)>,
}

impl World {
    fn side(&mut self, to_a: bool) -> &mut Side {
        if to_a {
            &mut self.a
        } else {
            &mut self.b
        }
    }

    fn settle(&mut self) {
        self.a.settle("A");
        self.b.settle("B");
    }

    /// Hand a datagram to its destination.
    fn arrive(&mut self, to_a: bool, t: Transmit) {
        let now = self.now;
        let dst = self.side(to_a);
        if t.remote.ip() == dst.ip {
            dst.ep
                .handle_datagram(now, t.remote, t.local, &t.data, &mut dst.rng);
        }
        if self.history.len() >= HISTORY_MAX {
            self.history.pop_front();
        }
        self.history.push_back((to_a, t));
    }

    /// Deliver the oldest datagram sent towards A (`to_a`) or B.
    fn deliver_one(&mut self, to_a: bool) -> bool {
        let src = self.side(!to_a);
        let Some(t) = src.in_flight.pop_front() else {
            return false;
        };
        self.arrive(to_a, t);
        true
    }

    /// Deliver everything until both are quiet (bounded).
    fn flush(&mut self) {
        for _ in 0..64 {
            let moved = self.deliver_one(true) | self.deliver_one(false);
            self.settle();
            if !moved {
                break;
            }
        }
    }

    fn run_timers(&mut self) {
        let now = self.now;
        for side in [&mut self.a, &mut self.b] {
            if side.ep.poll_timeout().is_some_and(|t| t <= now) {
                side.ep.handle_timeout(now, &mut side.rng);
            }
        }
    }

    fn established(&self) -> bool {
        let id = SessionId("s".into());
        [&self.a, &self.b].iter().all(|s| {
            s.ep.status(&id)
                .is_some_and(|st| st.ike_state == ike_proto::IkeState::Up)
        })
    }
}

/// An SPI the fuzzer refers to: one of the target's Child SAs (either direction) or any.
fn pick_spi(input: &mut Input, view: Option<&FuzzIkeSa>) -> u32 {
    let sel = input.u8();
    let children = view.map_or(&[][..], |v| &v.children[..]);
    if sel < 0xf0 && !children.is_empty() {
        let (spi_in, spi_out) = children[usize::from(sel >> 1) % children.len()];
        // The peer names our outbound SPI (its inbound one) in REKEY_SA and Delete.
        if sel & 1 == 0 {
            spi_out
        } else {
            spi_in
        }
    } else {
        input.u32()
    }
}

fn selector(input: &mut Input) -> TrafficSelector {
    match input.u8() % 4 {
        0 => TrafficSelector::ANY_V4,
        1 => TrafficSelector::ANY_V6,
        2 => TrafficSelector {
            ip_protocol: input.u8(),
            start_port: input.u16(),
            end_port: input.u16(),
            start: IpAddr::from(input.u32().to_be_bytes()),
            end: IpAddr::from(input.u32().to_be_bytes()),
        },
        _ => TrafficSelector {
            ip_protocol: 0,
            start_port: 0,
            end_port: 65535,
            start: "10.0.0.0".parse().unwrap(),
            end: "10.0.0.255".parse().unwrap(),
        },
    }
}

fn ts(input: &mut Input) -> TsPayload {
    let n = usize::from(input.u8() % 4);
    let selectors = if n == 0 {
        vec![TrafficSelector::ANY_V4]
    } else {
        (0..n).map(|_| selector(input)).collect()
    };
    TsPayload {
        selectors,
        unknown: 0,
    }
}

/// A KE payload: a real public value of the session's group (or another), or garbage.
fn ke(input: &mut Input, setup: Setup, rng: &mut TestRandom) -> Payload {
    let sel = input.u8();
    let group = match sel % 4 {
        0 | 1 => setup.group(),
        2 => DhGroup::Curve25519,
        _ => DhGroup::Ecp256,
    };
    if sel & 0x80 == 0 {
        let mut r = vec![0u8; group.random_len()];
        rng.fill(&mut r);
        if let Ok(k) = group.generate(&r) {
            return Payload::Ke {
                group: group.id(),
                data: k.public_value(),
            };
        }
    }
    let len = usize::from(input.u8());
    Payload::Ke {
        group: if sel & 0x40 != 0 {
            input.u16()
        } else {
            group.id()
        },
        data: input.bytes(len),
    }
}

const NOTIFIES: [NotifyType; 12] = [
    NotifyType::REKEY_SA,
    NotifyType::NO_PROPOSAL_CHOSEN,
    NotifyType::INVALID_KE_PAYLOAD,
    NotifyType::TEMPORARY_FAILURE,
    NotifyType::CHILD_SA_NOT_FOUND,
    NotifyType::NO_ADDITIONAL_SAS,
    NotifyType::TS_UNACCEPTABLE,
    NotifyType::INVALID_SYNTAX,
    NotifyType::AUTHENTICATION_FAILED,
    NotifyType::INITIAL_CONTACT,
    NotifyType::USE_TRANSPORT_MODE,
    NotifyType::INVALID_SYNTAX,
];

/// An inner payload chain built from real pieces: each payload one selector byte.
fn payloads(
    input: &mut Input,
    setup: Setup,
    view: &FuzzIkeSa,
    rng: &mut TestRandom,
) -> Vec<Payload> {
    let n = usize::from(input.u8() % 8);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let p = match input.u8() % 12 {
            0 => {
                let spi = input.u32() | 0x100;
                Payload::Sa(esp_proposals(&setup.esp(), spi, input.u8() & 1 == 0))
            }
            1 => {
                let mut spi = [0u8; 8];
                rng.fill(&mut spi);
                Payload::Sa(ike_proposals(&setup.ike(), &spi))
            }
            2 => {
                let len = match input.u8() {
                    0..=200 => 32,
                    n => usize::from(n - 200),
                };
                let mut nonce = vec![0u8; len];
                rng.fill(&mut nonce);
                Payload::Nonce(nonce)
            }
            3 => ke(input, setup, rng),
            4 => Payload::TsI(ts(input)),
            5 => Payload::TsR(ts(input)),
            6 | 7 => {
                let sel = input.u8();
                let notify_type = if sel < 0xf0 {
                    NOTIFIES[usize::from(sel) % NOTIFIES.len()]
                } else {
                    NotifyType(input.u16())
                };
                let mut n = Notify::new(notify_type, Vec::new());
                match notify_type {
                    NotifyType::REKEY_SA | NotifyType::CHILD_SA_NOT_FOUND => {
                        n.protocol = ProtocolId::ESP;
                        n.spi = pick_spi(input, Some(view)).to_be_bytes().to_vec();
                    }
                    NotifyType::INVALID_KE_PAYLOAD => {
                        n.data = if sel & 1 == 0 {
                            setup.group().id()
                        } else {
                            input.u16()
                        }
                        .to_be_bytes()
                        .to_vec();
                    }
                    _ => {
                        let len = usize::from(input.u8() % 16);
                        n.data = input.bytes(len);
                    }
                }
                Payload::Notify(n)
            }
            8 => {
                let k = usize::from(input.u8() % 4) + 1;
                let spis = (0..k)
                    .map(|_| pick_spi(input, Some(view)).to_be_bytes().to_vec())
                    .collect();
                Payload::Delete(Delete {
                    protocol: ProtocolId::ESP,
                    spis,
                })
            }
            9 => Payload::Delete(Delete {
                protocol: ProtocolId::IKE,
                spis: Vec::new(),
            }),
            10 => {
                let len = usize::from(input.u8() % 32);
                if input.u8() & 1 == 0 {
                    Payload::IdI {
                        id_type: IdType::ID_IPV4_ADDR,
                        data: input.bytes(len),
                    }
                } else {
                    Payload::Auth {
                        method: AuthMethod::SHARED_KEY_MESSAGE_INTEGRITY_CODE,
                        data: input.bytes(len),
                    }
                }
            }
            _ => {
                let len = usize::from(input.u8() % 32);
                Payload::VendorId(input.bytes(len))
            }
        };
        out.push(p);
    }
    out
}

const EXCHANGES: [ExchangeType; 4] = [
    ExchangeType::CREATE_CHILD_SA,
    ExchangeType::INFORMATIONAL,
    ExchangeType::IKE_AUTH,
    ExchangeType::IKE_SA_INIT,
];

/// Our SPI of an IKE SA (what `seal_as_peer` takes).
fn local_spi(v: &FuzzIkeSa) -> [u8; 8] {
    if v.initiator {
        v.spi_i
    } else {
        v.spi_r
    }
}

/// A message sealed with a real IKE SA's keys, delivered to one side as if from the other.
fn inject(w: &mut World, input: &mut Input, raw_inner: bool) {
    let to_a = input.u8() & 1 == 0;
    let setup = w.setup;
    let now = w.now;
    let dst = w.side(to_a);
    let views: Vec<FuzzIkeSa> = dst
        .ep
        .fuzz_ike_sas()
        .into_iter()
        .filter(|v| v.keyed)
        .collect();
    if views.is_empty() {
        return;
    }
    let view = &views[usize::from(input.u8()) % views.len()];
    let sel = input.u8();
    let exchange = if sel < 0xf0 {
        EXCHANGES[usize::from(sel) % EXCHANGES.len()]
    } else {
        ExchangeType(input.u8())
    };
    let mode = input.u8();
    let response = mode & 1 != 0;
    let message_id = match (mode >> 1) % 4 {
        0 if response => view.outstanding.unwrap_or(0),
        0 => view.expected_peer_id,
        1 => view.expected_peer_id.wrapping_sub(1),
        2 => view
            .outstanding
            .unwrap_or(view.expected_peer_id)
            .wrapping_add(1),
        _ => input.u32(),
    };
    let flag_bits = if mode & 0x80 != 0 {
        input.u8()
    } else {
        (if view.initiator { 0 } else { flags::INITIATOR })
            | if response { flags::RESPONSE } else { 0 }
    };
    let (first, inner) = if raw_inner {
        let first = PayloadType(input.u8());
        let len = usize::from(input.u8());
        (first, input.bytes(len))
    } else {
        emit_payloads(&payloads(input, setup, view, &mut dst.rng))
    };
    let iv_seed = u64::from(input.u8());
    let Some(d) = dst.ep.seal_as_peer(
        local_spi(view),
        exchange,
        message_id,
        flag_bits,
        first,
        &inner,
        iv_seed,
    ) else {
        return;
    };
    dst.ep
        .handle_datagram(now, d.local, d.remote, &d.data, &mut dst.rng);
}

/// Take the oldest real datagram on its way to one side, decrypt it with the receiver's keys,
/// change its header or inner payload bytes, seal it again and deliver it: authentic-looking
/// variants of the engine's own requests and answers (a rekey with one payload missing, a
/// Delete naming another SPI, an answer under another message ID).
fn mutate_in_flight(w: &mut World, input: &mut Input) {
    let to_a = input.u8() & 1 == 0;
    let now = w.now;
    let Some(t) = w.side(!to_a).in_flight.pop_front() else {
        return;
    };
    let dst = w.side(to_a);
    let ike = t
        .data
        .strip_prefix(&[0u8; 4][..])
        .filter(|_| t.remote.port() == 4500)
        .unwrap_or(&t.data);
    let Some(opened) = dst.ep.open_as_receiver(ike) else {
        // Not an encrypted message (IKE_SA_INIT): deliver it unchanged.
        dst.ep
            .handle_datagram(now, t.remote, t.local, &t.data, &mut dst.rng);
        return;
    };
    let mut header = opened.header;
    let mut first = opened.inner_first;
    let mut inner = opened.inner;
    let what = input.u8();
    match what % 8 {
        0 => {
            header.message_id = header
                .message_id
                .wrapping_add(u32::from(input.u8()))
                .wrapping_sub(128)
        }
        1 => header.flags ^= input.u8(),
        2 => header.exchange = EXCHANGES[usize::from(input.u8()) % EXCHANGES.len()],
        3 => first = PayloadType(input.u8()),
        4 => inner.truncate(usize::from(input.u16()) % (inner.len() + 1)),
        5 | 6 => {
            // Overwrite a few bytes (SPIs, lengths, transform IDs, notify types).
            for _ in 0..=(what >> 4) % 4 {
                let at = usize::from(input.u16());
                let v = input.u8();
                if !inner.is_empty() {
                    let i = at % inner.len();
                    inner[i] = v;
                }
            }
        }
        _ => {
            let at = usize::from(input.u16()) % (inner.len() + 1);
            let len = usize::from(input.u8() % 64);
            let bytes = input.bytes(len);
            inner.splice(at..at, bytes);
        }
    }
    let views = dst.ep.fuzz_ike_sas();
    let ours = if header.flags & flags::INITIATOR != 0 {
        header.spi_r
    } else {
        header.spi_i
    };
    let spi = views
        .iter()
        .map(local_spi)
        .find(|s| *s == ours)
        .unwrap_or(ours);
    let iv_seed = u64::from(input.u8());
    if let Some(d) = dst.ep.seal_as_peer(
        spi,
        header.exchange,
        header.message_id,
        header.flags,
        first,
        &inner,
        iv_seed,
    ) {
        dst.ep
            .handle_datagram(now, d.local, d.remote, &d.data, &mut dst.rng);
    }
}

fn command(w: &mut World, input: &mut Input) {
    let sel = input.u8();
    let now = w.now;
    let setup = w.setup;
    let on_a = sel & 1 == 0;
    let id = SessionId("s".into());
    let side = w.side(on_a);
    let rng = &mut side.rng;
    match (sel >> 1) % 9 {
        0 => side.ep.rekey_child(now, &id, rng),
        1 => side.ep.rekey_ike(now, &id, rng),
        2 => side.ep.check_liveness(now, &id, rng),
        3 => side
            .ep
            .note_traffic(now, &id, sel & 0x40 != 0, sel & 0x80 != 0),
        4 => {
            let installed = side.ep.installed_child_sas(&id);
            let spi = match installed.get(usize::from(input.u8()) % installed.len().max(1)) {
                Some((spi_in, _)) if sel & 0x80 == 0 => *spi_in,
                _ => input.u32(),
            };
            let _ = side.ep.delete_child_sa(now, &id, spi, rng);
        }
        5 => side.ep.initiate(now, &id, rng),
        6 => {
            // Only DPD or the initiation mode changes: applied in place.
            let (local, remote) = if on_a { (A_IP, B_IP) } else { (B_IP, A_IP) };
            let mut cfg = setup.session(
                local,
                remote,
                on_a || setup.both_initiate,
                u64::from(input.u8() % 30) + 1,
            );
            if sel & 0x80 != 0 {
                cfg.initiate = !cfg.initiate;
            }
            side.ep.set_session(now, cfg, rng);
        }
        7 => {
            side.ep.remove_session(now, &id, rng);
            let (local, remote) = if on_a { (A_IP, B_IP) } else { (B_IP, A_IP) };
            let cfg = setup.session(local, remote, on_a || setup.both_initiate, 10);
            side.ep.set_session(now, cfg, rng);
        }
        _ => side.ep.shutdown(now, rng),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let setup = Setup::from(input.u8());
    let seed = u64::from(input.u16());
    let mut w = World {
        setup,
        a: Side::new(A_IP, seed),
        b: Side::new(B_IP, seed ^ 0x5eed),
        now: Instant::now(),
        history: VecDeque::new(),
    };
    let now = w.now;
    w.b.ep.set_session(
        now,
        setup.session(B_IP, A_IP, setup.both_initiate, 10),
        &mut w.b.rng,
    );
    w.a.ep
        .set_session(now, setup.session(A_IP, B_IP, true, 10), &mut w.a.rng);
    w.settle();
    // The handshake on a lossless link, no time passing: it must get both ends up.
    for _ in 0..8 {
        w.flush();
        if w.established() && w.a.in_flight.is_empty() && w.b.in_flight.is_empty() {
            break;
        }
    }
    assert!(
        w.established(),
        "the lossless handshake did not establish both ends"
    );

    for _ in 0..OPS_MAX {
        if input.is_empty() {
            break;
        }
        let op = input.u8();
        match op % 16 {
            0..=2 => {
                w.deliver_one(op & 0x10 != 0);
            }
            3 => {
                let src = w.side(op & 0x10 == 0);
                src.in_flight.pop_front();
            }
            4 => {
                let src = w.side(op & 0x10 == 0);
                if let Some(t) = src.in_flight.front().cloned() {
                    if src.in_flight.len() < IN_FLIGHT_MAX {
                        src.in_flight.push_back(t);
                    }
                }
            }
            5 => {
                let src = w.side(op & 0x10 == 0);
                if let Some(t) = src.in_flight.pop_front() {
                    src.in_flight.push_back(t);
                }
            }
            6 => {
                let step = u64::from(input.u8());
                w.now += Duration::from_millis(step * if op & 0x10 != 0 { 1000 } else { 50 });
                w.run_timers();
            }
            7 => {
                // Jump to the next timer of either side.
                let next = [w.a.ep.poll_timeout(), w.b.ep.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                if let Some(t) = next {
                    w.now = w.now.max(t);
                }
                w.run_timers();
            }
            8 | 9 => command(&mut w, &mut input),
            10..=12 => inject(&mut w, &mut input, false),
            13 if op & 0x10 != 0 => inject(&mut w, &mut input, true),
            13 => mutate_in_flight(&mut w, &mut input),
            14 => {
                let i = usize::from(input.u8());
                if let Some((to_a, t)) = w.history.get(i % w.history.len().max(1)).cloned() {
                    w.arrive(to_a, t);
                }
            }
            _ => w.flush(),
        }
        w.settle();
    }
    // Whatever happened, a lossless link and time let the two ends agree again without
    // breaking anything (not asserted to be up: the fuzzer may have removed the session).
    w.flush();
    for _ in 0..4 {
        let next = [w.a.ep.poll_timeout(), w.b.ep.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(t) = next else { break };
        w.now = w.now.max(t);
        w.run_timers();
        w.settle();
        w.flush();
    }
});
