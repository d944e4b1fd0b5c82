//! Public-key work the endpoint hands to its caller (Diffie-Hellman of IKE_SA_INIT and of
//! CREATE_CHILD_SA; in certificate sessions our IKE_AUTH signature and the check of the
//! peer's certificate and signature), so a flood of IKE_SA_INIT requests or a
//! burst of new sessions is computed on other threads while the event loop keeps serving
//! timers, retransmissions and established SAs.
//!
//! The endpoint stays sans-IO: [`crate::Endpoint::poll_crypto`] gives out a [`CryptoJob`]
//! (plain data, `Send`), the caller runs [`CryptoJob::run`] wherever it likes and gives the
//! [`CryptoDone`] back to [`crate::Endpoint::handle_crypto`]. Randomness is drawn by the
//! endpoint before the job leaves, so a seeded run replays exactly whatever thread computes
//! it. With [`crate::EndpointConfig::offload_crypto`] off (the default) the endpoint runs
//! each job itself at once, as before.

use ike_crypto::{derive_ike_keys, skeyseed, DhGroup, DhPrivate, IkeKeys};
use zeroize::Zeroizing;

use crate::proposal::IkeSuite;
use crate::random::{self, Random};

/// Random candidates handed to a key generation: an ECP scalar out of range (probability
/// about 2^-32) makes the job try the next.
const KEYGEN_CANDIDATES: usize = 2;

/// The randomness a job's key generation needs, drawn here so a seeded run replays exactly
/// whichever thread computes the job.
pub(crate) fn keygen_randoms(group: DhGroup, rng: &mut dyn Random) -> Vec<Zeroizing<Vec<u8>>> {
    (0..KEYGEN_CANDIDATES)
        .map(|_| Zeroizing::new(random::vec(rng, group.random_len())))
        .collect()
}

/// A unit of key-exchange work (see the module documentation).
pub struct CryptoJob {
    pub(crate) id: u64,
    pub(crate) work: Work,
}

impl std::fmt::Debug for CryptoJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptoJob")
            .field("id", &self.id)
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

pub(crate) enum Work {
    /// Responder IKE_SA_INIT (RFC 7296 §1.2, §2.14): our DH key pair from the first usable
    /// random candidate, g^ir with the initiator's (already validated) KE data, SKEYSEED
    /// and the SK_* keys.
    RespondInit {
        handle: u64,
        group: DhGroup,
        randoms: Vec<Zeroizing<Vec<u8>>>,
        peer_ke: Vec<u8>,
        suite: IkeSuite,
        ni: Vec<u8>,
        nr: Vec<u8>,
        spi_i: [u8; 8],
        spi_r: [u8; 8],
    },
    /// Initiator: a DH key pair for IKE_SA_INIT (new, or for the group the responder asked
    /// for with INVALID_KE_PAYLOAD).
    Keygen {
        handle: u64,
        group: DhGroup,
        randoms: Vec<Zeroizing<Vec<u8>>>,
    },
    /// Our IKE_AUTH signature over `octets` (RFC 7296 §2.15, RFC 7427) with the site
    /// certificate's key.
    SignAuth {
        handle: u64,
        auth: crate::cert_auth::SharedCertificateAuth,
        peer_hashes: Vec<u16>,
        octets: Vec<u8>,
        stage: crate::ike_auth::AuthStage,
    },
    /// The peer's certificate chain, key, identity and AUTH signature (RFC 7296 §2.15,
    /// §3.6; see [`crate::peer_auth`]).
    VerifyPeer {
        handle: u64,
        check: Box<crate::cert_auth::PeerVerification>,
        stage: crate::peer_auth::VerifyStage,
    },
    /// CREATE_CHILD_SA (RFC 7296 §1.3, see [`crate::kex`]): the key pair given, or a new one
    /// from the first usable random candidate, and g^ir with the peer's (already validated)
    /// KE data if there is one.
    KeyExchange {
        handle: u64,
        group: DhGroup,
        dh: Option<DhPrivate>,
        randoms: Vec<Zeroizing<Vec<u8>>>,
        peer_ke: Option<Vec<u8>>,
    },
    /// Initiator: g^ir with the responder's (already validated) KE data, SKEYSEED, SK_*.
    InitiatorKeys {
        handle: u64,
        dh: DhPrivate,
        peer_ke: Vec<u8>,
        suite: IkeSuite,
        ni: Vec<u8>,
        nr: Vec<u8>,
        spi_i: [u8; 8],
        spi_r: [u8; 8],
    },
}

/// The result of a [`CryptoJob`].
pub struct CryptoDone {
    pub(crate) id: u64,
    pub(crate) result: Done,
}

impl std::fmt::Debug for CryptoDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptoDone")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

pub(crate) enum Done {
    /// Our public value and the new SA's keys, or None if the computation failed.
    RespondInit {
        handle: u64,
        keys: Option<(Vec<u8>, IkeKeys)>,
    },
    /// The key pair, or None if no candidate was usable.
    Keygen { handle: u64, dh: Option<DhPrivate> },
    /// The new SA's keys, or None if the agreement failed.
    InitiatorKeys { handle: u64, keys: Option<IkeKeys> },
    /// The key pair (None if no candidate was usable) and g^ir (None without KE data, or if
    /// the agreement failed).
    KeyExchange {
        handle: u64,
        dh: Option<DhPrivate>,
        shared: Option<Zeroizing<Vec<u8>>>,
    },
    /// Whether the peer's certificate authentication holds, or why not (an alarm).
    VerifyPeer {
        handle: u64,
        stage: crate::peer_auth::VerifyStage,
        result: Result<(), String>,
    },
    /// Our AUTH payload (method and data), or why it could not be made (an alarm).
    SignAuth {
        handle: u64,
        stage: crate::ike_auth::AuthStage,
        result: Result<(ike_wire::AuthMethod, Vec<u8>), String>,
    },
}

fn ike_keys(
    dh: &DhPrivate,
    peer_ke: &[u8],
    suite: IkeSuite,
    nonces: (&[u8], &[u8]),
    spis: (&[u8; 8], &[u8; 8]),
) -> Option<IkeKeys> {
    let (ni, nr) = nonces;
    let g_ir = dh.agree(peer_ke).ok()?;
    let seed = skeyseed(suite.prf, ni, nr, &g_ir);
    derive_ike_keys(
        suite.prf,
        &seed,
        ni,
        nr,
        spis.0,
        spis.1,
        suite.integrity,
        suite.cipher,
    )
    .ok()
}

impl CryptoJob {
    /// What the job computes, for logs and tests: `respond-init`, `keygen`,
    /// `initiator-keys`, `child-key-exchange`, `sign-auth` or `verify-peer`.
    pub fn kind(&self) -> &'static str {
        match self.work {
            Work::RespondInit { .. } => "respond-init",
            Work::Keygen { .. } => "keygen",
            Work::InitiatorKeys { .. } => "initiator-keys",
            Work::KeyExchange { .. } => "child-key-exchange",
            Work::SignAuth { .. } => "sign-auth",
            Work::VerifyPeer { .. } => "verify-peer",
        }
    }

    /// Do the work (pure: no I/O, no clock, no randomness of its own).
    pub fn run(self) -> CryptoDone {
        let result = match self.work {
            Work::RespondInit {
                handle,
                group,
                randoms,
                peer_ke,
                suite,
                ni,
                nr,
                spi_i,
                spi_r,
            } => {
                let keys = randoms
                    .iter()
                    .find_map(|r| group.generate(r).ok())
                    .and_then(|dh| {
                        let keys = ike_keys(&dh, &peer_ke, suite, (&ni, &nr), (&spi_i, &spi_r))?;
                        Some((dh.public_value(), keys))
                    });
                Done::RespondInit { handle, keys }
            }
            Work::Keygen {
                handle,
                group,
                randoms,
            } => Done::Keygen {
                handle,
                dh: randoms.iter().find_map(|r| group.generate(r).ok()),
            },
            Work::KeyExchange {
                handle,
                group,
                dh,
                randoms,
                peer_ke,
            } => {
                let dh = dh.or_else(|| randoms.iter().find_map(|r| group.generate(r).ok()));
                let shared = match (&dh, &peer_ke) {
                    (Some(d), Some(ke)) => d.agree(ke).ok(),
                    _ => None,
                };
                Done::KeyExchange { handle, dh, shared }
            }
            Work::InitiatorKeys {
                handle,
                dh,
                peer_ke,
                suite,
                ni,
                nr,
                spi_i,
                spi_r,
            } => Done::InitiatorKeys {
                handle,
                keys: ike_keys(&dh, &peer_ke, suite, (&ni, &nr), (&spi_i, &spi_r)),
            },
            Work::VerifyPeer {
                handle,
                check,
                stage,
            } => Done::VerifyPeer {
                handle,
                stage,
                result: check.run(),
            },
            Work::SignAuth {
                handle,
                auth,
                peer_hashes,
                octets,
                stage,
            } => Done::SignAuth {
                handle,
                stage,
                result: crate::cert_auth::sign_auth(&auth, &peer_hashes, &octets),
            },
        };
        CryptoDone {
            id: self.id,
            result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send + 'static>() {}

    #[test]
    fn jobs_and_results_cross_threads() {
        assert_send::<CryptoJob>();
        assert_send::<CryptoDone>();
    }
}
