//! The web console as the straitd binary serves it over HTTPS (docs/console.md): the shell and
//! its assets without login, with their content types and security headers; 404 for unknown
//! assets; and the cookie-session protocol the console drives the API with.
mod common;

use common::{Daemon, ADMIN_PASSWORD};

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn header<'a>(r: &'a common::Resp, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[test]
fn straitd_serves_the_console_without_login() {
    let d = Daemon::start();
    let anon = d.anonymous();
    for (path, ct) in [
        ("/", "text/html; charset=utf-8"),
        ("/login", "text/html; charset=utf-8"),
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
    ] {
        let r = anon.get(path).expect(200);
        assert_eq!(header(&r, "content-type"), ct, "{path}");
        assert_eq!(header(&r, "content-security-policy"), CSP, "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&r, "referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header(&r, "cache-control"), "no-cache", "{path}");
        assert!(!r.text.is_empty(), "{path}");
    }
    // The shell refers only to embedded files, and each of them is served.
    let html = anon.get("/").text;
    let refs: Vec<&str> = ["src=\"", "href=\""]
        .iter()
        .flat_map(|n| html.match_indices(n).map(move |(i, _)| i + n.len()))
        .filter_map(|start| html[start..].find('"').map(|end| &html[start..start + end]))
        .collect();
    assert!(refs.contains(&"/assets/app.js"), "{refs:?}");
    for r in refs {
        assert!(r.starts_with("/assets/"), "{r}: not an embedded asset");
        anon.get(r).expect(200);
    }
    let r = anon.get("/assets/no-such-file.js").expect(404);
    assert_eq!(header(&r, "content-security-policy"), CSP);
    // What the console fetches needs the login.
    let r = anon.get("/policy/api/v1/infra/tier-0s").expect(401);
    assert!(r.headers.contains_key("www-authenticate"));
    let r = anon
        .request(
            "GET",
            "/policy/api/v1/infra/tier-0s",
            None,
            &[("x-requested-with", "XMLHttpRequest")],
        )
        .expect(401);
    assert!(
        !r.headers.contains_key("www-authenticate"),
        "a script's 401 carries no Basic challenge (no browser prompt)"
    );
}

#[test]
fn the_console_session_protocol() {
    let d = Daemon::start();
    let anon = d.anonymous();
    let login = anon
        .form(
            "/api/session/create",
            &format!("j_username=admin&j_password={ADMIN_PASSWORD}"),
        )
        .expect(200);
    assert_eq!(login.body["username"], "admin");
    assert_eq!(login.body["role"], "admin");
    let xsrf = header(&login, "x-xsrf-token").to_owned();
    assert!(!xsrf.is_empty());
    let cookie = header(&login, "set-cookie")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.starts_with("JSESSIONID="), "{cookie}");
    let h = [
        ("cookie", cookie.as_str()),
        ("x-requested-with", "XMLHttpRequest"),
    ];
    anon.request("GET", "/api/v1/users/admin", None, &h)
        .expect(200);
    let t0 = r#"{"display_name":"t0"}"#;
    // A change needs the anti-CSRF token...
    anon.request("PATCH", "/policy/api/v1/infra/tier-0s/t0", Some(t0), &h)
        .expect(403);
    let with_token = [h[0], h[1], ("x-xsrf-token", xsrf.as_str())];
    anon.request(
        "PATCH",
        "/policy/api/v1/infra/tier-0s/t0",
        Some(t0),
        &with_token,
    )
    .expect(200);
    // ...and after logout the cookie is worthless.
    anon.request("POST", "/api/session/destroy", None, &with_token)
        .expect(200);
    anon.request("GET", "/policy/api/v1/infra/tier-0s", None, &h)
        .expect(401);
}
