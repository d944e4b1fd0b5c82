//! The simulated link shared by the integration tests: two strait endpoints on virtual time
//! (the quinn `Pair` idea). Each test crate uses part of it.
#![allow(dead_code)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ike_crypto::{Cipher, DhGroup, Integrity, Prf};
use ike_proto::{
    ChildSaParams, CryptoJob, Endpoint, EndpointConfig, EspCipher, EspProposal, Event, Identity,
    IkeProposal, IkeState, Random, SessionConfig, SessionId, TestRandom, Transmit,
};
use zeroize::Zeroizing;

pub const A: &str = "198.51.100.1";
pub const B: &str = "198.51.100.2";

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn nsx_default_ike() -> Vec<IkeProposal> {
    vec![IkeProposal {
        ciphers: vec![Cipher::AesCbc { key_bits: 128 }],
        integrity: vec![Integrity::HmacSha256_128],
        prfs: vec![Prf::HmacSha256],
        groups: vec![DhGroup::Modp2048],
    }]
}

pub fn nsx_default_esp() -> Vec<EspProposal> {
    vec![EspProposal {
        ciphers: vec![EspCipher::AesGcm16(128)],
        integrity: vec![],
        pfs_groups: vec![DhGroup::Modp2048],
        esn: false,
    }]
}

pub fn session(local: &str, remote: &str, initiate: bool) -> SessionConfig {
    SessionConfig {
        id: SessionId(format!("s-{local}")),
        local: ip(local),
        remote: ip(remote),
        local_id: Identity::ip(ip(local)),
        remote_id: Identity::ip(ip(remote)),
        psk: Zeroizing::new(b"interop-test-psk-0123456789".to_vec()),
        certificate: None,
        ike: nsx_default_ike(),
        esp: nsx_default_esp(),
        ike_lifetime: Duration::from_secs(86_400),
        child_lifetime: Duration::from_secs(3_600),
        initiate,
        force_udp_encapsulation: true,
        ipv4: true,
        ipv6: false,
        dpd: None,
    }
}

pub struct Side {
    pub ep: Endpoint,
    pub rng: TestRandom,
    pub addr: IpAddr,
    pub events: Vec<Event>,
    /// Installed Child SAs by inbound SPI.
    pub children: Vec<ChildSaParams>,
    /// Order of install/delete, to check make-before-break.
    pub log: Vec<String>,
}

/// Decides whether a datagram is lost: (sent by a?, the datagram).
pub type DropRule = Box<dyn FnMut(bool, &Transmit) -> bool>;

pub struct Pair {
    pub a: Side,
    pub b: Side,
    pub now: Instant,
    pub drop: DropRule,
    pub sent: usize,
    pub wire: Vec<(bool, Transmit)>,
    /// When each datagram of `wire` was sent (virtual time).
    pub wire_times: Vec<Instant>,
    /// With [`Pair::delay_jobs`]: crypto jobs handed out and not yet done.
    pub jobs: Option<DelayedJobs>,
}

/// Crypto jobs (endpoints with `offload_crypto`) finished after a seeded delay in virtual
/// time, so their results come back between other inputs, in any order, as from a busy
/// thread pool; a seed replays.
pub struct DelayedJobs {
    rng: TestRandom,
    max_delay_ms: u64,
    /// (when it is done, for side a?, the job)
    held: Vec<(Instant, bool, CryptoJob)>,
    /// Jobs handed out so far, per side (a, b).
    pub handed_out: (usize, usize),
}

impl Pair {
    pub fn new(seed: u64) -> Pair {
        Self::with_config(seed, EndpointConfig::default(), EndpointConfig::default())
    }

    pub fn with_config(seed: u64, ca: EndpointConfig, cb: EndpointConfig) -> Pair {
        let mut ra = TestRandom::new(seed);
        let mut rb = TestRandom::new(seed.wrapping_mul(31).wrapping_add(7));
        let ea = Endpoint::new(ca, &mut ra);
        let eb = Endpoint::new(cb, &mut rb);
        Pair {
            a: Side {
                ep: ea,
                rng: ra,
                addr: ip(A),
                events: vec![],
                children: vec![],
                log: vec![],
            },
            b: Side {
                ep: eb,
                rng: rb,
                addr: ip(B),
                events: vec![],
                children: vec![],
                log: vec![],
            },
            now: Instant::now(),
            drop: Box::new(|_, _| false),
            sent: 0,
            wire: vec![],
            wire_times: vec![],
            jobs: None,
        }
    }

    /// Finish the crypto jobs of offloading endpoints after 0 to `max_delay` (seeded);
    /// without this, jobs wait for the test to run them.
    pub fn delay_jobs(&mut self, seed: u64, max_delay: Duration) {
        self.jobs = Some(DelayedJobs {
            rng: TestRandom::new(seed ^ 0x6a09_e667),
            max_delay_ms: max_delay.as_millis() as u64,
            held: Vec::new(),
            handed_out: (0, 0),
        });
    }

    /// Take the jobs both sides handed out, and finish those that are due; returns whether
    /// anything was done.
    fn pump_jobs(&mut self) -> bool {
        let Some(jobs) = self.jobs.as_mut() else {
            return false;
        };
        for (from_a, side) in [(true, &mut self.a), (false, &mut self.b)] {
            while let Some(job) = side.ep.poll_crypto() {
                let mut r = [0u8; 8];
                jobs.rng.fill(&mut r);
                let delay = u64::from_le_bytes(r) % (jobs.max_delay_ms + 1);
                jobs.held
                    .push((self.now + Duration::from_millis(delay), from_a, job));
                if from_a {
                    jobs.handed_out.0 += 1;
                } else {
                    jobs.handed_out.1 += 1;
                }
            }
        }
        let mut done = false;
        while let Some(i) = jobs.held.iter().position(|(t, _, _)| *t <= self.now) {
            let (_, from_a, job) = jobs.held.remove(i);
            let side = if from_a { &mut self.a } else { &mut self.b };
            side.ep.handle_crypto(self.now, job.run(), &mut side.rng);
            done = true;
        }
        done
    }

    /// When the next delayed job is due.
    fn next_job(&self) -> Option<Instant> {
        self.jobs
            .as_ref()
            .and_then(|j| j.held.iter().map(|(t, _, _)| *t).min())
    }

    pub fn configure(&mut self, a: SessionConfig, b: SessionConfig) {
        let now = self.now;
        self.b.ep.set_session(now, b, &mut self.b.rng);
        self.a.ep.set_session(now, a, &mut self.a.rng);
    }

    pub fn collect(side: &mut Side) {
        while let Some(e) = side.ep.poll_event() {
            match &e {
                Event::ChildSaInstalled(p) => {
                    side.log.push(format!("+{:08x}", p.spi_in));
                    side.children.push((**p).clone());
                }
                Event::ChildSaRetired { spi_in, .. } => {
                    side.log.push(format!("~{spi_in:08x}"));
                    side.children.retain(|c| c.spi_in != *spi_in);
                }
                Event::ChildSaDeleted { spi_in, .. } => {
                    side.log.push(format!("-{spi_in:08x}"));
                    side.children.retain(|c| c.spi_in != *spi_in);
                }
                Event::StatusChanged(_) => {}
            }
            side.events.push(e);
        }
        // After every input: the endpoint's own invariants, and the Child SAs the events
        // installed are exactly those it says the data plane must hold.
        if let Err(e) = side.ep.check_invariants() {
            panic!("endpoint invariant violated: {e}\nlog {:?}", side.log);
        }
        let ids: Vec<SessionId> = side.ep.sessions().cloned().collect();
        let mut want: Vec<(u32, u32)> = ids
            .iter()
            .flat_map(|id| side.ep.installed_child_sas(id))
            .collect();
        want.sort_unstable();
        let mut have: Vec<(u32, u32)> = side
            .children
            .iter()
            .map(|c| (c.spi_in, c.spi_out))
            .collect();
        have.sort_unstable();
        assert_eq!(
            want, have,
            "installed Child SAs differ from the events; log {:?}",
            side.log
        );
    }

    /// Deliver datagrams until both sides are quiet (no timers advanced).
    pub fn deliver(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            for from_a in [true, false] {
                let (src, dst) = if from_a {
                    (&mut self.a, &mut self.b)
                } else {
                    (&mut self.b, &mut self.a)
                };
                while let Some(t) = src.ep.poll_transmit() {
                    moved = true;
                    self.sent += 1;
                    assert_eq!(
                        t.local.ip(),
                        src.addr,
                        "sent from the session's local address"
                    );
                    self.wire.push((from_a, t.clone()));
                    self.wire_times.push(self.now);
                    if (self.drop)(from_a, &t) {
                        continue;
                    }
                    assert_eq!(t.remote.ip(), dst.addr);
                    let (local, remote) = (t.remote, t.local);
                    dst.ep
                        .handle_datagram(self.now, local, remote, &t.data, &mut dst.rng);
                }
            }
            if self.pump_jobs() {
                moved = true;
            }
            Self::collect(&mut self.a);
            Self::collect(&mut self.b);
            if !moved {
                return;
            }
        }
        panic!("the exchange does not settle");
    }

    /// Advance virtual time to the next timer (at most `max`), fire it, deliver.
    pub fn step(&mut self, max: Duration) -> bool {
        if self.jobs.is_some() {
            // Take the jobs handed out since the last delivery, so they are scheduled.
            self.deliver();
        }
        let next = [
            self.a.ep.poll_timeout(),
            self.b.ep.poll_timeout(),
            self.next_job(),
        ]
        .into_iter()
        .flatten()
        .min();
        let limit = self.now + max;
        match next {
            Some(t) if t <= limit => {
                self.now = self.now.max(t);
                let now = self.now;
                self.a.ep.handle_timeout(now, &mut self.a.rng);
                self.b.ep.handle_timeout(now, &mut self.b.rng);
                self.deliver();
                true
            }
            _ => {
                self.now = limit;
                false
            }
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        let mut same = 0;
        while self.now < end {
            let before = self.now;
            let left = end - self.now;
            if !self.step(left) {
                break;
            }
            same = if self.now == before { same + 1 } else { 0 };
            assert!(
                same < 1000,
                "a timer fires without progress: a={:?} b={:?} now={:?}",
                self.a.ep.poll_timeout(),
                self.b.ep.poll_timeout(),
                self.now
            );
        }
    }

    pub fn status_a(&self) -> ike_proto::SessionStatus {
        self.a.ep.status(&SessionId(format!("s-{A}"))).unwrap()
    }

    pub fn status_b(&self) -> ike_proto::SessionStatus {
        self.b.ep.status(&SessionId(format!("s-{B}"))).unwrap()
    }

    pub fn a_id(&self) -> SessionId {
        SessionId(format!("s-{A}"))
    }

    pub fn b_id(&self) -> SessionId {
        SessionId(format!("s-{B}"))
    }

    /// Deliver again an old datagram (the `k`-th seen, modulo those on the wire): a duplicate
    /// that also arrives out of order.
    pub fn replay_old(&mut self, k: usize) {
        if self.wire.is_empty() {
            return;
        }
        let (from_a, t) = self.wire[k % self.wire.len()].clone();
        let now = self.now;
        let dst = if from_a { &mut self.b } else { &mut self.a };
        dst.ep
            .handle_datagram(now, t.remote, t.local, &t.data, &mut dst.rng);
        self.deliver();
    }

    /// After a lossy run: both sides UP on the same IKE SA, each with exactly one Child SA,
    /// the two halves of the same SA (with the sides' last log lines when not).
    #[track_caller]
    pub fn assert_converged(&self, seed: u64) {
        let (sa, sb) = (self.status_a(), self.status_b());
        assert_eq!(sa.ike_state, IkeState::Up, "seed {seed}: {sa:?}");
        assert_eq!(sb.ike_state, IkeState::Up, "seed {seed}: {sb:?}");
        let (x, y) = (sa.ike.unwrap(), sb.ike.unwrap());
        assert_eq!((x.spi_i, x.spi_r), (y.spi_i, y.spi_r), "seed {seed}");
        if self.a.children.len() != 1 || self.b.children.len() != 1 {
            panic!(
                "seed {seed}: a log {:?}\nb log {:?}\nstatus a {:?}\nstatus b {:?}",
                &self.a.log[self.a.log.len().saturating_sub(12)..],
                &self.b.log[self.b.log.len().saturating_sub(12)..],
                self.status_a(),
                self.status_b()
            );
        }
        self.assert_one_matching_child();
    }

    /// Both sides hold exactly one Child SA and they are the two halves of the same SA.
    #[track_caller]
    pub fn assert_one_matching_child(&self) -> (u32, u32) {
        assert_eq!(
            self.a.children.len(),
            1,
            "a children: {:?}",
            self.a.children
        );
        assert_eq!(
            self.b.children.len(),
            1,
            "b children: {:?}",
            self.b.children
        );
        let (x, y) = (&self.a.children[0], &self.b.children[0]);
        assert_eq!(x.spi_in, y.spi_out);
        assert_eq!(x.spi_out, y.spi_in);
        assert_eq!(*x.enc_key_out, *y.enc_key_in);
        assert_eq!(*x.enc_key_in, *y.enc_key_out);
        assert_eq!(*x.integ_key_out, *y.integ_key_in);
        assert_eq!(x.cipher, y.cipher);
        let key = |k: &zeroize::Zeroizing<Vec<u8>>, i: &zeroize::Zeroizing<Vec<u8>>| {
            [k.as_slice(), i.as_slice()].concat()
        };
        assert_ne!(
            key(&x.enc_key_in, &x.integ_key_in),
            key(&x.enc_key_out, &x.integ_key_out),
            "directions have different keys"
        );
        (x.spi_in, x.spi_out)
    }
}

pub fn up_pair(seed: u64) -> Pair {
    let mut p = Pair::new(seed);
    p.configure(session(A, B, true), session(B, A, false));
    p.deliver();
    assert_eq!(p.status_a().ike_state, IkeState::Up, "{:?}", p.status_a());
    assert_eq!(p.status_b().ike_state, IkeState::Up, "{:?}", p.status_b());
    p
}

/// An IKE message without the non-ESP marker of port 4500.
pub fn strip(d: &[u8]) -> &[u8] {
    d.strip_prefix(&[0, 0, 0, 0][..]).unwrap_or(d)
}
