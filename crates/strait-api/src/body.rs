//! Request bodies and query strings, read defensively: a size limit, precise JSON syntax
//! errors, and typed query parameters with messages instead of rejections.

use axum::body::Body;
use axum::http::StatusCode;
use serde_json::Value;

use crate::error::{codes, ApiError};

/// Largest request body accepted (a certificate chain with its key fits easily).
pub const BODY_MAX_BYTES: usize = 2 * 1024 * 1024;

/// Bytes read and thrown away after a body went over the limit, so that the client
/// finishes sending and reads the 413 instead of seeing its connection reset.
const DRAIN_MAX_BYTES: usize = 16 * 1024 * 1024;

/// An oversized body is a bad request like any other malformed input (issue 2 asks for a
/// 400 with a precise message); `error_code` 413 still tells it apart.
fn too_large(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::PAYLOAD_TOO_LARGE,
        format!(
            "the {what} is larger than {BODY_MAX_BYTES} bytes (2 MiB), the most strait accepts; \
             send a smaller body"
        ),
    )
}

/// Read a body of at most [`BODY_MAX_BYTES`]; `what` names it in the error.
pub async fn read_limited(body: Body, what: &str) -> Result<Vec<u8>, ApiError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|_| ApiError::bad_request(format!("the {what} could not be read")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen > BODY_MAX_BYTES {
            buf.clear();
            if seen > DRAIN_MAX_BYTES {
                break;
            }
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if seen > BODY_MAX_BYTES {
        return Err(too_large(what));
    }
    Ok(buf)
}

/// Read the body as JSON. An empty body is an error naming what was expected.
pub async fn json_body(body: Body, what: &str) -> Result<Value, ApiError> {
    let mut bytes = read_limited(body, "request body").await?;
    let result = if bytes.iter().all(u8::is_ascii_whitespace) {
        Err(ApiError::bad_request(format!(
            "the request body is empty; send a JSON object describing the {what}"
        )))
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(format!(
                "the request body is not valid JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ))
        })
    };
    // The raw body may hold a PSK or private key.
    zeroize::Zeroize::zeroize(&mut bytes);
    result
}

/// Parsed query string (`key=value&...`), percent-decoded.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parse a raw query string.
    pub fn parse(raw: Option<&str>) -> Result<Query, ApiError> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            if pairs.len() >= 64 {
                return Err(ApiError::bad_request("too many query parameters"));
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let dec = |s: &str| -> Result<String, ApiError> {
                let s = s.replace('+', " ");
                percent_encoding::percent_decode_str(&s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| {
                        ApiError::bad_request(format!(
                            "query parameter {s:?} is not valid UTF-8 after decoding"
                        ))
                    })
            };
            pairs.push((dec(k)?, dec(v)?));
        }
        Ok(Query { pairs })
    }

    /// A parameter's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A numeric parameter.
    pub fn u32(&self, key: &str) -> Result<Option<u32>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<u32>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "query parameter {key}={v:?} must be a non-negative whole number"
                    ))
                })
            })
            .transpose()
    }

    /// A boolean parameter (`true`/`false`).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key)
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::bad_request(format!(
                    "query parameter {key}={v:?} must be true or false"
                ))),
            })
            .transpose()
    }

    /// Reject parameters not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        for (k, _) in &self.pairs {
            if !known.contains(&k.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {k:?}; this request accepts: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        Ok(())
    }
}
