//! Policy paths: `/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1` names a session.
//!
//! The REST URL of every object is `/policy/api/v1` + its policy path, so parsing a path
//! tells the API layer which kind of object a request is about, and the store keys
//! objects by it.

use std::fmt;

/// Every kind of object strait keeps in its policy tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `/infra/tier-0s/{id}`
    Tier0,
    /// `/infra/tier-1s/{id}`
    Tier1,
    /// `{gateway}/ipsec-vpn-services/{id}`
    VpnService,
    /// `{service}/local-endpoints/{id}`
    LocalEndpoint,
    /// `{service}/sessions/{id}`
    Session,
    /// `/infra/ipsec-vpn-ike-profiles/{id}`
    IkeProfile,
    /// `/infra/ipsec-vpn-tunnel-profiles/{id}`
    TunnelProfile,
    /// `/infra/ipsec-vpn-dpd-profiles/{id}`
    DpdProfile,
    /// `/infra/certificates/{id}`
    Certificate,
    /// `/infra/crls/{id}`
    Crl,
    /// `{gateway}/static-routes/{id}`
    StaticRoute,
    /// `{tier0}/prefix-lists/{id}`
    PrefixList,
    /// `{gateway}/locale-services/{id}`
    LocaleServices,
    /// `{locale-services}/bgp`: one per locale service, its id is always `bgp`.
    BgpConfig,
    /// `{locale-services}/bgp/neighbors/{id}`
    BgpNeighbor,
}

impl Kind {
    /// Every kind, parents before children.
    pub const ALL: [Kind; 15] = [
        Kind::Tier0,
        Kind::Tier1,
        Kind::IkeProfile,
        Kind::TunnelProfile,
        Kind::DpdProfile,
        Kind::Certificate,
        Kind::Crl,
        Kind::VpnService,
        Kind::LocalEndpoint,
        Kind::Session,
        Kind::StaticRoute,
        Kind::PrefixList,
        Kind::LocaleServices,
        Kind::BgpConfig,
        Kind::BgpNeighbor,
    ];

    /// The URL segment of the collection holding this kind.
    pub fn collection_segment(self) -> &'static str {
        match self {
            Kind::Tier0 => "tier-0s",
            Kind::Tier1 => "tier-1s",
            Kind::VpnService => "ipsec-vpn-services",
            Kind::LocalEndpoint => "local-endpoints",
            Kind::Session => "sessions",
            Kind::IkeProfile => "ipsec-vpn-ike-profiles",
            Kind::TunnelProfile => "ipsec-vpn-tunnel-profiles",
            Kind::DpdProfile => "ipsec-vpn-dpd-profiles",
            Kind::Certificate => "certificates",
            Kind::Crl => "crls",
            Kind::StaticRoute => "static-routes",
            Kind::PrefixList => "prefix-lists",
            Kind::LocaleServices => "locale-services",
            Kind::BgpConfig => "bgp",
            Kind::BgpNeighbor => "neighbors",
        }
    }

    /// The NSX `resource_type` of objects of this kind (sessions: the route-based one).
    pub fn resource_type(self) -> &'static str {
        match self {
            Kind::Tier0 => "Tier0",
            Kind::Tier1 => "Tier1",
            Kind::VpnService => "IPSecVpnService",
            Kind::LocalEndpoint => "IPSecVpnLocalEndpoint",
            Kind::Session => "RouteBasedIPSecVpnSession",
            Kind::IkeProfile => "IPSecVpnIkeProfile",
            Kind::TunnelProfile => "IPSecVpnTunnelProfile",
            Kind::DpdProfile => "IPSecVpnDpdProfile",
            Kind::Certificate => "TlsCertificate",
            Kind::Crl => "TlsCrl",
            Kind::StaticRoute => "StaticRoutes",
            Kind::PrefixList => "PrefixList",
            Kind::LocaleServices => "LocaleServices",
            Kind::BgpConfig => "BgpRoutingConfig",
            Kind::BgpNeighbor => "BgpNeighborConfig",
        }
    }

    /// What operators call it, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Tier0 => "tier-0 gateway",
            Kind::Tier1 => "tier-1 gateway",
            Kind::VpnService => "IPsec VPN service",
            Kind::LocalEndpoint => "local endpoint",
            Kind::Session => "IPsec session",
            Kind::IkeProfile => "IKE profile",
            Kind::TunnelProfile => "IPsec tunnel profile",
            Kind::DpdProfile => "DPD profile",
            Kind::Certificate => "certificate",
            Kind::Crl => "CRL",
            Kind::StaticRoute => "static route",
            Kind::PrefixList => "prefix list",
            Kind::LocaleServices => "locale service",
            Kind::BgpConfig => "BGP configuration",
            Kind::BgpNeighbor => "BGP neighbor",
        }
    }

    /// The noun with its indefinite article, for messages: "an IKE profile", "a DPD profile".
    pub fn a_noun(self) -> String {
        let noun = self.noun();
        // The nouns with a vowel sound first are exactly those starting with I (IKE, IPsec).
        let article = if noun.starts_with('I') { "an" } else { "a" };
        format!("{article} {noun}")
    }

    /// Kinds that may be the parent of this kind (`None` in the list: directly under `/infra`).
    pub fn parent_kinds(self) -> &'static [Kind] {
        match self {
            Kind::LocalEndpoint | Kind::Session => &[Kind::VpnService],
            Kind::VpnService | Kind::StaticRoute | Kind::LocaleServices => {
                &[Kind::Tier0, Kind::Tier1]
            }
            Kind::PrefixList => &[Kind::Tier0],
            Kind::BgpConfig => &[Kind::LocaleServices],
            Kind::BgpNeighbor => &[Kind::BgpConfig],
            _ => &[],
        }
    }

    /// Whether this kind exists only under tier-0 gateways: NSX's tier-1 gateways have locale
    /// services (edge placement) but no BGP and no prefix lists.
    pub fn only_on_tier0(self) -> bool {
        matches!(self, Kind::PrefixList | Kind::BgpConfig | Kind::BgpNeighbor)
    }

    /// Whether objects of this kind live directly under `/infra`.
    pub fn is_top_level(self) -> bool {
        self.parent_kinds().is_empty()
    }

    /// Whether there is exactly one object of this kind per parent, named by its collection
    /// segment alone (`…/bgp`, whose id is `bgp`), as NSX does.
    pub fn is_singleton(self) -> bool {
        self == Kind::BgpConfig
    }

    /// Whether this kind is a gateway.
    pub fn is_gateway(self) -> bool {
        matches!(self, Kind::Tier0 | Kind::Tier1)
    }

    /// Stable lower-case name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tier0 => "tier0",
            Kind::Tier1 => "tier1",
            Kind::VpnService => "vpn_service",
            Kind::LocalEndpoint => "local_endpoint",
            Kind::Session => "session",
            Kind::IkeProfile => "ike_profile",
            Kind::TunnelProfile => "tunnel_profile",
            Kind::DpdProfile => "dpd_profile",
            Kind::Certificate => "certificate",
            Kind::Crl => "crl",
            Kind::StaticRoute => "static_route",
            Kind::PrefixList => "prefix_list",
            Kind::LocaleServices => "locale_services",
            Kind::BgpConfig => "bgp_config",
            Kind::BgpNeighbor => "bgp_neighbor",
        }
    }

    /// Inverse of [`Kind::as_str`].
    pub fn from_store_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// Maximum length of an object id.
pub const ID_MAX_CHARS: usize = 255;

/// What [`check_id`] accepts, as a JSON Schema pattern (for the OpenAPI document).
pub const ID_PATTERN: &str = "^[A-Za-z0-9_:@~+=-][A-Za-z0-9_.:@~+=-]{0,254}$";

/// Check an object id: 1 to 255 characters from letters, digits and `-_.:@~+=`,
/// not starting with `.` (so `.` and `..` can never be path components).
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("the id is empty; give the object an id such as \"site-b\"".into());
    }
    if id.chars().count() > ID_MAX_CHARS {
        return Err(format!(
            "the id is longer than {ID_MAX_CHARS} characters; use a shorter id"
        ));
    }
    if id.starts_with('.') {
        return Err(format!(
            "the id {id:?} starts with '.'; start it with a letter or digit"
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:@~+=".contains(*c)))
    {
        return Err(format!(
            "the id {:?} contains {bad:?}; ids may use letters, digits and - _ . : @ ~ + =",
            crate::reader::truncate(id, 64)
        ));
    }
    Ok(())
}

/// A parsed policy path naming one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectPath {
    kind: Kind,
    path: String,
    id_start: usize,
    parent_len: usize,
}

impl ObjectPath {
    /// Parse and check a policy path such as `/infra/tier-0s/t0`.
    pub fn parse(path: &str) -> Result<ObjectPath, PathError> {
        match parse_any(path)? {
            ParsedPath::Object(o) => Ok(o),
            ParsedPath::Collection(c) => Err(PathError::NotAnObject {
                path: path.to_owned(),
                kind: c.kind,
            }),
        }
    }

    /// Build the path of a child of `parent` (or of a top-level object when `parent` is None).
    pub fn child(
        parent: Option<&ObjectPath>,
        kind: Kind,
        id: &str,
    ) -> Result<ObjectPath, PathError> {
        let base = match parent {
            Some(p) => p.as_str().to_owned(),
            None => "/infra".to_owned(),
        };
        if kind.is_singleton() {
            return ObjectPath::parse(&format!("{base}/{}", kind.collection_segment()));
        }
        ObjectPath::parse(&format!("{base}/{}/{id}", kind.collection_segment()))
    }

    /// The path of a top-level object (directly under `/infra`) whose id the caller knows
    /// satisfies [`check_id`], such as a system profile's; built without parsing, so it
    /// cannot fail. Equal to what [`ObjectPath::child`] returns for the same arguments.
    pub(crate) fn top_level(kind: Kind, id: &str) -> ObjectPath {
        debug_assert!(
            children_of(None).contains(&kind) && check_id(id).is_ok(),
            "{kind:?}/{id} is not a valid top-level object path"
        );
        let base = "/infra";
        let path = format!("{base}/{}/{id}", kind.collection_segment());
        ObjectPath {
            kind,
            id_start: path.len() - id.len(),
            parent_len: base.len(),
            path,
        }
    }

    /// The kind of object.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The full policy path.
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The object's id (last segment).
    pub fn id(&self) -> &str {
        // `id_start` is set where the path is built, right after an ASCII '/'.
        let id = self.path.get(self.id_start..);
        debug_assert!(
            id.is_some(),
            "id_start off a char boundary in {}",
            self.path
        );
        id.unwrap_or_default()
    }

    /// The parent object's path (`/infra` for top-level objects).
    pub fn parent_path(&self) -> &str {
        // `parent_len` is set where the path is built, right before an ASCII '/'.
        let parent = self.path.get(..self.parent_len);
        debug_assert!(
            parent.is_some(),
            "parent_len off a char boundary in {}",
            self.path
        );
        parent.unwrap_or_default()
    }

    /// The parent object, if this kind has one.
    pub fn parent(&self) -> Option<ObjectPath> {
        if self.kind.is_top_level() {
            None
        } else {
            ObjectPath::parse(self.parent_path()).ok()
        }
    }

    /// The path relative to the parent: `<collection>/<id>`... NSX's `relative_path` is the id.
    pub fn relative_path(&self) -> &str {
        self.id()
    }

    /// The gateway this object lives under, if any.
    pub fn gateway(&self) -> Option<ObjectPath> {
        let mut cur = Some(self.clone());
        while let Some(p) = cur {
            if p.kind.is_gateway() {
                return Some(p);
            }
            cur = p.parent();
        }
        None
    }

    /// The path of the collection this object belongs to.
    pub fn collection(&self) -> CollectionPath {
        CollectionPath {
            kind: self.kind,
            parent: self.parent(),
        }
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

/// A parsed path naming a collection, e.g. `/infra/tier-0s/t0/ipsec-vpn-services`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionPath {
    /// Kind of the members.
    pub kind: Kind,
    /// The owner of the collection (None: `/infra`).
    pub parent: Option<ObjectPath>,
}

impl CollectionPath {
    /// The collection's path.
    pub fn as_string(&self) -> String {
        let base = self.parent.as_ref().map_or("/infra", |p| p.as_str());
        format!("{base}/{}", self.kind.collection_segment())
    }

    /// The parent path that members carry as `parent_path`.
    pub fn parent_path(&self) -> &str {
        self.parent.as_ref().map_or("/infra", |p| p.as_str())
    }
}

/// A path names either an object or a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedPath {
    /// e.g. `/infra/tier-0s/t0`
    Object(ObjectPath),
    /// e.g. `/infra/tier-0s`
    Collection(CollectionPath),
}

/// Why a path is not a valid policy path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Not of the policy tree's shape.
    #[error("{path:?} is not a policy path strait knows; {hint}")]
    Unknown {
        /// The path given.
        path: String,
        /// What was expected at the point of failure.
        hint: String,
    },
    /// An id segment is malformed.
    #[error("{path:?}: {reason}")]
    BadId {
        /// The path given.
        path: String,
        /// What is wrong with the id.
        reason: String,
    },
    /// A collection where an object was expected.
    #[error("{path:?} names the collection of {kind} objects, not one object; append /<id>")]
    NotAnObject {
        /// The path given.
        path: String,
        /// The collection's kind.
        kind: Kind,
    },
}

fn children_of(kind: Option<Kind>) -> &'static [Kind] {
    match kind {
        None => &[
            Kind::Tier0,
            Kind::Tier1,
            Kind::IkeProfile,
            Kind::TunnelProfile,
            Kind::DpdProfile,
            Kind::Certificate,
            Kind::Crl,
        ],
        Some(Kind::Tier0) => &[
            Kind::VpnService,
            Kind::StaticRoute,
            Kind::LocaleServices,
            Kind::PrefixList,
        ],
        Some(Kind::Tier1) => &[Kind::VpnService, Kind::StaticRoute, Kind::LocaleServices],
        Some(Kind::VpnService) => &[Kind::LocalEndpoint, Kind::Session],
        Some(Kind::LocaleServices) => &[Kind::BgpConfig],
        Some(Kind::BgpConfig) => &[Kind::BgpNeighbor],
        Some(_) => &[],
    }
}

/// Parse a policy path into an object or a collection. The path must start with `/infra`.
pub fn parse_any(path: &str) -> Result<ParsedPath, PathError> {
    let unknown = |hint: String| PathError::Unknown {
        path: crate::reader::truncate(path, 300),
        hint,
    };
    if path.len() > 2048 {
        return Err(unknown("the path is too long".into()));
    }
    let rest = path
        .strip_prefix("/infra")
        .ok_or_else(|| unknown("policy paths start with /infra".into()))?;
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        let r = rest
            .strip_prefix('/')
            .ok_or_else(|| unknown("policy paths start with /infra/".into()))?;
        r.split('/').collect()
    };
    let mut parent: Option<ObjectPath> = None;
    // Segments come in (collection, id) pairs, except singletons (`bgp`), which are their
    // own id; only the last pair may lack its id.
    let mut rest: &[&str] = &segments;
    let mut under_tier1 = false;
    while let Some((&seg, after)) = rest.split_first() {
        let allowed: Vec<Kind> = children_of(parent.as_ref().map(|p| p.kind))
            .iter()
            .copied()
            .filter(|k| !(under_tier1 && k.only_on_tier0()))
            .collect();
        let kind = allowed
            .iter()
            .copied()
            .find(|k| k.collection_segment() == seg)
            .ok_or_else(|| {
                let names: Vec<&str> = allowed.iter().map(|k| k.collection_segment()).collect();
                if under_tier1 && seg == Kind::BgpConfig.collection_segment() {
                    unknown(
                        "tier-1 gateways have no BGP; configure BGP under a tier-0 gateway's \
                         locale-services/default/bgp"
                            .into(),
                    )
                } else if names.is_empty() {
                    unknown(format!(
                        "nothing lives under {}",
                        parent.as_ref().map_or("/infra", |p| p.as_str())
                    ))
                } else {
                    unknown(format!(
                        "after {} expected one of: {}",
                        parent.as_ref().map_or("/infra", |p| p.as_str()),
                        names.join(", ")
                    ))
                }
            })?;
        let base = parent
            .as_ref()
            .map_or("/infra".to_owned(), |p| p.path.clone());
        let parent_len = base.len();
        let obj = if kind.is_singleton() {
            rest = after;
            let full = format!("{base}/{seg}");
            ObjectPath {
                kind,
                id_start: full.len() - seg.len(),
                parent_len,
                path: full,
            }
        } else {
            let Some((&id, after_id)) = after.split_first() else {
                return Ok(ParsedPath::Collection(CollectionPath { kind, parent }));
            };
            rest = after_id;
            check_id(id).map_err(|reason| PathError::BadId {
                path: crate::reader::truncate(path, 300),
                reason,
            })?;
            let full = format!("{base}/{seg}/{id}");
            ObjectPath {
                kind,
                id_start: full.len() - id.len(),
                parent_len,
                path: full,
            }
        };
        if rest.is_empty() {
            return Ok(ParsedPath::Object(obj));
        }
        under_tier1 |= kind == Kind::Tier1;
        parent = Some(obj);
    }
    // Only an empty path gets here: every pair above returns or continues to the next.
    Err(unknown("name a collection such as /infra/tier-0s".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_paths_equal_parsed_ones() {
        let system = crate::system::system_objects();
        assert!(!system.is_empty());
        for (path, _) in system {
            let parsed = ObjectPath::parse(path.as_str()).unwrap();
            assert_eq!(parsed, path, "{}", path.as_str());
            assert_eq!(parsed.id(), path.id());
            assert_eq!(parsed.parent(), path.parent());
        }
    }

    #[test]
    fn empty_and_odd_paths_are_refused_or_collections() {
        assert!(parse_any("/infra").is_err());
        assert!(parse_any("/infra/").is_err());
        assert!(matches!(
            parse_any("/infra/tier-0s"),
            Ok(ParsedPath::Collection(CollectionPath {
                kind: Kind::Tier0,
                parent: None
            }))
        ));
        assert!(matches!(
            parse_any("/infra/tier-0s/t0"),
            Ok(ParsedPath::Object(o)) if o.id() == "t0" && o.kind() == Kind::Tier0
        ));
    }

    #[test]
    fn parses_a_session_path() {
        let p = ObjectPath::parse("/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1").unwrap();
        assert_eq!(p.kind(), Kind::Session);
        assert_eq!(p.id(), "s1");
        assert_eq!(p.parent_path(), "/infra/tier-0s/t0/ipsec-vpn-services/vpn");
        assert_eq!(p.parent().unwrap().kind(), Kind::VpnService);
        assert_eq!(p.gateway().unwrap().as_str(), "/infra/tier-0s/t0");
    }

    #[test]
    fn parses_collections_and_top_level() {
        assert_eq!(
            parse_any("/infra/tier-1s/t1/ipsec-vpn-services").unwrap(),
            ParsedPath::Collection(CollectionPath {
                kind: Kind::VpnService,
                parent: Some(ObjectPath::parse("/infra/tier-1s/t1").unwrap())
            })
        );
        let p = ObjectPath::parse("/infra/ipsec-vpn-ike-profiles/nsx-default-l3vpn-ike-profile")
            .unwrap();
        assert_eq!(p.parent_path(), "/infra");
        assert!(p.parent().is_none());
    }

    #[test]
    fn rejects_bad_paths_with_hints() {
        let e = ObjectPath::parse("/infra/tier-0s/t0/sessions/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ipsec-vpn-services, static-routes"), "{e}");
        assert!(ObjectPath::parse("/infra/tier-0s/../x").is_err());
        assert!(ObjectPath::parse("/infra/tier-0s/a b").is_err());
        assert!(ObjectPath::parse("/infra/tier-0s/").is_err());
        assert!(ObjectPath::parse("/foo").is_err());
        assert!(matches!(
            ObjectPath::parse("/infra/tier-0s"),
            Err(PathError::NotAnObject { .. })
        ));
    }

    #[test]
    fn bgp_paths_with_the_singleton_segment() {
        let bgp = ObjectPath::parse("/infra/tier-0s/t0/locale-services/default/bgp").unwrap();
        assert_eq!(bgp.kind(), Kind::BgpConfig);
        assert_eq!(bgp.id(), "bgp");
        assert_eq!(
            bgp.parent_path(),
            "/infra/tier-0s/t0/locale-services/default"
        );
        assert_eq!(bgp.parent().unwrap().kind(), Kind::LocaleServices);
        assert_eq!(bgp.gateway().unwrap().as_str(), "/infra/tier-0s/t0");
        let n = ObjectPath::parse("/infra/tier-0s/t0/locale-services/default/bgp/neighbors/n1")
            .unwrap();
        assert_eq!(n.kind(), Kind::BgpNeighbor);
        assert_eq!((n.id(), n.parent().unwrap()), ("n1", bgp.clone()));
        assert_eq!(
            parse_any("/infra/tier-0s/t0/locale-services/default/bgp/neighbors").unwrap(),
            ParsedPath::Collection(CollectionPath {
                kind: Kind::BgpNeighbor,
                parent: Some(bgp.clone())
            })
        );
        let ls = ObjectPath::parse("/infra/tier-0s/t0/locale-services/default").unwrap();
        assert_eq!(
            ObjectPath::child(Some(&ls), Kind::BgpConfig, "bgp").unwrap(),
            bgp
        );
        assert_eq!(
            ObjectPath::parse("/infra/tier-0s/t0/prefix-lists/pl")
                .unwrap()
                .kind(),
            Kind::PrefixList
        );
        // Tier-1 gateways have locale services but no BGP; the singleton takes no id.
        let t1_ls = ObjectPath::parse("/infra/tier-1s/t1/locale-services/default").unwrap();
        assert_eq!(t1_ls.gateway().unwrap().kind(), Kind::Tier1);
        let e = ObjectPath::parse("/infra/tier-1s/t1/locale-services/default/bgp")
            .unwrap_err()
            .to_string();
        assert!(e.contains("tier-1 gateways have no BGP"), "{e}");
        assert!(ObjectPath::parse("/infra/tier-1s/t1/prefix-lists/pl").is_err());
        assert!(ObjectPath::child(Some(&t1_ls), Kind::BgpConfig, "bgp").is_err());
        assert!(ObjectPath::parse("/infra/tier-0s/t0/locale-services/default/bgp/x").is_err());
        assert!(ObjectPath::parse("/infra/tier-0s/t0/bgp").is_err());
    }

    #[test]
    fn child_paths() {
        let t0 = ObjectPath::parse("/infra/tier-0s/t0").unwrap();
        let s = ObjectPath::child(Some(&t0), Kind::VpnService, "vpn").unwrap();
        assert_eq!(s.as_str(), "/infra/tier-0s/t0/ipsec-vpn-services/vpn");
        assert!(ObjectPath::child(Some(&t0), Kind::Session, "x").is_err());
    }
}
