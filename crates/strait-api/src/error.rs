//! NSX `ApiError` bodies: every error a client can meet is one of these, with a message
//! that says what was wrong and what to change.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use strait_model::path::PathError;
use strait_policy::PolicyError;

/// Codes for errors that are not validation problems (those carry their own).
pub mod codes {
    /// Object or path not found (NSX common-services code 600).
    pub const NOT_FOUND: u32 = 600;
    /// Stale `_revision`.
    pub const REVISION_CONFLICT: u32 = 604;
    /// No or wrong credentials.
    pub const UNAUTHENTICATED: u32 = 401;
    /// Authenticated but not allowed.
    pub const FORBIDDEN: u32 = 403;
    /// Method not allowed at this path.
    pub const METHOD_NOT_ALLOWED: u32 = 405;
    /// Body too large.
    pub const PAYLOAD_TOO_LARGE: u32 = 413;
    /// Too many failed logins (HTTP 403, as NSX answers a locked account).
    pub const TOO_MANY_REQUESTS: u32 = 429;
    /// Server-side failure.
    pub const INTERNAL: u32 = 500;
    /// A part of NSX's API strait does not implement.
    pub const NOT_IMPLEMENTED: u32 = 501;
    /// Malformed request (JSON syntax, query parameters).
    pub const BAD_REQUEST: u32 = 255;
}

/// One entry of `related_errors`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RelatedError {
    /// Numeric code.
    pub error_code: u32,
    /// Message (prefixed with the field it concerns).
    pub error_message: String,
    /// Module.
    pub module_name: &'static str,
    /// The JSON path of the field concerned, if any.
    pub details: String,
    /// `{"field": ...}` so that clients can place the message next to the field.
    #[schema(value_type = Object)]
    pub error_data: serde_json::Value,
}

/// NSX `ApiError`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// The HTTP status, shown as NSX's `httpStatus` reason name, e.g. `BAD_REQUEST`.
    #[serde(rename = "httpStatus", serialize_with = "serialize_reason")]
    #[schema(value_type = String, example = "BAD_REQUEST")]
    status: StatusCode,
    /// Numeric code.
    pub error_code: u32,
    /// Module.
    pub module_name: &'static str,
    /// What is wrong and what to do.
    pub error_message: String,
    /// More detail, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub details: String,
    /// Every individual problem.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_errors: Vec<RelatedError>,
    /// 405: the methods the resource supports (the `Allow` header, RFC 9110 §15.5.6).
    #[serde(skip)]
    allow: Option<&'static str>,
}

fn serialize_reason<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&reason(*status))
}

fn reason(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("ERROR")
        .to_ascii_uppercase()
        .replace([' ', '-'], "_")
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            error_code: code,
            module_name: "Policy",
            error_message: message.into(),
            details: String::new(),
            related_errors: Vec::new(),
            status,
            allow: None,
        }
    }

    /// 400 for malformed requests.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, message)
    }

    /// 401.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, codes::UNAUTHENTICATED, message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, codes::FORBIDDEN, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }

    /// 501: a path in NSX's API space that strait does not implement. Never a 404, so that
    /// no client takes "not implemented" for "does not exist" (and, say, drops an object
    /// from its state).
    pub fn not_implemented(method: &str, path: &str, hint: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            codes::NOT_IMPLEMENTED,
            format!(
                "{method} {path} is not implemented by strait, which implements NSX's API for tier-0/tier-1 gateways, \
                 IPsec VPN, static routes, BGP, certificates, search and users (see /api/v1/spec/openapi.json){hint}"
            ),
        )
    }

    /// 405, listing what is allowed.
    ///
    /// `allow` goes into the `Allow` header (e.g. `"GET, HEAD"`); `hint` says in words what
    /// to use instead.
    pub fn method_not_allowed(
        method: &str,
        path: &str,
        allow: &'static str,
        hint: &str,
    ) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            codes::METHOD_NOT_ALLOWED,
            format!("{method} is not supported on {path}; use {hint}"),
        );
        e.allow = Some(allow);
        e
    }

    /// 500 (details go to the log, not to the client).
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "internal error; the straitd log has the details",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> ApiError {
        match e {
            PolicyError::BadPath(p @ PathError::Unknown { .. }) => {
                ApiError::not_implemented("", &p.to_string(), "")
            }
            PolicyError::BadPath(p) => ApiError::not_found(p.to_string()),
            PolicyError::NotFound { .. } | PolicyError::ParentMissing { .. } => {
                ApiError::not_found(e.to_string())
            }
            PolicyError::Invalid { summary, problems } => {
                let code = problems
                    .as_slice()
                    .first()
                    .map_or(codes::BAD_REQUEST, |p| p.code);
                let mut err = ApiError::new(StatusCode::BAD_REQUEST, code, summary);
                err.related_errors = problems
                    .into_vec()
                    .into_iter()
                    .map(|p| RelatedError {
                        error_code: p.code,
                        error_message: if p.field.is_empty() {
                            p.message
                        } else {
                            format!("{}: {}", p.field, p.message)
                        },
                        module_name: "Policy",
                        error_data: serde_json::json!({ "field": p.field }),
                        details: p.field,
                    })
                    .collect();
                err
            }
            PolicyError::RevisionMismatch { .. } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                codes::REVISION_CONFLICT,
                e.to_string(),
            ),
            PolicyError::Forbidden(m) => ApiError::forbidden(m),
            // A throttled login is refused as NSX refuses a locked account: 403, with
            // error_code 429 telling it apart from a wrong password. (Clients retry a 429
            // status within a second, which a lockout of minutes only prolongs.)
            PolicyError::Unauthenticated(m) if m.starts_with("too many") => {
                ApiError::new(StatusCode::FORBIDDEN, codes::TOO_MANY_REQUESTS, m)
            }
            PolicyError::Unauthenticated(m) => ApiError::unauthenticated(m),
            other => {
                tracing::error!(error = %other, "request failed inside strait");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut resp = (status, axum::Json(&self)).into_response();
        if let Some(allow) = self.allow {
            resp.headers_mut()
                .insert(axum::http::header::ALLOW, HeaderValue::from_static(allow));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Basic realm=\"strait\""),
            );
        }
        resp
    }
}
