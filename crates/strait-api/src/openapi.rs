//! The OpenAPI document, generated from the same code that routes requests: every policy
//! kind the path parser knows becomes its object and collection paths, with the schemas
//! derived from the model types. Served at `/api/v1/spec/openapi.json`; the checked-in
//! copy (`openapi/strait.json`) is golden-tested so API changes are reviewed.

use std::collections::BTreeMap;

use serde::Serialize;
use strait_model::objects::{
    BgpNeighbor, BgpRoutingConfig, Certificate, Crl, DpdProfile, Gateway, IkeProfile,
    LocalEndpoint, LocaleServices, PrefixList, RouteBasedSession, StaticRoute, TunnelProfile,
    VpnService,
};
use strait_model::Kind;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ComponentsBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr, Required,
    ResponseBuilder,
};
use utoipa::ToSchema;

pub(crate) use crate::openapi_build::{
    error_responses, json_response, list_params, path_params, query_enum, query_param, schema_ref,
};

/// Metadata strait adds to every policy object it returns (read-only; ignored in requests).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PolicyResourceMetadata {
    resource_type: String,
    id: String,
    path: String,
    relative_path: String,
    parent_path: String,
    unique_id: String,
    realization_id: String,
    marked_for_delete: bool,
    overridden: bool,
    _system_owned: bool,
    _protection: String,
    _create_time: i64,
    _create_user: String,
    _last_modified_time: i64,
    _last_modified_user: String,
    /// Optimistic-lock revision: required on PUT of an existing object; a stale one gets 412.
    _revision: i64,
}

/// A session body may also carry the write-only `psk`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct SessionSecrets {
    /// Pre-shared key, 1 to 128 printable characters; write-only (returned only by
    /// `?action=show_sensitive_data` to admins). `""` keeps the stored key (what Terraform
    /// sends for a session imported without it), and is refused where there is none.
    #[schema(max_length = 128, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    psk: Option<String>,
}

/// A certificate body may also carry its write-only private key.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct CertificateSecrets {
    /// PEM private key of the leaf certificate; write-only, never returned.
    private_key: Option<String>,
    /// Passphrase of an encrypted private key; write-only.
    passphrase: Option<String>,
}

/// A BGP neighbor body may also carry its write-only password.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct BgpNeighborSecrets {
    /// TCP MD5 password (RFC 2385), up to 32 characters; write-only, never returned. `""`
    /// removes it.
    password: Option<String>,
}

/// A strait user.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct User {
    username: String,
    /// `admin` or `auditor`.
    role: String,
    _create_time: i64,
    _last_modified_time: i64,
}

/// Create or update a user.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct UserWrite {
    /// `admin` or `auditor` (required for a new user).
    role: Option<String>,
    /// New password, 8 to 128 characters (required for a new user); write-only.
    password: Option<String>,
    /// Current password, required when changing one's own password.
    old_password: Option<String>,
}

/// One audit log entry.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AuditEntry {
    time: i64,
    user: String,
    method: String,
    path: String,
    revision: Option<i64>,
    /// `success` or `failure: <status> <message>`.
    result: String,
}

fn add_type<T: ToSchema>(c: ComponentsBuilder) -> ComponentsBuilder {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    c.schemas_from_iter(nested)
        .schema(T::name().to_string(), T::schema())
}

struct KindDoc {
    kind: Kind,
    type_name: &'static str,
    /// Extra component merged into request bodies (write-only secrets).
    write_extra: Option<&'static str>,
    op: &'static str,
}

const KINDS: &[KindDoc] = &[
    KindDoc {
        kind: Kind::Tier0,
        type_name: "Gateway",
        write_extra: None,
        op: "tier0",
    },
    KindDoc {
        kind: Kind::Tier1,
        type_name: "Gateway",
        write_extra: None,
        op: "tier1",
    },
    KindDoc {
        kind: Kind::VpnService,
        type_name: "VpnService",
        write_extra: None,
        op: "ipsec_vpn_service",
    },
    KindDoc {
        kind: Kind::LocalEndpoint,
        type_name: "LocalEndpoint",
        write_extra: None,
        op: "local_endpoint",
    },
    KindDoc {
        kind: Kind::Session,
        type_name: "RouteBasedSession",
        write_extra: Some("SessionSecrets"),
        op: "session",
    },
    KindDoc {
        kind: Kind::IkeProfile,
        type_name: "IkeProfile",
        write_extra: None,
        op: "ike_profile",
    },
    KindDoc {
        kind: Kind::TunnelProfile,
        type_name: "TunnelProfile",
        write_extra: None,
        op: "tunnel_profile",
    },
    KindDoc {
        kind: Kind::DpdProfile,
        type_name: "DpdProfile",
        write_extra: None,
        op: "dpd_profile",
    },
    KindDoc {
        kind: Kind::Certificate,
        type_name: "Certificate",
        write_extra: Some("CertificateSecrets"),
        op: "certificate",
    },
    KindDoc {
        kind: Kind::Crl,
        type_name: "Crl",
        write_extra: None,
        op: "crl",
    },
    KindDoc {
        kind: Kind::StaticRoute,
        type_name: "StaticRoute",
        write_extra: None,
        op: "static_route",
    },
    KindDoc {
        kind: Kind::PrefixList,
        type_name: "PrefixList",
        write_extra: None,
        op: "prefix_list",
    },
    KindDoc {
        kind: Kind::LocaleServices,
        type_name: "LocaleServices",
        write_extra: None,
        op: "locale_services",
    },
    KindDoc {
        kind: Kind::BgpConfig,
        type_name: "BgpRoutingConfig",
        write_extra: None,
        op: "bgp_config",
    },
    KindDoc {
        kind: Kind::BgpNeighbor,
        type_name: "BgpNeighbor",
        write_extra: Some("BgpNeighborSecrets"),
        op: "bgp_neighbor",
    },
];

fn param_name(kind: Kind) -> String {
    format!("{}-id", kind.collection_segment().trim_end_matches('s'))
}

/// Every URL template of `kind`, with its path parameters (gateway-scoped kinds appear
/// under tier-0s and tier-1s).
fn templates(kind: Kind) -> Vec<(String, Vec<String>, &'static str)> {
    let own = |base: &str, params: &[String], gw: &'static str| {
        if kind.is_singleton() {
            // `…/bgp`: the segment is the object, no id parameter.
            return (
                format!("{base}/{}", kind.collection_segment()),
                params.to_vec(),
                gw,
            );
        }
        let p = param_name(kind);
        let mut ps = params.to_vec();
        ps.push(p.clone());
        (
            format!("{base}/{}/{{{p}}}", kind.collection_segment()),
            ps,
            gw,
        )
    };
    match kind.parent_kinds() {
        [] => vec![own("/infra", &[], "")],
        parents => {
            let mut out = Vec::new();
            for parent in parents {
                for (base, ps, gw) in templates(*parent) {
                    let gw = if gw.is_empty() {
                        if *parent == Kind::Tier0 {
                            "tier0_"
                        } else {
                            "tier1_"
                        }
                    } else {
                        gw
                    };
                    // No BGP or prefix lists under tier-1s (see `Kind::only_on_tier0`).
                    if kind.only_on_tier0() && gw == "tier1_" {
                        continue;
                    }
                    out.push(own(&base, &ps, gw));
                }
            }
            out
        }
    }
}

/// The component name of `kind`'s request body: `<resource_type>Write`.
pub(crate) fn write_schema_name(kind: Kind) -> String {
    format!("{}Write", kind.resource_type())
}

fn object_schema(doc: &KindDoc, write: bool) -> RefOr<Schema> {
    if write {
        // A component of its own (flattened by `openapi_tighten`), shared with the
        // hierarchical API's Child* wrappers.
        return schema_ref(&write_schema_name(doc.kind));
    }
    composed_schema(doc, false)
}

/// The type's schema composed with what a request (`write`) or a response adds.
fn composed_schema(doc: &KindDoc, write: bool) -> RefOr<Schema> {
    let mut all = utoipa::openapi::schema::AllOfBuilder::new().item(schema_ref(doc.type_name));
    if write {
        if let Some(extra) = doc.write_extra {
            all = all.item(schema_ref(extra));
        }
        // resource_type, when given, must be the kind's; a session must say it is
        // route-based (sessions are polymorphic in NSX).
        let mut rt = ObjectBuilder::new().property(
            "resource_type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([doc.kind.resource_type()])),
        );
        if doc.kind == Kind::Session {
            rt = rt.required("resource_type");
        }
        all = all.item(rt.build());
    } else {
        all = all.item(schema_ref("PolicyResourceMetadata"));
    }
    RefOr::T(Schema::AllOf(all.build()))
}

/// The routing status GETs hanging off `kind`'s objects at `url`.
fn routing_status_paths(
    paths: &mut BTreeMap<String, PathItem>,
    kind: Kind,
    url: &str,
    params: &[String],
    gw: &str,
) {
    let node_params = [
        (
            "enforcement_point_path",
            "Accepted and ignored (one enforcement point)",
        ),
        ("edge_path", "Accepted and ignored (one node)"),
        ("source", "Accepted and ignored (always realtime)"),
    ];
    // (URL suffix, operation id, summary, response schema, extra query parameters)
    type StatusGet<'a> = (&'a str, &'a str, &'a str, &'a str, Vec<(&'a str, &'a str)>);
    let entries: Vec<StatusGet<'_>> = match kind {
        Kind::BgpConfig => vec![(
            "/neighbors/status",
            "bgp_neighbors_status",
            "BGP neighbors' state (BIRD's), route counts and why a session is not established",
            "BgpNeighborsStatusList",
            vec![],
        )],
        Kind::BgpNeighbor => vec![
            (
                "/routes",
                "bgp_neighbor_routes",
                "Routes learned from the neighbor",
                "BgpNeighborRoutesList",
                vec![("count", "At most this many routes")],
            ),
            (
                "/advertised-routes",
                "bgp_neighbor_advertised_routes",
                "Routes announced to the neighbor",
                "BgpNeighborRoutesList",
                vec![("count", "At most this many routes")],
            ),
        ],
        Kind::Tier0 => {
            let filters = vec![
                ("route_source", "BGP, STATIC or CONNECTED"),
                ("network_prefix", "An address or CIDR network to look up"),
            ];
            vec![
                (
                    "/routing-table",
                    "routing_table",
                    "The tier-0's routes (RIB): connected VTI subnets, static routes and BGP",
                    "RoutingTableList",
                    filters.clone(),
                ),
                (
                    "/forwarding-table",
                    "forwarding_table",
                    "The routes installed for forwarding (FIB)",
                    "RoutingTableList",
                    filters,
                ),
            ]
        }
        _ => Vec::new(),
    };
    for (suffix, op_id, summary, schema, extra) in entries {
        let mut op = OperationBuilder::new()
            .operation_id(Some(format!("{gw}{op_id}")))
            .tag(kind.noun())
            .summary(Some(summary))
            .parameters(Some(path_params(params)));
        for (name, doc) in node_params.iter().chain(extra.iter()) {
            let t = if *name == "count" {
                Type::Integer
            } else {
                Type::String
            };
            op = op.parameter(query_param(name, t, doc));
        }
        let op = error_responses(op.response("200", json_response("status", schema_ref(schema))));
        paths.insert(
            format!("{url}{suffix}"),
            PathItem::new(HttpMethod::Get, op.build()),
        );
    }
}

/// Build the OpenAPI document.
pub fn document() -> OpenApi {
    let mut components = ComponentsBuilder::new();
    components = add_type::<Gateway>(components);
    components = add_type::<VpnService>(components);
    components = add_type::<LocalEndpoint>(components);
    components = add_type::<RouteBasedSession>(components);
    components = add_type::<IkeProfile>(components);
    components = add_type::<TunnelProfile>(components);
    components = add_type::<DpdProfile>(components);
    components = add_type::<Certificate>(components);
    components = add_type::<Crl>(components);
    components = add_type::<StaticRoute>(components);
    components = add_type::<PrefixList>(components);
    components = add_type::<LocaleServices>(components);
    components = add_type::<BgpRoutingConfig>(components);
    components = add_type::<BgpNeighbor>(components);
    components = add_type::<BgpNeighborSecrets>(components);
    components = add_type::<strait_model::routing_status::BgpNeighborsStatusList>(components);
    components = add_type::<strait_model::routing_status::BgpNeighborStatus>(components);
    components = add_type::<strait_model::routing_status::BgpAddressFamilyStatus>(components);
    components = add_type::<strait_model::routing_status::BgpNeighborRoutesList>(components);
    components = add_type::<strait_model::routing_status::BgpNeighborRoutes>(components);
    components = add_type::<strait_model::routing_status::RoutesPerTransportNode>(components);
    components = add_type::<strait_model::routing_status::RouteDetails>(components);
    components = add_type::<strait_model::routing_status::RoutingTableList>(components);
    components = add_type::<strait_model::routing_status::RoutingTable>(components);
    components = add_type::<strait_model::routing_status::RoutingEntry>(components);
    components = add_type::<PolicyResourceMetadata>(components);
    components = add_type::<SessionSecrets>(components);
    components = add_type::<CertificateSecrets>(components);
    components = add_type::<crate::error::ApiError>(components);
    components = add_type::<User>(components);
    components = add_type::<UserWrite>(components);
    components = add_type::<AuditEntry>(components);
    components = add_type::<strait_model::status::AggregateSessionStatus>(components);
    components = add_type::<strait_model::status::AggregateSessionStatistics>(components);
    components = add_type::<strait_model::status::ServiceSummary>(components);
    components = add_type::<strait_model::status::SessionStatusList>(components);
    for doc in KINDS {
        components = components.schema(write_schema_name(doc.kind), composed_schema(doc, true));
    }
    components = components
        .security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        )
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("JSESSIONID"))),
        );

    let mut paths: BTreeMap<String, PathItem> = BTreeMap::new();
    for doc in KINDS {
        for (template, params, gw) in templates(doc.kind) {
            let url = format!("/policy/api/v1{template}");
            let noun = doc.kind.noun();
            let op = |verb: &str, summary: String| {
                OperationBuilder::new()
                    .operation_id(Some(format!("{gw}{}_{verb}", doc.op)))
                    .tag(noun)
                    .summary(Some(summary))
                    .parameters(Some(path_params(&params)))
            };
            let body = RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(object_schema(doc, true)))
                        .build(),
                )
                .build();
            let get = error_responses(
                op("get", format!("Read a {noun}"))
                    .parameter(query_enum(
                        "action",
                        &["show_sensitive_data"],
                        false,
                        "show_sensitive_data: include the PSK (admins only)",
                    ))
                    .response("200", json_response(noun, object_schema(doc, false))),
            );
            let patch = error_responses(
                op(
                    "patch",
                    format!("Create a {noun}, or merge changes into it (JSON merge patch)"),
                )
                .request_body(Some(body.clone()))
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("Applied; empty body")
                        .build(),
                )
                .response(
                    "412",
                    json_response("Stale _revision", schema_ref("ApiError")),
                ),
            );
            let put = error_responses(
                op(
                    "put",
                    format!("Create or replace a {noun} (_revision required on update)"),
                )
                .request_body(Some(body))
                .response("200", json_response(noun, object_schema(doc, false)))
                .response(
                    "412",
                    json_response("Stale _revision", schema_ref("ApiError")),
                ),
            );
            let delete = error_responses(
                op(
                    "delete",
                    format!("Delete a {noun} (idempotent; refused while in use)"),
                )
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("Deleted or absent")
                        .build(),
                ),
            );
            let mut item = PathItem::new(HttpMethod::Get, get.build());
            item.merge_operations(PathItem::new(HttpMethod::Patch, patch.build()));
            item.merge_operations(PathItem::new(HttpMethod::Put, put.build()));
            item.merge_operations(PathItem::new(HttpMethod::Delete, delete.build()));
            if doc.kind == Kind::Session {
                let rekey = error_responses(
                    op(
                        "rekey",
                        "Rekey the session's IKE or Child SAs now (strait extension; admins)"
                            .to_owned(),
                    )
                    .parameter(query_enum(
                        "action",
                        &["rekey_ike", "rekey_child"],
                        true,
                        "rekey_ike or rekey_child",
                    ))
                    .response(
                        "200",
                        ResponseBuilder::new()
                            .description("Rekey started; empty body")
                            .build(),
                    ),
                );
                item.merge_operations(PathItem::new(HttpMethod::Post, rekey.build()));
            }
            paths.insert(url.clone(), item);
            routing_status_paths(&mut paths, doc.kind, &url, &params, gw);
            if doc.kind.is_singleton() {
                // One per parent: no collection to list.
                continue;
            }

            let coll_url = url
                .rsplit_once('/')
                .map(|(c, _)| c.to_owned())
                .unwrap_or_default();
            let list_schema = ObjectBuilder::new()
                .property(
                    "results",
                    ArrayBuilder::new().items(object_schema(doc, false)),
                )
                .property(
                    "result_count",
                    ObjectBuilder::new().schema_type(Type::Integer),
                )
                .property("cursor", ObjectBuilder::new().schema_type(Type::String))
                .property("sort_by", ObjectBuilder::new().schema_type(Type::String))
                .property(
                    "sort_ascending",
                    ObjectBuilder::new().schema_type(Type::Boolean),
                )
                .build();
            let list = error_responses(
                OperationBuilder::new()
                    .operation_id(Some(format!("{gw}{}_list", doc.op)))
                    .tag(noun)
                    .summary(Some(format!("List {noun}s")))
                    // The collection URL: the object's own id (the last parameter) dropped.
                    .parameters(Some(path_params(
                        params.split_last().map_or(&[][..], |(_, parents)| parents),
                    )))
                    .parameters(Some(list_params()))
                    .response(
                        "200",
                        json_response(
                            &format!("{noun} list"),
                            RefOr::T(Schema::Object(list_schema)),
                        ),
                    ),
            );
            paths.insert(coll_url, PathItem::new(HttpMethod::Get, list.build()));
            if doc.kind == Kind::Session {
                let status = error_responses(
                    OperationBuilder::new()
                        .operation_id(Some(format!("{gw}session_detailed_status")))
                        .tag(noun)
                        .summary(Some(
                            "Runtime status: IKE state, NSX fail reason, the alarm saying what to change, and the negotiated SAs",
                        ))
                        .parameters(Some(path_params(&params)))
                        .parameter(query_param("enforcement_point_path", Type::String, "Accepted and ignored (one enforcement point)"))
                        .parameter(query_param("source", Type::String, "Accepted and ignored (always realtime)"))
                        .response("200", json_response("status", schema_ref("AggregateSessionStatus"))),
                );
                paths.insert(
                    format!("{url}/detailed-status"),
                    PathItem::new(HttpMethod::Get, status.build()),
                );
                let stats = error_responses(
                    OperationBuilder::new()
                        .operation_id(Some(format!("{gw}session_statistics")))
                        .tag(noun)
                        .summary(Some(
                            "Tunnel counters since the tunnel came up or was last reset: traffic (inner packets) and ESP drops by cause",
                        ))
                        .parameters(Some(path_params(&params)))
                        .parameter(query_param("enforcement_point_path", Type::String, "Accepted and ignored (one enforcement point)"))
                        .parameter(query_param("source", Type::String, "Accepted and ignored (always realtime)"))
                        .response("200", json_response("statistics", schema_ref("AggregateSessionStatistics"))),
                );
                let reset = error_responses(
                    OperationBuilder::new()
                        .operation_id(Some(format!("{gw}session_statistics_reset")))
                        .tag(noun)
                        .summary(Some("Zero the session's tunnel counters (admins)"))
                        .parameters(Some(path_params(&params)))
                        .parameter(query_enum("action", &["reset"], true, "reset"))
                        .response(
                            "200",
                            ResponseBuilder::new()
                                .description("Counters zeroed; empty body")
                                .build(),
                        ),
                );
                let mut item = PathItem::new(HttpMethod::Get, stats.build());
                item.merge_operations(PathItem::new(HttpMethod::Post, reset.build()));
                paths.insert(format!("{url}/statistics"), item);
                let peer_config = error_responses(
                    OperationBuilder::new()
                        .operation_id(Some(format!("{gw}session_peer_config")))
                        .tag(noun)
                        .summary(Some(
                            "The remote side's configuration as text: NSX's layout (format=nsx, default) or a swanctl.conf for a strongSwan peer (format=strongswan); the PSK only for admins",
                        ))
                        .parameters(Some(path_params(&params)))
                        .parameter(query_param("format", Type::String, "nsx (default) or strongswan"))
                        .parameter(query_param("enforcement_point_path", Type::String, "Accepted and ignored (one enforcement point)"))
                        .response(
                            "200",
                            ResponseBuilder::new()
                                .description("Peer configuration (text/plain; charset=utf-8)")
                                .content(
                                    "text/plain; charset=utf-8",
                                    ContentBuilder::new()
                                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                                        .build(),
                                )
                                .build(),
                        ),
                );
                paths.insert(
                    format!("{url}/peer-config"),
                    PathItem::new(HttpMethod::Get, peer_config.build()),
                );
            }
            if doc.kind == Kind::VpnService {
                let summary = error_responses(
                    OperationBuilder::new()
                        .operation_id(Some(format!("{gw}service_summary")))
                        .tag(noun)
                        .summary(Some(
                            "The service's sessions by state (established, failed, degraded) and their traffic",
                        ))
                        .parameters(Some(path_params(&params)))
                        .parameter(query_param("enforcement_point_path", Type::String, "Accepted and ignored (one enforcement point)"))
                        .parameter(query_param("source", Type::String, "Accepted and ignored (always realtime)"))
                        .response("200", json_response("summary", schema_ref("ServiceSummary"))),
                );
                paths.insert(
                    format!("{url}/summary"),
                    PathItem::new(HttpMethod::Get, summary.build()),
                );
                let session_status = error_responses(
                    OperationBuilder::new()
                        .operation_id(Some(format!("{gw}service_session_status")))
                        .tag(noun)
                        .summary(Some(
                            "strait (not NSX): a page of the service's sessions, by path, each with its detailed-status and statistics: one request per page instead of two per session",
                        ))
                        .parameters(Some(path_params(&params)))
                        .parameter(query_param("cursor", Type::String, "The cursor the previous page returned"))
                        .parameter(query_param("page_size", Type::Integer, "Sessions per page, 1-1000 (default 1000)"))
                        .response("200", json_response("sessions' status", schema_ref("SessionStatusList"))),
                );
                paths.insert(
                    format!("{url}/session-status"),
                    PathItem::new(HttpMethod::Get, session_status.build()),
                );
            }
        }
    }
    crate::openapi_system::add_system_paths(&mut paths);

    let mut pb = PathsBuilder::new();
    for (k, v) in paths {
        pb = pb.path(k, v);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("strait API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "NSX Policy API subset for route-based IPsec VPN, plus strait's users and audit log. \
                     Authenticate with HTTP Basic or the JSESSIONID cookie from POST /api/session/create.",
                ))
                .build(),
        )
        .paths(pb.build())
        .components(Some(components.build()))
        .security(Some([SecurityRequirement::new("basic", Vec::<String>::new()), SecurityRequirement::new("session", Vec::<String>::new())]))
        .build()
}

/// The document as pretty JSON (what is served and checked in).
pub fn json() -> String {
    let Ok(mut doc) = serde_json::to_value(document()) else {
        return "{}".to_owned();
    };
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(serde_json::Value::as_object_mut)
    {
        schemas
            .values_mut()
            .for_each(crate::openapi_build::allow_null_for_optional);
    }
    crate::openapi_tighten::tighten(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".to_owned())
}
