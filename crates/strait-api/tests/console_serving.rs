//! The web console's files, served by the API router (docs/console.md §Serving): the shell and
//! its assets load without authentication, with their content types and security headers;
//! unknown assets are 404; everything the console fetches still needs a login; every file the
//! shell or a module refers to is embedded.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use tower::ServiceExt;

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn router() -> (axum::Router, TempDir) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "strait-console-test-{}-{nanos}",
        std::process::id()
    ));
    let store = strait_store::Store::open(&dir).expect("store");
    let policy = strait_policy::Policy::open(Arc::new(store)).expect("policy");
    (
        strait_api::router(strait_api::AppState::new(policy)),
        TempDir(dir),
    )
}

async fn send(app: &axum::Router, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    app.clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response")
}

async fn body_text(resp: Response) -> String {
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

fn header_of<'a>(resp: &'a Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[track_caller]
fn assert_console_headers(resp: &Response, what: &str) {
    assert_eq!(
        header_of(resp, "content-security-policy"),
        CSP,
        "{what}: CSP"
    );
    assert_eq!(
        header_of(resp, "x-content-type-options"),
        "nosniff",
        "{what}"
    );
    assert_eq!(header_of(resp, "referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header_of(resp, "cache-control"), "no-cache", "{what}");
}

/// Values of `attr="..."` in an HTML or JS text.
fn attribute_values(text: &str, attr: &str) -> Vec<String> {
    let needle = format!("{attr}=\"");
    text.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &text[i + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect()
}

/// Module specifiers of static `import ... from './x.js'` statements.
fn imports(js: &str) -> Vec<String> {
    let mut out = Vec::new();
    for quote in ['\'', '"'] {
        let needle = format!("from {quote}./");
        for (i, _) in js.match_indices(&needle) {
            let rest = &js[i + needle.len()..];
            if let Some(end) = rest.find(quote) {
                out.push(rest[..end].to_owned());
            }
        }
    }
    out
}

#[tokio::test]
async fn the_shell_loads_without_login_with_its_security_headers() {
    let (app, _dir) = router();
    for path in ["/", "/login"] {
        let resp = send(&app, "GET", path, &[]).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header_of(&resp, "content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_console_headers(&resp, path);
        let html = body_text(resp).await;
        assert!(
            html.contains(r#"<script type="module" src="/assets/app.js"></script>"#),
            "{path}: loads the entry module"
        );
        // No inline script or style (the CSP would block them).
        assert!(!html.contains("<style"), "{path}: inline <style>");
        assert!(!html.contains(" style="), "{path}: inline style attribute");
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..i + html[i..].find('>').expect("tag end")];
            assert!(tag.contains(" src="), "{path}: inline script {tag}");
        }
    }
    let head = send(&app, "HEAD", "/", &[]).await;
    assert_eq!(head.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_asset_the_shell_and_its_modules_refer_to_is_served() {
    let (app, _dir) = router();
    let html = body_text(send(&app, "GET", "/", &[]).await).await;
    let mut todo: Vec<String> = attribute_values(&html, "src")
        .into_iter()
        .chain(attribute_values(&html, "href"))
        .collect();
    assert!(todo.len() >= 3, "index.html refers to its assets: {todo:?}");
    let mut seen = std::collections::BTreeSet::new();
    while let Some(url) = todo.pop() {
        let name = url
            .strip_prefix("/assets/")
            .unwrap_or_else(|| panic!("{url}: every file of the console lives under /assets/"))
            .to_owned();
        if !seen.insert(name.clone()) {
            continue;
        }
        let resp = send(&app, "GET", &url, &[]).await;
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert_console_headers(&resp, &url);
        let ct = header_of(&resp, "content-type").to_owned();
        let want = match name.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("{url}: unexpected file type {other:?}"),
        };
        assert_eq!(ct, want, "{url}");
        let text = body_text(resp).await;
        assert!(!text.is_empty(), "{url} is empty");
        if name.ends_with(".js") {
            // Nothing from outside the gateway.
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{url}: external URL"
            );
            todo.extend(imports(&text).into_iter().map(|m| format!("/assets/{m}")));
        }
    }
    // Every embedded file is in use (nothing stale is shipped).
    for a in strait_api::console::ASSETS {
        assert!(
            seen.contains(a.name),
            "{} is embedded but never referenced",
            a.name
        );
    }
}

#[tokio::test]
async fn unknown_assets_are_404_and_the_api_still_needs_a_login() {
    let (app, _dir) = router();
    for path in [
        "/assets/no-such-file.js",
        "/assets/../index.html",
        "/assets/app.js.map",
    ] {
        let resp = send(&app, "GET", path, &[]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(header_of(&resp, "content-security-policy"), CSP, "{path}");
    }
    // What the console fetches needs the login; a Basic client is challenged...
    let resp = send(&app, "GET", "/policy/api/v1/infra/tier-0s", &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key(header::WWW_AUTHENTICATE));
    // ...the console (a script in a page) is not, so that the browser shows no Basic-auth
    // prompt and the console can show its own login form.
    let resp = send(
        &app,
        "GET",
        "/policy/api/v1/infra/tier-0s",
        &[("x-requested-with", "XMLHttpRequest")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(!resp.headers().contains_key(header::WWW_AUTHENTICATE));
    // Only GET and HEAD of the console paths are public.
    let resp = send(&app, "POST", "/", &[]).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
