//! strait's REST API (axum): the NSX Policy API subset under `/policy/api/v1`, users and
//! the audit log under `/api/v1`, NSX cookie sessions, and the generated OpenAPI document.
//!
//! This crate is transport only: it authenticates, decodes requests, calls the
//! HTTP-agnostic engine (`strait-policy`) off the async runtime, and turns its errors into
//! NSX `ApiError` bodies. TLS is set up by `straitd`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Wire and API input reach this crate: no panics by construction (issue 12).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod auth;
pub mod body;
pub mod console;
pub mod deliver;
pub mod error;
pub mod node_routes;
pub mod openapi;
mod openapi_build;
mod openapi_system;
mod openapi_tighten;
pub mod policy_routes;
mod routing_routes;
pub mod users_routes;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use strait_policy::Policy;

use crate::error::ApiError;

/// Requests handled at once; beyond this, requests wait.
pub const CONCURRENT_REQUESTS_MAX: usize = 256;
/// A request taking longer than this is answered with 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Shared state of the API.
#[derive(Clone)]
pub struct AppState {
    /// The management engine.
    pub policy: Policy,
    /// Cookie sessions.
    pub sessions: Arc<auth::LoginSessions>,
    /// Runtime status of sessions (the control plane), if one runs.
    pub status: Option<Arc<dyn strait_model::status::StatusSource>>,
    openapi: Arc<String>,
}

impl AppState {
    /// State over a management engine.
    pub fn new(policy: Policy) -> AppState {
        AppState {
            policy,
            sessions: Arc::new(auth::LoginSessions::default()),
            status: None,
            openapi: Arc::new(openapi::json()),
        }
    }

    /// Attach the runtime's status.
    pub fn with_status(mut self, status: Arc<dyn strait_model::status::StatusSource>) -> AppState {
        self.status = Some(status);
        self
    }
}

/// Run a (blocking) engine call off the async runtime.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Policy) -> Result<T, strait_policy::PolicyError> + Send + 'static,
) -> Result<T, ApiError> {
    let policy = state.policy.clone();
    tokio::task::spawn_blocking(move || f(&policy))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(ApiError::from)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn openapi_json(State(state): State<AppState>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        state.openapi.as_str().to_owned(),
    )
        .into_response()
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    let path = uri.path();
    // NSX Manager's own API (/api/v1/...) is large; what strait lacks of it is "not
    // implemented", not "does not exist".
    if path.starts_with("/api/v1/") || path.starts_with("/api/session/") {
        return ApiError::not_implemented(method.as_str(), path, "").into_response();
    }
    ApiError::not_found(format!(
        "{method} {path} is not an API endpoint of strait; the policy API lives under /policy/api/v1/infra/..., users under /api/v1/users"
    ))
    .into_response()
}

async fn request_id(req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = std::time::Instant::now();
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-nsx-requestid", v);
    }
    tracing::info!(
        request_id = %id,
        %method,
        path = %path,
        status = resp.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    resp
}

/// Every error a client meets carries an NSX `ApiError` body. The ones strait writes do;
/// the ones axum and tower make themselves do not: 405 from routing, 413 or 400 from an
/// extractor's rejection (an oversized login form, a username that is not UTF-8), 408 from
/// the timeout. Those arrive as plain text or empty and are rewritten here, keeping the
/// status and headers (`allow`, `x-nsx-requestid`).
async fn nsx_error_bodies(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|c| c.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, resp_body) = resp.into_parts();
    let text = axum::body::to_bytes(resp_body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let err = match status {
        // axum's own 405 carries its Allow header, kept below.
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            error::codes::METHOD_NOT_ALLOWED,
            format!("{method} is not supported on {path}; use a method this endpoint supports (the Allow header lists them; see /api/v1/spec/openapi.json)"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::BAD_REQUEST,
            error::codes::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {} bytes; send a smaller body", crate::body::BODY_MAX_BYTES),
        ),
        StatusCode::REQUEST_TIMEOUT => ApiError::new(
            status,
            error::codes::INTERNAL,
            format!(
                "{method} {path} took longer than {} seconds and was abandoned; retry, and check the straitd log if it persists",
                REQUEST_TIMEOUT.as_secs()
            ),
        ),
        _ => {
            let code = if status.is_server_error() { error::codes::INTERNAL } else { error::codes::BAD_REQUEST };
            let message = if text.is_empty() {
                status.canonical_reason().unwrap_or("request failed").to_owned()
            } else {
                text
            };
            ApiError::new(status, code, format!("{method} {path}: {message}"))
        }
    };
    let mut out = err.into_response();
    for name in parts.headers.keys() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().remove(name);
            for value in parts.headers.get_all(name) {
                out.headers_mut().append(name.clone(), value.clone());
            }
        }
    }
    out
}

/// The whole API as a router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/healthz", get(healthz))
        .route("/", get(console::index))
        .route("/login", get(console::index))
        .route("/assets/{*file}", get(console::asset_file))
        .route("/api/session/create", post(auth::login))
        .route("/api/session/destroy", post(auth::logout))
        .route("/api/v1/spec/openapi.json", get(openapi_json))
        .route("/api/v1/node/version", get(node_routes::version))
        .route("/api/v1/users", get(users_routes::list))
        .route(
            "/api/v1/users/{username}",
            get(users_routes::get)
                .put(users_routes::put)
                .delete(users_routes::delete),
        )
        .route("/api/v1/audit-log", get(users_routes::audit_log))
        .route(
            "/policy/api/v1/{*rest}",
            axum::routing::any(policy_routes::handle),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_auth,
        ))
        .with_state(state);
    api.layer(middleware::from_fn(request_id))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn(nsx_error_bodies))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            CONCURRENT_REQUESTS_MAX,
        ))
        .layer(middleware::from_fn(deliver::read_before_answering))
}
