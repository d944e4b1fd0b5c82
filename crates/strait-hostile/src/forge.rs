//! Forged IKE_SA_INIT requests (RFC 7296 §1.2, §3), built with `ike-wire`.
//!
//! Each kind reproduces one attack of issue 12: an acceptable proposal with a valid KE
//! (half-open SAs), with an invalid KE (RFC 6989 checks), an unacceptable proposal (random
//! transform ids), a given COOKIE (§2.6), padding (a Vendor ID payload), major version 3
//! (§2.5) and an unknown critical payload (§2.5, §3.2).

use ike_wire::{
    flags, DhId, EncrId, ExchangeType, Header, IntegId, Message, Notify, NotifyType, Payload,
    PayloadType, PrfId, Proposal, ProtocolId, Transform, TransformType, VERSION_2_0,
};
use rand::Rng;

/// What goes into the KE payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeValue {
    /// A value of the right length that passes RFC 6989 validation (for MODP: random
    /// bytes below p; for ECP: the group's generator; for Curve25519: random bytes).
    Valid,
    /// One byte short of the group's length.
    WrongLength,
    /// All zero (for MODP below 2, for ECP not a point).
    Zero,
    /// For ECP: random coordinates, practically never on the curve; for MODP: all ones but
    /// the last bit, which is not below p - 1 (RFC 6989 §2.1 requires 1 < y < p - 1).
    NotOnCurve,
}

/// The kind of forged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An acceptable proposal (see [`Forge::group`]) with a KE of this value.
    Acceptable(KeValue),
    /// A proposal of random, unassigned transform ids.
    UnacceptableProposal,
    /// Major version 3 in the header (otherwise acceptable).
    Version3,
    /// An unknown payload type with the critical bit set, before the SA payload.
    CriticalPayload(u8),
}

/// Parameters of a forged IKE_SA_INIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forge {
    /// The kind.
    pub kind: Kind,
    /// DH group of the proposal and KE (NSX's default profile: 14).
    pub group: u16,
    /// A COOKIE notify to put first (§2.6), if any.
    pub cookie: Option<Vec<u8>>,
    /// Pad the message to this many bytes with a Vendor ID payload, if larger than it is.
    pub pad_to: Option<usize>,
    /// The nonce Ni; None: 32 random bytes per message. A COOKIE is bound to Ni, IPi and
    /// SPIi (§2.6), so a request that is to carry a cookie must repeat the nonce it was
    /// made for.
    pub nonce: Option<Vec<u8>>,
    /// The proposal to send instead of the kind's (e.g. an unacceptable one whose transform
    /// ids the caller knows and looks for later).
    pub proposal: Option<Proposal>,
}

impl Forge {
    /// An acceptable request with a valid KE for group 14 (NSX's default IKE profile:
    /// AES-CBC-128, SHA2-256, group 14).
    pub fn new(kind: Kind) -> Forge {
        Forge {
            kind,
            group: DhId::MODP_2048.0,
            cookie: None,
            pad_to: None,
            nonce: None,
            proposal: None,
        }
    }

    /// Build one message with this initiator SPI.
    pub fn build(&self, spi_i: u64, rng: &mut impl Rng) -> Vec<u8> {
        let mut payloads = Vec::new();
        if let Some(c) = &self.cookie {
            payloads.push(Payload::Notify(Notify::new(NotifyType::COOKIE, c.clone())));
        }
        if let Kind::CriticalPayload(t) = self.kind {
            payloads.push(Payload::Unknown {
                payload_type: PayloadType(t),
                data: vec![0x5a; 8],
            });
        }
        let proposal = match (&self.proposal, &self.kind) {
            (Some(p), _) => p.clone(),
            (None, Kind::UnacceptableProposal) => unacceptable_proposal(rng),
            (None, _) => acceptable_proposal(self.group),
        };
        payloads.push(Payload::Sa(vec![proposal]));
        let ke_value = match self.kind {
            Kind::Acceptable(v) => v,
            _ => KeValue::Valid,
        };
        payloads.push(Payload::Ke {
            group: self.group,
            data: ke_data(self.group, ke_value, rng),
        });
        let nonce = match &self.nonce {
            Some(n) => n.clone(),
            None => {
                let mut n = vec![0u8; 32];
                rng.fill(&mut n[..]);
                n
            }
        };
        payloads.push(Payload::Nonce(nonce));
        let header = Header {
            spi_i: spi_i.to_be_bytes(),
            spi_r: [0; 8],
            next_payload: PayloadType::NONE,
            version: VERSION_2_0,
            exchange: ExchangeType::IKE_SA_INIT,
            flags: flags::INITIATOR,
            message_id: 0,
            length: 0,
        };
        let mut msg = Message { header, payloads };
        if let Some(target) = self.pad_to {
            // A Vendor ID payload is 4 bytes of header plus its data.
            let len = msg.emit().len();
            if target > len + 4 {
                msg.payloads
                    .push(Payload::VendorId(vec![0x50; target - len - 4]));
            }
        }
        let mut bytes = msg.emit();
        if let Kind::CriticalPayload(t) = self.kind {
            set_critical(&mut bytes, t);
        }
        if self.kind == Kind::Version3 {
            bytes[17] = 0x30;
        }
        bytes
    }
}

/// Set the critical bit of the first payload of type `t` in an encoded message.
fn set_critical(msg: &mut [u8], t: u8) {
    let mut next = msg[16];
    let mut at = Header::LEN;
    while next != 0 && at + 4 <= msg.len() {
        if next == t {
            msg[at + 1] |= 0x80;
            return;
        }
        let len = usize::from(u16::from_be_bytes([msg[at + 2], msg[at + 3]]));
        next = msg[at];
        at += len.max(4);
    }
}

/// NSX's default IKE proposal with DH group `group`.
pub fn acceptable_proposal(group: u16) -> Proposal {
    Proposal {
        number: 1,
        protocol: ProtocolId::IKE,
        spi: Vec::new(),
        transforms: vec![
            Transform::with_key_length(TransformType::ENCR, EncrId::ENCR_AES_CBC.0, 128),
            Transform::new(TransformType::PRF, PrfId::PRF_HMAC_SHA2_256.0),
            Transform::new(TransformType::INTEG, IntegId::AUTH_HMAC_SHA2_256_128.0),
            Transform::new(TransformType::DH, group),
        ],
    }
}

/// A proposal whose transform ids are random and unassigned (600..1023: no IANA
/// assignment in any of the four registries).
pub fn unacceptable_proposal(rng: &mut impl Rng) -> Proposal {
    let mut id = || rng.random_range(600u16..1024);
    Proposal {
        number: 1,
        protocol: ProtocolId::IKE,
        spi: Vec::new(),
        transforms: vec![
            Transform::with_key_length(TransformType::ENCR, id(), 128),
            Transform::new(TransformType::PRF, id()),
            Transform::new(TransformType::INTEG, id()),
            Transform::new(TransformType::DH, id()),
        ],
    }
}

/// Length of a group's KE data (RFC 7296 §3.4; RFC 5903 §7 for ECP: x | y).
pub fn ke_len(group: u16) -> usize {
    match DhId(group) {
        DhId::MODP_768 => 96,
        DhId::MODP_1024 => 128,
        DhId::MODP_1536 => 192,
        DhId::MODP_2048 => 256,
        DhId::MODP_3072 => 384,
        DhId::MODP_4096 => 512,
        DhId::MODP_6144 => 768,
        DhId::MODP_8192 => 1024,
        DhId::ECP_256 => 64,
        DhId::ECP_384 => 96,
        DhId::ECP_521 => 132,
        DhId::CURVE25519 => 32,
        DhId::CURVE448 => 56,
        _ => 256,
    }
}

/// The generator of P-256 (FIPS 186-4 D.1.2.3), x | y: a valid public value.
const P256_GENERATOR: [u8; 64] = [
    0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
    0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96,
    0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16,
    0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
];

fn is_modp(group: u16) -> bool {
    matches!(group, 1 | 2 | 5 | 14..=18)
}

/// KE data of the given kind for `group`.
pub fn ke_data(group: u16, value: KeValue, rng: &mut impl Rng) -> Vec<u8> {
    let len = ke_len(group);
    match value {
        KeValue::Valid if group == DhId::ECP_256.0 => P256_GENERATOR.to_vec(),
        KeValue::Valid => {
            let mut v = vec![0u8; len];
            rng.fill(&mut v[..]);
            if is_modp(group) {
                // Below p (whose top 64 bits are all ones) and above 1.
                v[0] = rng.random_range(0x10..0xf0);
            }
            v
        }
        KeValue::WrongLength => {
            let mut v = vec![0u8; len - 1];
            rng.fill(&mut v[..]);
            v
        }
        KeValue::Zero => vec![0u8; len],
        KeValue::NotOnCurve if is_modp(group) => {
            let mut v = vec![0u8; len];
            v.fill(0xff);
            if let Some(last) = v.last_mut() {
                *last = 0xfe;
            }
            v
        }
        KeValue::NotOnCurve => {
            let mut v = vec![0u8; len];
            rng.fill(&mut v[..]);
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    #[test]
    fn an_acceptable_request_parses_back() {
        let m = Forge::new(Kind::Acceptable(KeValue::Valid)).build(0x1122, &mut rng());
        let p = Message::parse(&m).expect("parses");
        assert_eq!(p.header.spi_i, 0x1122u64.to_be_bytes());
        assert_eq!(p.header.exchange, ExchangeType::IKE_SA_INIT);
        assert!(matches!(&p.payloads[1], Payload::Ke { group: 14, data } if data.len() == 256));
    }

    #[test]
    fn cookie_first_padding_version_and_critical() {
        let mut f = Forge::new(Kind::Acceptable(KeValue::Zero));
        f.cookie = Some(vec![9; 20]);
        f.pad_to = Some(30_000);
        let m = f.build(1, &mut rng());
        assert_eq!(m.len(), 30_000);
        let p = Message::parse(&m).unwrap();
        assert!(
            matches!(&p.payloads[0], Payload::Notify(n) if n.notify_type == NotifyType::COOKIE)
        );

        let v3 = Forge::new(Kind::Version3).build(2, &mut rng());
        assert!(matches!(
            Message::parse(&v3),
            Err(ike_wire::DecodeError::UnsupportedVersion(3))
        ));

        let c = Forge::new(Kind::CriticalPayload(200)).build(3, &mut rng());
        assert!(matches!(
            Message::parse(&c),
            Err(ike_wire::DecodeError::UnsupportedCriticalPayload(200))
        ));
    }

    #[test]
    fn unacceptable_proposals_and_bad_ke_values() {
        let m = Forge::new(Kind::UnacceptableProposal).build(4, &mut rng());
        let p = Message::parse(&m).unwrap();
        let Payload::Sa(props) = &p.payloads[0] else {
            panic!("SA first")
        };
        assert!(props[0].transforms.iter().all(|t| t.id >= 600));
        assert_eq!(ke_data(14, KeValue::WrongLength, &mut rng()).len(), 255);
        assert!(ke_data(14, KeValue::Zero, &mut rng())
            .iter()
            .all(|b| *b == 0));
        assert_eq!(ke_data(19, KeValue::NotOnCurve, &mut rng()).len(), 64);
    }
}
