//! The OpenAPI paths outside the policy tree's objects: users, the audit log, log-in,
//! health, the node version, and the hierarchical `/infra` PATCH.

use std::collections::BTreeMap;

use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, RefOr, Required, ResponseBuilder};

use crate::openapi::{error_responses, json_response, path_params, query_param, schema_ref};

/// Every path of this module.
pub(crate) fn add_system_paths(paths: &mut BTreeMap<String, PathItem>) {
    add_account_paths(paths);
    add_node_paths(paths);
    add_infra_paths(paths);
    add_search_paths(paths);
}

fn add_search_paths(paths: &mut BTreeMap<String, PathItem>) {
    let search = |id: &str| {
        error_responses(
            OperationBuilder::new()
                .operation_id(Some(id.to_owned()))
                .tag("search")
                .summary(Some("Objects matching an NSX search query, as GET shows them"))
                .description(Some(
                    "query: field:value terms (any field as GET shows it, a.b for nested fields such as tags.tag; a bare value \
                     searches display_name, id and description), values with * and ? wildcards, \\ escapes and \"phrases\", joined \
                     by AND (also implied between terms), OR and NOT, with parentheses. Matching ignores case. Other Lucene syntax \
                     (ranges, fuzzy, boosts) is a 400. Paged like collections.",
                ))
                .parameter(
                    ParameterBuilder::new()
                        .name("query")
                        .parameter_in(ParameterIn::Query)
                        .required(Required::True)
                        .description(Some("The query, e.g. resource_type:Tier0 AND display_name:edge*"))
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1))))
                        .build(),
                )
                .parameters(Some(crate::openapi_build::list_params()))
                .response(
                    "200",
                    json_response(
                        "matches",
                        RefOr::T(Schema::Object(
                            ObjectBuilder::new()
                                .property("results", ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::Object)))
                                .property("result_count", ObjectBuilder::new().schema_type(Type::Integer))
                                .property("cursor", ObjectBuilder::new().schema_type(Type::String))
                                .build(),
                        )),
                    ),
                ),
        )
    };
    paths.insert(
        "/policy/api/v1/search/query".into(),
        PathItem::new(HttpMethod::Get, search("search_query").build()),
    );
    paths.insert(
        "/policy/api/v1/search".into(),
        PathItem::new(HttpMethod::Get, search("search").build()),
    );
}

fn add_node_paths(paths: &mut BTreeMap<String, PathItem>) {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let version = error_responses(
        OperationBuilder::new()
            .operation_id(Some("node_version"))
            .tag("node")
            .summary(Some("NSX's NodeVersion: the NSX release whose Policy API strait follows"))
            .description(Some(
                "Clients (VMware's Terraform provider) read node_version to decide which fields they send and read; strait_version is strait's own.",
            ))
            .response(
                "200",
                json_response(
                    "version",
                    RefOr::T(Schema::Object(
                        ObjectBuilder::new()
                            .property("node_version", string())
                            .property("product_version", string())
                            .property("strait_version", string())
                            .required("node_version")
                            .required("product_version")
                            .build(),
                    )),
                ),
            ),
    );
    paths.insert(
        "/api/v1/node/version".into(),
        PathItem::new(HttpMethod::Get, version.build()),
    );
}

fn add_infra_paths(paths: &mut BTreeMap<String, PathItem>) {
    let get = error_responses(
        OperationBuilder::new()
            .operation_id(Some("infra_get"))
            .tag("infra")
            .summary(Some("The Infra root (no children are listed)"))
            .response(
                "200",
                json_response(
                    "Infra",
                    RefOr::T(Schema::Object(
                        ObjectBuilder::new()
                            .property(
                                "resource_type",
                                ObjectBuilder::new().schema_type(Type::String),
                            )
                            .property("path", ObjectBuilder::new().schema_type(Type::String))
                            .build(),
                    )),
                ),
            ),
    );
    let hierarchical = |method: &str| {
        error_responses(
            OperationBuilder::new()
                .operation_id(Some(format!("infra_{method}")))
                .tag("infra")
                .summary(Some("Hierarchical API: create, change and delete many objects in one transaction"))
                .description(Some(
                    "An Infra body whose children are Child* wrappers (ChildTier0 with Tier0, ChildLocaleServices, ChildIPSecVpnService,                      ChildIPSecVpnLocalEndpoint, ChildIPSecVpnSession with IPSecVpnSession, ChildIPSecVpnIkeProfile, ChildIPSecVpnTunnelProfile,                      ChildIPSecVpnDpdProfile, ChildStaticRoutes, ChildPrefixList, ChildBgpRoutingConfig, ChildBgpNeighborConfig) or                      ChildResourceReference (target_type, id) to reach into an existing object. Each object is written as PATCH on its path                      would write it; marked_for_delete: true deletes it. All or nothing: the first failing child fails the request and                      nothing changes. At most 2,000 objects.",
                ))
                .parameter(query_param(
                    "enforce_revision_check",
                    Type::Boolean,
                    "Check the _revision objects carry (default false: ignored)",
                ))
                .request_body(Some(
                    RequestBodyBuilder::new()
                        .required(Some(Required::True))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                // Built by `openapi_tighten` from the kinds' write schemas.
                                .schema(Some(schema_ref("HierarchyBody")))
                                .build(),
                        )
                        .build(),
                ))
                .response("200", ResponseBuilder::new().description("Applied").build()),
        )
    };
    let mut item = PathItem::new(HttpMethod::Get, get.build());
    item.merge_operations(PathItem::new(
        HttpMethod::Patch,
        hierarchical("patch").build(),
    ));
    item.merge_operations(PathItem::new(HttpMethod::Put, hierarchical("put").build()));
    paths.insert("/policy/api/v1/infra".into(), item);
}

fn add_account_paths(paths: &mut BTreeMap<String, PathItem>) {
    let name_param = || path_params(&["username".to_owned()]);
    let list_users = error_responses(
        OperationBuilder::new()
            .operation_id(Some("user_list"))
            .tag("user")
            .summary(Some("List users"))
            .response(
                "200",
                json_response(
                    "users",
                    RefOr::T(Schema::Object(
                        ObjectBuilder::new()
                            .property("results", ArrayBuilder::new().items(schema_ref("User")))
                            .property(
                                "result_count",
                                ObjectBuilder::new().schema_type(Type::Integer),
                            )
                            .build(),
                    )),
                ),
            ),
    );
    paths.insert(
        "/api/v1/users".into(),
        PathItem::new(HttpMethod::Get, list_users.build()),
    );
    let get = error_responses(
        OperationBuilder::new()
            .operation_id(Some("user_get"))
            .tag("user")
            .parameters(Some(name_param()))
            .response("200", json_response("user", schema_ref("User"))),
    );
    let put = error_responses(
        OperationBuilder::new()
            .operation_id(Some("user_put"))
            .tag("user")
            .summary(Some(
                "Create or update a user; a user changes their own password with old_password",
            ))
            .parameters(Some(name_param()))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(schema_ref("UserWrite")))
                            .build(),
                    )
                    .build(),
            ))
            .response("200", json_response("user", schema_ref("User"))),
    );
    let delete = error_responses(
        OperationBuilder::new()
            .operation_id(Some("user_delete"))
            .tag("user")
            .summary(Some("Delete a user (never the last admin)"))
            .parameters(Some(name_param()))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("Deleted or absent")
                    .build(),
            ),
    );
    let mut item = PathItem::new(HttpMethod::Get, get.build());
    item.merge_operations(PathItem::new(HttpMethod::Put, put.build()));
    item.merge_operations(PathItem::new(HttpMethod::Delete, delete.build()));
    paths.insert("/api/v1/users/{username}".into(), item);
    let audit = error_responses(
        OperationBuilder::new()
            .operation_id(Some("audit_log_list"))
            .tag("audit")
            .summary(Some("Audit log, newest first"))
            .parameter(query_param(
                "cursor",
                Type::String,
                "Cursor from the previous page",
            ))
            .parameter(query_param(
                "page_size",
                Type::Integer,
                "Entries per page, 1-1000 (default 100)",
            ))
            .response(
                "200",
                json_response(
                    "entries",
                    RefOr::T(Schema::Object(
                        ObjectBuilder::new()
                            .property(
                                "results",
                                ArrayBuilder::new().items(schema_ref("AuditEntry")),
                            )
                            .property(
                                "result_count",
                                ObjectBuilder::new().schema_type(Type::Integer),
                            )
                            .property("cursor", ObjectBuilder::new().schema_type(Type::String))
                            .build(),
                    )),
                ),
            ),
    );
    paths.insert(
        "/api/v1/audit-log".into(),
        PathItem::new(HttpMethod::Get, audit.build()),
    );
    let login = OperationBuilder::new()
        .operation_id(Some("session_create"))
        // No authentication: an empty requirement (OpenAPI 3 §4.8.10.1).
        .security(SecurityRequirement::default())
        .tag("authentication")
        .summary(Some("Log in (form fields j_username, j_password); returns cookie JSESSIONID and header X-XSRF-TOKEN"))
        .response("200", ResponseBuilder::new().description("Logged in").build())
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/x-www-form-urlencoded",
                    ContentBuilder::new()
                        .schema(Some(RefOr::T(Schema::Object(
                            ObjectBuilder::new()
                                .property("j_username", ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)))
                                .property("j_password", ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)))
                                .required("j_username")
                                .required("j_password")
                                .build(),
                        ))))
                        .build(),
                )
                .build(),
        ))
        .response("400", json_response("The form lacks j_username or j_password", schema_ref("ApiError")))
        .response("403", json_response("Login failed", schema_ref("ApiError")));
    paths.insert(
        "/api/session/create".into(),
        PathItem::new(HttpMethod::Post, login.build()),
    );
    let logout = OperationBuilder::new()
        .operation_id(Some("session_destroy"))
        // No authentication: an empty requirement (OpenAPI 3 §4.8.10.1).
        .security(SecurityRequirement::default())
        .tag("authentication")
        .summary(Some("Log out"))
        .description(Some(
            "Ends the session named by the JSESSIONID cookie; the request must carry that session's X-XSRF-TOKEN header.",
        ))
        .response(
            "200",
            ResponseBuilder::new().description("Logged out").build(),
        )
        .response(
            "403",
            ResponseBuilder::new()
                .description("The X-XSRF-TOKEN header is missing or wrong; the session stays valid")
                .build(),
        );
    paths.insert(
        "/api/session/destroy".into(),
        PathItem::new(HttpMethod::Post, logout.build()),
    );
    let health = OperationBuilder::new()
        .operation_id(Some("healthz"))
        // No authentication: an empty requirement (OpenAPI 3 §4.8.10.1).
        .security(SecurityRequirement::default())
        .tag("health")
        .summary(Some("Liveness (no authentication); body `ok`"))
        .response("200", ResponseBuilder::new().description("ok").build());
    paths.insert(
        "/healthz".into(),
        PathItem::new(HttpMethod::Get, health.build()),
    );
}
