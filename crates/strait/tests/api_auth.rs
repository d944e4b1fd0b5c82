//! Authentication, roles, users, the initial admin password and the audit log, against the
//! real straitd.
mod common;

use common::{assert_nsx_error, seed, url, Daemon, Http, Resp, ADMIN_PASSWORD, P};
use serde_json::{json, Value};

const AUDITOR_PASSWORD: &str = "auditor-pass-1";

fn users(name: &str) -> String {
    format!("/api/v1/users/{name}")
}

fn add_user(h: &Http, name: &str, role: &str, password: &str) -> Resp {
    h.put(&users(name), &json!({"role": role, "password": password}))
}

/// The JSESSIONID cookie and XSRF token of a successful form login.
fn login(d: &Daemon, user: &str, password: &str) -> (String, String) {
    let r = d.anonymous().form(
        "/api/session/create",
        &format!("j_username={user}&j_password={password}"),
    );
    assert_eq!(r.status, 200, "login failed: {}", r.text);
    let cookie = r
        .headers
        .get("set-cookie")
        .expect("Set-Cookie")
        .to_str()
        .unwrap()
        .to_owned();
    let id = cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("JSESSIONID=")
        .expect("JSESSIONID cookie")
        .to_owned();
    assert!(id.len() >= 32, "session id too short: {id}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure"),
        "{cookie}"
    );
    let xsrf = r
        .headers
        .get("x-xsrf-token")
        .expect("X-XSRF-TOKEN header")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!xsrf.is_empty() && xsrf != id);
    (id, xsrf)
}

// ------------------------------------------------------------- authentication

#[test]
fn everything_but_healthz_needs_credentials() {
    let d = Daemon::start();
    seed::base(&d.admin());
    let anon = d.anonymous();
    let r = anon.get("/healthz").expect(200);
    assert_eq!(r.text, "ok");
    for (m, path) in [
        ("GET", format!("{P}/infra/tier-0s")),
        ("GET", seed::T0.to_owned()),
        ("PATCH", seed::T0.to_owned()),
        ("PUT", seed::T0.to_owned()),
        ("DELETE", seed::T0.to_owned()),
        (
            "GET",
            format!("{}?action=show_sensitive_data", seed::session_url("s1")),
        ),
        ("GET", format!("{P}/infra/ipsec-vpn-ike-profiles")),
        ("GET", format!("{P}/infra/does-not-exist")),
        ("GET", "/api/v1/users".to_owned()),
        ("GET", users("admin")),
        ("PUT", users("eve")),
        ("DELETE", users("admin")),
        ("GET", "/api/v1/audit-log".to_owned()),
        ("GET", "/api/v1/spec/openapi.json".to_owned()),
        ("GET", "/api/v1/unknown".to_owned()),
        ("POST", "/healthz".to_owned()),
    ] {
        let r = anon.raw(
            m,
            &path,
            "{\"role\": \"admin\", \"password\": \"eve-password\"}",
        );
        assert_nsx_error(&r, 401);
        assert_eq!(r.body["httpStatus"], "UNAUTHORIZED", "{m} {path}");
        assert!(r.headers.get("www-authenticate").is_some(), "{m} {path}");
    }
    // Nothing was changed by those.
    d.admin().get(seed::T0).expect(200);
    assert_eq!(
        d.admin().get("/api/v1/users").expect(200).body["result_count"],
        1
    );

    // Wrong passwords, unknown users and malformed headers are 401 too.
    for h in [
        d.as_user("admin", "wrong-password"),
        d.as_user("nobody", ADMIN_PASSWORD),
        d.as_user("", ""),
    ] {
        assert_nsx_error(&h.get(seed::T0), 401);
    }
    for auth in [
        "Basic !!!notbase64",
        "Bearer abc.def",
        "Basic",
        "Basic YWRtaW4=",
    ] {
        let r = anon.request("GET", seed::T0, None, &[("authorization", auth)]);
        assert_nsx_error(&r, 401);
    }
    // The right password works, and the OpenAPI document is served to users.
    let spec = d.admin().get("/api/v1/spec/openapi.json").expect(200).body;
    assert!(spec["openapi"].is_string());
}

#[test]
fn cookie_sessions_with_xsrf() {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    let anon = d.anonymous();
    let (id, xsrf) = login(&d, "admin", ADMIN_PASSWORD);
    let cookie = format!("JSESSIONID={id}");
    let get = anon
        .request("GET", seed::T0, None, &[("cookie", &cookie)])
        .expect(200);
    assert_eq!(get.body["id"], "t0");
    // A change without the XSRF header: 403, and nothing changes.
    let body = json!({"description": "via cookie"}).to_string();
    let r = anon.request("PATCH", seed::T0, Some(&body), &[("cookie", &cookie)]);
    assert_nsx_error(&r, 403);
    assert!(r.text.contains("X-XSRF-TOKEN"), "{}", r.text);
    let r = anon.request(
        "PATCH",
        seed::T0,
        Some(&body),
        &[("cookie", &cookie), ("x-xsrf-token", "forged")],
    );
    assert_nsx_error(&r, 403);
    assert!(h
        .get(seed::T0)
        .expect(200)
        .body
        .get("description")
        .is_none());
    // With it: fine.
    anon.request(
        "PATCH",
        seed::T0,
        Some(&body),
        &[("cookie", &cookie), ("x-xsrf-token", &xsrf)],
    )
    .expect(200);
    assert_eq!(
        h.get(seed::T0).expect(200).body["description"],
        "via cookie"
    );
    assert_eq!(
        h.get(seed::T0).expect(200).body["_last_modified_user"],
        "admin"
    );
    // A cookie from another login does not go with this XSRF token.
    let (id2, _) = login(&d, "admin", ADMIN_PASSWORD);
    let r = anon.request(
        "DELETE",
        seed::T0,
        None,
        &[
            ("cookie", &format!("JSESSIONID={id2}")),
            ("x-xsrf-token", &xsrf),
        ],
    );
    assert_nsx_error(&r, 403);
    // Logout ends the session (it is a change, so it needs the token too).
    assert_nsx_error(
        &anon.request("POST", "/api/session/destroy", None, &[("cookie", &cookie)]),
        403,
    );
    let r = anon
        .request(
            "POST",
            "/api/session/destroy",
            None,
            &[("cookie", &cookie), ("x-xsrf-token", &xsrf)],
        )
        .expect(200);
    assert!(r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_nsx_error(
        &anon.request("GET", seed::T0, None, &[("cookie", &cookie)]),
        401,
    );
    // The other session is unaffected.
    anon.request(
        "GET",
        seed::T0,
        None,
        &[("cookie", &format!("JSESSIONID={id2}"))],
    )
    .expect(200);
    // Garbage cookies are 401.
    assert_nsx_error(
        &anon.request("GET", seed::T0, None, &[("cookie", "JSESSIONID=made-up")]),
        401,
    );

    // Failed form logins are 403 (as NSX), with an NSX body; incomplete forms are 400.
    let r = anon.form(
        "/api/session/create",
        &format!("j_username=admin&j_password={ADMIN_PASSWORD}x"),
    );
    assert_nsx_error(&r, 403);
    assert!(r.headers.get("set-cookie").is_none());
    let r = anon.form(
        "/api/session/create",
        "j_username=ghost&j_password=whatever1",
    );
    assert_nsx_error(&r, 403);
    assert_nsx_error(&anon.form("/api/session/create", "j_username=admin"), 400);
    // Form fields are URL-decoded.
    add_user(&h, "odd", "auditor", "p@ss w&rd=1").expect(200);
    let r = anon
        .form(
            "/api/session/create",
            "j_username=odd&j_password=p%40ss+w%26rd%3D1",
        )
        .expect(200);
    assert_eq!(r.body["role"], "auditor");
    // An auditor's cookie session reads, and cannot write even with the XSRF token.
    let (aid, axsrf) = login(&d, "odd", "p%40ss+w%26rd%3D1");
    let acookie = format!("JSESSIONID={aid}");
    anon.request("GET", seed::T0, None, &[("cookie", &acookie)])
        .expect(200);
    let r = anon.request(
        "PATCH",
        seed::T0,
        Some(&body),
        &[("cookie", &acookie), ("x-xsrf-token", &axsrf)],
    );
    assert_nsx_error(&r, 403);
    assert!(r.text.contains("read-only"), "{}", r.text);
    // Deleting the user ends their sessions.
    h.delete(&users("odd")).expect(200);
    assert_nsx_error(
        &anon.request("GET", seed::T0, None, &[("cookie", &acookie)]),
        401,
    );
}

// ---------------------------------------------------------------------- roles

#[test]
fn auditors_read_but_never_write_or_see_secrets() {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    h.patch(
        &seed::session_url("s1"),
        &seed::session("203.0.113.2", "169.254.100.1"),
    )
    .expect(200);
    let r = add_user(&h, "aud", "auditor", AUDITOR_PASSWORD).expect(200);
    assert_eq!(r.body["username"], "aud");
    assert_eq!(r.body["role"], "auditor");
    assert!(
        r.body.get("password").is_none() && !r.text.contains("argon2"),
        "{}",
        r.text
    );
    let a = d.as_user("aud", AUDITOR_PASSWORD);

    // Reads work.
    a.get(seed::T0).expect(200);
    a.get(seed::SESSIONS).expect(200);
    a.get("/api/v1/audit-log").expect(200);
    a.get("/api/v1/users").expect(200);
    // Writes are 403 with an NSX body, and change nothing.
    let s1 = seed::session_url("s1");
    for r in [
        a.patch(&s1, &json!({"description": "x"})),
        a.put(&s1, &json!({"description": "x", "_revision": 0})),
        a.delete(&s1),
        a.patch(&url("/infra/tier-0s/new"), &json!({})),
        a.delete(&url("/infra/tier-0s/does-not-exist")),
        a.put(
            &users("mallory"),
            &json!({"role": "admin", "password": "mallory-pass"}),
        ),
        a.delete(&users("admin")),
        a.put(&users("aud"), &json!({"role": "admin"})),
    ] {
        assert_nsx_error(&r, 403);
        assert_eq!(r.body["httpStatus"], "FORBIDDEN");
    }
    assert!(h.get(&s1).expect(200).body.get("description").is_none());
    assert_nsx_error(&h.get(&url("/infra/tier-0s/new")), 404);
    assert_eq!(h.get(&users("aud")).expect(200).body["role"], "auditor");
    // Secrets: 403 on show_sensitive_data for the auditor, the PSK for the admin.
    let r = a.get(&format!("{s1}?action=show_sensitive_data"));
    assert_nsx_error(&r, 403);
    assert!(!r.text.contains("correct horse"));
    let s = h
        .get(&format!("{s1}?action=show_sensitive_data"))
        .expect(200)
        .body;
    assert_eq!(s["psk"], "correct horse battery staple");
    // Never in a normal GET or list, for anyone.
    for who in [&h, &a] {
        for p in [s1.clone(), seed::SESSIONS.to_owned()] {
            let r = who.get(&p).expect(200);
            assert!(!r.text.contains("correct horse"), "{p}: {}", r.text);
            assert!(!r.text.contains("\"psk\""), "{p}: {}", r.text);
        }
        // Asking for it by name: no object shows a psk field, so it is an error.
        let p = format!("{}?included_fields=psk,id", seed::SESSIONS);
        let r = who.get(&p);
        assert_nsx_error(&r, 400);
        assert!(!r.text.contains("correct horse"), "{p}: {}", r.text);
    }
    assert_nsx_error(&h.get(&format!("{s1}?action=reveal")), 400);
}

// ---------------------------------------------------------------------- users

#[test]
fn users_api() {
    let d = Daemon::start();
    let h = d.admin();
    let list = h.get("/api/v1/users").expect(200).body;
    assert_eq!(list["result_count"], 1);
    assert_eq!(list["results"][0]["username"], "admin");
    assert_eq!(list["results"][0]["role"], "admin");
    assert!(
        list["results"][0].get("password").is_none()
            && list["results"][0].get("password_hash").is_none()
    );

    add_user(&h, "aud", "auditor", AUDITOR_PASSWORD).expect(200);
    assert_eq!(h.get(&users("aud")).expect(200).body["role"], "auditor");
    assert_eq!(h.get("/api/v1/users").expect(200).body["result_count"], 2);
    assert_nsx_error(&h.get(&users("ghost")), 404);
    // Validation.
    add_user(&h, "short", "auditor", "short").expect_problem("password", "8 to 128");
    add_user(&h, "role", "root", "good-password").expect_problem("role", "admin");
    h.put(&users("nopw"), &json!({"role": "auditor"}))
        .expect_problem("password", "required for a new user");
    h.put(&users("norole"), &json!({"password": "good-password"}))
        .expect_problem("role", "required");
    assert_nsx_error(&add_user(&h, "bad name", "auditor", "good-password"), 400);
    add_user(&h, "same", "auditor", "same").expect_problem("password", "");
    h.put(
        &users("x1"),
        &json!({"username": "x2", "role": "auditor", "password": "good-password"}),
    )
    .expect_problem("username", "make them equal");
    h.put(
        &users("x1"),
        &json!({"role": "auditor", "password": "good-password", "shoe_size": 9}),
    )
    .expect_problem("shoe_size", "has no field");
    assert_nsx_error(&h.get(&users("x1")), 404);

    // An auditor changes their own password with old_password.
    let a = d.as_user("aud", AUDITOR_PASSWORD);
    a.put(&users("aud"), &json!({"password": "auditor-pass-2"}))
        .expect_problem("old_password", "old_password");
    a.put(
        &users("aud"),
        &json!({"password": "auditor-pass-2", "old_password": "wrong-one-1"}),
    )
    .expect_problem("old_password", "not your current password");
    a.put(
        &users("aud"),
        &json!({"password": "auditor-pass-2", "old_password": AUDITOR_PASSWORD}),
    )
    .expect(200);
    assert_nsx_error(
        &d.as_user("aud", AUDITOR_PASSWORD).get("/api/v1/users"),
        401,
    );
    let a2 = d.as_user("aud", "auditor-pass-2");
    a2.get("/api/v1/users").expect(200);
    // ...but not their role, nor anyone else's password.
    assert_nsx_error(&a2.put(&users("aud"), &json!({"role": "admin"})), 403);
    assert_nsx_error(
        &a2.put(&users("admin"), &json!({"password": "new-admin-pass"})),
        403,
    );
    // An admin sets another user's password without old_password.
    h.put(&users("aud"), &json!({"password": "auditor-pass-3"}))
        .expect(200);
    d.as_user("aud", "auditor-pass-3")
        .get("/api/v1/users")
        .expect(200);

    // The last admin can be neither deleted nor demoted.
    let r = h.delete(&users("admin"));
    assert_nsx_error(&r, 400);
    assert!(r.text.contains("last admin"), "{}", r.text);
    h.put(&users("admin"), &json!({"role": "auditor"}))
        .expect_problem("role", "last admin");
    assert_eq!(h.get(&users("admin")).expect(200).body["role"], "admin");
    // With a second admin, both work.
    add_user(&h, "admin2", "admin", "admin2-password").expect(200);
    h.put(&users("admin"), &json!({"role": "auditor"}))
        .expect(200);
    let h2 = d.as_user("admin2", "admin2-password");
    assert_nsx_error(&d.admin().patch(&url("/infra/tier-0s/x"), &json!({})), 403);
    h2.delete(&users("admin")).expect(200);
    assert_nsx_error(&h2.delete(&users("admin2")), 400);
    // Deleting a missing user is idempotent.
    h2.delete(&users("admin")).expect(200);
    assert_nsx_error(&d.admin().get("/api/v1/users"), 401);

    // Passwords are stored as argon2 hashes.
    let db = rusqlite::Connection::open_with_flags(
        d.path("strait.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare("SELECT username, password_hash FROM users")
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2, "aud and admin2: {rows:?}");
    for (u, hash) in rows {
        assert!(hash.starts_with("$argon2"), "{u}: {hash}");
        assert!(!hash.contains("auditor-pass") && !hash.contains("admin2-password"));
    }
}

// ---------------------------------------------------------- initial password

#[test]
fn generated_initial_admin_password() {
    let mut d = Daemon::start_with_env(&[]);
    let file = d.path("initial-admin-password");
    let password = std::fs::read_to_string(&file)
        .expect("initial-admin-password written")
        .trim()
        .to_owned();
    assert!(password.len() >= 16, "a strong password: {password:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let lines = d.stderr_lines();
    let want = format!("initial admin password written to {}", file.display());
    assert_eq!(lines.iter().filter(|l| **l == want).count(), 1, "{lines:?}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("initial admin password"))
            .count(),
        1,
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains(&password)),
        "the password must never be printed: {lines:?}"
    );
    let h = d.as_user("admin", &password);
    h.get("/api/v1/users").expect(200);

    // A later start ignores STRAIT_ADMIN_PASSWORD and prints nothing about the password.
    d.set_env("STRAIT_ADMIN_PASSWORD", "from-the-environment");
    d.restart();
    assert_nsx_error(
        &d.as_user("admin", "from-the-environment")
            .get("/api/v1/users"),
        401,
    );
    d.as_user("admin", &password)
        .get("/api/v1/users")
        .expect(200);
    assert_eq!(
        d.stderr_lines()
            .iter()
            .filter(|l| l.contains("initial admin password"))
            .count(),
        1
    );
    assert!(file.exists());

    // Changing the admin password removes the file.
    let h = d.as_user("admin", &password);
    h.put(
        &users("admin"),
        &json!({"password": "a-new-admin-pass", "old_password": password}),
    )
    .expect(200);
    assert!(
        !file.exists(),
        "initial-admin-password must be deleted once the password is changed"
    );
    d.as_user("admin", "a-new-admin-pass")
        .get("/api/v1/users")
        .expect(200);
    assert_nsx_error(&d.as_user("admin", &password).get("/api/v1/users"), 401);
    d.restart();
    assert!(!file.exists());
    d.as_user("admin", "a-new-admin-pass")
        .get("/api/v1/users")
        .expect(200);
}

#[test]
fn environment_password_is_used_once() {
    let mut d = Daemon::start();
    assert!(!d.path("initial-admin-password").exists());
    assert!(d.stderr_lines().iter().all(|l| !l.contains(ADMIN_PASSWORD)));
    d.admin().get("/api/v1/users").expect(200);
    d.set_env("STRAIT_ADMIN_PASSWORD", "another-password");
    d.restart();
    assert_nsx_error(
        &d.as_user("admin", "another-password").get("/api/v1/users"),
        401,
    );
    d.admin().get("/api/v1/users").expect(200);
    d.remove_env("STRAIT_ADMIN_PASSWORD");
    d.restart();
    assert!(
        !d.path("initial-admin-password").exists(),
        "users exist: nothing is generated"
    );
    d.admin().get("/api/v1/users").expect(200);
}

// ------------------------------------------------------------------ audit log

#[test]
fn audit_log_newest_first_with_failures_and_paging() {
    let d = Daemon::start();
    let h = d.admin();
    seed::base(&h);
    h.patch(
        &seed::session_url("s1"),
        &seed::session("203.0.113.2", "169.254.100.1"),
    )
    .expect(200);
    h.patch(&seed::session_url("s1"), &json!({"description": "second"}))
        .expect(200);
    h.patch(
        &seed::session_url("bad"),
        &json!({"resource_type": "RouteBasedIPSecVpnSession"}),
    )
    .expect(400);
    add_user(&h, "aud", "auditor", AUDITOR_PASSWORD).expect(200);
    d.as_user("aud", AUDITOR_PASSWORD)
        .delete(seed::T0)
        .expect(403);
    h.delete(&seed::session_url("s1")).expect(200);

    let log = h.get("/api/v1/audit-log").expect(200).body;
    let entries = log["results"].as_array().unwrap().clone();
    for e in &entries {
        for k in ["time", "user", "method", "path", "revision", "result"] {
            assert!(e.get(k).is_some(), "audit entry without {k}: {e}");
        }
    }
    let times: Vec<i64> = entries
        .iter()
        .map(|e| e["time"].as_i64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let s1 = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1";
    let find = |method: &str, path: &str, result: &str| -> Value {
        entries
            .iter()
            .find(|e| {
                e["method"] == method
                    && e["path"].as_str().unwrap().ends_with(path)
                    && e["result"].as_str().unwrap().starts_with(result)
            })
            .unwrap_or_else(|| panic!("no {method} {path} {result} in {entries:#?}"))
            .clone()
    };
    assert_eq!(entries[0]["method"], "DELETE");
    assert_eq!(entries[0]["path"], s1);
    assert_eq!(entries[0]["result"], "success");
    assert_eq!(entries[0]["user"], "admin");
    assert_eq!(find("PATCH", s1, "success")["revision"], 1);
    let fail = find("PATCH", "/sessions/bad", "failure");
    assert!(fail["result"].as_str().unwrap().contains("400"), "{fail}");
    let denied = find("DELETE", "/infra/tier-0s/t0", "failure");
    assert_eq!(denied["user"], "aud");
    assert!(
        denied["result"].as_str().unwrap().contains("403"),
        "{denied}"
    );
    find("PUT", "/api/v1/users/aud", "success");
    // The audit log never holds secrets.
    assert!(!h
        .get("/api/v1/audit-log?page_size=1000")
        .text
        .contains("correct horse"));

    // Cursor paging walks the same entries, newest first, without repeats.
    let mut walked: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/v1/audit-log?page_size=2&cursor={c}"),
            None => "/api/v1/audit-log?page_size=2".to_owned(),
        };
        let page = h.get(&q).expect(200).body;
        let results = page["results"].as_array().unwrap();
        assert!(results.len() <= 2);
        walked.extend(results.iter().cloned());
        match page["cursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
            _ => break,
        }
    }
    assert_eq!(walked.len(), entries.len());
    assert_eq!(walked, entries);
    assert_nsx_error(&h.get("/api/v1/audit-log?cursor=abc"), 400);
    assert_nsx_error(&h.get("/api/v1/audit-log?page_size=5000"), 400);
}

#[test]
fn failed_logins_are_throttled_per_client_address() {
    let d = Daemon::start();
    let h = d.admin();
    add_user(&h, "ops", "auditor", "ops-password-1").expect(200);
    let attacker = d.as_user("ops", "wrong-password");
    for _ in 0..10 {
        attacker.get("/api/v1/users").expect(401);
    }
    // The 11th attempt from the same address is refused even with the right password.
    let r = d.as_user("ops", "ops-password-1").get("/api/v1/users");
    // 403 as NSX refuses a locked account; error_code 429 says it is the throttle.
    assert_nsx_error(&r, 403);
    assert_eq!(r.body["error_code"], 429, "{}", r.text);
    assert!(r.text.contains("wait"), "{}", r.text);
    let form = d.anonymous().form(
        "/api/session/create",
        "j_username=ops&j_password=ops-password-1",
    );
    assert_nsx_error(&form, 403);
    assert_eq!(form.body["error_code"], 429, "{}", form.text);
    // Other users from that address, and the same user from another host, are unaffected.
    h.get("/api/v1/users").expect(200);
    let elsewhere = Http::from_source(
        &d.base,
        Some(("ops", "ops-password-1")),
        "127.0.0.2".parse().unwrap(),
    );
    elsewhere.get("/api/v1/users").expect(200);
}

#[test]
fn head_and_trailing_slashes_behave_like_get() {
    let d = Daemon::start();
    let h = d.admin();
    let r = h.request(
        "HEAD",
        "/policy/api/v1/infra/ipsec-vpn-ike-profiles/nsx-default-l3vpn-ike-profile",
        None,
        &[],
    );
    assert_eq!(r.status, 200);
    assert!(r.text.is_empty());
    let r = h
        .get("/policy/api/v1/infra/ipsec-vpn-ike-profiles/")
        .expect(200);
    assert_eq!(r.body["result_count"], 8);
}
