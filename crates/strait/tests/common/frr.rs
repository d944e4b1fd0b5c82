//! FRR (Debian `frr`: zebra + bgpd) as an independent BGP speaker inside a test namespace,
//! with its own files in a temporary directory; stopped on Drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::netns::Netns;

/// zebra and bgpd running in a namespace.
pub struct Frr {
    ns: String,
    dir: tempfile::TempDir,
}

fn chown_frr(path: &Path) {
    // FRR drops to its own user; its directory must be its own.
    let ok = Command::new("chown")
        .args(["-R", "frr:frr"])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chown frr {}", path.display());
}

impl Frr {
    /// Start zebra and bgpd in `ns` with `bgpd_conf` (FRR's configuration language).
    pub fn start(ns: &Netns, bgpd_conf: &str) -> Frr {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("zebra.conf"), "hostname frr-zebra\n").unwrap();
        std::fs::write(dir.path().join("bgpd.conf"), bgpd_conf).unwrap();
        chown_frr(dir.path());
        let frr = Frr {
            ns: ns.name().to_owned(),
            dir,
        };
        for daemon in ["zebra", "bgpd"] {
            let d = frr.dir.path();
            let status = ns
                .command(format!("/usr/lib/frr/{daemon}"))
                .arg("-d")
                .arg("-f")
                .arg(d.join(format!("{daemon}.conf")))
                .arg("-i")
                .arg(d.join(format!("{daemon}.pid")))
                .arg("-z")
                .arg(d.join("zserv.api"))
                .arg("--vty_socket")
                .arg(d)
                .arg(format!(
                    "--log=file:{}",
                    d.join(format!("{daemon}.log")).display()
                ))
                .status()
                .unwrap();
            assert!(status.success(), "{daemon} did not start");
            // bgpd connects to zebra's socket at start.
            let start = Instant::now();
            while daemon == "zebra" && !d.join("zserv.api").exists() {
                assert!(start.elapsed() < Duration::from_secs(10), "zebra's socket");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        frr
    }

    /// Run a vtysh command; its output.
    pub fn vtysh(&self, cmd: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "vtysh", "--vty_socket"])
            .arg(self.dir.path())
            .args(["-c", cmd])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `show bgp summary json`'s IPv4 peer `addr`, if bgpd knows it.
    pub fn peer(&self, addr: &str) -> Option<Value> {
        let v: Value = serde_json::from_str(&self.vtysh("show bgp summary json")).ok()?;
        let p = v["ipv4Unicast"]["peers"][addr].clone();
        (!p.is_null()).then_some(p)
    }

    /// bgpd's log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bgpd.log")).unwrap_or_default()
    }

    fn pid_files(&self) -> Vec<PathBuf> {
        ["bgpd.pid", "zebra.pid"]
            .iter()
            .map(|f| self.dir.path().join(f))
            .collect()
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        for f in self.pid_files() {
            if let Some(pid) = std::fs::read_to_string(&f)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
