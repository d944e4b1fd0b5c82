//! Diffie-Hellman groups (IKEv2 transform type 4, RFC 7296 §3.3.2, §3.4): MODP groups
//! 2, 5, 14, 15, 16 (via [`crate::modp`]), the ECP groups 19, 20, 21 of RFC 5903 and
//! Curve25519 (31, RFC 8031), the latter two via aws-lc-rs.

use std::fmt;

use aws_lc_rs::agreement::{self, ParsedPublicKey, UnparsedPublicKey};
use zeroize::Zeroizing;

use crate::{modp, CryptoError};

/// A Diffie-Hellman group, by IKEv2 transform ID (type 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DhGroup {
    /// 2: 1024-bit MODP group (RFC 2409 §6.2).
    Modp1024,
    /// 5: 1536-bit MODP group (RFC 3526 §2).
    Modp1536,
    /// 14: 2048-bit MODP group (RFC 3526 §3).
    Modp2048,
    /// 15: 3072-bit MODP group (RFC 3526 §4).
    Modp3072,
    /// 16: 4096-bit MODP group (RFC 3526 §5).
    Modp4096,
    /// 19: 256-bit random ECP group, NIST P-256 (RFC 5903 §3.1).
    Ecp256,
    /// 20: 384-bit random ECP group, NIST P-384 (RFC 5903 §3.2).
    Ecp384,
    /// 21: 521-bit random ECP group, NIST P-521 (RFC 5903 §3.3).
    Ecp521,
    /// 31: Curve25519 (RFC 8031).
    Curve25519,
}

impl DhGroup {
    /// All groups this crate implements.
    pub const ALL: [DhGroup; 9] = [
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp4096,
        DhGroup::Ecp256,
        DhGroup::Ecp384,
        DhGroup::Ecp521,
        DhGroup::Curve25519,
    ];

    /// The group for an IKEv2 transform ID (type 4), or None if not implemented.
    pub fn from_id(id: u16) -> Option<DhGroup> {
        match id {
            2 => Some(DhGroup::Modp1024),
            5 => Some(DhGroup::Modp1536),
            14 => Some(DhGroup::Modp2048),
            15 => Some(DhGroup::Modp3072),
            16 => Some(DhGroup::Modp4096),
            19 => Some(DhGroup::Ecp256),
            20 => Some(DhGroup::Ecp384),
            21 => Some(DhGroup::Ecp521),
            31 => Some(DhGroup::Curve25519),
            _ => None,
        }
    }

    /// The IKEv2 transform ID (type 4), also the DH Group Num of the KE payload.
    pub fn id(self) -> u16 {
        match self {
            DhGroup::Modp1024 => 2,
            DhGroup::Modp1536 => 5,
            DhGroup::Modp2048 => 14,
            DhGroup::Modp3072 => 15,
            DhGroup::Modp4096 => 16,
            DhGroup::Ecp256 => 19,
            DhGroup::Ecp384 => 20,
            DhGroup::Ecp521 => 21,
            DhGroup::Curve25519 => 31,
        }
    }

    /// Length of the KE payload's Key Exchange Data: the prime length for MODP
    /// (RFC 7296 §3.4), x || y for ECP (RFC 5903 §7), 32 for Curve25519 (RFC 8031 §2).
    pub fn public_len(self) -> usize {
        match self {
            DhGroup::Modp1024 => 128,
            DhGroup::Modp1536 => 192,
            DhGroup::Modp2048 => 256,
            DhGroup::Modp3072 => 384,
            DhGroup::Modp4096 => 512,
            DhGroup::Ecp256 => 64,
            DhGroup::Ecp384 => 96,
            DhGroup::Ecp521 => 132,
            DhGroup::Curve25519 => 32,
        }
    }

    /// The prime p of a MODP group, big-endian (generator 2; RFC 2409 §6.2, RFC 3526);
    /// None for the elliptic-curve groups.
    pub fn modp_prime(self) -> Option<&'static [u8]> {
        modp::prime(self)
    }

    /// Length of the shared secret g^ir: the prime length for MODP, the x coordinate for
    /// ECP (RFC 5903 §7), 32 for Curve25519.
    pub fn shared_len(self) -> usize {
        match self {
            DhGroup::Ecp256 | DhGroup::Ecp384 | DhGroup::Ecp521 => self.public_len() / 2,
            _ => self.public_len(),
        }
    }

    /// How many random bytes [`DhGroup::generate`] needs: the private exponent for MODP
    /// (32, or 40 for group 16, RFC 3526 §8), the scalar for ECP (32/48/66), 32 for
    /// Curve25519.
    pub fn random_len(self) -> usize {
        match self {
            DhGroup::Modp1024
            | DhGroup::Modp1536
            | DhGroup::Modp2048
            | DhGroup::Modp3072
            | DhGroup::Modp4096 => modp::exponent_len(self),
            DhGroup::Ecp256 => 32,
            DhGroup::Ecp384 => 48,
            DhGroup::Ecp521 => 66,
            DhGroup::Curve25519 => 32,
        }
    }

    fn ec_algorithm(self) -> Option<&'static agreement::Algorithm> {
        match self {
            DhGroup::Ecp256 => Some(&agreement::ECDH_P256),
            DhGroup::Ecp384 => Some(&agreement::ECDH_P384),
            DhGroup::Ecp521 => Some(&agreement::ECDH_P521),
            DhGroup::Curve25519 => Some(&agreement::X25519),
            _ => None,
        }
    }

    fn is_ecp(self) -> bool {
        matches!(self, DhGroup::Ecp256 | DhGroup::Ecp384 | DhGroup::Ecp521)
    }

    /// Check a peer's KE data before any Diffie-Hellman work is done with it (RFC 7296
    /// §3.4, RFC 6989): the group's length, for MODP 1 < y < p-1, for ECP a point on the
    /// curve (a parse, far cheaper than a scalar multiplication). A Curve25519 value can
    /// only be judged by the agreement itself (an all-zero result is refused there).
    pub fn validate_peer_public(self, peer_public: &[u8]) -> Result<(), CryptoError> {
        if peer_public.len() != self.public_len() {
            return Err(CryptoError::PeerPublicLength {
                group: self,
                expected: self.public_len(),
                actual: peer_public.len(),
            });
        }
        match self.ec_algorithm() {
            None => modp::validate_peer(self, peer_public),
            Some(alg) if self.is_ecp() => {
                let mut point = Vec::with_capacity(1 + peer_public.len());
                point.push(0x04);
                point.extend_from_slice(peer_public);
                ParsedPublicKey::try_from(&UnparsedPublicKey::new(alg, point))
                    .map(|_| ())
                    .map_err(|_| CryptoError::PeerPublicNotOnCurve { group: self })
            }
            Some(_) => Ok(()),
        }
    }

    /// A private key made from exactly [`DhGroup::random_len`] random bytes; the same bytes
    /// always give the same key.
    ///
    /// * MODP: the bytes are the big-endian private exponent; 0 and 1 are rejected.
    /// * ECP: the bytes are the big-endian scalar, which must be in [1, n-1]; otherwise
    ///   [`CryptoError::BadRandom`] and the caller retries with fresh bytes. For P-521 the
    ///   top 7 bits of the first byte are ignored (a 521-bit scalar in 66 bytes), so a
    ///   retry is as rare as for the other curves.
    /// * Curve25519: the bytes are the scalar, clamped as RFC 7748 §5 says.
    pub fn generate(self, random: &[u8]) -> Result<DhPrivate, CryptoError> {
        if random.len() != self.random_len() {
            return Err(CryptoError::RandomLength {
                group: self,
                expected: self.random_len(),
                actual: random.len(),
            });
        }
        match self.ec_algorithm() {
            None => {
                let exponent = Zeroizing::new(random.to_vec());
                let public = modp::public_value(self, &exponent)?;
                Ok(DhPrivate {
                    group: self,
                    key: Key::Modp(exponent),
                    public,
                })
            }
            Some(alg) => {
                let mut scalar = Zeroizing::new(random.to_vec());
                if self == DhGroup::Ecp521 {
                    if let Some(first) = scalar.first_mut() {
                        *first &= 0x01;
                    }
                }
                let key = agreement::PrivateKey::from_private_key(alg, &scalar)
                    .map_err(|_| CryptoError::BadRandom { group: self })?;
                let public = key.compute_public_key().map_err(|_| CryptoError::Library {
                    operation: "computing the public key",
                })?;
                let public = if self.is_ecp() {
                    // SEC 1 uncompressed point 0x04 || x || y; IKEv2 sends x || y (RFC 5903 §7).
                    match public.as_ref().split_first() {
                        Some((0x04, xy)) if xy.len() == self.public_len() => xy.to_vec(),
                        _ => {
                            return Err(CryptoError::Library {
                                operation: "encoding the public key",
                            })
                        }
                    }
                } else {
                    public.as_ref().to_vec()
                };
                Ok(DhPrivate {
                    group: self,
                    key: Key::Ec(key),
                    public,
                })
            }
        }
    }
}

impl fmt::Display for DhGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DhGroup::Modp1024 => "MODP_1024",
            DhGroup::Modp1536 => "MODP_1536",
            DhGroup::Modp2048 => "MODP_2048",
            DhGroup::Modp3072 => "MODP_3072",
            DhGroup::Modp4096 => "MODP_4096",
            DhGroup::Ecp256 => "ECP_256",
            DhGroup::Ecp384 => "ECP_384",
            DhGroup::Ecp521 => "ECP_521",
            DhGroup::Curve25519 => "CURVE_25519",
        })
    }
}

enum Key {
    /// The private exponent, big-endian.
    Modp(Zeroizing<Vec<u8>>),
    /// An aws-lc EVP_PKEY; aws-lc wipes it when it is freed (OPENSSL_free cleanses).
    Ec(agreement::PrivateKey),
}

/// A Diffie-Hellman private key with its public value. The secret is wiped when the value
/// is dropped; `Debug` shows only the group.
pub struct DhPrivate {
    group: DhGroup,
    key: Key,
    public: Vec<u8>,
}

impl fmt::Debug for DhPrivate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DhPrivate")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl DhPrivate {
    /// The group.
    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// The public value, as the KE payload's Key Exchange Data
    /// ([`DhGroup::public_len`] bytes).
    pub fn public_value(&self) -> Vec<u8> {
        self.public.clone()
    }

    /// The shared secret g^ir with the peer's KE data, after validating it (RFC 7296 §3.4;
    /// RFC 6989): MODP left-padded to the prime length, ECP the x coordinate (RFC 5903 §7),
    /// Curve25519 the 32-byte output (all-zero rejected, RFC 8031 §2).
    pub fn agree(&self, peer_public: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let group = self.group;
        if peer_public.len() != group.public_len() {
            return Err(CryptoError::PeerPublicLength {
                group,
                expected: group.public_len(),
                actual: peer_public.len(),
            });
        }
        match &self.key {
            Key::Modp(exponent) => modp::shared_secret(group, exponent, peer_public),
            Key::Ec(key) => {
                let alg = group.ec_algorithm().ok_or(CryptoError::Library {
                    operation: "selecting the curve",
                })?;
                let parsed = if group.is_ecp() {
                    let mut point = Vec::with_capacity(1 + peer_public.len());
                    point.push(0x04);
                    point.extend_from_slice(peer_public);
                    // Parsing an uncompressed point checks that it is on the curve.
                    ParsedPublicKey::try_from(&UnparsedPublicKey::new(alg, point))
                        .map_err(|_| CryptoError::PeerPublicNotOnCurve { group })?
                } else {
                    ParsedPublicKey::try_from(&UnparsedPublicKey::new(alg, peer_public))
                        .map_err(|_| CryptoError::PeerPublicLowOrder { group })?
                };
                // For X25519, aws-lc refuses an all-zero result (a low-order point); that is
                // the only way agreement fails on a well-formed 32-byte value.
                let failure = if group.is_ecp() {
                    CryptoError::Library {
                        operation: "ECDH agreement",
                    }
                } else {
                    CryptoError::PeerPublicLowOrder { group }
                };
                let secret =
                    agreement::agree(key, parsed, failure, |s| Ok(Zeroizing::new(s.to_vec())))?;
                if secret.len() != group.shared_len() {
                    return Err(CryptoError::Library {
                        operation: "ECDH agreement",
                    });
                }
                if secret.iter().fold(0u8, |acc, b| acc | b) == 0 {
                    return Err(CryptoError::PeerPublicLowOrder { group });
                }
                Ok(secret)
            }
        }
    }
}
