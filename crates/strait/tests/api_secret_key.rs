//! A data directory whose `secret.key` does not match its `strait.db` (restored from
//! another machine, or the key regenerated), against the real straitd (issue 12): it must
//! refuse to start instead of silently running with sessions it cannot apply, and a
//! secret that cannot be decrypted at runtime must show on the session, not vanish.
mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_nsx_error, seed, Daemon, Http};
use serde_json::{json, Value};

const S1_PATH: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s1";

/// Run straitd on `dir` and expect it to exit by itself; returns (exit code, stderr).
fn run_until_exit(dir: &std::path::Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_straitd"))
        .arg("--data-dir")
        .arg(dir)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env("STRAIT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn straitd");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!(
                "straitd started with a secret.key that does not fit its database; stderr:\n{err}"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

fn configure_session(h: &Http) {
    seed::base(h);
    h.patch(
        &seed::session_url("s1"),
        &seed::session("203.0.113.2", "169.254.100.1"),
    )
    .expect(200);
}

#[test]
fn a_secret_key_from_elsewhere_stops_straitd_at_startup_with_what_to_do() {
    let mut d = Daemon::start();
    configure_session(&d.admin());
    d.terminate();
    let key = d.path("secret.key");
    let original = std::fs::read(&key).unwrap();
    // Another machine's key (or a regenerated one).
    let mut other_daemon = Daemon::start();
    other_daemon.terminate();
    std::fs::copy(other_daemon.path("secret.key"), &key).unwrap();

    let (code, stderr) = run_until_exit(&d.dir);
    assert_ne!(code, Some(0), "straitd must fail; stderr:\n{stderr}");
    let key_path = key.display().to_string();
    let db_path = d.path("strait.db").display().to_string();
    assert!(
        stderr.contains(&key_path) && stderr.contains(&db_path),
        "the error must name both files; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("Restore the secret.key"),
        "the error must say what to do; stderr:\n{stderr}"
    );
    assert_eq!(
        std::fs::read(&key).unwrap(),
        std::fs::read(other_daemon.path("secret.key")).unwrap(),
        "the refused key file is left as it was"
    );

    // A missing key is not silently regenerated either.
    std::fs::remove_file(&key).unwrap();
    let (code, stderr) = run_until_exit(&d.dir);
    assert_ne!(code, Some(0), "stderr:\n{stderr}");
    assert!(stderr.contains("is missing"), "stderr:\n{stderr}");
    assert!(!key.exists(), "straitd created a new secret.key");

    // With the matching key back, everything is there again.
    std::fs::write(&key, &original).unwrap();
    d.start_again();
    let s = d
        .admin()
        .get(&format!(
            "{}?action=show_sensitive_data",
            seed::session_url("s1")
        ))
        .expect(200)
        .body;
    assert_eq!(s["psk"], "correct horse battery staple");
}

fn status(h: &Http, id: &str) -> Value {
    h.get(&format!("{}/detailed-status", seed::session_url(id)))
        .expect(200)
        .body["results"][0]
        .clone()
}

#[test]
fn a_secret_that_cannot_be_decrypted_at_runtime_shows_on_its_session() {
    let mut d = Daemon::start();
    let h = d.admin();
    configure_session(&h);
    // Damage the stored PSK behind straitd's back (what a wrong key looks like per row).
    let db = rusqlite::Connection::open(d.path("strait.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut sealed: Vec<u8> = db
        .query_row(
            "SELECT ciphertext FROM secrets WHERE path = ?1 AND name = 'psk'",
            [S1_PATH],
            |r| r.get(0),
        )
        .unwrap();
    *sealed.last_mut().unwrap() ^= 0x55;
    db.execute(
        "UPDATE secrets SET ciphertext = ?1 WHERE path = ?2 AND name = 'psk'",
        rusqlite::params![sealed, S1_PATH],
    )
    .unwrap();
    drop(db);

    // A write that would keep the unreadable PSK is refused and says what to do.
    let r = h.patch(
        &seed::session_url("s1"),
        &json!({"display_name": "renamed"}),
    );
    assert_nsx_error(&r, 400);
    assert!(
        r.text.contains("cannot be decrypted") && r.text.contains("secret.key"),
        "{}",
        r.text
    );

    // Another change still applies. The runtime reads only what changed, so it meets the
    // damaged PSK when it next reads s1: here at a restart, which reads everything.
    h.patch(
        &seed::session_url("s2"),
        &seed::session("203.0.113.3", "169.254.100.5"),
    )
    .expect(200);
    d.restart();
    let h = d.admin();
    let start = Instant::now();
    while status(&h, "s2")["display_name"].is_null() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s2 has no status"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The damaged session carries an alarm; the others run.
    let start = Instant::now();
    loop {
        let s1 = status(&h, "s1");
        let alarm = s1["alarm"]["message"].as_str().unwrap_or_default();
        if s1["ike_status"]["fail_reason"] == "Configuration failed"
            && alarm.contains("pre-shared key")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no alarm on the session whose PSK cannot be decrypted: {s1:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Sending the PSK again repairs it.
    h.patch(
        &seed::session_url("s1"),
        &json!({"psk": "a new shared secret 1"}),
    )
    .expect(200);
    let s = h
        .get(&format!(
            "{}?action=show_sensitive_data",
            seed::session_url("s1")
        ))
        .expect(200)
        .body;
    assert_eq!(s["psk"], "a new shared secret 1");
}
