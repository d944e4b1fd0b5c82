//! straitd running inside a test's network namespace, configured through its REST API.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::netns::{in_netns, Netns};
use super::{Http, ADMIN_PASSWORD};

/// The PSK of the test sessions.
pub const PSK: &str = "strait-esp-psk-0123456789";
/// The VPN service every test configures.
pub const SVC: &str = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn";
/// The session every test configures.
pub const SESSION: &str = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/s";

/// The seed flow: gateway, service, local endpoint, route-based session (plus `extra` fields).
pub fn configure(h: &Http, local: &str, peer: &str, vti: &str, initiator: bool, extra: Value) {
    h.patch("/policy/api/v1/infra/tier-0s/t0", &json!({}))
        .expect(200);
    h.patch(SVC, &json!({})).expect(200);
    h.patch(
        &format!("{SVC}/local-endpoints/le"),
        &json!({"local_address": local}),
    )
    .expect(200);
    let mut body = json!({
        "resource_type": "RouteBasedIPSecVpnSession",
        "display_name": "esp test",
        "local_endpoint_path": "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le",
        "peer_address": peer,
        "peer_id": peer,
        "psk": PSK,
        "connection_initiation_mode": if initiator { "INITIATOR" } else { "RESPOND_ONLY" },
        "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [vti], "prefix_length": 30}]}]
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    h.patch(SESSION, &body).expect(200);
}

/// How long status waits last.
pub const WAIT: Duration = Duration::from_secs(20);

/// straitd running inside a namespace.
pub struct StraitInNs<'a> {
    ns: &'a Netns,
    child: Child,
    base: String,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    /// The straitd to run (None: this build's, or `STRAIT_TEST_STRAITD`).
    bin: Option<std::path::PathBuf>,
    /// `STRAIT_LOG` for straitd; None: unset, so the services' `ike_log_level` applies.
    log_env: Option<&'static str>,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl<'a> StraitInNs<'a> {
    pub fn start(ns: &'a Netns) -> StraitInNs<'a> {
        Self::spawn(ns, &[], Some("info"))
    }

    /// Start straitd without `STRAIT_LOG`, so that the VPN services' `ike_log_level` decides.
    pub fn start_with_service_log_level(ns: &'a Netns) -> StraitInNs<'a> {
        Self::spawn(ns, &[], None)
    }

    fn spawn(ns: &'a Netns, extra: &[&str], log_env: Option<&'static str>) -> StraitInNs<'a> {
        Self::spawn_binary(ns, None, extra, log_env)
    }

    /// Start `bin` (another build of straitd, e.g. the release one) in the namespace.
    pub fn start_binary(ns: &'a Netns, bin: &std::path::Path) -> StraitInNs<'a> {
        Self::spawn_binary(ns, Some(bin.to_owned()), &[], Some("info"))
    }

    fn spawn_binary(
        ns: &'a Netns,
        bin: Option<std::path::PathBuf>,
        extra: &[&str],
        log_env: Option<&'static str>,
    ) -> StraitInNs<'a> {
        let dir = tempfile::tempdir().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let (child, base) =
            Self::launch(ns, bin.as_deref(), dir.path(), &extra, log_env, log.clone());
        StraitInNs {
            ns,
            child,
            base,
            dir,
            extra,
            bin,
            log_env,
            log,
        }
    }

    /// Start straitd on `dir`; returns the process and its API base URL.
    fn launch(
        ns: &Netns,
        bin: Option<&std::path::Path>,
        dir: &std::path::Path,
        extra: &[String],
        log_env: Option<&str>,
        log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    ) -> (Child, String) {
        // STRAIT_TEST_STRAITD runs the tests against another build (e.g. an older commit's,
        // to show that a regression test fails there).
        let bin = bin.map(|b| b.as_os_str().to_owned()).unwrap_or_else(|| {
            std::env::var_os("STRAIT_TEST_STRAITD")
                .unwrap_or_else(|| env!("CARGO_BIN_EXE_straitd").into())
        });
        let mut cmd = ns.command(bin);
        cmd.arg("--data-dir")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("STRAIT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("STRAIT_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(level) = log_env {
            cmd.env("STRAIT_LOG", level);
        }
        let mut child = ns.spawn(&mut cmd);
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let l2 = log;
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("straitd listening on ") {
                    let _ = tx.send(a.to_owned());
                }
                l2.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("straitd started in the namespace");
        (child, base)
    }

    /// SIGKILL straitd (nothing is cleaned up: its TUN devices vanish with its fds, its peers
    /// keep their SAs).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start straitd again on the same data directory (after [`Self::kill9`] or
    /// [`Self::terminate`]); the API's address changes.
    pub fn restart(&mut self) {
        let (child, base) = Self::launch(
            self.ns,
            self.bin.as_deref(),
            self.dir.path(),
            &self.extra,
            self.log_env,
            self.log.clone(),
        );
        self.child = child;
        self.base = base;
    }

    /// The API's base URL (`https://127.0.0.1:PORT`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Everything straitd logged so far.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM straitd and wait for it to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        self.child.wait().unwrap()
    }

    /// Start straitd with extra arguments.
    pub fn start_with(ns: &'a Netns, args: &[&str]) -> StraitInNs<'a> {
        Self::spawn(ns, args, Some("info"))
    }

    /// Call the API from inside the namespace.
    pub fn api<T: Send>(&self, f: impl FnOnce(&Http) -> T + Send) -> T {
        let base = self.base.clone();
        in_netns(self.ns, move || {
            f(&Http::new(&base, Some(("admin", ADMIN_PASSWORD))))
        })
    }

    pub fn status(&self, session: &str) -> Value {
        self.api(|h| {
            h.get(&format!("{session}/detailed-status"))
                .expect(200)
                .body
        })["results"][0]
            .clone()
    }

    /// Wait until detailed-status satisfies `pred`.
    pub fn wait_status(&self, session: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let s = self.status(session);
            if pred(&s) {
                return s;
            }
            if start.elapsed() > WAIT {
                panic!(
                    "timed out waiting for {what}; status: {s:#}\nstraitd log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for StraitInNs<'_> {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
