//! IKE, IPsec tunnel and DPD profiles (NSX admin guide, "Adding Profiles").

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::Common;
use super::ParseCtx;
use crate::enums::{
    DfPolicy, DhGroup, DigestAlgorithm, DpdProbeMode, IkeEncryption, IkeVersion, NsxEnum,
    TunnelEncryption,
};
use crate::problems::{codes, Problems};
use crate::reader::ObjectReader;

/// IKE SA lifetime bounds in seconds (NSX UI / VCD `IkeConfig`).
pub const IKE_SA_LIFETIME_SECS: (i64, i64) = (21_600, 31_536_000);
/// Default IKE SA lifetime.
pub const IKE_SA_LIFETIME_DEFAULT_SECS: i64 = 86_400;
/// IPsec SA lifetime bounds in seconds.
pub const TUNNEL_SA_LIFETIME_SECS: (i64, i64) = (900, 31_536_000);
/// Default IPsec SA lifetime.
pub const TUNNEL_SA_LIFETIME_DEFAULT_SECS: i64 = 3_600;

/// One IKE proposal as strait negotiates an IKE profile (contract: CBC ciphers with the
/// profile's digests as integrity and PRF; GCM ciphers, RFC 5282, in their own proposal with
/// no integrity and PRF-HMAC-SHA2-256). strait's own proposals (strait-control) and the peer
/// configuration it hands out (strait-policy `peer_config`) are both built from this, so
/// they always agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkeProposalSpec {
    /// Ciphers, in the profile's order.
    pub ciphers: Vec<IkeEncryption>,
    /// Integrity algorithms (empty for AEAD ciphers).
    pub integrity: Vec<DigestAlgorithm>,
    /// PRFs.
    pub prfs: Vec<DigestAlgorithm>,
}

/// One ESP proposal as strait negotiates a tunnel profile: combined-mode transforms (GCM,
/// GMAC) in one proposal, the others (CBC, NULL) with the profile's digests in another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspProposalSpec {
    /// Transforms, in the profile's order.
    pub ciphers: Vec<TunnelEncryption>,
    /// Integrity algorithms (empty for combined-mode transforms).
    pub integrity: Vec<DigestAlgorithm>,
}

/// NSX `IPSecVpnIkeProfile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IkeProfile {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// IKE_V2 (default), IKE_V1 or IKE_FLEX.
    #[schema(required = false)]
    pub ike_version: IkeVersion,
    /// Encryption algorithms (default AES_128, which is CBC).
    #[schema(required = false, min_items = 1)]
    pub encryption_algorithms: Vec<IkeEncryption>,
    /// Integrity/PRF digests; empty when only GCM ciphers are used (PRF-HMAC-SHA2-256 then).
    #[schema(required = false)]
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// Diffie-Hellman groups (default GROUP14).
    #[schema(required = false, min_items = 1)]
    pub dh_groups: Vec<DhGroup>,
    /// IKE SA lifetime in seconds, 21600 to 31536000 (default 86400).
    #[schema(required = false, minimum = 21600, maximum = 31536000)]
    pub sa_life_time: u64,
}

impl IkeProfile {
    /// The proposals strait makes of this profile (see [`IkeProposalSpec`]); all share the
    /// profile's DH groups.
    pub fn proposals(&self) -> Vec<IkeProposalSpec> {
        let (aead, cbc): (Vec<IkeEncryption>, Vec<IkeEncryption>) =
            self.encryption_algorithms.iter().partition(|e| e.is_aead());
        let mut out = Vec::new();
        if !cbc.is_empty() {
            out.push(IkeProposalSpec {
                ciphers: cbc,
                integrity: self.digest_algorithms.clone(),
                prfs: self.digest_algorithms.clone(),
            });
        }
        if !aead.is_empty() {
            out.push(IkeProposalSpec {
                ciphers: aead,
                integrity: Vec::new(),
                prfs: vec![DigestAlgorithm::Sha2_256],
            });
        }
        out
    }

    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> IkeProfile {
        let common = Common::read(r, p, ctx.path.id());
        let ike_version = r.enumeration(p, "ike_version").unwrap_or(IkeVersion::IkeV2);
        let enc = r.enum_list(p, "encryption_algorithms", 8);
        let encryption_algorithms =
            non_empty(p, "encryption_algorithms", enc, IkeEncryption::Aes128);
        let digests_given = r.raw("digest_algorithms").is_some();
        let mut digest_algorithms = r.enum_list(p, "digest_algorithms", 8).unwrap_or_default();
        let dh = r.enum_list(p, "dh_groups", 16);
        let dh_groups = non_empty(p, "dh_groups", dh, DhGroup::Group14);
        let sa_life_time = r
            .int(
                p,
                "sa_life_time",
                IKE_SA_LIFETIME_SECS.0,
                IKE_SA_LIFETIME_SECS.1,
            )
            .unwrap_or(IKE_SA_LIFETIME_DEFAULT_SECS) as u64;

        let gcm: Vec<&str> = encryption_algorithms
            .iter()
            .filter(|e| e.is_aead())
            .map(|e| e.as_str())
            .collect();
        let has_cbc = encryption_algorithms.iter().any(|e| !e.is_aead());
        if !gcm.is_empty() && ike_version != IkeVersion::IkeV2 {
            p.push(
                "encryption_algorithms",
                codes::CONFLICT,
                format!(
                    "{} can only be used with IKE_V2 (IKEv1 has no AEAD ciphers); set ike_version \
                     to IKE_V2 or use AES_128/AES_256",
                    gcm.join(", ")
                ),
            );
        }
        if !has_cbc && !digest_algorithms.is_empty() {
            p.push(
                "digest_algorithms",
                codes::CONFLICT,
                format!(
                    "{} already authenticate{} (AEAD, RFC 5282) and use PRF-HMAC-SHA2-256; leave \
                     digest_algorithms empty, or add AES_128/AES_256 to use digests",
                    gcm.join(", "),
                    if gcm.len() == 1 { "s" } else { "" }
                ),
            );
        }
        if has_cbc && digest_algorithms.is_empty() {
            // NSX applies SHA2_256 when CBC ciphers come without a digest.
            let _ = digests_given;
            digest_algorithms.push(DigestAlgorithm::Sha2_256);
        }
        IkeProfile {
            common,
            ike_version,
            encryption_algorithms,
            digest_algorithms,
            dh_groups,
            sa_life_time,
        }
    }
}

/// NSX `IPSecVpnTunnelProfile` (ESP parameters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TunnelProfile {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// ESP transforms (default AES_GCM_128).
    #[schema(required = false, min_items = 1)]
    pub encryption_algorithms: Vec<TunnelEncryption>,
    /// Integrity algorithms for non-AEAD transforms; empty for GCM/GMAC only.
    #[schema(required = false)]
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// Perfect forward secrecy: a new DH exchange for every Child SA rekey (default true).
    #[schema(required = false)]
    pub enable_perfect_forward_secrecy: bool,
    /// DH groups for PFS (default GROUP14).
    #[schema(required = false, min_items = 1)]
    pub dh_groups: Vec<DhGroup>,
    /// Outer DF bit: COPY from the inner packet (default) or CLEAR.
    #[schema(required = false)]
    pub df_policy: DfPolicy,
    /// IPsec SA lifetime in seconds, 900 to 31536000 (default 3600).
    #[schema(required = false, minimum = 900, maximum = 31536000)]
    pub sa_life_time: u64,
}

impl TunnelProfile {
    /// The ESP proposals strait makes of this profile (see [`EspProposalSpec`]); all share
    /// [`TunnelProfile::pfs_groups`].
    pub fn proposals(&self) -> Vec<EspProposalSpec> {
        let (combined, plain): (Vec<TunnelEncryption>, Vec<TunnelEncryption>) = self
            .encryption_algorithms
            .iter()
            .partition(|e| e.is_combined_mode());
        let mut out = Vec::new();
        if !combined.is_empty() {
            out.push(EspProposalSpec {
                ciphers: combined,
                integrity: Vec::new(),
            });
        }
        if !plain.is_empty() {
            out.push(EspProposalSpec {
                ciphers: plain,
                integrity: self.digest_algorithms.clone(),
            });
        }
        out
    }

    /// The DH groups of CREATE_CHILD_SA key exchanges: the profile's groups when PFS is on,
    /// none otherwise.
    pub fn pfs_groups(&self) -> &[DhGroup] {
        if self.enable_perfect_forward_secrecy {
            &self.dh_groups
        } else {
            &[]
        }
    }

    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> TunnelProfile {
        let common = Common::read(r, p, ctx.path.id());
        let enc = r.enum_list(p, "encryption_algorithms", 12);
        let encryption_algorithms =
            non_empty(p, "encryption_algorithms", enc, TunnelEncryption::AesGcm128);
        let mut digest_algorithms = r.enum_list(p, "digest_algorithms", 8).unwrap_or_default();
        let enable_perfect_forward_secrecy =
            r.bool(p, "enable_perfect_forward_secrecy").unwrap_or(true);
        let dh = r.enum_list(p, "dh_groups", 16);
        let dh_groups = non_empty(p, "dh_groups", dh, DhGroup::Group14);
        let df_policy = r.enumeration(p, "df_policy").unwrap_or(DfPolicy::Copy);
        let sa_life_time = r
            .int(
                p,
                "sa_life_time",
                TUNNEL_SA_LIFETIME_SECS.0,
                TUNNEL_SA_LIFETIME_SECS.1,
            )
            .unwrap_or(TUNNEL_SA_LIFETIME_DEFAULT_SECS) as u64;
        if let Some(v) = r.raw("extended_attributes") {
            if !matches!(v, serde_json::Value::Array(a) if a.is_empty()) {
                p.push(
                    "extended_attributes",
                    codes::UNSUPPORTED,
                    "strait always uses ESP in tunnel mode, so extended_attributes cannot change \
                     anything; remove it",
                );
            }
        }
        let combined: Vec<&str> = encryption_algorithms
            .iter()
            .filter(|e| e.is_combined_mode())
            .map(|e| e.as_str())
            .collect();
        let needs_digest = encryption_algorithms.iter().any(|e| !e.is_combined_mode());
        let no_encryption = encryption_algorithms.contains(&TunnelEncryption::NoEncryption);
        if !needs_digest && !digest_algorithms.is_empty() {
            p.push(
                "digest_algorithms",
                codes::CONFLICT,
                format!(
                    "{} carr{} its own integrity check (GCM/GMAC); leave digest_algorithms empty",
                    combined.join(", "),
                    if combined.len() == 1 { "ies" } else { "y" }
                ),
            );
        }
        if needs_digest && digest_algorithms.is_empty() {
            if no_encryption {
                p.push(
                    "digest_algorithms",
                    codes::CONFLICT,
                    "NO_ENCRYPTION needs a digest so that ESP still has integrity protection; add \
                     one such as SHA2_256, or use NO_ENCRYPTION_AUTH_AES_GMAC_128",
                );
            } else {
                digest_algorithms.push(DigestAlgorithm::Sha2_256);
            }
        }
        TunnelProfile {
            common,
            encryption_algorithms,
            digest_algorithms,
            enable_perfect_forward_secrecy,
            dh_groups,
            df_policy,
            sa_life_time,
        }
    }
}

/// DPD probe interval bounds per mode (NSX: periodic 3-360 s, on-demand 1-10 s).
pub fn dpd_interval_bounds(mode: DpdProbeMode) -> (i64, i64) {
    match mode {
        DpdProbeMode::Periodic => (3, 360),
        DpdProbeMode::OnDemand => (1, 10),
    }
}

/// Default DPD probe interval per mode.
pub fn dpd_interval_default(mode: DpdProbeMode) -> i64 {
    match mode {
        DpdProbeMode::Periodic => 60,
        DpdProbeMode::OnDemand => 10,
    }
}

/// Default DPD retry count (NSX 4.x API schema).
pub const DPD_RETRY_COUNT_DEFAULT: i64 = 10;

/// NSX `IPSecVpnDpdProfile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DpdProfile {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
    /// Whether DPD runs (default true).
    #[schema(required = false)]
    pub enabled: bool,
    /// PERIODIC (default) or ON_DEMAND.
    #[schema(required = false)]
    pub dpd_probe_mode: DpdProbeMode,
    /// Seconds between probes: 3-360 periodic (default 60), 1-10 on demand (default 10).
    #[schema(required = false, minimum = 1, maximum = 360)]
    pub dpd_probe_interval: u32,
    /// Probes without answer before the peer is declared dead, 1-100 (default 10).
    #[schema(required = false, minimum = 1, maximum = 100)]
    pub retry_count: u32,
}

impl DpdProfile {
    pub(crate) fn parse<'a>(
        r: &mut ObjectReader<'a>,
        p: &mut Problems,
        ctx: &ParseCtx<'_>,
    ) -> DpdProfile {
        let common = Common::read(r, p, ctx.path.id());
        let enabled = r.bool(p, "enabled").unwrap_or(true);
        let dpd_probe_mode = r
            .enumeration(p, "dpd_probe_mode")
            .unwrap_or(DpdProbeMode::Periodic);
        let (lo, hi) = dpd_interval_bounds(dpd_probe_mode);
        let interval = match r.raw("dpd_probe_interval") {
            Some(v) => match v.as_number().and_then(crate::reader::whole_number) {
                Some(i) if !(lo..=hi).contains(&i) => {
                    p.field(
                        "dpd_probe_interval",
                        format!(
                            "{i} s is out of range for {dpd_probe_mode} probing; use {lo} to {hi} seconds"
                        ),
                    );
                    None
                }
                _ => crate::reader::int_value(p, "dpd_probe_interval", v, lo, hi),
            },
            None => None,
        };
        let dpd_probe_interval =
            interval.unwrap_or_else(|| dpd_interval_default(dpd_probe_mode)) as u32;
        let retry_count = r
            .int(p, "retry_count", 1, 100)
            .unwrap_or(DPD_RETRY_COUNT_DEFAULT) as u32;
        DpdProfile {
            common,
            enabled,
            dpd_probe_mode,
            dpd_probe_interval,
            retry_count,
        }
    }
}

fn non_empty<E: NsxEnum>(p: &mut Problems, field: &str, v: Option<Vec<E>>, default: E) -> Vec<E> {
    match v {
        Some(list) if list.is_empty() => {
            p.field(
                field,
                format!(
                    "is empty; list at least one value (one of: {})",
                    E::expected()
                ),
            );
            vec![default]
        }
        Some(list) => list,
        None => vec![default],
    }
}
