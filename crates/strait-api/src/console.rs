//! The web console: NSX Manager's *Networking > VPN* pages, as plain HTML, CSS and
//! JavaScript modules embedded in the binary (`include_bytes!`), served on straitd's HTTPS
//! port (docs/console.md).
//!
//! The shell and its static assets load without authentication (contract §Authentication);
//! everything the console fetches afterwards goes through the authenticated API. Every
//! console response carries a strict Content-Security-Policy: the console has no inline
//! scripts or styles and loads nothing from outside the gateway.

use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The Content-Security-Policy of every console response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// One embedded file of the console.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// File name under `/assets/` (or `index.html`).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($name:literal, $ct:expr) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("../console/assets/", $name)),
        }
    };
}

/// The console shell, served at `/` and `/login`.
pub const INDEX: Asset = Asset {
    name: "index.html",
    content_type: HTML,
    body: include_bytes!("../console/index.html"),
};

/// Every file served under `/assets/`.
pub const ASSETS: &[Asset] = &[
    asset!("app.css", CSS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("data.js", JS),
    asset!("dom.js", JS),
    asset!("ui.js", JS),
    asset!("table.js", JS),
    asset!("forms.js", JS),
    asset!("services.js", JS),
    asset!("sessions.js", JS),
    asset!("session-form.js", JS),
    asset!("endpoints.js", JS),
    asset!("profiles.js", JS),
    asset!("certificates.js", JS),
    asset!("cert-info.js", JS),
    asset!("tier0.js", JS),
    asset!("bgp-forms.js", JS),
    asset!("favicon.svg", SVG),
];

/// Paths reserved for the console shell and its assets: served without authentication.
pub fn is_console_path(path: &str) -> bool {
    path == "/" || path == "/login" || path.starts_with("/assets/")
}

/// The embedded asset called `name` (the part after `/assets/`), if there is one.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// Headers every console response carries (docs/console.md §Serving).
fn secure(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::CACHE_CONTROL, "no-cache");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    resp
}

fn serve(a: &'static Asset) -> Response {
    secure(([(header::CONTENT_TYPE, a.content_type)], a.body).into_response())
}

/// `GET /` and `GET /login`: the console shell.
pub async fn index() -> Response {
    serve(&INDEX)
}

/// `GET /assets/{*file}`: an embedded file, or 404.
pub async fn asset_file(Path(file): Path<String>) -> Response {
    match asset(&file) {
        Some(a) => serve(a),
        None => secure(
            ApiError::not_found(format!(
                "/assets/{file} is not a file of the web console; the console starts at /"
            ))
            .into_response(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_paths_are_the_shell_and_assets() {
        assert!(is_console_path("/"));
        assert!(is_console_path("/login"));
        assert!(is_console_path("/assets/app.js"));
        assert!(!is_console_path("/policy/api/v1/infra/tier-0s"));
        assert!(!is_console_path("/api/v1/users"));
        assert!(!is_console_path("/assetsx"));
    }

    #[test]
    fn every_asset_has_a_unique_name_and_content() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(!a.body.is_empty(), "{} is empty", a.name);
            assert!(
                ASSETS[..i].iter().all(|b| b.name != a.name),
                "{} listed twice",
                a.name
            );
        }
        assert!(asset("app.js").is_some());
        assert!(asset("nope.js").is_none());
        assert!(asset("../index.html").is_none());
    }

    #[test]
    fn every_file_of_the_assets_directory_is_served() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/console/assets");
        for entry in std::fs::read_dir(dir).expect("console/assets") {
            let name = entry.expect("entry").file_name();
            let name = name.to_string_lossy();
            assert!(
                asset(&name).is_some(),
                "console/assets/{name} is not listed in ASSETS (a module the console imports would 404)"
            );
        }
    }
}
