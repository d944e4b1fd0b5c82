//! Known answers: every ESP packet of the strongSwan 5.9.8 captures (testdata/
//! strongswan-captures a-e, AES-GCM-16 128 and 256, ESP in UDP on port 4500), opened with
//! the keys of keys.json and re-sealed byte for byte with the captured sequence number and
//! IV.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ike_testdata::{hex, load, SCENARIOS};
use serde_json::Value;

use crate::{spi_of, EspError, InboundSa, OutboundSa, SaKeys, Transform};

struct ChildKey {
    transform: Transform,
    key: Vec<u8>,
}

/// SPI → transform and key, both directions of every Child SA (README §3: the packet
/// carries the receiver's SPI; `spi_initiator_to_responder` goes with
/// `encr_key_initiator_to_responder`).
fn child_keys(keys: &Value) -> HashMap<u32, ChildKey> {
    let mut map = HashMap::new();
    for child in keys["child_sas"].as_array().expect("child_sas") {
        let alg = &child["algorithms"];
        assert_eq!(alg["encr"], "ENCR_AES_GCM_16");
        assert_eq!(alg["esn"], "NO_EXT_SEQ");
        assert!(alg["integ"].is_null());
        let key_bits = alg["encr_keylen_bits"].as_u64().expect("keylen") as u16;
        for dir in ["initiator_to_responder", "responder_to_initiator"] {
            let spi = u32::from_str_radix(child[format!("spi_{dir}")].as_str().unwrap(), 16)
                .expect("spi hex");
            let key = hex(child[format!("encr_key_{dir}")].as_str().unwrap());
            assert!(child[format!("integ_key_{dir}")]
                .as_str()
                .unwrap()
                .is_empty());
            map.insert(
                spi,
                ChildKey {
                    transform: Transform::AesGcm16 { key_bits },
                    key,
                },
            );
        }
    }
    map
}

/// RFC 791 header checksum: the one's complement sum of the header is 0xffff.
fn ipv4_checksum_ok(header: &[u8]) -> bool {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

#[test]
fn strongswan_captures_open_and_reseal() {
    let mut total = 0;
    for name in SCENARIOS {
        let cap = load(name);
        let keys = child_keys(&cap.keys);
        let mut inbound: HashMap<u32, InboundSa> = HashMap::new();
        let mut packets = Vec::new();
        for d in cap.datagrams.iter().filter(|d| !d.is_ike()) {
            assert_eq!(
                (d.src.port(), d.dst.port()),
                (4500, 4500),
                "{name} frame {}",
                d.frame
            );
            let spi = spi_of(&d.payload).expect("ESP SPI");
            let ck = keys
                .get(&spi)
                .unwrap_or_else(|| panic!("{name}: no key for {spi:08x}"));
            let sa_keys = SaKeys {
                encryption: &ck.key,
                integrity: &[],
            };
            let sa = inbound.entry(spi).or_insert_with(|| {
                InboundSa::new(spi, ck.transform, sa_keys, false, 1024).unwrap()
            });

            let mut packet = d.payload.clone();
            let (nh, range) = sa
                .decapsulate(&mut packet)
                .unwrap_or_else(|e| panic!("{name} frame {}: {e}", d.frame));
            assert_eq!(nh, 4, "IPv4 inside");
            let inner = &packet[range.clone()];
            // An IPv4 ICMP echo between the VTI addresses, in the direction of the outer one.
            assert_eq!(inner[0], 0x45);
            assert_eq!(
                usize::from(u16::from_be_bytes([inner[2], inner[3]])),
                inner.len()
            );
            assert_eq!(inner[9], 1, "ICMP");
            assert!(ipv4_checksum_ok(&inner[..20]));
            let src = Ipv4Addr::new(inner[12], inner[13], inner[14], inner[15]);
            let dst = Ipv4Addr::new(inner[16], inner[17], inner[18], inner[19]);
            let (echo, from, to) = if d.src.ip().octets()[3] == 2 {
                (8, [169, 254, 10, 2], [169, 254, 10, 1])
            } else {
                (0, [169, 254, 10, 1], [169, 254, 10, 2])
            };
            assert_eq!((src, dst), (Ipv4Addr::from(from), Ipv4Addr::from(to)));
            assert_eq!(inner[20], echo, "ICMP type");

            // Re-seal with the captured sequence number and IV: identical bytes, padding
            // 1, 2, ... included.
            let seq = u64::from(u32::from_be_bytes(d.payload[4..8].try_into().unwrap()));
            let iv = &d.payload[8..16];
            let mut out = OutboundSa::new(spi, ck.transform, sa_keys, false, [0; 16]).unwrap();
            let start = out.header_len();
            let mut buf = vec![0u8; start + inner.len() + out.trailer_len(inner.len())];
            buf[start..start + inner.len()].copy_from_slice(inner);
            let r = out
                .encapsulate_with(&mut buf, start, inner.len(), nh, seq, iv)
                .unwrap();
            assert_eq!(&buf[r], &d.payload[..], "{name} frame {}", d.frame);

            packets.push((spi, d.payload.clone()));
        }
        // The README's count of ESP packets per capture.
        let expected = cap.keys["esp_packets"]["total"].as_u64().unwrap() as usize;
        assert_eq!(packets.len(), expected, "{name}");
        total += packets.len();

        // Every one of them again: a replay.
        for (spi, mut p) in packets {
            let seq = u64::from(u32::from_be_bytes(p[4..8].try_into().unwrap()));
            let sa = inbound.get_mut(&spi).unwrap();
            assert_eq!(sa.decapsulate(&mut p), Err(EspError::Replay { seq }));
        }
    }
    assert_eq!(total, 18 * 4 + 6);
}

/// A captured packet under the other direction's key, or with one bit changed, fails.
#[test]
fn strongswan_capture_wrong_key_and_bit_flips() {
    let cap = load("a");
    let keys = child_keys(&cap.keys);
    let d = cap.datagrams.iter().find(|d| !d.is_ike()).unwrap();
    let spi = spi_of(&d.payload).unwrap();
    let other = keys
        .iter()
        .find(|(s, _)| **s != spi)
        .map(|(_, k)| k)
        .unwrap();
    let mut sa = InboundSa::new(
        spi,
        other.transform,
        SaKeys {
            encryption: &other.key,
            integrity: &[],
        },
        false,
        1024,
    )
    .unwrap();
    let mut p = d.payload.clone();
    assert_eq!(sa.decapsulate(&mut p), Err(EspError::IntegrityCheckFailed));

    let ck = &keys[&spi];
    for i in 8..d.payload.len() {
        let mut sa = InboundSa::new(
            spi,
            ck.transform,
            SaKeys {
                encryption: &ck.key,
                integrity: &[],
            },
            false,
            1024,
        )
        .unwrap();
        let mut p = d.payload.clone();
        p[i] ^= 0x80;
        assert_eq!(
            sa.decapsulate(&mut p),
            Err(EspError::IntegrityCheckFailed),
            "byte {i}"
        );
    }
}
