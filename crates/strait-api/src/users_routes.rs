//! `/api/v1/users` and `/api/v1/audit-log`.

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};
use strait_policy::Actor;

use crate::body::{json_body, Query};
use crate::error::ApiError;
use crate::{blocking, AppState};

/// `GET /api/v1/users`.
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let users = blocking(&state, |p| p.accounts().list()).await?;
    Ok(axum::Json(json!({"results": users, "result_count": users.len()})).into_response())
}

/// `GET /api/v1/users/{username}`.
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let u = blocking(&state, move |p| p.accounts().get(&name)).await?;
    Ok(axum::Json(u).into_response())
}

/// `PUT /api/v1/users/{username}`.
pub async fn put(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let mut body = json_body(req.into_body(), "user").await?;
    let a = actor.clone();
    let n = name.clone();
    let result = blocking(&state, move |p| {
        let r = p.accounts().put(&a, &n, &body);
        strait_policy::scrub_secrets(&mut body);
        r
    })
    .await;
    audit_failure(&state, &actor, "PUT", &name, &result).await;
    let u = result?;
    // Existing logins of this user carry the old role; make them log in again. The user's
    // own current request is unaffected.
    if actor.user != name {
        state.sessions.destroy_user(&name);
    }
    Ok(axum::Json(u).into_response())
}

/// `DELETE /api/v1/users/{username}`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let a = actor.clone();
    let n = name.clone();
    let result = blocking(&state, move |p| p.accounts().delete(&a, &n)).await;
    audit_failure(&state, &actor, "DELETE", &name, &result).await;
    result?;
    state.sessions.destroy_user(&name);
    Ok(StatusCode::OK.into_response())
}

async fn audit_failure<T>(
    state: &AppState,
    actor: &Actor,
    method: &str,
    name: &str,
    r: &Result<T, ApiError>,
) {
    if let Err(e) = r {
        let policy = state.policy.clone();
        let (user, m, path) = (
            actor.user.clone(),
            method.to_owned(),
            format!("/api/v1/users/{name}"),
        );
        let outcome = format!("failure: {} {}", e.status().as_u16(), e.error_message);
        let _ =
            tokio::task::spawn_blocking(move || policy.audit_failure(&user, &m, &path, &outcome))
                .await;
    }
}

/// `GET /api/v1/audit-log?cursor=&page_size=`.
pub async fn audit_log(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(raw.as_deref())?;
    q.only(&["cursor", "page_size"])?;
    let page_size = match q.u32("page_size")? {
        None => 100,
        Some(n) if n == 0 || n > 1000 => {
            return Err(ApiError::bad_request(format!(
                "page_size {n} is out of range; use 1 to 1000, or leave it out for 100"
            )))
        }
        Some(n) => n,
    };
    let before = match q.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            ApiError::bad_request("the cursor is not one this server issued; pass the previous page's cursor unchanged")
        })?),
    };
    let page = blocking(&state, move |p| p.audit_log(before, page_size)).await?;
    let mut body = serde_json::Map::new();
    body.insert("results".into(), json!(page.entries));
    body.insert("result_count".into(), json!(page.entries.len()));
    if let Some(c) = page.next_before {
        body.insert("cursor".into(), json!(c.to_string()));
    }
    Ok(axum::Json(Value::Object(body)).into_response())
}
