//! NSX enumerations. Each is a closed Rust enum that serializes to NSX's exact
//! string; parsing an unknown string yields a message listing the accepted values.

/// A string enumeration as NSX defines it.
pub trait NsxEnum: Sized + Copy + 'static {
    /// The NSX type name, for error messages.
    const TYPE_NAME: &'static str;
    /// Every value, in NSX documentation order.
    const ALL: &'static [Self];
    /// The NSX spelling.
    fn as_str(&self) -> &'static str;
    /// Parse the NSX spelling (exact, case-sensitive as NSX is).
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }
    /// The accepted values joined for an error message.
    fn expected() -> String {
        Self::ALL
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

macro_rules! nsx_enum {
    (
        $(#[$meta:meta])*
        $name:ident : $type_name:literal { $( $(#[$vmeta:meta])* $variant:ident = $s:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $s, "`")] #[schema(rename = $s)] $variant ),+
        }

        impl $crate::enums::NsxEnum for $name {
            const TYPE_NAME: &'static str = $type_name;
            const ALL: &'static [Self] = &[ $( Self::$variant ),+ ];
            fn as_str(&self) -> &'static str {
                match self { $( Self::$variant => $s ),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::enums::NsxEnum::as_str(self))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::enums::NsxEnum::as_str(self))
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                <Self as $crate::enums::NsxEnum>::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown {} value {:?}; expected one of: {}",
                        $type_name,
                        s,
                        <Self as $crate::enums::NsxEnum>::expected()
                    ))
                })
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                <Self as $crate::enums::NsxEnum>::parse(s).ok_or_else(|| {
                    format!(
                        "unknown {} value {:?}; expected one of: {}",
                        $type_name,
                        s,
                        <Self as $crate::enums::NsxEnum>::expected()
                    )
                })
            }
        }
    };
}

nsx_enum! {
    /// Gateway high-availability mode. VPN services need `ACTIVE_STANDBY`.
    HaMode: "ha_mode" { ActiveStandby = "ACTIVE_STANDBY", ActiveActive = "ACTIVE_ACTIVE" }
}

nsx_enum! {
    /// Gateway failover mode (stored; strait runs one node).
    FailoverMode: "failover_mode" { Preemptive = "PREEMPTIVE", NonPreemptive = "NON_PREEMPTIVE" }
}

nsx_enum! {
    /// `IPSecVpnService.ike_log_level`.
    IkeLogLevel: "ike_log_level" {
        Debug = "DEBUG", Info = "INFO", Warn = "WARN", Error = "ERROR", Emergency = "EMERGENCY"
    }
}

nsx_enum! {
    /// `IPSecVpnSession.authentication_mode`.
    AuthenticationMode: "authentication_mode" { Psk = "PSK", Certificate = "CERTIFICATE" }
}

nsx_enum! {
    /// `IPSecVpnSession.compliance_suite` (NSX admin guide, "About Supported Compliance Suites").
    ComplianceSuite: "compliance_suite" {
        Cnsa = "CNSA",
        SuiteBGcm128 = "SUITE_B_GCM_128",
        SuiteBGcm256 = "SUITE_B_GCM_256",
        Prime = "PRIME",
        Foundation = "FOUNDATION",
        Fips = "FIPS",
        None = "NONE",
    }
}

impl ComplianceSuite {
    /// The id fragment of the suite's system profiles (`<suite>-ipsec-ike-profile`), per the
    /// contract; `None` for `NONE`.
    pub fn profile_prefix(self) -> Option<&'static str> {
        Some(match self {
            Self::Cnsa => "cnsa",
            Self::SuiteBGcm128 => "suite-b-gcm-128",
            Self::SuiteBGcm256 => "suite-b-gcm-256",
            Self::Prime => "prime",
            Self::Foundation => "foundation",
            Self::Fips => "fips",
            Self::None => return None,
        })
    }
}

nsx_enum! {
    /// `IPSecVpnSession.connection_initiation_mode`.
    ConnectionInitiationMode: "connection_initiation_mode" {
        Initiator = "INITIATOR", RespondOnly = "RESPOND_ONLY", OnDemand = "ON_DEMAND"
    }
}

nsx_enum! {
    /// `TcpMaximumSegmentSizeClamping.direction`.
    MssDirection: "direction" {
        None = "NONE",
        InboundConnection = "INBOUND_CONNECTION",
        OutboundConnection = "OUTBOUND_CONNECTION",
        Both = "BOTH",
    }
}

nsx_enum! {
    /// `IPSecVpnIkeProfile.ike_version`.
    IkeVersion: "ike_version" { IkeV1 = "IKE_V1", IkeV2 = "IKE_V2", IkeFlex = "IKE_FLEX" }
}

nsx_enum! {
    /// `IPSecVpnIkeProfile.encryption_algorithms`. `AES_128`/`AES_256` are CBC.
    IkeEncryption: "IKE encryption algorithm" {
        Aes128 = "AES_128",
        Aes256 = "AES_256",
        AesGcm128 = "AES_GCM_128",
        AesGcm192 = "AES_GCM_192",
        AesGcm256 = "AES_GCM_256",
    }
}

impl IkeEncryption {
    /// Whether the cipher is an AEAD (RFC 5282), which carries its own integrity.
    pub fn is_aead(self) -> bool {
        matches!(self, Self::AesGcm128 | Self::AesGcm192 | Self::AesGcm256)
    }
}

nsx_enum! {
    /// `IPSecVpnTunnelProfile.encryption_algorithms` (ESP transforms).
    TunnelEncryption: "tunnel encryption algorithm" {
        Aes128 = "AES_128",
        Aes256 = "AES_256",
        AesGcm128 = "AES_GCM_128",
        AesGcm192 = "AES_GCM_192",
        AesGcm256 = "AES_GCM_256",
        NoEncryptionAuthAesGmac128 = "NO_ENCRYPTION_AUTH_AES_GMAC_128",
        NoEncryptionAuthAesGmac192 = "NO_ENCRYPTION_AUTH_AES_GMAC_192",
        NoEncryptionAuthAesGmac256 = "NO_ENCRYPTION_AUTH_AES_GMAC_256",
        NoEncryption = "NO_ENCRYPTION",
    }
}

impl TunnelEncryption {
    /// Whether the transform authenticates by itself (GCM, GMAC), so it takes no digest.
    pub fn is_combined_mode(self) -> bool {
        matches!(
            self,
            Self::AesGcm128
                | Self::AesGcm192
                | Self::AesGcm256
                | Self::NoEncryptionAuthAesGmac128
                | Self::NoEncryptionAuthAesGmac192
                | Self::NoEncryptionAuthAesGmac256
        )
    }
}

nsx_enum! {
    /// Digest (integrity / PRF) algorithms of IKE and tunnel profiles.
    DigestAlgorithm: "digest algorithm" {
        Sha1 = "SHA1", Sha2_256 = "SHA2_256", Sha2_384 = "SHA2_384", Sha2_512 = "SHA2_512"
    }
}

nsx_enum! {
    /// Diffie-Hellman groups. `GROUP31` (Curve25519, RFC 8031) is a strait extension.
    DhGroup: "DH group" {
        Group2 = "GROUP2",
        Group5 = "GROUP5",
        Group14 = "GROUP14",
        Group15 = "GROUP15",
        Group16 = "GROUP16",
        Group19 = "GROUP19",
        Group20 = "GROUP20",
        Group21 = "GROUP21",
        Group31 = "GROUP31",
    }
}

nsx_enum! {
    /// `IPSecVpnTunnelProfile.df_policy`.
    DfPolicy: "df_policy" { Copy = "COPY", Clear = "CLEAR" }
}

nsx_enum! {
    /// `IPSecVpnDpdProfile.dpd_probe_mode`.
    DpdProbeMode: "dpd_probe_mode" { Periodic = "PERIODIC", OnDemand = "ON_DEMAND" }
}

nsx_enum! {
    /// BGP graceful restart mode (`BgpGracefulRestartConfig.mode`,
    /// `BgpNeighborConfig.graceful_restart_mode`).
    GracefulRestartMode: "graceful_restart_mode" {
        Disable = "DISABLE", GrAndHelper = "GR_AND_HELPER", HelperOnly = "HELPER_ONLY"
    }
}

nsx_enum! {
    /// Route redistribution types (`Tier0RouteRedistributionRule.route_redistribution_types`).
    /// strait realizes `TIER0_CONNECTED`, `TIER0_STATIC` and `TIER0_IPSEC_LOCAL_IP`; the
    /// others name NSX objects strait does not have and redistribute nothing (docs/api.md).
    RouteRedistributionType: "route_redistribution_types" {
        Tier0Static = "TIER0_STATIC",
        Tier0Connected = "TIER0_CONNECTED",
        Tier0ExternalInterface = "TIER0_EXTERNAL_INTERFACE",
        Tier0Segment = "TIER0_SEGMENT",
        Tier0RouterLink = "TIER0_ROUTER_LINK",
        Tier0ServiceInterface = "TIER0_SERVICE_INTERFACE",
        Tier0LoopbackInterface = "TIER0_LOOPBACK_INTERFACE",
        Tier0DnsForwarderIp = "TIER0_DNS_FORWARDER_IP",
        Tier0IpsecLocalIp = "TIER0_IPSEC_LOCAL_IP",
        Tier0Nat = "TIER0_NAT",
        Tier0EvpnTepIp = "TIER0_EVPN_TEP_IP",
        Tier1Nat = "TIER1_NAT",
        Tier1Static = "TIER1_STATIC",
        Tier1LbVip = "TIER1_LB_VIP",
        Tier1LbSnat = "TIER1_LB_SNAT",
        Tier1DnsForwarderIp = "TIER1_DNS_FORWARDER_IP",
        Tier1Connected = "TIER1_CONNECTED",
        Tier1ServiceInterface = "TIER1_SERVICE_INTERFACE",
        Tier1Segment = "TIER1_SEGMENT",
        Tier1IpsecLocalEndpoint = "TIER1_IPSEC_LOCAL_ENDPOINT",
        InterVrfStatic = "INTER_VRF_STATIC",
        TgwStatic = "TGW_STATIC",
    }
}

nsx_enum! {
    /// `Tier0RouteRedistributionRule.destinations`.
    RedistributionDestination: "destinations" { Bgp = "BGP", Ospf = "OSPF" }
}

nsx_enum! {
    /// `BgpRouteFiltering.address_family`.
    BgpAddressFamily: "address_family" { Ipv4 = "IPV4", Ipv6 = "IPV6", L2vpnEvpn = "L2VPN_EVPN" }
}

nsx_enum! {
    /// `BgpNeighborLocalAsConfig.as_path_modifier_type`.
    AsPathModifierType: "as_path_modifier_type" {
        NoPrepend = "NO_PREPEND", NoPrependReplaceAs = "NO_PREPEND_REPLACE_AS"
    }
}

nsx_enum! {
    /// `PrefixEntry.action`.
    PrefixAction: "action" { Permit = "PERMIT", Deny = "DENY" }
}

nsx_enum! {
    /// Role of a strait user.
    Role: "role" { Admin = "admin", Auditor = "auditor" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_json() {
        for v in DhGroup::ALL {
            let json = serde_json::to_string(v).unwrap();
            let back: DhGroup = serde_json::from_str(&json).unwrap();
            assert_eq!(*v, back);
        }
        assert_eq!(
            serde_json::to_string(&DhGroup::Group31).unwrap(),
            "\"GROUP31\""
        );
    }

    #[test]
    fn unknown_enum_value_lists_accepted_values() {
        let err = serde_json::from_str::<MssDirection>("\"UP\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("NONE, INBOUND_CONNECTION, OUTBOUND_CONNECTION, BOTH"),
            "{err}"
        );
        assert!(err.contains("\"UP\""), "{err}");
    }
}
