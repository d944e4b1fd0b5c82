//! The protocol engine as a responder (and an initiator awaiting answers) fed arbitrary
//! datagrams on ports 500 and 4500, and arbitrary time steps. Must never panic, its queues
//! stay bounded, and its invariants (`Endpoint::check_invariants`) hold after every input.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ike_crypto::{Cipher, DhGroup, Integrity, Prf};
use ike_proto::{Endpoint, EndpointConfig, EspCipher, EspProposal, Identity, IkeProposal, SessionConfig, SessionId, TestRandom};
use libfuzzer_sys::fuzz_target;

fn session(initiate: bool) -> SessionConfig {
    SessionConfig {
        id: SessionId("s".into()),
        local: "198.51.100.1".parse().unwrap(),
        remote: "198.51.100.2".parse().unwrap(),
        local_id: Identity::fqdn("a.example"),
        remote_id: Identity::fqdn("b.example"),
        psk: zeroize::Zeroizing::new(b"psk".to_vec()),
        certificate: None,
        ike: vec![
            IkeProposal {
                ciphers: vec![Cipher::AesCbc { key_bits: 128 }],
                integrity: vec![Integrity::HmacSha256_128],
                prfs: vec![Prf::HmacSha256],
                groups: vec![DhGroup::Curve25519, DhGroup::Ecp256],
            },
            IkeProposal {
                ciphers: vec![Cipher::AesGcm16 { key_bits: 128 }, Cipher::AesGcm16 { key_bits: 256 }],
                integrity: vec![],
                prfs: vec![Prf::HmacSha256],
                groups: vec![DhGroup::Curve25519, DhGroup::Modp2048],
            },
        ],
        esp: vec![EspProposal { ciphers: vec![EspCipher::AesGcm16(128)], integrity: vec![], pfs_groups: vec![DhGroup::Curve25519], esn: false }],
        ike_lifetime: Duration::from_secs(3600),
        child_lifetime: Duration::from_secs(600),
        initiate,
        force_udp_encapsulation: true,
        ipv4: true,
        ipv6: false,
        dpd: Some(ike_proto::DpdConfig { mode: ike_proto::DpdMode::Periodic, interval: Duration::from_secs(3), retry_count: 3 }),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut rng = TestRandom::new(u64::from(mode));
    let cfg = EndpointConfig { cookie_threshold: usize::from(mode & 3), ..EndpointConfig::default() };
    let mut ep = Endpoint::new(cfg, &mut rng);
    let start = Instant::now();
    ep.set_session(start, session(mode & 4 != 0), &mut rng);
    let local500: SocketAddr = "198.51.100.1:500".parse().unwrap();
    let local4500: SocketAddr = "198.51.100.1:4500".parse().unwrap();
    let remote: SocketAddr = "198.51.100.2:500".parse().unwrap();
    // Datagrams separated by 0xff 0xfe; a chunk's first byte picks port and time step.
    let mut now = start;
    for chunk in rest.split(|b| *b == 0xfe).take(32) {
        let Some((&ctl, dgram)) = chunk.split_first() else { continue };
        now += Duration::from_millis(u64::from(ctl) * 100);
        let local = if ctl & 1 == 0 { local500 } else { local4500 };
        ep.handle_datagram(now, local, remote, dgram, &mut rng);
        if ctl & 2 != 0 {
            ep.handle_timeout(now, &mut rng);
        }
        let mut n = 0;
        while ep.poll_transmit().is_some() {
            n += 1;
            assert!(n < 1000);
        }
        while ep.poll_event().is_some() {}
        let _ = ep.poll_timeout();
        if let Err(e) = ep.check_invariants() {
            panic!("endpoint invariant violated: {e}");
        }
    }
});
