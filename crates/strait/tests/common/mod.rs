//! Test harness: runs the real `straitd` binary on a loopback port with a fresh data
//! directory, and talks to it over HTTPS like any client would.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// The admin password tests start straitd with.
pub const ADMIN_PASSWORD: &str = "admin-test-password-1";

/// A running straitd.
pub struct Daemon {
    child: Option<Child>,
    /// Keeps the temporary data directory alive.
    _tmp: Option<tempfile::TempDir>,
    /// Data directory.
    pub dir: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub base: String,
    /// Everything straitd wrote to stderr so far.
    pub stderr: Arc<Mutex<Vec<String>>>,
    env: Vec<(String, String)>,
}

impl Daemon {
    /// Start straitd in a fresh data directory with `STRAIT_ADMIN_PASSWORD` set.
    pub fn start() -> Daemon {
        Self::start_with_env(&[("STRAIT_ADMIN_PASSWORD", ADMIN_PASSWORD)])
    }

    /// Start straitd in a fresh data directory with the given environment.
    pub fn start_with_env(env: &[(&str, &str)]) -> Daemon {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        let mut d = Daemon {
            child: None,
            _tmp: Some(tmp),
            dir,
            base: String::new(),
            stderr: Arc::new(Mutex::new(Vec::new())),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        d.spawn(&[]);
        d
    }

    /// Start straitd with extra arguments in a fresh directory.
    pub fn start_with_args(args: &[&str]) -> Daemon {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        let mut d = Daemon {
            child: None,
            _tmp: Some(tmp),
            dir,
            base: String::new(),
            stderr: Arc::new(Mutex::new(Vec::new())),
            env: vec![("STRAIT_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into())],
        };
        d.spawn(args);
        d
    }

    fn spawn(&mut self, extra: &[&str]) {
        let listen = if self.base.is_empty() {
            "127.0.0.1:0".to_owned()
        } else {
            self.base.trim_start_matches("https://").to_owned()
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_straitd"));
        cmd.arg("--data-dir")
            .arg(&self.dir)
            .arg("--listen")
            .arg(&listen)
            // These daemons run in the host's network namespace: no routing daemon may start
            // there (BGP tests run straitd in namespaces of their own).
            .args(["--bird", "/nonexistent/strait-test-no-bird"])
            .args(extra);
        cmd.env_remove("STRAIT_ADMIN_PASSWORD")
            .env("STRAIT_LOG", "warn");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().expect("spawn straitd");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let log = self.stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("straitd listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
                log.lock().unwrap().push(line);
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "straitd did not start; stderr:\n{}",
                    self.stderr.lock().unwrap().join("\n")
                );
            }
        };
        self.base = base;
        self.child = Some(child);
    }

    /// Stop with SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    /// Kill with SIGKILL (no chance to clean up).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same directory and port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn(&[]);
    }

    /// Start again after kill -9.
    pub fn restart_after_kill9(&mut self) {
        self.kill9();
        self.spawn(&[]);
    }

    /// Whether the process has exited.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Client as admin.
    pub fn admin(&self) -> Http {
        Http::new(&self.base, Some(("admin", ADMIN_PASSWORD)))
    }

    /// Client with given credentials.
    pub fn as_user(&self, user: &str, password: &str) -> Http {
        Http::new(&self.base, Some((user, password)))
    }

    /// Client without credentials.
    pub fn anonymous(&self) -> Http {
        Http::new(&self.base, None)
    }

    /// Path inside the data directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A response: status and parsed body (Null when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// Assert the status, showing the body on failure.
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Messages of `related_errors`, or the top-level message.
    pub fn messages(&self) -> Vec<String> {
        match self.body["related_errors"].as_array() {
            Some(a) if !a.is_empty() => a
                .iter()
                .map(|e| e["error_message"].as_str().unwrap_or_default().to_owned())
                .collect(),
            _ => vec![self.body["error_message"]
                .as_str()
                .unwrap_or_default()
                .to_owned()],
        }
    }

    /// Fields named by `related_errors[].error_data.field`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["related_errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        e["error_data"]["field"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Assert a 400 whose messages mention `needle` (on `field`, if given).
    #[track_caller]
    pub fn expect_problem(self, field: &str, needle: &str) -> Resp {
        assert_eq!(self.status, 400, "expected 400; body: {}", self.text);
        let found = self.body["related_errors"].as_array().is_some_and(|a| {
            a.iter().any(|e| {
                e["error_data"]["field"].as_str() == Some(field)
                    && e["error_message"]
                        .as_str()
                        .is_some_and(|m| m.contains(needle))
            })
        }) || (field.is_empty()
            && self.body["error_message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)));
        assert!(
            found,
            "no problem on field {field:?} mentioning {needle:?} in: {}",
            self.text
        );
        self
    }
}

/// Minimal HTTPS client for tests (accepts straitd's self-signed certificate).
#[derive(Clone)]
pub struct Http {
    client: reqwest::blocking::Client,
    base: String,
    auth: Option<(String, String)>,
}

impl Http {
    pub fn new(base: &str, auth: Option<(&str, &str)>) -> Http {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        Http {
            client,
            base: base.to_owned(),
            auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = format!("{}{}", self.base, path);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.client.request(m, url);
        if let Some((u, p)) = &self.auth {
            rb = rb.basic_auth(u, Some(p));
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(b.to_owned());
        }
        let resp = rb.send().expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            text,
            headers,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, None, &[])
    }
    pub fn patch(&self, path: &str, body: &Value) -> Resp {
        self.request("PATCH", path, Some(&body.to_string()), &[])
    }
    pub fn put(&self, path: &str, body: &Value) -> Resp {
        self.request("PUT", path, Some(&body.to_string()), &[])
    }
    pub fn delete(&self, path: &str) -> Resp {
        self.request("DELETE", path, None, &[])
    }
    pub fn raw(&self, method: &str, path: &str, body: &str) -> Resp {
        self.request(method, path, Some(body), &[])
    }
    /// Form POST (login).
    pub fn form(&self, path: &str, form: &str) -> Resp {
        let url = format!("{}{}", self.base, path);
        let resp = self
            .client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            text,
            headers,
        }
    }
}

/// Policy API prefix.
pub const P: &str = "/policy/api/v1";

/// Seed-flow fixtures.
pub mod seed {
    use super::*;
    use serde_json::json;

    pub const T0: &str = "/policy/api/v1/infra/tier-0s/t0";
    pub const SVC: &str = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn";
    pub const LE: &str =
        "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le";
    pub const LE_PATH: &str = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le";
    pub const SESSIONS: &str = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions";

    /// Gateway, service and local endpoint 198.51.100.1.
    pub fn base(h: &Http) {
        h.patch(T0, &json!({"display_name": "t0"})).expect(200);
        h.patch(SVC, &json!({"display_name": "vpn"})).expect(200);
        h.patch(
            LE,
            &json!({"local_address": "198.51.100.1", "local_id": "198.51.100.1"}),
        )
        .expect(200);
    }

    /// A valid route-based PSK session body.
    pub fn session(peer: &str, vti: &str) -> Value {
        json!({
            "resource_type": "RouteBasedIPSecVpnSession",
            "display_name": "to-site-b",
            "local_endpoint_path": LE_PATH,
            "peer_address": peer,
            "peer_id": peer,
            "psk": "correct horse battery staple",
            "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [vti], "prefix_length": 30}]}]
        })
    }

    pub fn session_url(id: &str) -> String {
        format!("{SESSIONS}/{id}")
    }
}

/// Certificates, keys and CRLs made with rcgen, and import helpers.
pub mod pki;

/// Policy-API URL of a policy path: `/policy/api/v1` + `path`.
pub fn url(path: &str) -> String {
    format!("{P}{path}")
}

/// Problems (field, message) of an NSX error body's `related_errors`.
pub fn problems(r: &Resp) -> Vec<(String, String)> {
    r.body["related_errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["error_data"]["field"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        e["error_message"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Assert that a response is an NSX ApiError body with this status.
#[track_caller]
pub fn assert_nsx_error(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "unexpected status; body: {}", r.text);
    let b = &r.body;
    assert!(b.is_object(), "not a JSON error body: {:?}", r.text);
    assert!(b["httpStatus"].is_string(), "no httpStatus in {}", r.text);
    assert!(b["error_code"].is_u64(), "no error_code in {}", r.text);
    assert!(b["module_name"].is_string(), "no module_name in {}", r.text);
    let msg = b["error_message"].as_str().unwrap_or_default();
    assert!(!msg.is_empty(), "empty error_message in {}", r.text);
}

/// Assert a 400 and that the set of fields named in `related_errors` is exactly `fields`.
#[track_caller]
pub fn assert_fields(r: &Resp, fields: &[&str]) {
    assert_nsx_error(r, 400);
    let mut got = r.error_fields();
    got.sort();
    got.dedup();
    let mut want: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    want.sort();
    want.dedup();
    assert_eq!(got, want, "related_errors fields differ; body: {}", r.text);
}

impl Daemon {
    /// Set (or replace) an environment variable for the next (re)start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Remove an environment variable for the next (re)start.
    pub fn remove_env(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    /// SIGTERM, wait, and return how the process exited.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        c.wait().ok()
    }

    /// Start again on the same directory and port after `terminate` or `kill9`.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "straitd is still running");
        self.spawn(&[]);
    }

    /// straitd's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The stderr lines so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }
}

impl Http {
    /// A request with extra headers and an optional raw body (no content type added when
    /// `body` is None).
    pub fn with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let b = body.map(|v| v.to_string());
        self.request(method, path, b.as_deref(), headers)
    }
}

impl Http {
    /// A client whose connections come from `source` (another loopback address, e.g.
    /// 127.0.0.2), to act as a different client host.
    pub fn from_source(base: &str, auth: Option<(&str, &str)>, source: std::net::IpAddr) -> Http {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(60))
            .local_address(source)
            .build()
            .expect("client");
        Http {
            client,
            base: base.to_owned(),
            auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
        }
    }
}
pub mod frr;
pub mod lan;
pub mod netns;
pub mod straitd;
