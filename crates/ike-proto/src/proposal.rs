//! Building SA payload proposals from a session's profiles, and choosing among a peer's
//! (RFC 7296 §2.7, §3.3). Names in messages follow NSX's profile values (AES_128, SHA2_256,
//! GROUP14) so an operator can match them against their profiles.

use ike_crypto::{Cipher, DhGroup, Integrity, Prf};
use ike_wire::{
    DhId, EncrId, EsnId, IntegId, PrfId, Proposal, ProtocolId, Transform, TransformType,
};

use crate::config::{EspCipher, EspProposal, IkeProposal};

/// The algorithms of an IKE SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IkeSuite {
    /// SK payload cipher.
    pub cipher: Cipher,
    /// Integrity (None with AEAD).
    pub integrity: Option<Integrity>,
    /// PRF.
    pub prf: Prf,
    /// DH group.
    pub group: DhGroup,
}

impl IkeSuite {
    /// `AES_128/SHA2_256/PRF_SHA2_256/GROUP14`.
    pub fn describe(&self) -> String {
        let mut s = cipher_name(self.cipher);
        if let Some(i) = self.integrity {
            s.push('/');
            s.push_str(integ_name(i));
        }
        s.push_str(&format!(
            "/PRF_{}/{}",
            prf_name(self.prf),
            group_name(self.group)
        ));
        s
    }

    fn transforms(&self) -> Vec<Transform> {
        let mut t = vec![cipher_transform(self.cipher)];
        t.push(Transform::new(TransformType::PRF, self.prf.transform_id()));
        if let Some(i) = self.integrity {
            t.push(Transform::new(TransformType::INTEG, i.transform_id()));
        }
        t.push(Transform::new(TransformType::DH, self.group.id()));
        t
    }

    /// The chosen proposal as the responder returns it.
    pub fn to_proposal(&self, number: u8, spi: Vec<u8>) -> Proposal {
        Proposal {
            number,
            protocol: ProtocolId::IKE,
            spi,
            transforms: self.transforms(),
        }
    }
}

/// The algorithms of a Child SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspSuite {
    /// Encryption transform.
    pub cipher: EspCipher,
    /// Integrity (None with combined-mode ciphers).
    pub integrity: Option<Integrity>,
    /// PFS group of this exchange (None in IKE_AUTH or without PFS).
    pub group: Option<DhGroup>,
    /// Extended sequence numbers.
    pub esn: bool,
}

impl EspSuite {
    /// `AES_GCM_128/GROUP14/NO_ESN`-style description.
    pub fn describe(&self) -> String {
        let mut s = self.cipher.nsx_name();
        if let Some(i) = self.integrity {
            s.push('/');
            s.push_str(integ_name(i));
        }
        if let Some(g) = self.group {
            s.push('/');
            s.push_str(&group_name(g));
        }
        if self.esn {
            s.push_str("/ESN");
        }
        s
    }

    /// The chosen proposal as the responder returns it.
    pub fn to_proposal(&self, number: u8, spi: u32) -> Proposal {
        let mut t = vec![esp_cipher_transform(self.cipher)];
        if let Some(i) = self.integrity {
            t.push(Transform::new(TransformType::INTEG, i.transform_id()));
        }
        if let Some(g) = self.group {
            t.push(Transform::new(TransformType::DH, g.id()));
        }
        t.push(Transform::new(
            TransformType::ESN,
            if self.esn {
                EsnId::ESN.0
            } else {
                EsnId::NO_ESN.0
            },
        ));
        Proposal {
            number,
            protocol: ProtocolId::ESP,
            spi: spi.to_be_bytes().to_vec(),
            transforms: t,
        }
    }
}

pub(crate) fn cipher_name(c: Cipher) -> String {
    match c {
        Cipher::AesCbc { key_bits } => format!("AES_{key_bits}"),
        Cipher::AesGcm16 { key_bits } => format!("AES_GCM_{key_bits}"),
    }
}

pub(crate) fn integ_name(i: Integrity) -> &'static str {
    match i {
        Integrity::HmacSha1_96 => "SHA1",
        Integrity::HmacSha256_128 => "SHA2_256",
        Integrity::HmacSha384_192 => "SHA2_384",
        Integrity::HmacSha512_256 => "SHA2_512",
    }
}

pub(crate) fn prf_name(p: Prf) -> &'static str {
    match p {
        Prf::HmacSha1 => "SHA1",
        Prf::HmacSha256 => "SHA2_256",
        Prf::HmacSha384 => "SHA2_384",
        Prf::HmacSha512 => "SHA2_512",
    }
}

pub(crate) fn group_name(g: DhGroup) -> String {
    format!("GROUP{}", g.id())
}

fn cipher_transform(c: Cipher) -> Transform {
    Transform::with_key_length(TransformType::ENCR, c.transform_id(), c.key_bits())
}

fn esp_cipher_transform(c: EspCipher) -> Transform {
    match c.key_bits() {
        Some(b) => Transform::with_key_length(TransformType::ENCR, c.transform_id(), b),
        None => Transform::new(TransformType::ENCR, c.transform_id()),
    }
}

/// A transform as an operator would name it (NSX names where they exist).
fn transform_name(t: &Transform) -> String {
    match t.transform_type {
        TransformType::ENCR => match (EncrId(t.id), t.key_length) {
            (EncrId::ENCR_AES_CBC, Some(b)) => format!("AES_{b}"),
            (EncrId::ENCR_AES_GCM_16, Some(b)) => format!("AES_GCM_{b}"),
            (EncrId::ENCR_NULL_AUTH_AES_GMAC, Some(b)) => {
                format!("NO_ENCRYPTION_AUTH_AES_GMAC_{b}")
            }
            (EncrId::ENCR_NULL, _) => "NO_ENCRYPTION".into(),
            (id, Some(b)) => format!("{id}_{b}"),
            (id, None) => id.to_string(),
        },
        TransformType::INTEG => match Integrity::from_transform_id(t.id) {
            Some(i) => integ_name(i).into(),
            None => IntegId(t.id).to_string(),
        },
        TransformType::PRF => match Prf::from_transform_id(t.id) {
            Some(p) => format!("PRF_{}", prf_name(p)),
            None => PrfId(t.id).to_string(),
        },
        TransformType::DH => match DhGroup::from_id(t.id) {
            Some(g) => group_name(g),
            None => DhId(t.id).to_string(),
        },
        TransformType::ESN => {
            if t.id == EsnId::ESN.0 {
                "ESN".into()
            } else {
                "NO_ESN".into()
            }
        }
        other => format!("{other}:{}", t.id),
    }
}

/// Every proposal of an SA payload, for alarms: `AES_256/SHA2_384/PRF_SHA2_384/GROUP20, ...`.
pub fn describe_offer(proposals: &[Proposal]) -> String {
    proposals
        .iter()
        .map(|p| {
            let mut parts: Vec<String> = Vec::new();
            for ty in [
                TransformType::ENCR,
                TransformType::INTEG,
                TransformType::PRF,
                TransformType::DH,
                TransformType::ESN,
            ] {
                let names: Vec<String> = p.of_type(ty).map(transform_name).collect();
                if !names.is_empty() {
                    parts.push(names.join("|"));
                }
            }
            parts.join("/")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a session allows, in the same notation.
pub fn describe_ike_allowed(allowed: &[IkeProposal]) -> String {
    describe_offer(&ike_proposals(allowed, &[]))
}

/// What a session allows for ESP.
pub fn describe_esp_allowed(allowed: &[EspProposal], with_pfs: bool) -> String {
    describe_offer(&esp_proposals(allowed, 0, with_pfs))
}

/// SA payload proposals for an IKE_SA_INIT request or IKE rekey (`spi` empty or our new SPI).
pub fn ike_proposals(cfg: &[IkeProposal], spi: &[u8]) -> Vec<Proposal> {
    cfg.iter()
        .enumerate()
        .map(|(i, p)| {
            let mut transforms: Vec<Transform> =
                p.ciphers.iter().map(|c| cipher_transform(*c)).collect();
            transforms.extend(
                p.prfs
                    .iter()
                    .map(|x| Transform::new(TransformType::PRF, x.transform_id())),
            );
            transforms.extend(
                p.integrity
                    .iter()
                    .map(|x| Transform::new(TransformType::INTEG, x.transform_id())),
            );
            transforms.extend(
                p.groups
                    .iter()
                    .map(|g| Transform::new(TransformType::DH, g.id())),
            );
            Proposal {
                number: (i + 1) as u8,
                protocol: ProtocolId::IKE,
                spi: spi.to_vec(),
                transforms,
            }
        })
        .collect()
}

/// SA payload proposals for ESP (`with_pfs`: include the PFS groups, i.e. CREATE_CHILD_SA).
pub fn esp_proposals(cfg: &[EspProposal], spi: u32, with_pfs: bool) -> Vec<Proposal> {
    cfg.iter()
        .enumerate()
        .map(|(i, p)| {
            let mut transforms: Vec<Transform> =
                p.ciphers.iter().map(|c| esp_cipher_transform(*c)).collect();
            transforms.extend(
                p.integrity
                    .iter()
                    .map(|x| Transform::new(TransformType::INTEG, x.transform_id())),
            );
            if with_pfs {
                transforms.extend(
                    p.pfs_groups
                        .iter()
                        .map(|g| Transform::new(TransformType::DH, g.id())),
                );
            }
            transforms.push(Transform::new(TransformType::ESN, EsnId::NO_ESN.0));
            if p.esn {
                transforms.push(Transform::new(TransformType::ESN, EsnId::ESN.0));
            }
            Proposal {
                number: (i + 1) as u8,
                protocol: ProtocolId::ESP,
                spi: spi.to_be_bytes().to_vec(),
                transforms,
            }
        })
        .collect()
}

fn first_match<T: Copy + PartialEq>(
    offered: &[&Transform],
    allowed: &[T],
    decode: impl Fn(&Transform) -> Option<T>,
) -> Option<T> {
    offered
        .iter()
        .filter(|t| !t.has_unknown_attributes)
        .filter_map(|t| decode(t))
        .find(|x| allowed.contains(x))
}

/// Responder: choose an IKE suite from the peer's proposals (peer's preference order).
/// Returns the suite and the number of the proposal it came from.
pub fn select_ike(offered: &[Proposal], allowed: &[IkeProposal]) -> Option<(IkeSuite, u8)> {
    for p in offered.iter().filter(|p| p.protocol == ProtocolId::IKE) {
        let enc: Vec<&Transform> = p.of_type(TransformType::ENCR).collect();
        let integ: Vec<&Transform> = p
            .of_type(TransformType::INTEG)
            .filter(|t| t.id != IntegId::NONE.0)
            .collect();
        let prf: Vec<&Transform> = p.of_type(TransformType::PRF).collect();
        let dh: Vec<&Transform> = p.of_type(TransformType::DH).collect();
        for a in allowed {
            let Some(cipher) = first_match(&enc, &a.ciphers, |t| {
                Cipher::from_transform(t.id, t.key_length)
            }) else {
                continue;
            };
            let integrity = if cipher.is_aead() {
                if !integ.is_empty() {
                    continue;
                }
                None
            } else {
                match first_match(&integ, &a.integrity, |t| Integrity::from_transform_id(t.id)) {
                    Some(i) => Some(i),
                    None => continue,
                }
            };
            let Some(prf) = first_match(&prf, &a.prfs, |t| Prf::from_transform_id(t.id)) else {
                continue;
            };
            let Some(group) = first_match(&dh, &a.groups, |t| DhGroup::from_id(t.id)) else {
                continue;
            };
            return Some((
                IkeSuite {
                    cipher,
                    integrity,
                    prf,
                    group,
                },
                p.number,
            ));
        }
    }
    None
}

/// Initiator: check the responder's single chosen IKE proposal against what we offered.
pub fn accept_ike(chosen: &[Proposal], offered: &[IkeProposal]) -> Option<IkeSuite> {
    let [p] = chosen else { return None };
    if p.protocol != ProtocolId::IKE || p.transforms.iter().any(|t| t.has_unknown_attributes) {
        return None;
    }
    let one = |ty| -> Option<&Transform> {
        let mut it = p.of_type(ty);
        let t = it.next();
        it.next().is_none().then_some(t).flatten()
    };
    let cipher = Cipher::from_transform(
        one(TransformType::ENCR)?.id,
        one(TransformType::ENCR)?.key_length,
    )?;
    let prf = Prf::from_transform_id(one(TransformType::PRF)?.id)?;
    let group = DhGroup::from_id(one(TransformType::DH)?.id)?;
    let integrity = match p
        .of_type(TransformType::INTEG)
        .filter(|t| t.id != IntegId::NONE.0)
        .count()
    {
        0 if cipher.is_aead() => None,
        1 if !cipher.is_aead() => {
            Some(Integrity::from_transform_id(one(TransformType::INTEG)?.id)?)
        }
        _ => return None,
    };
    let a = offered.get(usize::from(p.number).checked_sub(1)?)?;
    let ok = a.ciphers.contains(&cipher)
        && a.prfs.contains(&prf)
        && a.groups.contains(&group)
        && integrity.is_none_or(|i| a.integrity.contains(&i));
    ok.then_some(IkeSuite {
        cipher,
        integrity,
        prf,
        group,
    })
}

/// Responder: choose an ESP suite. `pfs_group`: the group of the KE payload the initiator
/// sent (CREATE_CHILD_SA with PFS), which must be in the chosen proposal. Returns the suite,
/// the proposal number and the peer's SPI.
pub fn select_esp(
    offered: &[Proposal],
    allowed: &[EspProposal],
    with_pfs: bool,
) -> Option<(EspSuite, u8, u32)> {
    for p in offered
        .iter()
        .filter(|p| p.protocol == ProtocolId::ESP && p.spi.len() == 4)
    {
        let Some(spi) = crate::be_u32(&p.spi) else {
            continue;
        };
        let enc: Vec<&Transform> = p.of_type(TransformType::ENCR).collect();
        let integ: Vec<&Transform> = p
            .of_type(TransformType::INTEG)
            .filter(|t| t.id != IntegId::NONE.0)
            .collect();
        let dh: Vec<&Transform> = p
            .of_type(TransformType::DH)
            .filter(|t| t.id != DhId::NONE.0)
            .collect();
        let esn: Vec<u16> = p.of_type(TransformType::ESN).map(|t| t.id).collect();
        for a in allowed {
            let Some(cipher) = first_match(&enc, &a.ciphers, |t| {
                EspCipher::from_transform(t.id, t.key_length)
            }) else {
                continue;
            };
            let integrity = if cipher.is_combined() {
                if !integ.is_empty() {
                    continue;
                }
                None
            } else {
                match first_match(&integ, &a.integrity, |t| Integrity::from_transform_id(t.id)) {
                    Some(i) => Some(i),
                    None => continue,
                }
            };
            let group = if with_pfs && !a.pfs_groups.is_empty() {
                match first_match(&dh, &a.pfs_groups, |t| DhGroup::from_id(t.id)) {
                    Some(g) => Some(g),
                    None => continue,
                }
            } else if !dh.is_empty() && !with_pfs {
                // A DH transform in IKE_AUTH is not allowed (§1.2).
                continue;
            } else if with_pfs && a.pfs_groups.is_empty() && !dh.is_empty() {
                // We do not do PFS; the peer insists.
                continue;
            } else {
                None
            };
            let esn = if esn.contains(&EsnId::NO_ESN.0) || esn.is_empty() {
                false
            } else if a.esn && esn.contains(&EsnId::ESN.0) {
                true
            } else {
                continue;
            };
            return Some((
                EspSuite {
                    cipher,
                    integrity,
                    group,
                    esn,
                },
                p.number,
                spi,
            ));
        }
    }
    None
}

/// Initiator: check the responder's chosen ESP proposal; returns the suite and their SPI.
pub fn accept_esp(
    chosen: &[Proposal],
    offered: &[EspProposal],
    with_pfs: bool,
) -> Option<(EspSuite, u32)> {
    let [p] = chosen else { return None };
    if p.protocol != ProtocolId::ESP
        || p.spi.len() != 4
        || p.transforms.iter().any(|t| t.has_unknown_attributes)
    {
        return None;
    }
    let spi = crate::be_u32(&p.spi)?;
    let a = offered.get(usize::from(p.number).checked_sub(1)?)?;
    let encs: Vec<&Transform> = p.of_type(TransformType::ENCR).collect();
    let [enc] = encs.as_slice() else { return None };
    let cipher = EspCipher::from_transform(enc.id, enc.key_length)?;
    let integs: Vec<&Transform> = p
        .of_type(TransformType::INTEG)
        .filter(|t| t.id != IntegId::NONE.0)
        .collect();
    let integrity = match integs.as_slice() {
        [] if cipher.is_combined() => None,
        [i] if !cipher.is_combined() => Some(Integrity::from_transform_id(i.id)?),
        _ => return None,
    };
    let dhs: Vec<&Transform> = p
        .of_type(TransformType::DH)
        .filter(|t| t.id != DhId::NONE.0)
        .collect();
    let group = match dhs.as_slice() {
        [] if !with_pfs || a.pfs_groups.is_empty() => None,
        [g] if with_pfs => Some(DhGroup::from_id(g.id)?),
        _ => return None,
    };
    let esns: Vec<&Transform> = p.of_type(TransformType::ESN).collect();
    let esn = match esns.as_slice() {
        [] => false,
        [e] if e.id == EsnId::NO_ESN.0 => false,
        [e] if e.id == EsnId::ESN.0 && a.esn => true,
        _ => return None,
    };
    let ok = a.ciphers.contains(&cipher)
        && integrity.is_none_or(|i| a.integrity.contains(&i))
        && group.is_none_or(|g| a.pfs_groups.contains(&g));
    ok.then_some((
        EspSuite {
            cipher,
            integrity,
            group,
            esn,
        },
        spi,
    ))
}
