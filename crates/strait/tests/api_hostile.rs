//! Attacks from the network on the management API, against the real straitd (issue 12):
//! switching the failed-login throttle off by cycling usernames, and logging a user out
//! with a forged cross-site request.
mod common;

use std::net::IpAddr;

use common::{assert_nsx_error, seed, Daemon, Http, ADMIN_PASSWORD};
use serde_json::json;

/// More usernames than the throttle used to remember (10,000) before it stopped recording.
const CYCLED_USERNAMES: usize = 10_001;

fn form_login(h: &Http, user: &str, password: &str) -> common::Resp {
    h.form(
        "/api/session/create",
        &format!("j_username={user}&j_password={password}"),
    )
}

#[track_caller]
fn assert_throttled(r: &common::Resp) {
    assert_nsx_error(r, 403);
    assert_eq!(r.body["error_code"], 429, "{}", r.text);
    let msg = r.body["error_message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("wait") && msg.contains("seconds"),
        "a throttled client is not told when it may retry: {msg}"
    );
}

#[test]
fn cycling_usernames_from_one_address_does_not_switch_the_throttle_off() {
    let d = Daemon::start();
    let h = d.admin();
    h.put(
        "/api/v1/users/ops",
        &json!({"role": "auditor", "password": "ops-password-1"}),
    )
    .expect(200);
    let attacker_ip: IpAddr = "127.0.0.3".parse().unwrap();
    let attacker = Http::from_source(&d.base, None, attacker_ip);

    // Cycle through more usernames than the old throttle table held, on a few
    // connections at once.
    let threads = 4;
    let per_thread = CYCLED_USERNAMES.div_ceil(threads);
    let statuses: Vec<(u16, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let attacker = attacker.clone();
                s.spawn(move || {
                    let mut refused = 0;
                    let mut throttled = 0;
                    for i in t * per_thread..((t + 1) * per_thread).min(CYCLED_USERNAMES) {
                        // A throttled login is a 403 with error_code 429 (as NSX refuses a
                        // locked account); a wrong password a plain 403.
                        let r = form_login(&attacker, &format!("guess{i}"), "wrong");
                        match (r.status, r.body["error_code"].as_u64()) {
                            (403, Some(429)) => throttled += 1,
                            (403, _) => refused += 1,
                            (other, _) => panic!("unexpected status {other} for guess{i}"),
                        }
                    }
                    [(403u16, refused), (429u16, throttled)]
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("attacker thread"))
            .collect()
    });
    let count = |status| -> usize {
        statuses
            .iter()
            .filter(|(s, _)| *s == status)
            .map(|(_, n)| n)
            .sum()
    };
    assert_eq!(count(403) + count(429), CYCLED_USERNAMES);
    // Only the first few dozen guesses were even checked; the rest were refused unseen.
    assert!(
        count(403) <= 100,
        "{} of {CYCLED_USERNAMES} guesses from one address were checked",
        count(403)
    );

    // From that address, the real user is refused even with the right password, by Basic
    // auth and by form login, and so are the guessed names.
    let real_user_there = Http::from_source(&d.base, Some(("ops", "ops-password-1")), attacker_ip);
    assert_throttled(&real_user_there.get("/api/v1/users/ops"));
    assert_throttled(&form_login(&attacker, "ops", "ops-password-1"));
    assert_throttled(&form_login(&attacker, "guess0", "wrong"));
    assert_throttled(&form_login(
        &attacker,
        &format!("guess{}", CYCLED_USERNAMES - 1),
        "wrong",
    ));
    // The refusal names the address that is throttled.
    let attacker_msg = form_login(&attacker, "ops", "x").body["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(attacker_msg.contains("127.0.0.3"), "{attacker_msg}");

    // Other addresses are not affected.
    h.get("/api/v1/users").expect(200);
    let ops_elsewhere = Http::from_source(
        &d.base,
        Some(("ops", "ops-password-1")),
        "127.0.0.4".parse().unwrap(),
    );
    ops_elsewhere.get("/api/v1/users/ops").expect(200);
    let elsewhere = Http::from_source(&d.base, None, "127.0.0.4".parse().unwrap());
    form_login(&elsewhere, "ops", "ops-password-1").expect(200);
}

#[test]
fn a_single_user_guessed_from_one_address_is_throttled_while_others_log_in() {
    let d = Daemon::start();
    let h = d.admin();
    h.put(
        "/api/v1/users/ops",
        &json!({"role": "auditor", "password": "ops-password-1"}),
    )
    .expect(200);
    let source: IpAddr = "127.0.0.5".parse().unwrap();
    let guesser = Http::from_source(&d.base, None, source);
    for i in 0..10 {
        form_login(&guesser, "ops", &format!("guess-{i}")).expect(403);
    }
    assert_throttled(&form_login(&guesser, "ops", "ops-password-1"));
    // A different user from the same address still gets in (the address as a whole has
    // not reached its own, higher, limit).
    form_login(&guesser, "admin", ADMIN_PASSWORD).expect(200);
}

/// The JSESSIONID cookie and XSRF token of a successful form login.
fn login(d: &Daemon) -> (String, String) {
    let r = form_login(&d.anonymous(), "admin", ADMIN_PASSWORD).expect(200);
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    let id = cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("JSESSIONID="))
        .expect("JSESSIONID cookie")
        .to_owned();
    let xsrf = r.headers["x-xsrf-token"].to_str().unwrap().to_owned();
    (format!("JSESSIONID={id}"), xsrf)
}

#[test]
fn logout_with_the_cookie_alone_is_refused_and_keeps_the_session() {
    let d = Daemon::start();
    seed::base(&d.admin());
    let (cookie, xsrf) = login(&d);
    let anon = d.anonymous();

    // What a forged cross-site form carries: the cookie, no token.
    let r = anon.request("POST", "/api/session/destroy", None, &[("cookie", &cookie)]);
    assert_nsx_error(&r, 403);
    let msg = r.body["error_message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("X-XSRF-TOKEN") && msg.contains("/api/session/create"),
        "the refusal does not say what is missing: {msg}"
    );
    assert!(
        r.headers.get("set-cookie").is_none(),
        "a refused logout must not clear the cookie"
    );
    // A wrong token is refused the same way.
    let r = anon.request(
        "POST",
        "/api/session/destroy",
        None,
        &[("cookie", &cookie), ("x-xsrf-token", "not-the-token")],
    );
    assert_nsx_error(&r, 403);
    // The session is still valid.
    anon.request("GET", seed::T0, None, &[("cookie", &cookie)])
        .expect(200);

    // With the token, the session ends.
    let r = anon
        .request(
            "POST",
            "/api/session/destroy",
            None,
            &[("cookie", &cookie), ("x-xsrf-token", &xsrf)],
        )
        .expect(200);
    assert!(r.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_nsx_error(
        &anon.request("GET", seed::T0, None, &[("cookie", &cookie)]),
        401,
    );
    // Logging out a session that no longer exists just clears the cookie.
    anon.request("POST", "/api/session/destroy", None, &[("cookie", &cookie)])
        .expect(200);
}
