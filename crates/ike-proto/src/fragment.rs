//! IKE message fragmentation (RFC 7383): encrypted messages larger than a safe datagram
//! are split into Encrypted Fragment (SKF) payloads, each protected on its own, and the
//! peer's fragments are reassembled after each one's integrity check.
//!
//! Certificate exchanges need this: an IKE_AUTH with an RSA certificate is ~1,500 bytes and
//! IP fragments are often dropped by middleboxes (RFC 7383 §1). Only fragments that pass
//! their ICV are kept (§2.6), so an attacker without the keys cannot consume the buffer,
//! and the buffer is bounded per IKE SA (one message at a time, [`REASSEMBLED_MAX`]).

use ike_wire::{
    emit_payloads, parse_payloads, EncryptedFragment, ExchangeType, Payload, PayloadType,
};
use zeroize::Zeroizing;

use crate::random::Random;
use crate::sa::IkeSa;
use crate::ProtoError;

/// Largest IKE message we send unfragmented once fragmentation is negotiated, and the size
/// of each fragment: a 1,280-byte IP packet (the IPv6 minimum MTU, strongSwan's default
/// fragment size) less 40 bytes of IPv6 header, 8 of UDP and the 4-byte non-ESP marker.
pub(crate) const FRAGMENT_MESSAGE_MAX: usize = 1280 - 40 - 8 - 4;

/// Largest reassembled message content we accept (a certificate chain of a few RSA-4096
/// certificates fits comfortably).
pub(crate) const REASSEMBLED_MAX: usize = 64 * 1024;

/// How long the fragments of one message are kept waiting for the rest (a peer
/// retransmits a whole message within a few seconds; RFC 7383 §2.6.1).
pub(crate) const REASSEMBLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Fragments of one message being collected (§2.6).
pub(crate) struct Reassembly {
    /// Dropped (with what it holds) at this time if still incomplete.
    pub(crate) deadline: std::time::Instant,
    message_id: u32,
    response: bool,
    total: u16,
    first: PayloadType,
    parts: Vec<Option<Zeroizing<Vec<u8>>>>,
    bytes: usize,
}

/// What a received, authenticated fragment did.
pub(crate) enum Reassembled {
    /// All fragments are here: the message's inner payloads.
    Complete(Vec<Payload>),
    /// Waiting for more.
    Incomplete,
    /// Dropped: a stale total (§2.6.1), a number beyond the total, or a message too large.
    Dropped,
}

impl IkeSa {
    /// Protect a message: one SK message, or SKF fragments when it is too large and the
    /// peer announced IKEV2_FRAGMENTATION_SUPPORTED (§2.5). Returns the datagrams to send.
    pub(crate) fn seal_message(
        &mut self,
        exchange: ExchangeType,
        message_id: u32,
        response: bool,
        inner: &[Payload],
        rng: &mut dyn Random,
    ) -> Result<Vec<Vec<u8>>, ProtoError> {
        let whole = self.seal(exchange, message_id, response, inner, rng)?;
        if !self.fragmentation || whole.len() <= FRAGMENT_MESSAGE_MAX {
            return Ok(vec![whole]);
        }
        let suite = self
            .suite
            .ok_or(ProtoError::Internal("sealing before keys exist"))?;
        let cipher = suite.cipher;
        let icv = if cipher.is_aead() {
            cipher.icv_len()
        } else {
            suite.integrity.map_or(0, |i| i.icv_len())
        };
        // Per fragment: IKE header, SKF header (8), IV, ICV, and up to a block of padding
        // plus the pad-length byte (§2.5).
        let overhead = ike_wire::Header::LEN + 8 + cipher.iv_len() + icv + cipher.block_len() + 1;
        let chunk = FRAGMENT_MESSAGE_MAX
            .checked_sub(overhead)
            .filter(|c| *c > 0)
            .ok_or(ProtoError::Internal(
                "fragment overhead exceeds the fragment size",
            ))?;
        let (first, content) = emit_payloads(inner);
        let content = Zeroizing::new(content);
        let total = content.len().div_ceil(chunk);
        let total = u16::try_from(total)
            .ok()
            .filter(|t| usize::from(*t) <= ike_wire::limits::FRAGMENTS_MAX)
            .ok_or(ProtoError::Internal("message too large to fragment"))?;
        let mut out = Vec::with_capacity(usize::from(total));
        for (i, piece) in content.chunks(chunk).enumerate() {
            let number =
                u16::try_from(i + 1).map_err(|_| ProtoError::Internal("fragment number"))?;
            let first_type = if number == 1 {
                first
            } else {
                PayloadType::NONE
            };
            out.push(self.seal_raw(
                exchange,
                message_id,
                response,
                first_type,
                Some((number, total)),
                piece,
                rng,
            )?);
        }
        Ok(out)
    }

    /// Check one received fragment and add it; returns the whole message's payloads once
    /// every fragment is here (§2.6). `raw` is the datagram's IKE message.
    pub(crate) fn reassemble(
        &mut self,
        now: std::time::Instant,
        raw: &[u8],
        message_id: u32,
        response: bool,
        f: &EncryptedFragment,
    ) -> Result<Reassembled, ProtoError> {
        let content = self.open_raw(raw, &f.data, 8)?;
        let restart = match &self.reassembly {
            Some(r) if r.message_id == message_id && r.response == response && now < r.deadline => {
                // §2.6.1: a retransmission with a smaller fragment size has a larger total;
                // start over with it. A smaller total is a stale fragment.
                if f.total < r.total {
                    return Ok(Reassembled::Dropped);
                }
                f.total > r.total
            }
            _ => true,
        };
        if restart {
            self.reassembly = Some(Reassembly {
                deadline: now + REASSEMBLY_TIMEOUT,
                message_id,
                response,
                total: f.total,
                first: PayloadType::NONE,
                parts: vec![None; usize::from(f.total)],
                bytes: 0,
            });
        }
        let Some(r) = self.reassembly.as_mut() else {
            return Err(ProtoError::Internal("reassembly vanished"));
        };
        let index = usize::from(f.number).saturating_sub(1);
        let Some(slot) = r.parts.get_mut(index) else {
            return Ok(Reassembled::Dropped);
        };
        if slot.is_some() {
            return Ok(Reassembled::Incomplete); // a duplicate
        }
        if r.bytes + content.len() > REASSEMBLED_MAX {
            self.reassembly = None;
            return Ok(Reassembled::Dropped);
        }
        if f.number == 1 {
            r.first = f.inner_first;
        }
        r.bytes += content.len();
        *slot = Some(content);
        if r.parts.iter().any(Option::is_none) {
            return Ok(Reassembled::Incomplete);
        }
        let Some(r) = self.reassembly.take() else {
            return Err(ProtoError::Internal("reassembly vanished"));
        };
        let mut whole = Zeroizing::new(Vec::with_capacity(r.bytes));
        for part in r.parts.into_iter().flatten() {
            whole.extend_from_slice(&part);
        }
        if r.first == PayloadType::NONE {
            return Ok(Reassembled::Complete(Vec::new()));
        }
        let payloads = parse_payloads(r.first, &whole).map_err(ProtoError::Decode)?;
        Ok(Reassembled::Complete(payloads))
    }
}

/// The inner payloads of a received encrypted message, once they are all here.
pub(crate) enum Opened {
    /// Authenticated and decoded (a whole SK message, or the last missing fragment).
    Message(Vec<Payload>),
    /// Nothing to act on yet: a fragment was kept, or dropped and counted.
    Pending,
    /// Integrity or decoding failed.
    Failed(ProtoError),
}

impl crate::Endpoint {
    /// Open the SK payload of `msg`, or add its SKF fragment to the IKE SA's reassembly.
    pub(crate) fn open_message(
        &mut self,
        now: std::time::Instant,
        h: u64,
        raw: &[u8],
        msg: &ike_wire::Message,
        peer: std::net::IpAddr,
    ) -> Opened {
        let Some(sa) = self.sas.get_mut(&h) else {
            return Opened::Pending;
        };
        match msg.payloads.last() {
            Some(Payload::Sk(sk)) => match sa.open(raw, sk) {
                Ok(p) => Opened::Message(p),
                Err(e) => Opened::Failed(e),
            },
            // §2.6: fragments are accepted only when fragmentation was negotiated.
            Some(Payload::Skf(f)) if sa.fragmentation => {
                let (id, response) = (msg.header.message_id, msg.header.is_response());
                match sa.reassemble(now, raw, id, response, f) {
                    Ok(Reassembled::Complete(p)) => Opened::Message(p),
                    Ok(Reassembled::Incomplete) => Opened::Pending,
                    Ok(Reassembled::Dropped) => {
                        self.admission.dropped(
                            crate::admission::DropCause::UnusableFragment,
                            peer,
                            None,
                        );
                        Opened::Pending
                    }
                    Err(e) => Opened::Failed(e),
                }
            }
            _ => {
                self.admission
                    .dropped(crate::admission::DropCause::Undecodable, peer, None);
                Opened::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use ike_crypto::{derive_ike_keys, Cipher, DhGroup, Integrity, Prf};
    use ike_wire::{CertEncoding, Message};

    use super::*;
    use crate::config::SessionId;
    use crate::proposal::IkeSuite;
    use crate::random::TestRandom;

    /// An initiator and a responder IKE SA sharing keys, both announcing fragmentation.
    fn pair(cipher: Cipher, integrity: Option<Integrity>) -> (IkeSa, IkeSa) {
        let suite = IkeSuite {
            cipher,
            integrity,
            prf: Prf::HmacSha256,
            group: DhGroup::from_id(14).expect("group 14"),
        };
        let (spi_i, spi_r) = ([1u8; 8], [2u8; 8]);
        let keys = || {
            derive_ike_keys(
                Prf::HmacSha256,
                &[7; 32],
                &[3; 32],
                &[4; 32],
                &spi_i,
                &spi_r,
                integrity,
                cipher,
            )
            .expect("keys")
        };
        let make = |initiator: bool| {
            let now = Instant::now();
            let a = "198.51.100.1:4500".parse().expect("addr");
            let b = "198.51.100.2:4500".parse().expect("addr");
            let mut sa = IkeSa::new(SessionId("s".into()), initiator, a, b, now);
            sa.spi_i = spi_i;
            sa.spi_r = spi_r;
            sa.suite = Some(suite);
            sa.keys = Some(keys());
            sa.fragmentation = true;
            sa
        };
        (make(true), make(false))
    }

    fn big_auth() -> Vec<Payload> {
        vec![
            Payload::IdI {
                id_type: ike_wire::IdType::ID_FQDN,
                data: b"right.interop.test".to_vec(),
            },
            Payload::Cert {
                encoding: CertEncoding(4),
                data: (0..3000u32).map(|i| (i % 251) as u8).collect(),
            },
            Payload::Auth {
                method: ike_wire::AuthMethod(14),
                data: vec![9; 272],
            },
        ]
    }

    fn skf(d: &[u8]) -> EncryptedFragment {
        match Message::parse(d).expect("parse").payloads.pop() {
            Some(Payload::Skf(f)) => f,
            other => panic!("expected SKF, got {other:?}"),
        }
    }

    #[test]
    fn large_messages_are_fragmented_and_reassembled_in_any_order() {
        for (cipher, integ) in [
            (
                Cipher::AesCbc { key_bits: 128 },
                Some(Integrity::HmacSha256_128),
            ),
            (Cipher::AesGcm16 { key_bits: 256 }, None),
        ] {
            let (mut init, mut resp) = pair(cipher, integ);
            let mut rng = TestRandom::new(1);
            let frags = init
                .seal_message(ExchangeType::IKE_AUTH, 1, false, &big_auth(), &mut rng)
                .expect("seal");
            assert!(frags.len() >= 3, "3,300 bytes need at least 3 fragments");
            assert!(frags.iter().all(|f| f.len() <= FRAGMENT_MESSAGE_MAX));
            // Last first, with a duplicate: still one complete message at the end.
            let mut order: Vec<usize> = (0..frags.len()).rev().collect();
            order.insert(1, frags.len() - 1);
            let mut done = None;
            for (n, i) in order.iter().enumerate() {
                let d = &frags[*i];
                match resp
                    .reassemble(Instant::now(), d, 1, false, &skf(d))
                    .expect("authentic")
                {
                    Reassembled::Complete(p) => {
                        assert_eq!(n, order.len() - 1, "complete only at the end");
                        done = Some(p);
                    }
                    Reassembled::Incomplete => {}
                    Reassembled::Dropped => panic!("nothing here should be dropped"),
                }
            }
            assert_eq!(done.expect("complete"), big_auth());
            assert!(resp.reassembly.is_none(), "the buffer is freed");
        }
    }

    #[test]
    fn an_incomplete_message_is_dropped_after_its_deadline() {
        let (mut init, mut resp) = pair(Cipher::AesGcm16 { key_bits: 128 }, None);
        let mut rng = TestRandom::new(5);
        let frags = init
            .seal_message(ExchangeType::IKE_AUTH, 1, false, &big_auth(), &mut rng)
            .expect("seal");
        let t0 = Instant::now();
        let f0 = skf(&frags[0]);
        assert!(matches!(
            resp.reassemble(t0, &frags[0], 1, false, &f0),
            Ok(Reassembled::Incomplete)
        ));
        assert_eq!(
            resp.reassembly.as_ref().map(|r| r.deadline),
            Some(t0 + REASSEMBLY_TIMEOUT)
        );
        // After the deadline the old fragments are not used: the rest alone is incomplete.
        let late = t0 + REASSEMBLY_TIMEOUT;
        for d in &frags[1..] {
            assert!(matches!(
                resp.reassemble(late, d, 1, false, &skf(d)),
                Ok(Reassembled::Incomplete)
            ));
        }
    }

    #[test]
    fn a_tampered_fragment_fails_its_own_integrity_check() {
        let (mut init, mut resp) = pair(
            Cipher::AesCbc { key_bits: 128 },
            Some(Integrity::HmacSha256_128),
        );
        let mut rng = TestRandom::new(2);
        let mut frags = init
            .seal_message(ExchangeType::IKE_AUTH, 1, false, &big_auth(), &mut rng)
            .expect("seal");
        let last = frags[1].len() - 20;
        frags[1][last] ^= 1;
        let f = skf(&frags[1]);
        assert!(matches!(
            resp.reassemble(Instant::now(), &frags[1], 1, false, &f),
            Err(ProtoError::IntegrityCheckFailed)
        ));
        assert!(resp.reassembly.is_none(), "nothing unauthenticated is kept");
    }

    #[test]
    fn small_messages_and_peers_without_fragmentation_get_one_message() {
        let (mut init, _) = pair(Cipher::AesGcm16 { key_bits: 128 }, None);
        let mut rng = TestRandom::new(3);
        let small = vec![Payload::Nonce(vec![1; 32])];
        let one = init
            .seal_message(ExchangeType::INFORMATIONAL, 2, false, &small, &mut rng)
            .expect("seal");
        assert_eq!(one.len(), 1);
        init.fragmentation = false;
        let one = init
            .seal_message(ExchangeType::IKE_AUTH, 1, false, &big_auth(), &mut rng)
            .expect("seal");
        assert_eq!(one.len(), 1, "RFC 7383 §2.3: not negotiated, not used");
        assert!(one[0].len() > FRAGMENT_MESSAGE_MAX);
    }

    #[test]
    fn a_resplit_retransmission_restarts_and_stale_fragments_are_dropped() {
        let (mut init, mut resp) = pair(Cipher::AesGcm16 { key_bits: 128 }, None);
        let mut rng = TestRandom::new(4);
        let frags = init
            .seal_message(ExchangeType::IKE_AUTH, 1, false, &big_auth(), &mut rng)
            .expect("seal");
        let total = frags.len();
        let f0 = skf(&frags[0]);
        assert!(matches!(
            resp.reassemble(Instant::now(), &frags[0], 1, false, &f0),
            Ok(Reassembled::Incomplete)
        ));
        // A fragment claiming a smaller total than the split under way is stale (§2.6.1).
        let mut small = init
            .seal_raw(
                ExchangeType::IKE_AUTH,
                1,
                false,
                PayloadType::NONE,
                Some((1, (total - 1) as u16)),
                &[0; 16],
                &mut rng,
            )
            .expect("seal");
        let fs = skf(&small);
        assert!(matches!(
            resp.reassemble(Instant::now(), &small, 1, false, &fs),
            Ok(Reassembled::Dropped)
        ));
        // A larger total restarts collection.
        small = init
            .seal_raw(
                ExchangeType::IKE_AUTH,
                1,
                false,
                PayloadType::NONE,
                Some((2, (total + 1) as u16)),
                &[0; 16],
                &mut rng,
            )
            .expect("seal");
        let fl = skf(&small);
        assert!(matches!(
            resp.reassemble(Instant::now(), &small, 1, false, &fl),
            Ok(Reassembled::Incomplete)
        ));
        assert_eq!(
            resp.reassembly.as_ref().map(|r| r.total),
            Some((total + 1) as u16)
        );
    }

    /// Known answer: strongSwan 5.9.8's fragmented IKE_AUTH request and response
    /// (testdata/strongswan-captures/d, frames 3-6, RSA certificates) reassemble into the
    /// messages the independent decoder saw.
    #[test]
    fn strongswan_fragments_reassemble() {
        let cap = ike_testdata::load("d");
        let k = &cap.keys["ike_sas"][0];
        let key = |n: &str| zeroize::Zeroizing::new(ike_testdata::hex(k[n].as_str().expect(n)));
        let keys = || ike_crypto::IkeKeys {
            sk_d: key("SK_d"),
            sk_ai: key("SK_ai"),
            sk_ar: key("SK_ar"),
            sk_ei: key("SK_ei"),
            sk_er: key("SK_er"),
            sk_pi: key("SK_pi"),
            sk_pr: key("SK_pr"),
        };
        let suite = IkeSuite {
            cipher: Cipher::AesCbc { key_bits: 128 },
            integrity: Some(Integrity::HmacSha256_128),
            prf: Prf::HmacSha256,
            group: DhGroup::from_id(14).expect("group 14"),
        };
        for (initiator, frames, response) in [(false, [3, 4], false), (true, [5, 6], true)] {
            let a = "198.51.100.1:4500".parse().expect("addr");
            let mut sa = IkeSa::new(SessionId("d".into()), initiator, a, a, Instant::now());
            sa.suite = Some(suite);
            sa.keys = Some(keys());
            sa.fragmentation = true;
            let mut result = None;
            for f in frames {
                let raw = cap.frame(f).and_then(|d| d.ike_message()).expect("frame");
                match sa
                    .reassemble(Instant::now(), raw, 1, response, &skf(raw))
                    .expect("authentic")
                {
                    Reassembled::Complete(p) => result = Some(p),
                    Reassembled::Incomplete => assert_eq!(f, frames[0]),
                    Reassembled::Dropped => panic!("frame {f} dropped"),
                }
            }
            let payloads = result.expect("reassembled");
            let cert = payloads.iter().find_map(|p| match p {
                Payload::Cert { data, .. } => Some(data.len()),
                _ => None,
            });
            assert_eq!(cert, Some(if initiator { 1017 } else { 1019 }));
            assert!(payloads.iter().any(|p| matches!(p, Payload::Auth { method, data } if method.0 == 14 && data.len() == 272)));
            // Known answer for certificate authentication: the sender's RFC 7427 AUTH
            // signature verifies over RealMessage | Nonce | prf(SK_p, ID') (§2.15) with the
            // key of the certificate it sent, which chains to the capture's CA.
            let pki = ike_testdata::dir().join("d/config/pki");
            let ca = std::fs::read_to_string(pki.join("ca.crt")).expect("ca.crt");
            let trust = strait_pki::TrustStore::new(&[("ca", &ca)], &[]).expect("trust");
            let cert_der = payloads
                .iter()
                .find_map(|p| match p {
                    Payload::Cert { data, .. } => Some(data.clone()),
                    _ => None,
                })
                .expect("CERT");
            // 2026-11-28: inside every certificate's validity.
            let peer = trust
                .verify(&cert_der, &[], 1_795_900_000)
                .expect("chain to the CA");
            let (id_type, id_data) = payloads
                .iter()
                .find_map(|p| match p {
                    Payload::IdI { id_type, data } if !initiator => Some((*id_type, data.clone())),
                    Payload::IdR { id_type, data } if initiator => Some((*id_type, data.clone())),
                    _ => None,
                })
                .expect("ID");
            let (method, auth) = payloads
                .iter()
                .find_map(|p| match p {
                    Payload::Auth { method, data } => Some((*method, data.clone())),
                    _ => None,
                })
                .expect("AUTH");
            // The sender's IKE_SA_INIT message and the other side's nonce.
            let (init_frame, nonce, sk_p) = if initiator {
                (2, "Ni", "SK_pr")
            } else {
                (1, "Nr", "SK_pi")
            };
            let init = cap
                .frame(init_frame)
                .and_then(|d| d.ike_message())
                .expect("init");
            let maced = Prf::HmacSha256.compute(
                &key(sk_p),
                &[&ike_wire::Payload::id_body(id_type, &id_data)],
            );
            let octets = [init, &key(nonce)[..], &maced].concat();
            crate::cert_auth::verify_auth(&peer, method, &auth, &octets)
                .expect("strongSwan's AUTH verifies");
            // And our signer, given the same key, makes strongSwan's signature byte for byte
            // (RSA PKCS#1 v1.5 is deterministic).
            let who = if initiator { "left" } else { "right" };
            let cert_pem = std::fs::read_to_string(pki.join(format!("{who}.crt"))).expect("crt");
            let key_pem = std::fs::read_to_string(pki.join(format!("{who}.key"))).expect("key");
            let cred =
                strait_pki::SigningCredential::from_pem(&cert_pem, &key_pem, None).expect("cred");
            let ours = cred
                .sign(strait_pki::SignatureScheme::RsaPkcs1Sha256, &octets)
                .expect("sign");
            let alg_len = usize::from(auth[0]);
            assert_eq!(&auth[1 + alg_len..], &ours[..], "{who}'s signature");
            assert_eq!(
                &auth[1..1 + alg_len],
                strait_pki::SignatureScheme::RsaPkcs1Sha256.algorithm_identifier()
            );
            let mut forged = octets.clone();
            forged[40] ^= 1;
            assert!(crate::cert_auth::verify_auth(&peer, method, &auth, &forged).is_err());
        }
    }
}
