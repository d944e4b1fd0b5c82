//! Known answers: every IKE message strongSwan 5.9.8 exchanged in the reference captures
//! parses, matches the independent decode in messages.json, and re-encodes to the same bytes;
//! so does every decrypted inner payload chain.

use ike_testdata::{hex, load, SCENARIOS};
use ike_wire::{ExchangeType, Message, Payload, PayloadType};

fn exchange_name(e: ExchangeType) -> &'static str {
    e.name().unwrap_or("?")
}

#[test]
fn every_captured_message_parses_and_round_trips() {
    let mut messages = 0;
    let mut inner_chains = 0;
    for name in SCENARIOS {
        let cap = load(name);
        let decoded = cap.messages.as_array().expect("messages.json is a list");
        let ike: Vec<_> = cap.ike().collect();
        assert_eq!(
            ike.len(),
            decoded.len(),
            "scenario {name}: IKE message count"
        );
        for ((dgram, bytes), want) in ike.iter().zip(decoded) {
            let m = Message::parse(bytes)
                .unwrap_or_else(|e| panic!("{name} frame {}: {e}", dgram.frame));
            assert_eq!(want["frame"].as_u64(), Some(dgram.frame as u64));
            assert_eq!(
                exchange_name(m.header.exchange),
                want["exchange"].as_str().unwrap(),
                "{name} frame {}",
                dgram.frame
            );
            assert_eq!(
                want["message_id"].as_u64(),
                Some(u64::from(m.header.message_id))
            );
            assert_eq!(want["flags"].as_u64(), Some(u64::from(m.header.flags)));
            assert_eq!(hex(want["spi_i"].as_str().unwrap()), m.header.spi_i);
            assert_eq!(hex(want["spi_r"].as_str().unwrap()), m.header.spi_r);
            assert_eq!(
                m.emit(),
                *bytes,
                "{name} frame {}: re-encoding differs",
                dgram.frame
            );
            messages += 1;

            // The decrypted content (padding removed) is a payload chain that starts with the
            // SK/SKF payload's Next Payload type (for SKF: fragment 1 only).
            let Some(plain) = want["plaintext"].as_str() else {
                continue;
            };
            let first = match m.payloads.last() {
                Some(Payload::Sk(e)) => e.inner_first,
                Some(Payload::Skf(f)) if f.number == 1 => f.inner_first,
                Some(Payload::Skf(_)) => continue,
                other => panic!(
                    "{name} frame {}: plaintext but no SK payload: {other:?}",
                    dgram.frame
                ),
            };
            let plain = hex(plain);
            if first == PayloadType::NONE {
                assert!(plain.is_empty());
                continue;
            }
            // Fragmented messages carry their chain across fragments: only whole chains here.
            let Ok(inner) = ike_wire::parse_payloads(first, &plain) else {
                assert!(
                    matches!(m.payloads.last(), Some(Payload::Skf(_))),
                    "{name} frame {}",
                    dgram.frame
                );
                continue;
            };
            let (t, again) = ike_wire::emit_payloads(&inner);
            assert_eq!(t, first);
            assert_eq!(
                again, plain,
                "{name} frame {}: inner chain re-encoding differs",
                dgram.frame
            );
            inner_chains += 1;
        }
    }
    assert_eq!(messages, 76, "16 + 16 + 16 + 18 + 10 IKE messages");
    assert!(inner_chains >= 40, "{inner_chains} inner chains");
    eprintln!("{messages} messages, {inner_chains} inner chains");
}

#[test]
fn strongswan_proposals_and_selectors_decode_as_documented() {
    let cap = load("a");
    let (_, first) = cap.ike().next().unwrap();
    let m = Message::parse(first).unwrap();
    let Payload::Sa(props) = &m.payloads[0] else {
        panic!("SA first")
    };
    let t: Vec<(u8, u16, Option<u16>)> = props[0]
        .transforms
        .iter()
        .map(|t| (t.transform_type.0, t.id, t.key_length))
        .collect();
    // ENCR_AES_CBC_128 / AUTH_HMAC_SHA2_256_128 / PRF_HMAC_SHA2_256 / MODP_2048
    assert_eq!(
        t,
        vec![
            (1, 12, Some(128)),
            (3, 12, None),
            (2, 5, None),
            (4, 14, None)
        ]
    );
    assert!(matches!(&m.payloads[1], Payload::Ke { group: 14, data } if data.len() == 256));

    // IKE_AUTH request inner chain: IDi, N(INITIAL_CONTACT), IDr, AUTH, SA, TSi, TSr, ...
    let auth = &cap.messages.as_array().unwrap()[2];
    let inner =
        ike_wire::parse_payloads(PayloadType::IDI, &hex(auth["plaintext"].as_str().unwrap()))
            .unwrap();
    let Payload::TsI(ts) = &inner[5] else {
        panic!("TSi at 5: {:?}", inner[5])
    };
    assert_eq!(ts.selectors, vec![ike_wire::TrafficSelector::ANY_V4]);
    assert!(
        matches!(&inner[0], Payload::IdI { id_type, data } if id_type.0 == 1 && data == &[198, 51, 100, 2])
    );
}
