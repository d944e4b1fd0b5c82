//! Shared by the data-plane integration tests: network namespaces this test process creates
//! (and deletes), entered by threads with `setns`.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::fs;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use nix::sched::{setns, CloneFlags};
use serde_json::Value;

pub const RUN_AS_ROOT: &str =
    "the data-plane tests create network namespaces and TUN devices: run \
                               them as root (sudo -E cargo test -p strait-dataplane)";

// ---------------------------------------------------------------------------------------------
// environment and namespaces
// ---------------------------------------------------------------------------------------------

/// Panic (never skip) unless this can run: root, `ip`, `/dev/net/tun`.
pub fn require_root() {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse::<u32>().ok())
        .expect("no Uid line in /proc/self/status");
    assert!(euid == 0, "not root (euid {euid}): {RUN_AS_ROOT}");
    assert!(
        Command::new("ip")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success()),
        "the `ip` command (iproute2) is missing: install iproute2"
    );
    assert!(
        fs::metadata("/dev/net/tun").is_ok(),
        "/dev/net/tun is missing: load the tun module (modprobe tun)"
    );
}

static NS_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace this test created; deleted on drop.
pub struct Netns {
    pub name: String,
    id: (u64, u64),
}

fn ns_id(path: &str) -> Option<(u64, u64)> {
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl Netns {
    pub fn new() -> Netns {
        require_root();
        for _ in 0..8 {
            let mut h = RandomState::new().build_hasher();
            h.write_u32(std::process::id());
            h.write_u32(NS_COUNTER.fetch_add(1, Ordering::Relaxed));
            h.write_u128(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default(),
            );
            let name = format!("st-vti-{:012x}", h.finish() & 0xffff_ffff_ffff);
            let o = Command::new("ip")
                .args(["netns", "add", &name])
                .stdin(Stdio::null())
                .output()
                .expect("run ip");
            if !o.status.success() {
                if text(&o).contains("File exists") {
                    continue; // never adopt someone else's namespace
                }
                panic!("ip netns add {name} failed: {}. {RUN_AS_ROOT}", text(&o));
            }
            let path = format!("/run/netns/{name}");
            let ns = Netns {
                id: ns_id(&path).expect("namespace file after ip netns add"),
                name,
            };
            ns.ip(&["link", "set", "lo", "up"]);
            return ns;
        }
        panic!("no free namespace name after 8 tries");
    }

    /// `ip -n NS ARGS`, which must succeed.
    #[track_caller]
    pub fn ip(&self, args: &[&str]) -> String {
        let o = self.ip_output(args);
        assert!(
            o.status.success(),
            "ip -n {} {args:?}: {}",
            self.name,
            text(&o)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn ip_output(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ip")
    }

    /// `ip -n NS -j ARGS` parsed.
    #[track_caller]
    pub fn ip_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["-j"];
        full.extend_from_slice(args);
        let out = self.ip(&full);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("ip {full:?}: {e}: {out}"))
    }

    /// Run `f`'s future on a thread inside the namespace, on a current-thread tokio runtime.
    /// Everything it creates (TUN, netlink and UDP sockets) belongs to the namespace.
    pub fn run<T, F, Fut>(&self, f: F) -> T
    where
        T: Send,
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = T>,
    {
        let path = format!("/run/netns/{}", self.name);
        let file = fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        std::thread::scope(|s| {
            let h = s.spawn(move || {
                setns(&file, CloneFlags::CLONE_NEWNET)
                    .unwrap_or_else(|e| panic!("setns({path}): {e}. {RUN_AS_ROOT}"));
                drop(file);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(f())
            });
            match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// The link as `ip -d -j link show` reports it, or None if it does not exist.
    pub fn link(&self, dev: &str) -> Option<Value> {
        let o = self.ip_output(&["-d", "-j", "link", "show", "dev", dev]);
        if !o.status.success() {
            return None;
        }
        let v: Value = serde_json::from_slice(&o.stdout).expect("ip -j link json");
        v.as_array().and_then(|a| a.first().cloned())
    }

    /// The addresses of `dev` (without IPv6 link-local).
    pub fn addresses(&self, dev: &str) -> Vec<IpNet> {
        let v = self.ip_json(&["addr", "show", "dev", dev]);
        let mut out: Vec<IpNet> = v[0]["addr_info"]
            .as_array()
            .expect("addr_info")
            .iter()
            .map(|a| {
                let ip: IpAddr = a["local"].as_str().expect("local").parse().expect("ip");
                IpNet::new(ip, a["prefixlen"].as_u64().expect("prefixlen") as u8).expect("net")
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Only ever delete the namespace this value created.
        if ns_id(&format!("/run/netns/{}", self.name)) == Some(self.id) {
            let o = Command::new("ip")
                .args(["netns", "del", &self.name])
                .stdin(Stdio::null())
                .output();
            if !o.as_ref().is_ok_and(|o| o.status.success()) {
                eprintln!("ip netns del {} failed: {o:?}", self.name);
            }
        }
    }
}
