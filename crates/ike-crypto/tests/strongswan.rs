//! Known answers from real strongSwan 5.9.8 captures (testdata/strongswan-captures, see the
//! README there): key derivation of every IKE and Child SA, decryption of every SK/SKF
//! payload and ESP packet, and the PSK AUTH payloads.

mod common;

use std::collections::HashMap;

use common::{hex, hex_field, json, read_pcap, to_hex, Udp};
use ike_crypto::{
    child_sa_keys, derive_ike_keys, esp_key_lengths, nat_detection_hash, psk_auth, rekey_skeyseed,
    signed_octets, skeyseed, Cipher, CryptoError, DhGroup, IkeKeys, Integrity, Prf,
};
use serde_json::Value;

const SCENARIOS: [&str; 5] = ["a", "b", "c", "d", "e"];
const PSK: &[u8] = b"interop-test-psk-0123456789";

/// IKE header length (RFC 7296 §3.1).
const IKE_HEADER: usize = 28;
/// Payload types (RFC 7296 §3.2, RFC 7383 §2.5).
const PT_IDI: u8 = 35;
const PT_IDR: u8 = 36;
const PT_AUTH: u8 = 39;
const PT_SK: u8 = 46;
const PT_SKF: u8 = 53;
const PT_NOTIFY: u8 = 41;
/// Notify message types (RFC 7296 §3.10.1).
const NAT_DETECTION_SOURCE_IP: u16 = 16388;
const NAT_DETECTION_DESTINATION_IP: u16 = 16389;

fn prf_named(name: &str) -> Prf {
    // The Display names are strongSwan's / IANA's, as keys.json spells them.
    *Prf::ALL
        .iter()
        .find(|p| p.to_string() == name)
        .unwrap_or_else(|| panic!("unknown PRF {name}"))
}

fn integ_named(v: &Value) -> Option<Integrity> {
    let name = v.as_str()?;
    Some(
        *Integrity::ALL
            .iter()
            .find(|i| i.to_string() == name)
            .unwrap_or_else(|| panic!("unknown integrity {name}")),
    )
}

fn group_named(name: &str) -> DhGroup {
    *DhGroup::ALL
        .iter()
        .find(|g| g.to_string() == name)
        .unwrap_or_else(|| panic!("unknown group {name}"))
}

fn encr_id(name: &str) -> u16 {
    match name {
        "ENCR_AES_CBC" => 12,
        "ENCR_AES_GCM_16" => 20,
        other => panic!("unknown encryption algorithm {other}"),
    }
}

/// The IKE SA's algorithms from keys.json.
struct Algorithms {
    prf: Prf,
    integ: Option<Integrity>,
    cipher: Cipher,
    group: DhGroup,
}

fn algorithms(sa: &Value) -> Algorithms {
    let alg = &sa["algorithms"];
    let id = encr_id(alg["encr"].as_str().unwrap());
    let bits = alg["encr_keylen_bits"].as_u64().map(|b| b as u16);
    Algorithms {
        prf: prf_named(alg["prf"].as_str().unwrap()),
        integ: integ_named(&alg["integ"]),
        cipher: Cipher::from_transform(id, bits).expect("cipher of keys.json"),
        group: group_named(alg["dh"].as_str().unwrap()),
    }
}

fn spi(v: &Value, key: &str) -> [u8; 8] {
    hex_field(v, key).try_into().unwrap()
}

/// Derives the keys of every IKE SA of a scenario from g^ir, the nonces and the SPIs
/// (SKEYSEED per §2.14, or §2.18 with the old SA's SK_d for a rekeyed SA) and checks them
/// against the logged values. Returns the derived keys by IKE SA number.
fn derive_all_ike_sas(scenario: &str) -> HashMap<u64, (Algorithms, IkeKeys)> {
    let keys = json(scenario, "keys.json");
    let mut out: HashMap<u64, (Algorithms, IkeKeys)> = HashMap::new();
    for sa in keys["ike_sas"].as_array().unwrap() {
        let n = sa["ike_sa"].as_u64().unwrap();
        let alg = algorithms(sa);
        let (ni, nr, g_ir) = (
            hex_field(sa, "Ni"),
            hex_field(sa, "Nr"),
            hex_field(sa, "g_ir"),
        );
        assert_eq!(
            g_ir.len(),
            alg.group.shared_len(),
            "{scenario} SA {n}: g^ir length"
        );
        let origin = sa["origin"].as_str().unwrap();
        let seed = if let Some(old) = origin.strip_prefix("rekey of IKE SA #") {
            let old: u64 = old.split_whitespace().next().unwrap().parse().unwrap();
            let (old_alg, old_keys) = &out[&old];
            rekey_skeyseed(old_alg.prf, &old_keys.sk_d, &g_ir, &ni, &nr)
        } else {
            skeyseed(alg.prf, &ni, &nr, &g_ir)
        };
        assert_eq!(
            to_hex(&seed),
            sa["SKEYSEED"].as_str().unwrap(),
            "{scenario} IKE SA {n} ({origin}): SKEYSEED"
        );
        let derived = derive_ike_keys(
            alg.prf,
            &seed,
            &ni,
            &nr,
            &spi(sa, "spi_i"),
            &spi(sa, "spi_r"),
            alg.integ,
            alg.cipher,
        )
        .unwrap();
        for (name, value) in [
            ("SK_d", &derived.sk_d),
            ("SK_ai", &derived.sk_ai),
            ("SK_ar", &derived.sk_ar),
            ("SK_ei", &derived.sk_ei),
            ("SK_er", &derived.sk_er),
            ("SK_pi", &derived.sk_pi),
            ("SK_pr", &derived.sk_pr),
        ] {
            assert_eq!(
                to_hex(value),
                sa[name].as_str().unwrap(),
                "{scenario} IKE SA {n}: {name}"
            );
        }
        out.insert(n, (alg, derived));
    }
    out
}

#[test]
fn ike_sa_keys_of_every_scenario() {
    let mut sas = 0;
    let mut rekeyed = 0;
    for scenario in SCENARIOS {
        let derived = derive_all_ike_sas(scenario);
        sas += derived.len();
        let keys = json(scenario, "keys.json");
        rekeyed += keys["ike_sas"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|sa| sa["origin"].as_str().unwrap().starts_with("rekey"))
            .count();
    }
    // a-d: initial + rekeyed SA; e: half-open SA + the real one.
    assert_eq!(sas, 10);
    assert_eq!(rekeyed, 4);
}

#[test]
fn child_sa_keymat_of_every_scenario() {
    let mut checked = 0;
    let mut with_pfs = 0;
    for scenario in SCENARIOS {
        let ike = derive_all_ike_sas(scenario);
        let keys = json(scenario, "keys.json");
        for child in keys["child_sas"].as_array().unwrap() {
            let n = child["child_sa"].as_u64().unwrap();
            let (alg, ike_keys) = &ike[&child["ike_sa"].as_u64().unwrap()];
            let calg = &child["algorithms"];
            let integ_id = integ_named(&calg["integ"]).map(Integrity::transform_id);
            let (encr_len, integ_len) = esp_key_lengths(
                encr_id(calg["encr"].as_str().unwrap()),
                calg["encr_keylen_bits"].as_u64().map(|b| b as u16),
                integ_id,
            )
            .unwrap();
            let g_ir = child["g_ir_pfs"].as_str().map(hex);
            with_pfs += usize::from(g_ir.is_some());
            let derived = child_sa_keys(
                alg.prf,
                &ike_keys.sk_d,
                g_ir.as_deref(),
                &hex_field(child, "Ni"),
                &hex_field(child, "Nr"),
                encr_len,
                integ_len,
            )
            .unwrap();
            for (name, value) in [
                ("encr_key_initiator_to_responder", &derived.encr_i),
                ("integ_key_initiator_to_responder", &derived.integ_i),
                ("encr_key_responder_to_initiator", &derived.encr_r),
                ("integ_key_responder_to_initiator", &derived.integ_r),
            ] {
                assert_eq!(
                    to_hex(value),
                    child[name].as_str().unwrap(),
                    "{scenario} Child SA {n}: {name}"
                );
            }
            checked += 1;
        }
    }
    // a-d: first Child SA + its rekey; e: one. PFS on the rekeys of a, b and d.
    assert_eq!(checked, 9);
    assert_eq!(with_pfs, 3);
}

/// An encrypted IKE message of a capture, with its decoded form from messages.json.
struct Encrypted<'a> {
    frame: usize,
    bytes: &'a [u8],
    meta: &'a Value,
}

fn encrypted_messages<'a>(udp: &'a [Udp], messages: &'a Value) -> Vec<Encrypted<'a>> {
    let by_frame: HashMap<usize, &Udp> = udp.iter().map(|u| (u.frame, u)).collect();
    messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !m["plaintext"].is_null())
        .map(|m| {
            let frame = m["frame"].as_u64().unwrap() as usize;
            let bytes = by_frame[&frame].ike_message().expect("IKE message");
            Encrypted {
                frame,
                bytes,
                meta: m,
            }
        })
        .collect()
}

/// The decrypted content of an SK or SKF payload, as RFC 7296 §3.14 / RFC 7383 §2.5 lay it
/// out, after checking the integrity (CBC + HMAC over header..ciphertext, or the GCM ICV
/// with AAD = IKE header + payload header, RFC 5282 §5.1). Also checks that encrypting
/// the padded plaintext again with the same IV gives the same bytes, and that a modified
/// message is rejected.
fn open_sk(
    msg: &[u8],
    alg: &Algorithms,
    keys: &IkeKeys,
    from_initiator: bool,
    what: &str,
) -> Vec<u8> {
    let length = u32::from_be_bytes(msg[24..28].try_into().unwrap()) as usize;
    assert_eq!(length, msg.len(), "{what}: IKE header length");
    let payload_header = match msg[16] {
        PT_SK => 4,
        PT_SKF => 8,
        other => panic!("{what}: first payload is {other}, not SK/SKF"),
    };
    let (sk_e, sk_a) = if from_initiator {
        (&keys.sk_ei, &keys.sk_ai)
    } else {
        (&keys.sk_er, &keys.sk_ar)
    };
    let cipher = alg.cipher;
    let iv_at = IKE_HEADER + payload_header;
    let ct_at = iv_at + cipher.iv_len();
    let iv = &msg[iv_at..ct_at];
    let padded = if let Some(integ) = alg.integ {
        let icv_at = msg.len() - integ.icv_len();
        let (signed, icv) = msg.split_at(icv_at);
        assert!(integ.verify(sk_a, &[signed], icv), "{what}: ICV");
        assert_eq!(integ.compute(sk_a, &[signed]), icv, "{what}: ICV computed");
        // The ICV covers the whole message: any flipped bit is noticed.
        let mut tampered = signed.to_vec();
        tampered[ct_at] ^= 0x01;
        assert!(
            !integ.verify(sk_a, &[&tampered], icv),
            "{what}: tampered ICV"
        );
        let ct = &msg[ct_at..icv_at];
        let padded = cipher.decrypt(sk_e, iv, &[], ct).unwrap();
        assert_eq!(
            cipher.encrypt(sk_e, iv, &[], &padded).unwrap(),
            ct,
            "{what}: re-encryption"
        );
        padded.to_vec()
    } else {
        let aad = &msg[..iv_at];
        let ct = &msg[ct_at..];
        let padded = cipher.decrypt(sk_e, iv, aad, ct).unwrap();
        assert_eq!(
            cipher.encrypt(sk_e, iv, aad, &padded).unwrap(),
            ct,
            "{what}: re-encryption"
        );
        let mut tampered_aad = aad.to_vec();
        tampered_aad[19] ^= 0x01; // Message ID
        assert!(
            matches!(
                cipher.decrypt(sk_e, iv, &tampered_aad, ct),
                Err(CryptoError::AuthenticationFailed { .. })
            ),
            "{what}: modified AAD must be rejected"
        );
        let mut tampered = ct.to_vec();
        tampered[0] ^= 0x80;
        assert!(
            cipher.decrypt(sk_e, iv, aad, &tampered).is_err(),
            "{what}: modified ciphertext must be rejected"
        );
        padded.to_vec()
    };
    // Padding and the Pad Length byte (RFC 7296 §3.14).
    let (&pad_len, rest) = padded.split_last().expect("pad length byte");
    rest[..rest.len() - usize::from(pad_len)].to_vec()
}

#[test]
fn every_sk_and_skf_payload_decrypts_to_the_logged_plaintext() {
    let mut total = 0;
    let mut fragments = 0;
    for scenario in SCENARIOS {
        let ike = derive_all_ike_sas(scenario);
        let udp = read_pcap(&common::capture_dir(scenario).join("capture.pcap"));
        let messages = json(scenario, "messages.json");
        let encrypted = encrypted_messages(&udp, &messages);
        assert!(!encrypted.is_empty(), "{scenario}: no encrypted messages");
        for m in &encrypted {
            let (alg, keys) = &ike[&m.meta["ike_sa"].as_u64().unwrap()];
            let from_initiator = m.bytes[19] & 0x08 != 0;
            assert_eq!(
                from_initiator,
                m.meta["initiator_flag"].as_bool().unwrap(),
                "{scenario} frame {}: I flag",
                m.frame
            );
            let what = format!("{scenario} frame {}", m.frame);
            let plain = open_sk(m.bytes, alg, keys, from_initiator, &what);
            assert_eq!(
                to_hex(&plain),
                m.meta["plaintext"].as_str().unwrap(),
                "{what}: plaintext"
            );
            fragments += usize::from(m.bytes[16] == PT_SKF);
            total += 1;
        }
    }
    // 14 per scenario a-c, 16 in d (4 of them SKF fragments), 4 in e.
    assert_eq!(fragments, 4, "SKF fragments of scenario d");
    assert_eq!(total, 14 * 3 + 16 + 4);
}

/// Walks an IKE payload chain (RFC 7296 §3.2) and returns (type, body) pairs.
fn payloads(first: u8, mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut next = first;
    while next != 0 {
        let len = usize::from(u16::from_be_bytes([data[2], data[3]]));
        out.push((next, data[4..len].to_vec()));
        next = data[0];
        data = &data[len..];
    }
    out
}

fn body_of(payloads: &[(u8, Vec<u8>)], kind: u8) -> &[u8] {
    &payloads
        .iter()
        .find(|(t, _)| *t == kind)
        .unwrap_or_else(|| panic!("no payload of type {kind}"))
        .1
}

#[test]
fn psk_auth_payloads_verify() {
    let mut verified = 0;
    for scenario in ["a", "b", "c", "e"] {
        let ike = derive_all_ike_sas(scenario);
        let keys = json(scenario, "keys.json");
        let udp = read_pcap(&common::capture_dir(scenario).join("capture.pcap"));
        let messages = json(scenario, "messages.json");
        let messages = messages.as_array().unwrap();
        let raw = |m: &Value| -> Vec<u8> {
            let frame = m["frame"].as_u64().unwrap() as usize;
            let u = udp.iter().find(|u| u.frame == frame).unwrap();
            u.ike_message().unwrap().to_vec()
        };
        for auth in messages.iter().filter(|m| m["exchange"] == "IKE_AUTH") {
            let sa_no = auth["ike_sa"].as_u64().unwrap();
            let response = auth["response_flag"].as_bool().unwrap();
            let (alg, sa_keys) = &ike[&sa_no];
            let sa = keys["ike_sas"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["ike_sa"].as_u64() == Some(sa_no))
                .unwrap();
            // The last IKE_SA_INIT of this SA in that direction: after a COOKIE exchange
            // (scenario e) RealMessage1 is the retried request.
            let init = messages
                .iter()
                .rfind(|m| {
                    m["exchange"] == "IKE_SA_INIT"
                        && m["ike_sa"].as_u64() == Some(sa_no)
                        && m["response_flag"].as_bool() == Some(response)
                })
                .unwrap();
            let init = raw(init);
            let msg = raw(auth);
            let plain = hex(auth["plaintext"].as_str().unwrap());
            let inner = payloads(msg[IKE_HEADER], &plain);
            let auth_body = body_of(&inner, PT_AUTH);
            assert_eq!(
                auth_body[0], 2,
                "AUTH method: Shared Key Message Integrity Code"
            );
            let (nonce, sk_p, id) = if response {
                (hex_field(sa, "Ni"), &sa_keys.sk_pr, body_of(&inner, PT_IDR))
            } else {
                (hex_field(sa, "Nr"), &sa_keys.sk_pi, body_of(&inner, PT_IDI))
            };
            let octets = signed_octets(alg.prf, &init, &nonce, sk_p, id);
            assert_eq!(
                octets.len(),
                init.len() + nonce.len() + alg.prf.output_len()
            );
            let expected = psk_auth(alg.prf, PSK, &[&octets]);
            assert_eq!(
                to_hex(&expected),
                to_hex(&auth_body[4..]),
                "{scenario} frame {}: AUTH",
                auth["frame"]
            );
            // Split octets give the same MAC; a different PSK does not.
            let (a, b) = octets.split_at(10);
            assert_eq!(psk_auth(alg.prf, PSK, &[a, b]), expected);
            assert_ne!(psk_auth(alg.prf, b"wrong-psk", &[&octets]), expected);
            verified += 1;
        }
    }
    assert_eq!(verified, 8, "request and response of four scenarios");
}

#[test]
fn every_esp_packet_decrypts_with_the_derived_child_keys() {
    let mut decrypted = 0;
    let mut expected_total = 0;
    for scenario in SCENARIOS {
        let ike = derive_all_ike_sas(scenario);
        let keys = json(scenario, "keys.json");
        expected_total += keys["esp_packets"]["total"].as_u64().unwrap() as usize;
        // SPI -> (cipher, key) from our own derivation.
        let mut sas: HashMap<Vec<u8>, (Cipher, Vec<u8>)> = HashMap::new();
        for child in keys["child_sas"].as_array().unwrap() {
            let (alg, ike_keys) = &ike[&child["ike_sa"].as_u64().unwrap()];
            let calg = &child["algorithms"];
            let id = encr_id(calg["encr"].as_str().unwrap());
            let bits = calg["encr_keylen_bits"].as_u64().map(|b| b as u16);
            let cipher = Cipher::from_transform(id, bits).unwrap();
            let (encr_len, integ_len) = esp_key_lengths(id, bits, None).unwrap();
            let g_ir = child["g_ir_pfs"].as_str().map(hex);
            let k = child_sa_keys(
                alg.prf,
                &ike_keys.sk_d,
                g_ir.as_deref(),
                &hex_field(child, "Ni"),
                &hex_field(child, "Nr"),
                encr_len,
                integ_len,
            )
            .unwrap();
            sas.insert(
                hex_field(child, "spi_initiator_to_responder"),
                (cipher, k.encr_i.to_vec()),
            );
            sas.insert(
                hex_field(child, "spi_responder_to_initiator"),
                (cipher, k.encr_r.to_vec()),
            );
        }
        let udp = read_pcap(&common::capture_dir(scenario).join("capture.pcap"));
        for packet in udp.iter().filter_map(Udp::esp_packet) {
            // RFC 4303 §2 / RFC 4106 §3-§5: SPI | Seq | IV(8) | ciphertext | ICV(16); AAD =
            // SPI | Seq; nonce = salt | IV — the same construction as the IKE SK payload.
            let (cipher, key) = &sas[&packet[..4]];
            let plain = cipher
                .decrypt(key, &packet[8..16], &packet[..8], &packet[16..])
                .unwrap();
            let next_header = *plain.last().unwrap();
            assert_eq!(next_header, 4, "{scenario}: inner IPv4 (tunnel mode)");
            assert_eq!(plain[0] >> 4, 4, "{scenario}: IPv4 version");
            assert_eq!(plain[9], 1, "{scenario}: ICMP ping");
            decrypted += 1;
        }
    }
    assert_eq!(decrypted, expected_total);
    assert_eq!(decrypted, 18 * 4 + 6);
}

#[test]
fn nat_detection_payloads_of_ike_sa_init() {
    // RFC 7296 §2.23. strongSwan fakes NAT_DETECTION_SOURCE_IP to force UDP encapsulation
    // (README gotcha 1), so only the destination hash matches the real address.
    let mut matched = 0;
    for scenario in SCENARIOS {
        let udp = read_pcap(&common::capture_dir(scenario).join("capture.pcap"));
        for u in udp.iter().filter(|u| u.dst_port == 500) {
            let msg = u.ike_message().unwrap();
            let spi_i: [u8; 8] = msg[..8].try_into().unwrap();
            let spi_r: [u8; 8] = msg[8..16].try_into().unwrap();
            for (kind, body) in payloads(msg[16], &msg[IKE_HEADER..]) {
                if kind != PT_NOTIFY {
                    continue;
                }
                let notify_type = u16::from_be_bytes([body[2], body[3]]);
                let data = &body[4 + usize::from(body[1])..];
                let dst = nat_detection_hash(&spi_i, &spi_r, u.dst_ip.into(), u.dst_port);
                let src = nat_detection_hash(&spi_i, &spi_r, u.src_ip.into(), u.src_port);
                match notify_type {
                    NAT_DETECTION_DESTINATION_IP => {
                        assert_eq!(data, dst, "{scenario} frame {}", u.frame);
                        matched += 1;
                    }
                    NAT_DETECTION_SOURCE_IP => {
                        assert_eq!(data.len(), 20);
                        assert_ne!(data, src, "{scenario} frame {}: faked", u.frame);
                    }
                    _ => {}
                }
            }
        }
    }
    // Every IKE_SA_INIT message except the COOKIE response of scenario e.
    assert_eq!(matched, 4 * 2 + 5);
}
