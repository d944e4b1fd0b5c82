//! System-owned profiles that exist from the first start (`_system_owned: true`): NSX's
//! `nsx-default-*` profiles and an IKE + tunnel profile pair per compliance suite
//! (NSX admin guide, "About Supported Compliance Suites").

use crate::enums::{
    ComplianceSuite, DfPolicy, DhGroup, DigestAlgorithm, DpdProbeMode, IkeEncryption, IkeVersion,
    TunnelEncryption,
};
use crate::objects::{Common, DpdProfile, IkeProfile, PolicyObject, TunnelProfile};
use crate::path::{Kind, ObjectPath};

/// Id of the default IKE profile.
pub const DEFAULT_IKE_PROFILE: &str = "nsx-default-l3vpn-ike-profile";
/// Id of the default tunnel profile.
pub const DEFAULT_TUNNEL_PROFILE: &str = "nsx-default-l3vpn-tunnel-profile";
/// Id of the default DPD profile.
pub const DEFAULT_DPD_PROFILE: &str = "nsx-default-l3vpn-dpd-profile";

/// The default profile path a session uses for `kind` when none is given.
pub fn default_profile_path(kind: Kind) -> String {
    let id = match kind {
        Kind::IkeProfile => DEFAULT_IKE_PROFILE,
        Kind::TunnelProfile => DEFAULT_TUNNEL_PROFILE,
        _ => DEFAULT_DPD_PROFILE,
    };
    format!("/infra/{}/{id}", kind.collection_segment())
}

/// The suite's own profile path for `kind` (IKE or tunnel), `None` for suite NONE and for
/// DPD profiles, which stay selectable.
pub fn suite_profile_path(suite: ComplianceSuite, kind: Kind) -> Option<String> {
    let prefix = suite.profile_prefix()?;
    let suffix = match kind {
        Kind::IkeProfile => "ipsec-ike-profile",
        Kind::TunnelProfile => "ipsec-tunnel-profile",
        _ => return None,
    };
    Some(format!(
        "/infra/{}/{prefix}-{suffix}",
        kind.collection_segment()
    ))
}

fn common(id: &str, description: &str) -> Common {
    Common {
        display_name: id.to_owned(),
        description: Some(description.to_owned()),
        tags: Vec::new(),
    }
}

fn ike(
    id: &str,
    description: &str,
    version: IkeVersion,
    enc: &[IkeEncryption],
    dig: &[DigestAlgorithm],
    dh: &[DhGroup],
) -> (ObjectPath, PolicyObject) {
    (
        path(Kind::IkeProfile, id),
        PolicyObject::IkeProfile(IkeProfile {
            common: common(id, description),
            ike_version: version,
            encryption_algorithms: enc.to_vec(),
            digest_algorithms: dig.to_vec(),
            dh_groups: dh.to_vec(),
            sa_life_time: 86_400,
        }),
    )
}

fn tunnel(
    id: &str,
    description: &str,
    enc: &[TunnelEncryption],
    dig: &[DigestAlgorithm],
    dh: &[DhGroup],
) -> (ObjectPath, PolicyObject) {
    (
        path(Kind::TunnelProfile, id),
        PolicyObject::TunnelProfile(TunnelProfile {
            common: common(id, description),
            encryption_algorithms: enc.to_vec(),
            digest_algorithms: dig.to_vec(),
            enable_perfect_forward_secrecy: true,
            dh_groups: dh.to_vec(),
            df_policy: DfPolicy::Copy,
            sa_life_time: 3_600,
        }),
    )
}

/// System profile ids are literals that satisfy `check_id` (the tests parse them all).
fn path(kind: Kind, id: &str) -> ObjectPath {
    ObjectPath::top_level(kind, id)
}

/// Every system-owned object, in a stable order.
pub fn system_objects() -> Vec<(ObjectPath, PolicyObject)> {
    use DhGroup::*;
    use DigestAlgorithm::*;
    let mut v = vec![
        ike(
            DEFAULT_IKE_PROFILE,
            "System-defined default IKE profile for L3 VPN",
            IkeVersion::IkeV2,
            &[IkeEncryption::Aes128],
            &[Sha2_256],
            &[Group14],
        ),
        ike(
            "nsx-default-l2vpn-ike-profile",
            "System-defined default IKE profile for L2 VPN",
            IkeVersion::IkeV2,
            &[IkeEncryption::Aes128],
            &[Sha2_256],
            &[Group14],
        ),
        tunnel(
            DEFAULT_TUNNEL_PROFILE,
            "System-defined default IPsec tunnel profile for L3 VPN",
            &[TunnelEncryption::AesGcm128],
            &[],
            &[Group14],
        ),
        tunnel(
            "nsx-default-l2vpn-tunnel-profile",
            "System-defined default IPsec tunnel profile for L2 VPN",
            &[TunnelEncryption::AesGcm128],
            &[],
            &[Group14],
        ),
        (
            path(Kind::DpdProfile, DEFAULT_DPD_PROFILE),
            PolicyObject::DpdProfile(DpdProfile {
                common: common(
                    DEFAULT_DPD_PROFILE,
                    "System-defined default DPD profile for L3 VPN",
                ),
                enabled: true,
                dpd_probe_mode: DpdProbeMode::Periodic,
                dpd_probe_interval: 60,
                retry_count: crate::objects::profiles::DPD_RETRY_COUNT_DEFAULT as u32,
            }),
        ),
    ];
    // (suite, IKE version, IKE cipher, IKE digests, IKE groups, ESP cipher, ESP digests, ESP groups)
    type Suite = (
        ComplianceSuite,
        IkeVersion,
        IkeEncryption,
        &'static [DigestAlgorithm],
        &'static [DhGroup],
        TunnelEncryption,
        &'static [DigestAlgorithm],
        &'static [DhGroup],
    );
    let suites: [Suite; 6] = [
        (
            ComplianceSuite::Cnsa,
            IkeVersion::IkeV2,
            IkeEncryption::Aes256,
            &[Sha2_384],
            &[Group15, Group20],
            TunnelEncryption::Aes256,
            &[Sha2_384],
            &[Group15, Group20],
        ),
        (
            ComplianceSuite::Fips,
            IkeVersion::IkeFlex,
            IkeEncryption::Aes128,
            &[Sha2_256],
            &[Group20],
            TunnelEncryption::AesGcm128,
            &[],
            &[Group20],
        ),
        (
            ComplianceSuite::Foundation,
            IkeVersion::IkeV1,
            IkeEncryption::Aes128,
            &[Sha2_256],
            &[Group14],
            TunnelEncryption::Aes128,
            &[Sha2_256],
            &[Group14],
        ),
        (
            ComplianceSuite::Prime,
            IkeVersion::IkeV2,
            IkeEncryption::AesGcm128,
            &[],
            &[Group19],
            TunnelEncryption::AesGcm128,
            &[],
            &[Group19],
        ),
        (
            ComplianceSuite::SuiteBGcm128,
            IkeVersion::IkeV2,
            IkeEncryption::Aes128,
            &[Sha2_256],
            &[Group19],
            TunnelEncryption::AesGcm128,
            &[],
            &[Group19],
        ),
        (
            ComplianceSuite::SuiteBGcm256,
            IkeVersion::IkeV2,
            IkeEncryption::Aes256,
            &[Sha2_384],
            &[Group20],
            TunnelEncryption::AesGcm256,
            &[],
            &[Group20],
        ),
    ];
    for (suite, ver, ike_enc, ike_dig, ike_dh, esp_enc, esp_dig, esp_dh) in suites {
        let ike_path = suite_profile_path(suite, Kind::IkeProfile).unwrap_or_default();
        let tun_path = suite_profile_path(suite, Kind::TunnelProfile).unwrap_or_default();
        let ike_id = ike_path.rsplit('/').next().unwrap_or_default().to_owned();
        let tun_id = tun_path.rsplit('/').next().unwrap_or_default().to_owned();
        v.push(ike(
            &ike_id,
            &format!("System-defined IKE profile for the {suite} compliance suite"),
            ver,
            &[ike_enc],
            ike_dig,
            ike_dh,
        ));
        v.push(tunnel(
            &tun_id,
            &format!("System-defined IPsec tunnel profile for the {suite} compliance suite"),
            &[esp_enc],
            esp_dig,
            esp_dh,
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_has_both_profiles_and_defaults_exist() {
        let objs = system_objects();
        let paths: Vec<&str> = objs.iter().map(|(p, _)| p.as_str()).collect();
        for kind in [Kind::IkeProfile, Kind::TunnelProfile, Kind::DpdProfile] {
            assert!(paths.contains(&default_profile_path(kind).as_str()));
        }
        for suite in <ComplianceSuite as crate::enums::NsxEnum>::ALL {
            for kind in [Kind::IkeProfile, Kind::TunnelProfile] {
                match suite_profile_path(*suite, kind) {
                    Some(p) => assert!(paths.contains(&p.as_str()), "{p}"),
                    None => assert_eq!(*suite, ComplianceSuite::None),
                }
            }
        }
        assert!(paths.contains(&"/infra/ipsec-vpn-ike-profiles/suite-b-gcm-128-ipsec-ike-profile"));
    }
}
