//! `/policy/api/v1/...`: every policy object and collection, routed by parsing the path
//! (the URL of an object is `/policy/api/v1` + its policy path).

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use strait_model::path::{parse_any, ParsedPath, PathError};
use strait_policy::{Actor, GetOptions, ListQuery};

use crate::body::{json_body, Query};
use crate::error::ApiError;
use crate::{blocking, AppState};

/// Prefix of the policy API.
pub const PREFIX: &str = "/policy/api/v1";

/// Query parameters NSX defines for these calls that strait accepts and ignores
/// (single enforcement point, always realtime).
pub(crate) const IGNORED_PARAMS: &[&str] = &[
    "enforcement_point_path",
    "source",
    "include_mark_for_delete_objects",
];

fn decode_path(raw: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| ApiError::not_found("the path is not valid UTF-8 after percent-decoding"))
}

/// The single handler for the policy tree.
pub async fn handle(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    req: Request,
) -> Response {
    let method = req.method().clone();
    let raw_path = req.uri().path().to_owned();
    let result = dispatch(&state, &actor, req).await;
    match result {
        Ok(r) => r,
        Err(e) => {
            if !matches!(method, Method::GET | Method::HEAD) {
                let policy = state.policy.clone();
                let user = actor.user.clone();
                let path = raw_path
                    .strip_prefix(PREFIX)
                    .unwrap_or(&raw_path)
                    .to_owned();
                let outcome = format!("failure: {} {}", e.status().as_u16(), e.error_message);
                let m = method.to_string();
                let _ = tokio::task::spawn_blocking(move || {
                    policy.audit_failure(&user, &m, &path, &outcome)
                })
                .await;
            }
            e.into_response()
        }
    }
}

async fn dispatch(state: &AppState, actor: &Actor, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let path = decode_path(parts.uri.path().strip_prefix(PREFIX).unwrap_or(""))?;
    // `/infra/tier-0s/` means the collection, as it does to every HTTP client.
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p.to_owned(),
        _ => path,
    };
    let q = Query::parse(parts.uri.query())?;
    if let Some(session) = path.strip_suffix("/detailed-status") {
        return detailed_status(state, &parts.method, session, &q).await;
    }
    if let Some(session) = path.strip_suffix("/statistics") {
        return statistics(state, actor, &parts.method, session, &q).await;
    }
    if let Some(session) = path.strip_suffix("/peer-config") {
        return peer_config(state, actor, &parts.method, session, &q).await;
    }
    // A service's sub-resources; a session whose id is "summary" stays a session.
    let is_service = |p: &str| {
        strait_model::ObjectPath::parse(p).is_ok_and(|p| p.kind() == strait_model::Kind::VpnService)
    };
    if let Some(service) = path.strip_suffix("/summary").filter(|s| is_service(s)) {
        return service_summary(state, &parts.method, service, &q).await;
    }
    if let Some(service) = path
        .strip_suffix("/session-status")
        .filter(|s| is_service(s))
    {
        return service_session_status(state, &parts.method, service, &q).await;
    }
    if let Some(r) = crate::routing_routes::dispatch(state, &parts.method, &path, &q).await {
        return r;
    }
    if path == "/search/query" || path == "/search" {
        return search(state, &parts.method, &q).await;
    }
    if path == "/infra" {
        return infra(state, actor, &parts.method, body, &q).await;
    }
    let parsed = parse_any(&path).map_err(|e| match e {
        // A shape strait does not know: NSX may well have it.
        PathError::Unknown { hint, .. } => ApiError::not_implemented(
            parts.method.as_str(),
            &format!("{PREFIX}{path}"),
            &format!("; under this path strait expects {hint}"),
        ),
        other => ApiError::not_found(other.to_string()),
    })?;
    match parsed {
        ParsedPath::Collection(c) => {
            if parts.method != Method::GET && parts.method != Method::HEAD {
                return Err(ApiError::method_not_allowed(
                    parts.method.as_str(),
                    &path,
                    "GET, HEAD",
                    &format!("GET to list, or PATCH/PUT/DELETE on {path}/<id>"),
                ));
            }
            let lq = list_query(&q, &[])?;
            let coll = c.as_string();
            let r = blocking(state, move |p| p.list(&coll, &lq)).await?;
            Ok(axum::Json(r).into_response())
        }
        ParsedPath::Object(o) => match parts.method {
            Method::GET | Method::HEAD => {
                let mut known = vec!["action"];
                known.extend_from_slice(IGNORED_PARAMS);
                q.only(&known)?;
                let sensitive = match q.get("action") {
                    None => false,
                    Some("show_sensitive_data") => true,
                    Some(a) => {
                        return Err(ApiError::bad_request(format!(
                            "action={a:?} is not supported on GET; the only action is show_sensitive_data"
                        )))
                    }
                };
                let actor = actor.clone();
                let v = blocking(state, move |p| {
                    p.get(o.as_str(), &actor, GetOptions { sensitive })
                })
                .await?;
                Ok(axum::Json(v).into_response())
            }
            Method::PATCH => {
                q.only(IGNORED_PARAMS)?;
                let mut body = json_body(body, o.kind().noun()).await?;
                let actor = actor.clone();
                blocking(state, move |p| {
                    let r = p.patch(o.as_str(), &body, &actor);
                    strait_policy::scrub_secrets(&mut body);
                    r
                })
                .await?;
                Ok(StatusCode::OK.into_response())
            }
            Method::PUT => {
                q.only(IGNORED_PARAMS)?;
                let mut body = json_body(body, o.kind().noun()).await?;
                let actor = actor.clone();
                let v = blocking(state, move |p| {
                    let r = p.put(o.as_str(), &body, &actor);
                    strait_policy::scrub_secrets(&mut body);
                    r
                })
                .await?;
                Ok(axum::Json(v).into_response())
            }
            Method::DELETE => {
                q.only(IGNORED_PARAMS)?;
                let actor = actor.clone();
                blocking(state, move |p| p.delete(o.as_str(), &actor)).await?;
                Ok(StatusCode::OK.into_response())
            }
            Method::POST if o.kind() == strait_model::Kind::Session => {
                q.only(&["action"])?;
                let kind = match q.get("action") {
                    Some("rekey_ike") => strait_model::status::RekeyKind::Ike,
                    Some("rekey_child") => strait_model::status::RekeyKind::Child,
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "POST on a session needs ?action=rekey_ike or ?action=rekey_child (strait extensions), not {other:?}"
                        )))
                    }
                };
                if !actor.is_admin() {
                    return Err(ApiError::forbidden(format!(
                        "user {} has role {}, which is read-only; ask an admin to rekey",
                        actor.user, actor.role
                    )));
                }
                let started = state
                    .status
                    .as_ref()
                    .is_some_and(|s| s.rekey(o.as_str(), kind));
                if !started {
                    return Err(ApiError::bad_request(format!(
                        "{o} has no established IKE SA to rekey; check its detailed-status"
                    )));
                }
                Ok(StatusCode::OK.into_response())
            }
            m => Err(ApiError::method_not_allowed(
                m.as_str(),
                &path,
                if o.kind() == strait_model::Kind::Session {
                    "GET, HEAD, PATCH, PUT, DELETE, POST"
                } else {
                    "GET, HEAD, PATCH, PUT, DELETE"
                },
                "GET, PATCH, PUT or DELETE",
            )),
        },
    }
}

/// The object a sub-resource hangs off (`{session}/statistics`, `{service}/summary`, ...),
/// which must be of `kind`: 404 otherwise, naming what it is.
fn sub_resource_owner(
    owner: &str,
    kind: strait_model::Kind,
    what: &str,
) -> Result<strait_model::ObjectPath, ApiError> {
    let path =
        strait_model::ObjectPath::parse(owner).map_err(|e| ApiError::not_found(e.to_string()))?;
    if path.kind() != kind {
        return Err(ApiError::not_found(format!(
            "{what} exists only for {}s; {owner} is a {}",
            kind.noun(),
            path.kind().noun()
        )));
    }
    Ok(path)
}

/// 405 unless the method reads (GET or HEAD) `resource`.
pub(crate) fn require_get(method: &Method, resource: &str) -> Result<(), ApiError> {
    if method == Method::GET || method == Method::HEAD {
        return Ok(());
    }
    Err(ApiError::method_not_allowed(
        method.as_str(),
        resource,
        "GET, HEAD",
        "GET",
    ))
}

/// A stored object named by a sub-resource (`{session}/detailed-status`,
/// `{service}/summary`, ...), with its stored body.
pub(crate) async fn status_target(
    state: &AppState,
    owner: &str,
    kind: strait_model::Kind,
    what: &str,
) -> Result<(strait_model::ObjectPath, serde_json::Value), ApiError> {
    let path = sub_resource_owner(owner, kind, what)?;
    let p = path.to_string();
    let admin = strait_policy::Actor::system();
    let stored = blocking(state, move |pol| pol.get(&p, &admin, GetOptions::default())).await?;
    Ok((path, stored))
}

/// A stored object's display name.
fn display_name(stored: &serde_json::Value) -> &str {
    stored["display_name"].as_str().unwrap_or_default()
}

/// The runtime status of a stored session, or "not started" when the runtime has none.
fn current_status(
    state: &AppState,
    path: &strait_model::ObjectPath,
    display_name: &str,
) -> strait_model::status::SessionStatusNsxT {
    state
        .status
        .as_ref()
        .and_then(|s| s.session_status(path.as_str()))
        .unwrap_or_else(|| {
            strait_model::status::SessionStatusNsxT::down(
                display_name,
                strait_model::status::reasons::NEGOTIATION_NOT_STARTED,
                None,
                strait_policy::now_ms(),
            )
        })
}

/// `GET {session}/detailed-status`: NSX `AggregateIPSecVpnSessionStatus` (contract §Status).
async fn detailed_status(
    state: &AppState,
    method: &Method,
    session: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    require_get(method, session)?;
    q.only(IGNORED_PARAMS)?;
    let (path, stored) = status_target(
        state,
        session,
        strait_model::Kind::Session,
        "detailed-status",
    )
    .await?;
    let body = strait_model::status::AggregateSessionStatus {
        intent_path: path.to_string(),
        results: vec![current_status(state, &path, display_name(&stored))],
    };
    Ok(axum::Json(body).into_response())
}

/// `GET {service}/summary`: NSX `PolicyIpsecVpnIkeServiceSummary`, the service's sessions by
/// state and their traffic (reference §6).
async fn service_summary(
    state: &AppState,
    method: &Method,
    service: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    require_get(method, &format!("{service}/summary"))?;
    q.only(IGNORED_PARAMS)?;
    let (path, stored) =
        status_target(state, service, strait_model::Kind::VpnService, "summary").await?;
    let service_path = path.clone();
    let (sessions, _) = blocking(state, move |pol| {
        pol.session_page(&service_path, None, usize::MAX)
    })
    .await?;
    let statuses: Vec<(String, strait_model::status::SessionStatusNsxT)> = sessions
        .iter()
        .map(|row| {
            let status = current_status(state, &row.path, &row.display_name);
            (row.path.to_string(), status)
        })
        .collect();
    let body = strait_model::status::ServiceSummary::of(
        display_name(&stored),
        path.as_str(),
        &statuses,
        strait_policy::now_ms(),
    );
    Ok(axum::Json(body).into_response())
}

/// A session's statistics as `GET {session}/statistics` shows them, given its status.
fn current_statistics(
    state: &AppState,
    path: &strait_model::ObjectPath,
    tunnel_id: &str,
    status: &strait_model::status::SessionStatusNsxT,
) -> strait_model::status::SessionStatisticsNsxT {
    let tunnel = state
        .status
        .as_ref()
        .and_then(|s| s.tunnel_statistics(path.as_str()))
        .unwrap_or_else(|| strait_model::status::TunnelTrafficStatistics {
            tunnel_status: "DOWN".into(),
            tunnel_down_reason: status.ike_status.fail_reason.clone(),
            ..Default::default()
        });
    strait_model::status::SessionStatisticsNsxT::from_status(
        path.as_str(),
        tunnel_id,
        status,
        tunnel,
    )
}

/// Sessions per page of `GET {service}/session-status` (default and maximum).
const SESSION_STATUS_PAGE_MAX: u32 = 1000;

/// `GET {service}/session-status`: strait's bulk read of a service's sessions' status and
/// statistics, a page at a time (see [`strait_model::status::SessionStatusList`]).
async fn service_session_status(
    state: &AppState,
    method: &Method,
    service: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    require_get(method, &format!("{service}/session-status"))?;
    q.only(&["cursor", "page_size"])?;
    let (path, _) = status_target(
        state,
        service,
        strait_model::Kind::VpnService,
        "session-status",
    )
    .await?;
    let page_size = match q.get("page_size") {
        None => SESSION_STATUS_PAGE_MAX,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=SESSION_STATUS_PAGE_MAX).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "page_size {v:?} is not a number from 1 to {SESSION_STATUS_PAGE_MAX}; leave it out for {SESSION_STATUS_PAGE_MAX}"
                )))
            }
        },
    };
    let prefix = format!("{}/sessions/", path.as_str());
    let after = match q.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) if c.starts_with(&prefix) => Some(c.to_owned()),
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "this cursor does not belong to {path}'s session-status pages; pass the cursor the previous page returned, or leave it out to start again"
            )))
        }
        None => None,
    };
    let service_path = path.clone();
    let (rows, total) = blocking(state, move |pol| {
        pol.session_page(&service_path, after.as_deref(), page_size as usize + 1)
    })
    .await?;
    let more = rows.len() > page_size as usize;
    let results: Vec<strait_model::status::SessionStatusRow> = rows
        .iter()
        .take(page_size as usize)
        .map(|row| {
            let status = current_status(state, &row.path, &row.display_name);
            let statistics = current_statistics(state, &row.path, &row.tunnel_id, &status);
            strait_model::status::SessionStatusRow {
                path: row.path.to_string(),
                display_name: row.display_name.clone(),
                status,
                statistics,
            }
        })
        .collect();
    let cursor = if more {
        results.last().map(|r| r.path.clone())
    } else {
        None
    };
    let body = strait_model::status::SessionStatusList {
        results,
        result_count: total,
        cursor,
    };
    Ok(axum::Json(body).into_response())
}

/// `GET {session}/statistics`: NSX `AggregateIPSecVpnSessionStatistics` (reference §6);
/// `POST {session}/statistics?action=reset` zeroes the counters.
async fn statistics(
    state: &AppState,
    actor: &Actor,
    method: &Method,
    session: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    let (path, stored) =
        status_target(state, session, strait_model::Kind::Session, "statistics").await?;
    match *method {
        Method::GET | Method::HEAD => {
            q.only(IGNORED_PARAMS)?;
            let status = current_status(state, &path, display_name(&stored));
            let tunnel_id = stored
                .pointer("/tunnel_interfaces/0/id")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("default");
            let body = strait_model::status::AggregateSessionStatistics {
                intent_path: path.to_string(),
                results: vec![current_statistics(state, &path, tunnel_id, &status)],
            };
            Ok(axum::Json(body).into_response())
        }
        Method::POST => {
            q.only(&["action"])?;
            if q.get("action") != Some("reset") {
                return Err(ApiError::bad_request(format!(
                    "POST on {session}/statistics needs ?action=reset, not {:?}",
                    q.get("action")
                )));
            }
            if !actor.is_admin() {
                return Err(ApiError::forbidden(format!(
                    "user {} has role {}, which is read-only; ask an admin to reset the statistics",
                    actor.user, actor.role
                )));
            }
            // A session without a tunnel has nothing to reset: its counters are already zero.
            if let Some(s) = state.status.as_ref() {
                s.reset_statistics(path.as_str());
            }
            Ok(StatusCode::OK.into_response())
        }
        ref m => Err(ApiError::method_not_allowed(
            m.as_str(),
            &format!("{session}/statistics"),
            "GET, HEAD, POST",
            "GET or POST ?action=reset",
        )),
    }
}

/// `GET {session}/peer-config[?format=nsx|strongswan]`: the remote side's configuration as
/// text (NSX "Download Config"; contract "Peer config"). The PSK only for admins.
async fn peer_config(
    state: &AppState,
    actor: &Actor,
    method: &Method,
    session: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    use strait_policy::peer_config::PeerConfigFormat;
    require_get(method, &format!("{session}/peer-config"))?;
    let mut known = vec!["format"];
    known.extend_from_slice(IGNORED_PARAMS);
    q.only(&known)?;
    let format = match q.get("format") {
        None => PeerConfigFormat::Nsx,
        Some(f) => PeerConfigFormat::parse(f).ok_or_else(|| {
            ApiError::bad_request(format!(
                "format={f:?} is not supported; use one of: {}",
                PeerConfigFormat::ALLOWED
            ))
        })?,
    };
    let path = sub_resource_owner(session, strait_model::Kind::Session, "peer-config")?;
    let actor = actor.clone();
    let now = strait_policy::now_ms();
    let mut text = blocking(state, move |p| {
        p.peer_config(path.as_str(), &actor, format, now)
    })
    .await?;
    // The text may hold the PSK: never cached, never logged.
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        // Moved out, not copied: the zeroizing wrapper is left empty.
        std::mem::take(&mut *text),
    )
        .into_response())
}

/// `/infra`: NSX's `Infra` root. PATCH and PUT take a hierarchical body (`Child*`
/// wrappers, see `strait_policy::hierarchy`) applied as one transaction; GET shows the root.
async fn infra(
    state: &AppState,
    actor: &Actor,
    method: &Method,
    body: axum::body::Body,
    q: &Query,
) -> Result<Response, ApiError> {
    match *method {
        Method::GET | Method::HEAD => {
            q.only(IGNORED_PARAMS)?;
            Ok(axum::Json(serde_json::json!({
                "resource_type": "Infra",
                "id": "infra",
                "display_name": "infra",
                "path": "/infra",
                "relative_path": "infra",
                "marked_for_delete": false,
                "overridden": false,
                "_revision": 0,
                "_system_owned": false,
                "_protection": "NOT_PROTECTED",
            }))
            .into_response())
        }
        Method::PATCH | Method::PUT => {
            let mut known = vec!["enforce_revision_check"];
            known.extend_from_slice(IGNORED_PARAMS);
            q.only(&known)?;
            let opts = strait_policy::hierarchy::HierarchyOptions {
                enforce_revision_check: q.bool("enforce_revision_check")?.unwrap_or(false),
            };
            let mut body = json_body(body, "Infra hierarchy").await?;
            let actor = actor.clone();
            blocking(state, move |p| {
                let r = p.patch_infra(&body, &actor, opts);
                strait_policy::scrub_secrets(&mut body);
                r
            })
            .await?;
            Ok(StatusCode::OK.into_response())
        }
        ref m => Err(ApiError::method_not_allowed(
            m.as_str(),
            "/infra",
            "GET, HEAD, PATCH, PUT",
            "GET, or PATCH/PUT with a hierarchical Infra body",
        )),
    }
}

/// `GET /search/query?query=...` (and NSX's older `/search`): objects matching an NSX search
/// query, as GET shows them, paged like a collection (see `strait_policy::search`).
async fn search(state: &AppState, method: &Method, q: &Query) -> Result<Response, ApiError> {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return Err(ApiError::method_not_allowed(
            method.as_str(),
            "/search/query",
            "GET, HEAD",
            "GET with ?query=...",
        ));
    }
    let lq = list_query(q, &["query"])?;
    let Some(query) = q.get("query").map(str::to_owned) else {
        return Err(ApiError::bad_request(
            "search needs ?query=..., e.g. query=resource_type:Tier0 AND display_name:edge*",
        ));
    };
    let r = blocking(state, move |p| p.search(&query, &lq)).await?;
    Ok(axum::Json(r).into_response())
}

/// The paging parameters of a listing (collections and search), refusing any parameter
/// but those, `extra` and the ones NSX defines that strait ignores.
fn list_query(q: &Query, extra: &[&str]) -> Result<ListQuery, ApiError> {
    let mut known = vec![
        "cursor",
        "page_size",
        "sort_by",
        "sort_ascending",
        "included_fields",
    ];
    known.extend_from_slice(extra);
    known.extend_from_slice(IGNORED_PARAMS);
    q.only(&known)?;
    Ok(ListQuery {
        cursor: q.get("cursor").map(str::to_owned),
        page_size: q.u32("page_size")?,
        sort_by: q.get("sort_by").map(str::to_owned),
        sort_ascending: q.bool("sort_ascending")?,
        included_fields: q.get("included_fields").map(str::to_owned),
    })
}
