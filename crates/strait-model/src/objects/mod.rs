//! The typed policy objects and the entry point that parses a request body into one.

pub mod certs;
pub mod common;
pub mod gateway;
pub mod profiles;
pub mod route;
pub mod routing;
pub mod vpn;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::path::{Kind, ObjectPath};
use crate::problems::{codes, Problems};
use crate::reader::{ObjectReader, IGNORED_METADATA_FIELDS};

pub use certs::{Certificate, Crl, CrlDetails, X509Certificate};
pub use common::{Common, Tag};
pub use gateway::Gateway;
pub use profiles::{DpdProfile, EspProposalSpec, IkeProfile, IkeProposalSpec, TunnelProfile};
pub use route::{RouterNexthop, StaticRoute};
pub use routing::{
    BgpBfdConfig, BgpNeighbor, BgpNeighborLocalAsConfig, BgpRouteFiltering, BgpRoutingConfig,
    GracefulRestartConfig, GracefulRestartTimer, LocaleServices, PrefixEntry, PrefixList,
    RedistributionRule, RouteAggregation, RouteRedistributionConfig,
};
pub use vpn::{
    LocalEndpoint, RouteBasedSession, TcpMssClamping, TunnelInterface, TunnelInterfaceIpSubnet,
    VpnService,
};

/// A write-only secret carried by a request (`psk`, `private_key`, `passphrase`).
#[derive(Clone)]
pub enum SecretChange {
    /// Store this value.
    Set(Zeroizing<String>),
    /// Remove the stored value.
    Clear,
}

impl std::fmt::Debug for SecretChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretChange::Set(_) => f.write_str("Set(<redacted>)"),
            SecretChange::Clear => f.write_str("Clear"),
        }
    }
}

/// What the parser needs to know besides the body.
pub struct ParseCtx<'a> {
    /// The object's path (from the URL).
    pub path: &'a ObjectPath,
    /// Whether an explicit `null` for a secret removes it (PATCH) or keeps it (PUT, per the
    /// contract, since GET never returns secrets).
    pub null_clears_secrets: bool,
    /// Secrets already stored for this object.
    pub existing_secrets: &'a dyn Fn(&str) -> Option<Zeroizing<String>>,
}

impl ParseCtx<'_> {
    fn existing_secret(&self, name: &str) -> Option<Zeroizing<String>> {
        (self.existing_secrets)(name)
    }
}

/// A successfully parsed body.
#[derive(Debug)]
pub struct Parsed {
    /// The object with every default filled in.
    pub object: PolicyObject,
    /// Secrets to store or clear alongside it.
    pub secrets: Vec<(&'static str, SecretChange)>,
}

/// Any policy object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum PolicyObject {
    Tier0(Gateway),
    Tier1(Gateway),
    VpnService(VpnService),
    LocalEndpoint(LocalEndpoint),
    Session(RouteBasedSession),
    IkeProfile(IkeProfile),
    TunnelProfile(TunnelProfile),
    DpdProfile(DpdProfile),
    Certificate(Certificate),
    Crl(Crl),
    StaticRoute(StaticRoute),
    PrefixList(PrefixList),
    LocaleServices(LocaleServices),
    BgpConfig(BgpRoutingConfig),
    BgpNeighbor(BgpNeighbor),
}

impl PolicyObject {
    /// The kind of object.
    pub fn kind(&self) -> Kind {
        match self {
            PolicyObject::Tier0(_) => Kind::Tier0,
            PolicyObject::Tier1(_) => Kind::Tier1,
            PolicyObject::VpnService(_) => Kind::VpnService,
            PolicyObject::LocalEndpoint(_) => Kind::LocalEndpoint,
            PolicyObject::Session(_) => Kind::Session,
            PolicyObject::IkeProfile(_) => Kind::IkeProfile,
            PolicyObject::TunnelProfile(_) => Kind::TunnelProfile,
            PolicyObject::DpdProfile(_) => Kind::DpdProfile,
            PolicyObject::Certificate(_) => Kind::Certificate,
            PolicyObject::Crl(_) => Kind::Crl,
            PolicyObject::StaticRoute(_) => Kind::StaticRoute,
            PolicyObject::PrefixList(_) => Kind::PrefixList,
            PolicyObject::LocaleServices(_) => Kind::LocaleServices,
            PolicyObject::BgpConfig(_) => Kind::BgpConfig,
            PolicyObject::BgpNeighbor(_) => Kind::BgpNeighbor,
        }
    }

    /// Name, description, tags.
    pub fn common(&self) -> &Common {
        match self {
            PolicyObject::Tier0(o) | PolicyObject::Tier1(o) => &o.common,
            PolicyObject::VpnService(o) => &o.common,
            PolicyObject::LocalEndpoint(o) => &o.common,
            PolicyObject::Session(o) => &o.common,
            PolicyObject::IkeProfile(o) => &o.common,
            PolicyObject::TunnelProfile(o) => &o.common,
            PolicyObject::DpdProfile(o) => &o.common,
            PolicyObject::Certificate(o) => &o.common,
            PolicyObject::Crl(o) => &o.common,
            PolicyObject::StaticRoute(o) => &o.common,
            PolicyObject::PrefixList(o) => &o.common,
            PolicyObject::LocaleServices(o) => &o.common,
            PolicyObject::BgpConfig(o) => &o.common,
            PolicyObject::BgpNeighbor(o) => &o.common,
        }
    }

    /// Paths of the other objects this one refers to (not its parent).
    pub fn references(&self) -> Vec<String> {
        match self {
            PolicyObject::Tier1(g) => g.references(),
            PolicyObject::LocalEndpoint(le) => le.references(),
            PolicyObject::Session(s) => s.references(),
            PolicyObject::BgpNeighbor(n) => n.references(),
            _ => Vec::new(),
        }
    }

    /// The stored JSON form (no metadata, no secrets).
    pub fn to_body(&self) -> Value {
        let r = match self {
            PolicyObject::Tier0(o) | PolicyObject::Tier1(o) => serde_json::to_value(o),
            PolicyObject::VpnService(o) => serde_json::to_value(o),
            PolicyObject::LocalEndpoint(o) => serde_json::to_value(o),
            PolicyObject::Session(o) => serde_json::to_value(o),
            PolicyObject::IkeProfile(o) => serde_json::to_value(o),
            PolicyObject::TunnelProfile(o) => serde_json::to_value(o),
            PolicyObject::DpdProfile(o) => serde_json::to_value(o),
            PolicyObject::Certificate(o) => serde_json::to_value(o),
            PolicyObject::Crl(o) => serde_json::to_value(o),
            PolicyObject::StaticRoute(o) => serde_json::to_value(o),
            PolicyObject::PrefixList(o) => serde_json::to_value(o),
            PolicyObject::LocaleServices(o) => serde_json::to_value(o),
            PolicyObject::BgpConfig(o) => serde_json::to_value(o),
            PolicyObject::BgpNeighbor(o) => serde_json::to_value(o),
        };
        // Serializing plain structs of strings, numbers and enums into a Value cannot fail.
        r.unwrap_or(Value::Null)
    }

    /// Rebuild from the stored JSON form (trusted: written by [`PolicyObject::to_body`]).
    pub fn from_body(kind: Kind, body: Value) -> Result<PolicyObject, serde_json::Error> {
        Ok(match kind {
            Kind::Tier0 => PolicyObject::Tier0(serde_json::from_value(body)?),
            Kind::Tier1 => PolicyObject::Tier1(serde_json::from_value(body)?),
            Kind::VpnService => PolicyObject::VpnService(serde_json::from_value(body)?),
            Kind::LocalEndpoint => PolicyObject::LocalEndpoint(serde_json::from_value(body)?),
            Kind::Session => PolicyObject::Session(serde_json::from_value(body)?),
            Kind::IkeProfile => PolicyObject::IkeProfile(serde_json::from_value(body)?),
            Kind::TunnelProfile => PolicyObject::TunnelProfile(serde_json::from_value(body)?),
            Kind::DpdProfile => PolicyObject::DpdProfile(serde_json::from_value(body)?),
            Kind::Certificate => PolicyObject::Certificate(serde_json::from_value(body)?),
            Kind::Crl => PolicyObject::Crl(serde_json::from_value(body)?),
            Kind::StaticRoute => PolicyObject::StaticRoute(serde_json::from_value(body)?),
            Kind::PrefixList => PolicyObject::PrefixList(serde_json::from_value(body)?),
            Kind::LocaleServices => PolicyObject::LocaleServices(serde_json::from_value(body)?),
            Kind::BgpConfig => PolicyObject::BgpConfig(serde_json::from_value(body)?),
            Kind::BgpNeighbor => PolicyObject::BgpNeighbor(serde_json::from_value(body)?),
        })
    }

    /// The `resource_type` this object reports.
    pub fn resource_type(&self) -> &'static str {
        self.kind().resource_type()
    }
}

/// Check that a reference is a syntactically valid path of one of `kinds`; record a problem
/// and return false otherwise. Existence is checked later against the store.
pub(crate) fn check_path_syntax(
    p: &mut Problems,
    field: &str,
    value: &str,
    kinds: &[Kind],
) -> bool {
    let want = kinds
        .iter()
        .map(|k| k.a_noun())
        .collect::<Vec<_>>()
        .join(" or ");
    match ObjectPath::parse(value) {
        Ok(path) if kinds.contains(&path.kind()) => true,
        Ok(path) => {
            p.push(
                field,
                codes::BAD_REFERENCE,
                format!(
                    "{value} is {}, but this field needs {want}",
                    path.kind().a_noun()
                ),
            );
            false
        }
        Err(e) => {
            p.push(
                field,
                codes::BAD_REFERENCE,
                format!("needs the policy path of {want}: {e}"),
            );
            false
        }
    }
}

/// Parse a request body for the object at `ctx.path` into a typed object with defaults
/// filled in, reporting every problem at once.
pub fn parse_body(body: &Value, ctx: &ParseCtx<'_>) -> Result<Parsed, Problems> {
    let mut p = Problems::new();
    let kind = ctx.path.kind();
    let Some(mut r) = ObjectReader::new(body, "", kind.resource_type(), &mut p) else {
        return Err(p);
    };
    check_resource_type(&mut r, &mut p, kind);
    if let Some(id) = r.raw("id") {
        if id.as_str() != Some(ctx.path.id()) {
            p.field(
                "id",
                format!(
                    "the body's id {} differs from the id in the URL {:?}; remove id from the body or make them equal",
                    crate::reader::truncate(&id.to_string(), 64),
                    ctx.path.id()
                ),
            );
        }
    }
    r.ignore(IGNORED_METADATA_FIELDS);
    let mut secrets = Vec::new();
    let object = match kind {
        Kind::Tier0 => Some(PolicyObject::Tier0(Gateway::parse(&mut r, &mut p, ctx))),
        Kind::Tier1 => Some(PolicyObject::Tier1(Gateway::parse(&mut r, &mut p, ctx))),
        Kind::VpnService => Some(PolicyObject::VpnService(VpnService::parse(
            &mut r, &mut p, ctx,
        ))),
        Kind::LocalEndpoint => {
            LocalEndpoint::parse(&mut r, &mut p, ctx).map(PolicyObject::LocalEndpoint)
        }
        Kind::Session => {
            if p.as_slice().iter().any(|x| x.field == "resource_type") {
                // A policy-based or unknown body: its other fields would only add noise.
                return Err(p);
            }
            RouteBasedSession::parse(&mut r, &mut p, ctx, &mut secrets).map(PolicyObject::Session)
        }
        Kind::IkeProfile => Some(PolicyObject::IkeProfile(IkeProfile::parse(
            &mut r, &mut p, ctx,
        ))),
        Kind::TunnelProfile => Some(PolicyObject::TunnelProfile(TunnelProfile::parse(
            &mut r, &mut p, ctx,
        ))),
        Kind::DpdProfile => Some(PolicyObject::DpdProfile(DpdProfile::parse(
            &mut r, &mut p, ctx,
        ))),
        Kind::Certificate => {
            Certificate::parse(&mut r, &mut p, ctx, &mut secrets).map(PolicyObject::Certificate)
        }
        Kind::Crl => Crl::parse(&mut r, &mut p, ctx).map(PolicyObject::Crl),
        Kind::StaticRoute => StaticRoute::parse(&mut r, &mut p, ctx).map(PolicyObject::StaticRoute),
        Kind::PrefixList => PrefixList::parse(&mut r, &mut p, ctx).map(PolicyObject::PrefixList),
        Kind::LocaleServices => Some(PolicyObject::LocaleServices(LocaleServices::parse(
            &mut r, &mut p, ctx,
        ))),
        Kind::BgpConfig => Some(PolicyObject::BgpConfig(BgpRoutingConfig::parse(
            &mut r, &mut p, ctx,
        ))),
        Kind::BgpNeighbor => {
            BgpNeighbor::parse(&mut r, &mut p, ctx, &mut secrets).map(PolicyObject::BgpNeighbor)
        }
    };
    if kind.is_gateway() {
        // Gateways are containers here: other NSX gateway settings are accepted and ignored.
    } else {
        r.finish(&mut p);
    }
    match object {
        Some(object) if p.is_empty() => Ok(Parsed { object, secrets }),
        _ => {
            if p.is_empty() {
                p.field("", "the body is not a valid object");
            }
            Err(p)
        }
    }
}

fn check_resource_type(r: &mut ObjectReader<'_>, p: &mut Problems, kind: Kind) {
    let expected = kind.resource_type();
    match r.raw("resource_type") {
        None if kind == Kind::Session => p.field(
            "resource_type",
            "is required; a route-based session has \"resource_type\": \"RouteBasedIPSecVpnSession\"",
        ),
        None => {}
        Some(Value::String(s)) if s == expected => {}
        Some(Value::String(s)) if kind == Kind::Session && s == "PolicyBasedIPSecVpnSession" => p.push(
            "resource_type",
            codes::UNSUPPORTED,
            "policy-based sessions are not supported yet; strait supports route-based sessions: \
             set \"resource_type\": \"RouteBasedIPSecVpnSession\" and give tunnel_interfaces \
             instead of rules",
        ),
        Some(Value::String(s)) => p.field(
            "resource_type",
            format!(
                "{:?} does not belong at this path; objects here have \"resource_type\": \"{expected}\"",
                crate::reader::truncate(s, 64)
            ),
        ),
        Some(other) => p.field(
            "resource_type",
            format!("expected the string \"{expected}\", found {}", crate::reader::json_type(other)),
        ),
    }
}
