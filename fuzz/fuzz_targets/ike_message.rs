//! IKEv2 messages from the network: any bytes. Must never panic; a message that parses
//! re-encodes to something that parses to the same message. What is not kept: reserved
//! bits, the critical flag of known payloads, attributes we do not understand (they only
//! mark the transform as unacceptable, RFC 7296 §3.3.6) and traffic selectors of unknown
//! types (only counted, so that the responder narrows them away, §2.9). A TS payload made
//! only of unknown selectors therefore has no emitted form; such messages are skipped.
#![no_main]

use ike_wire::Payload;
use libfuzzer_sys::fuzz_target;

fn normalize(payloads: &mut [Payload]) {
    for p in payloads {
        match p {
            Payload::Sa(props) => {
                for t in props.iter_mut().flat_map(|p| p.transforms.iter_mut()) {
                    t.has_unknown_attributes = false;
                }
            }
            Payload::TsI(ts) | Payload::TsR(ts) => ts.unknown = 0,
            _ => {}
        }
    }
}

/// Whether every payload can be emitted (a TS payload needs a selector we know).
fn representable(payloads: &[Payload]) -> bool {
    payloads.iter().all(|p| match p {
        Payload::TsI(ts) | Payload::TsR(ts) => !ts.selectors.is_empty(),
        _ => true,
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(mut m) = ike_wire::Message::parse(data).map_err(|_| ()).and_then(|m| {
        if representable(&m.payloads) {
            Ok(m)
        } else {
            Err(())
        }
    }) {
        let mut again = ike_wire::Message::parse(&m.emit()).expect("what we emit parses");
        normalize(&mut m.payloads);
        normalize(&mut again.payloads);
        assert_eq!(again.payloads, m.payloads);
        assert_eq!((again.header.spi_i, again.header.exchange, again.header.message_id), (m.header.spi_i, m.header.exchange, m.header.message_id));
    }
    if let Some((&first, rest)) = data.split_first() {
        if let Ok(mut p) = ike_wire::parse_payloads(ike_wire::PayloadType(first), rest) {
            let (t, again) = ike_wire::emit_payloads(&p);
            if !p.is_empty() && representable(&p) {
                let mut back = ike_wire::parse_payloads(t, &again).expect("what we emit parses");
                normalize(&mut p);
                normalize(&mut back);
                assert_eq!(back, p);
            }
        }
    }
});
