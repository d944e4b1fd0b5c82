//! Authentication: HTTP Basic on every request, or NSX's cookie session
//! (`POST /api/session/create` with `j_username`/`j_password` gives cookie `JSESSIONID`
//! and header `X-XSRF-TOKEN`; cookie-authenticated changes must echo that header).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use strait_policy::Actor;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::AppState;

/// Name of the session cookie (NSX's).
pub const SESSION_COOKIE: &str = "JSESSIONID";
/// Header carrying the anti-CSRF token.
pub const XSRF_HEADER: &str = "x-xsrf-token";
/// A session ends after this long without use (NSX's default `session_timeout`).
pub const SESSION_IDLE: Duration = Duration::from_secs(1800);
/// A session ends this long after login regardless of use.
pub const SESSION_MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// Concurrent sessions kept; the oldest is dropped beyond this.
pub const SESSIONS_MAX: usize = 10_000;

struct LoginSession {
    actor: Actor,
    xsrf: String,
    created: Instant,
    last_used: Instant,
}

/// Cookie sessions, in memory (a restart logs everybody out, which is the safe default).
#[derive(Default)]
pub struct LoginSessions {
    map: Mutex<HashMap<String, LoginSession>>,
}

fn random_token() -> Result<String, ApiError> {
    use aws_lc_rs::rand::SecureRandom;
    let mut b = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| ApiError::internal())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

impl LoginSessions {
    /// Start a session; returns (session id, XSRF token).
    pub fn create(&self, actor: Actor) -> Result<(String, String), ApiError> {
        let id = random_token()?;
        let xsrf = random_token()?;
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| {
            s.last_used.elapsed() < SESSION_IDLE && s.created.elapsed() < SESSION_MAX_AGE
        });
        if map.len() >= SESSIONS_MAX {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            id.clone(),
            LoginSession {
                actor,
                xsrf: xsrf.clone(),
                created: now,
                last_used: now,
            },
        );
        Ok((id, xsrf))
    }

    fn lookup(&self, id: &str) -> Option<(Actor, String)> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let live = map.get(id).is_some_and(|s| {
            s.last_used.elapsed() < SESSION_IDLE && s.created.elapsed() < SESSION_MAX_AGE
        });
        if !live {
            map.remove(id);
            return None;
        }
        let s = map.get_mut(id)?;
        s.last_used = Instant::now();
        Some((s.actor.clone(), s.xsrf.clone()))
    }

    /// The XSRF token of a live session (without counting as a use of it).
    fn xsrf_token(&self, id: &str) -> Option<String> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .filter(|s| {
                s.last_used.elapsed() < SESSION_IDLE && s.created.elapsed() < SESSION_MAX_AGE
            })
            .map(|s| s.xsrf.clone())
    }

    /// End one session.
    pub fn destroy(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// End every session of a user (after a password or role change, or deletion).
    pub fn destroy_user(&self, user: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, s| s.actor.user != user);
    }
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, Zeroizing<String>), ApiError>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let bad = || {
        ApiError::unauthenticated("the Authorization header is not valid HTTP Basic credentials (Basic base64(user:password))")
    };
    let parse = || -> Result<(String, Zeroizing<String>), ApiError> {
        let v = value.to_str().map_err(|_| bad())?;
        let (scheme, b64) = v.split_once(' ').ok_or_else(bad)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(ApiError::unauthenticated(format!(
                "authentication scheme {scheme:?} is not supported; use HTTP Basic or a session cookie from POST /api/session/create"
            )));
        }
        let raw = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| bad())?,
        );
        let text = std::str::from_utf8(&raw).map_err(|_| bad())?;
        let (user, pass) = text.split_once(':').ok_or_else(bad)?;
        Ok((user.to_owned(), Zeroizing::new(pass.to_owned())))
    };
    Some(parse())
}

/// Whether a path is served without authentication.
fn is_public(method: &Method, path: &str) -> bool {
    match (method, path) {
        (&Method::GET, "/healthz")
        | (&Method::POST, "/api/session/create")
        | (&Method::POST, "/api/session/destroy") => true,
        (&Method::GET | &Method::HEAD, p) => crate::console::is_console_path(p),
        _ => false,
    }
}

/// Whether the request comes from a script in a browser page (the web console sends
/// `X-Requested-With: XMLHttpRequest`, as NSX's UI does): its 401s carry no Basic challenge.
fn is_browser_app(headers: &HeaderMap) -> bool {
    headers
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("XMLHttpRequest"))
}

/// Check credentials off the async runtime (argon2 is deliberately slow).
pub async fn authenticate(
    state: &AppState,
    user: String,
    password: Zeroizing<String>,
    source: Option<IpAddr>,
) -> Result<Actor, ApiError> {
    let policy = state.policy.clone();
    tokio::task::spawn_blocking(move || policy.accounts().authenticate(&user, &password, source))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(ApiError::from)
}

/// The client's address, when the server was started with connect info.
fn client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Middleware: attach the [`Actor`] to every request that is not public, or answer 401.
pub async fn require_auth(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if is_public(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let actor = match basic_credentials(req.headers()) {
        Some(Ok((user, pass))) => {
            match authenticate(&state, user, pass, client_ip(req.extensions())).await {
                Ok(a) => a,
                Err(e) => return e.into_response(),
            }
        }
        Some(Err(e)) => return e.into_response(),
        None => match session_cookie(req.headers()).and_then(|id| state.sessions.lookup(&id)) {
            Some((actor, xsrf)) => {
                let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
                let sent = req.headers().get(XSRF_HEADER).and_then(|v| v.to_str().ok());
                if !safe && !sent.is_some_and(|s| constant_time_eq(s.as_bytes(), xsrf.as_bytes())) {
                    return ApiError::forbidden(
                        "a change made with a session cookie must carry the X-XSRF-TOKEN header returned by POST /api/session/create",
                    )
                    .into_response();
                }
                actor
            }
            None => {
                let mut resp = ApiError::unauthenticated(
                    "authentication required: send HTTP Basic credentials, or log in with POST /api/session/create (form fields j_username, j_password) and send the JSESSIONID cookie",
                )
                .into_response();
                if is_browser_app(req.headers()) {
                    // A challenge would make the browser open its own Basic-auth prompt (or
                    // hold the request) instead of letting the web console show its login.
                    resp.headers_mut().remove(header::WWW_AUTHENTICATE);
                }
                return resp;
            }
        },
    };
    req.extensions_mut().insert(actor);
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// `POST /api/session/create`: form login.
pub async fn login(State(state): State<AppState>, req: Request) -> Response {
    let source = client_ip(req.extensions());
    let headers = req.headers().clone();
    let body = match crate::body::read_limited(req.into_body(), "login form").await {
        Ok(b) => Zeroizing::new(b),
        Err(e) => return e.into_response(),
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") && !ct.is_empty() {
        return ApiError::bad_request("send the login as a form (Content-Type: application/x-www-form-urlencoded) with fields j_username and j_password").into_response();
    }
    let mut user = None;
    let mut pass = None;
    for pair in body.split(|b| *b == b'&') {
        let mut kv = pair.splitn(2, |b| *b == b'=');
        let k = kv.next().unwrap_or_default();
        let v = kv.next().unwrap_or_default();
        let decode = |s: &[u8]| -> Option<String> {
            let s: Vec<u8> = s
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            percent_encoding::percent_decode(&s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        };
        match k {
            b"j_username" => user = decode(v),
            b"j_password" => pass = decode(v).map(Zeroizing::new),
            _ => {}
        }
    }
    let (Some(user), Some(pass)) = (user, pass) else {
        return ApiError::bad_request("the login form needs the fields j_username and j_password")
            .into_response();
    };
    let actor = match authenticate(&state, user.clone(), pass, source).await {
        Ok(a) => a,
        Err(e) if e.error_code == crate::error::codes::TOO_MANY_REQUESTS => {
            return e.into_response()
        }
        // NSX answers a failed form login with 403.
        Err(_) => {
            return ApiError::forbidden("login failed: the username or password is incorrect")
                .into_response()
        }
    };
    let (id, xsrf) = match state.sessions.create(actor.clone()) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let cookie = format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; Secure; SameSite=Strict");
    let mut resp =
        axum::Json(serde_json::json!({"username": actor.user, "role": actor.role})).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&xsrf) {
        resp.headers_mut().insert(XSRF_HEADER, v);
    }
    resp
}

/// `POST /api/session/destroy`: logout.
///
/// Ending a live session is a change like any other, so it needs the session's
/// X-XSRF-TOKEN too: without it, any page the user visits could log them out (a forged
/// cross-site request carries the cookie but cannot read the token). A cookie that names
/// no live session has nothing left to protect and is simply cleared.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = session_cookie(&headers) {
        if let Some(xsrf) = state.sessions.xsrf_token(&id) {
            let sent = headers.get(XSRF_HEADER).and_then(|v| v.to_str().ok());
            if !sent.is_some_and(|s| constant_time_eq(s.as_bytes(), xsrf.as_bytes())) {
                return ApiError::forbidden(
                    "logging out with a session cookie must carry the X-XSRF-TOKEN header returned by POST /api/session/create; the session was not ended",
                )
                .into_response();
            }
            state.sessions.destroy(&id);
        }
    }
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "JSESSIONID=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        ),
    );
    resp
}
