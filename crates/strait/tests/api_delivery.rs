//! Every answer reaches the client: when straitd answers before reading a request's body
//! (401, 404 for a bad path, 405, a 400 for a body over the limit), the client still gets
//! the status, over HTTP/1.1 and HTTP/2, instead of a reset connection or stream. Driven
//! with curl, a client users run, with bodies large enough that the client is still
//! sending when the answer is ready.
mod common;

use std::io::Write;
use std::process::Command;

use common::{Daemon, ADMIN_PASSWORD};

/// The status curl received (0 if none), with its exit code.
fn curl_status(
    proto: &str,
    base: &str,
    user: &str,
    method: &str,
    path: &str,
    body: &std::path::Path,
) -> (u16, i32) {
    let o = Command::new("curl")
        .args(["-sk", proto, "-o", "/dev/null", "-w", "%{http_code}", "-u"])
        .arg(user)
        .args([
            "-X",
            method,
            "-H",
            "content-type: application/json",
            "--data-binary",
        ])
        .arg(format!("@{}", body.display()))
        .arg(format!("{base}{path}"))
        .output()
        .expect("curl (apt-get install curl)");
    let code = String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (code, o.status.code().unwrap_or(-1))
}

fn body_file(dir: &std::path::Path, name: &str, bytes: usize) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    // A JSON string: valid JSON, so only the size or the path decides the answer.
    f.write_all(b"{\"description\": \"").unwrap();
    f.write_all(&vec![b'a'; bytes]).unwrap();
    f.write_all(b"\"}").unwrap();
    path
}

#[test]
fn early_answers_arrive_over_http1_and_http2() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let big = body_file(dir.path(), "big.json", 400 * 1024);
    let huge = body_file(dir.path(), "huge.json", 3 * 1024 * 1024);
    let admin = format!("admin:{ADMIN_PASSWORD}");
    let mut lost = Vec::new();
    for proto in ["--http1.1", "--http2"] {
        let mut cases: Vec<(String, &str, &str, &std::path::Path, u16)> = Vec::new();
        for _ in 0..15 {
            // A bad id in the path: 404 before the body is read.
            cases.push((
                admin.clone(),
                "PATCH",
                "/policy/api/v1/infra/tier-0s/bad%20id",
                &big,
                404,
            ));
            // A method the collection does not have: 405.
            cases.push((
                admin.clone(),
                "POST",
                "/policy/api/v1/infra/tier-0s",
                &big,
                405,
            ));
        }
        for i in 0..3 {
            // An unknown user: 401 before the body is read (few, under the throttle).
            cases.push((
                format!("nobody-{proto}-{i}:wrong"),
                "PATCH",
                "/policy/api/v1/infra/tier-0s/t0",
                &big,
                401,
            ));
        }
        // Over the 2 MiB limit: 400 with error_code 413.
        cases.push((
            admin.clone(),
            "PATCH",
            "/policy/api/v1/infra/tier-0s/t0",
            &huge,
            400,
        ));
        for (user, method, path, body, want) in &cases {
            let (got, rc) = curl_status(proto, &d.base, user, method, path, body);
            if got != *want {
                lost.push(format!(
                    "{proto} {method} {path}: wanted {want}, got {got} (curl exit {rc})"
                ));
            }
        }
    }
    assert!(
        lost.is_empty(),
        "answers lost or wrong:\n{}",
        lost.join("\n")
    );
}
