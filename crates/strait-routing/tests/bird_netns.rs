//! The real thing: two BIRDs in two network namespaces (`st-bgp-<pid>-<tag>-a` / `-b`),
//! joined through a bridge in a third (`-m`), so that "cutting the link" (`ip link set br0
//! down` in `-m`) leaves both sides' carriers up, as a broken path over the internet would.
//! Needs root and /usr/sbin/bird (`scripts/install-deps.sh`): fails, never skips, without them,
//! so that CI cannot pass by not running them.
//!
//! `STRAIT_ROUTING_CAPTURE=<dir>` writes raw control-socket replies of the running BIRDs
//! there (that is how `tests/fixtures` was made).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use strait_routing::{
    Bfd, Bird, BirdError, BirdOptions, ConnectionState, GracefulRestart, Neighbor, NeighborStatus,
    Paths, ProcessState, Redistribution, RoutingConfig,
};
use zeroize::Zeroizing;

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn require_env() {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let bird = Path::new("/usr/sbin/bird").exists();
    assert!(
        root && bird,
        "BIRD tests need root (they create network namespaces) and /usr/sbin/bird; \
         run `scripts/install-deps.sh` (installs bird2) and run the tests as root"
    );
}

/// Three namespaces; removed on drop.
struct Topo {
    a: String,
    b: String,
    m: String,
    net: u8,
}

impl Topo {
    fn new(tag: &str, net: u8) -> Topo {
        let base = format!("st-bgp-{}-{tag}", std::process::id());
        let t = Topo {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
            m: format!("{base}-m"),
            net,
        };
        for ns in [&t.a, &t.b, &t.m] {
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        sh(&["ip", "-n", &t.m, "link", "add", "br0", "type", "bridge"]);
        for (ns, port, host) in [(&t.a, "pa", 1), (&t.b, "pb", 2)] {
            sh(&[
                "ip", "-n", &t.m, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                "netns", ns,
            ]);
            sh(&["ip", "-n", &t.m, "link", "set", port, "master", "br0", "up"]);
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("10.{net}.0.{host}/24"),
                "dev",
                "eth0",
            ]);
            sh(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
        }
        sh(&["ip", "-n", &t.m, "link", "set", "br0", "up"]);
        t
    }
    fn addr(&self, host: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, self.net, 0, host))
    }
    fn kernel_routes(&self, ns: &str) -> String {
        sh(&["ip", "-n", ns, "route", "show", "proto", "bird"])
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b, &self.m] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn neighbor(name: &str, address: IpAddr, remote_as: u32) -> Neighbor {
    Neighbor {
        name: name.into(),
        enabled: true,
        address,
        remote_as,
        local_as: None,
        source: None,
        hold_time_s: 9,
        keepalive_s: 3,
        password: None,
        bfd: None,
        allow_as_in: false,
        max_hop: 1,
        graceful_restart: None,
        families: vec![],
    }
}

fn config(router: IpAddr, local_as: u32, nets: &[&str], neighbors: Vec<Neighbor>) -> RoutingConfig {
    let IpAddr::V4(router_id) = router else {
        panic!("v4")
    };
    RoutingConfig {
        router_id,
        local_as,
        ecmp: true,
        graceful_restart: GracefulRestart::default(),
        ebgp_admin_distance: None,
        ibgp_admin_distance: None,
        neighbors,
        redistribute: Redistribution {
            networks: nets.iter().map(|n| n.parse::<IpNet>().unwrap()).collect(),
        },
        aggregates: vec![],
        prefix_lists: vec![],
        never_import: vec![],
    }
}

async fn start(dir: &Path, ns: &str) -> Bird {
    let opts = BirdOptions {
        netns: Some(ns.to_string()),
        ..BirdOptions::default()
    };
    Bird::start(Paths::in_dir(dir), opts)
        .await
        .expect("BIRD starts")
}

async fn neighbor_status(bird: &Bird, name: &str) -> NeighborStatus {
    let st = bird.status().await.expect("status");
    st.neighbors
        .into_iter()
        .find(|n| n.name == name)
        .expect("neighbor in status")
}

/// Polls until `pred` holds for the neighbor, or fails after `timeout` with the last status.
async fn wait_neighbor(
    bird: &Bird,
    name: &str,
    timeout: Duration,
    pred: impl Fn(&NeighborStatus) -> bool,
) -> NeighborStatus {
    let deadline = Instant::now() + timeout;
    loop {
        let n = match bird.status().await {
            Ok(st) => st.neighbors.into_iter().find(|n| n.name == name),
            Err(_) => None,
        };
        if let Some(n) = &n {
            if pred(n) {
                return n.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting on {name}: {n:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_kernel(topo: &Topo, ns: &str, prefix: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !topo.kernel_routes(ns).contains(prefix) {
        assert!(
            Instant::now() < deadline,
            "{prefix} not in {ns}'s kernel table: {}",
            topo.kernel_routes(ns)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn established(n: &NeighborStatus) -> bool {
    n.connection_state == ConnectionState::Established
}

/// Raw replies for the parser fixtures (only with STRAIT_ROUTING_CAPTURE set).
fn capture(bird: &Bird, name: &str, cmd: &str) {
    let Ok(dir) = std::env::var("STRAIT_ROUTING_CAPTURE") else {
        return;
    };
    let s = std::os::unix::net::UnixStream::connect(&bird.paths().socket).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap(); // greeting
    (&s).write_all(format!("{cmd}\n").as_bytes()).unwrap();
    let mut out = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        out.push_str(&line);
        let b = line.as_bytes();
        if b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b' ' {
            break;
        }
    }
    std::fs::write(Path::new(&dir).join(name), out).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn established_routes_in_kernel_and_hitless_apply() {
    require_env();
    let topo = Topo::new("est", 211);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(da.path(), &topo.a).await;
    let b = start(db.path(), &topo.b).await;
    let t0 = Instant::now();
    let mut cfg_a = config(
        topo.addr(1),
        65001,
        &["10.91.0.0/24"],
        vec![neighbor("nbr-1", topo.addr(2), 65002)],
    );
    a.apply(&cfg_a).await.unwrap();
    b.apply(&config(
        topo.addr(2),
        65002,
        &["10.92.0.0/24"],
        vec![neighbor("nbr-1", topo.addr(1), 65001)],
    ))
    .await
    .unwrap();
    let mode = std::fs::metadata(&a.paths().config)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "bird.conf must be private");

    wait_neighbor(&a, "nbr-1", Duration::from_secs(30), established).await;
    println!("established after {:?}", t0.elapsed());
    wait_kernel(
        &topo,
        &topo.a,
        "10.92.0.0/24 via 10.211.0.2",
        Duration::from_secs(5),
    )
    .await;
    wait_kernel(
        &topo,
        &topo.b,
        "10.91.0.0/24 via 10.211.0.1",
        Duration::from_secs(5),
    )
    .await;
    // Announced networks stay inside BIRD: not in the announcing side's kernel.
    assert!(
        !topo.kernel_routes(&topo.a).contains("10.91.0.0"),
        "{}",
        topo.kernel_routes(&topo.a)
    );
    // The session can be Established a moment before the peer's UPDATE arrives: read the
    // neighbor again once its route is in the kernel (CI saw 0 received at establishment).
    let na = wait_neighbor(&a, "nbr-1", Duration::from_secs(5), |n| {
        established(n) && n.routes_received == 1
    })
    .await;
    let st = a.status().await.unwrap();
    let r = st
        .routes
        .iter()
        .find(|r| r.prefix == Some("10.92.0.0/24".parse().unwrap()))
        .expect("learned route");
    assert_eq!(r.as_path, "65002");
    assert_eq!(r.next_hops[0].via, Some(topo.addr(2)));
    assert_eq!(r.next_hops[0].interface.as_deref(), Some("eth0"));
    assert_eq!(r.local_pref, Some(100));
    assert_eq!(na.routes_received, 1);
    // Ports from the kernel's socket table: one side is BGP's 179, the other ephemeral.
    let (local, remote) = na.ports.expect("ports of an Established session");
    assert!(
        (local == 179) != (remote == 179),
        "{local} -> {remote}: exactly one end is the BGP port"
    );
    assert_eq!(na.bfd, None, "no BFD configured");
    let bgp = na.bird.as_ref().unwrap().bgp.as_ref().unwrap();
    assert_eq!(bgp.neighbor_as, Some(65002));
    assert_eq!(bgp.neighbor_id, Some(Ipv4Addr::new(10, 211, 0, 2)));
    assert_eq!(bgp.hold_time_s, Some(9));
    let since = na.established_since.expect("since");
    capture(&a, "protocols-established.txt", "show protocols all");
    capture(
        &a,
        "routes-bgp.txt",
        "show route all table master4 where source = RTS_BGP",
    );
    capture(&a, "routes-all.txt", "show route all");

    // An unrelated change: a second neighbor (nobody there). The first session stays up.
    cfg_a.neighbors.push(neighbor("nbr-2", topo.addr(3), 65003));
    a.apply(&cfg_a).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let na2 = neighbor_status(&a, "nbr-1").await;
    assert!(established(&na2), "{na2:#?}");
    assert_eq!(
        na2.established_since,
        Some(since),
        "nbr-1 was reset by an unrelated change"
    );
    let n2 = neighbor_status(&a, "nbr-2").await;
    assert_ne!(n2.connection_state, ConnectionState::Established);
    capture(&a, "protocols-two-neighbors.txt", "show protocols all");

    // BIRD's own refusal comes back verbatim and the running configuration is untouched.
    let mut bad = cfg_a.clone();
    bad.neighbors
        .push(neighbor("ll", "fe80::2".parse().unwrap(), 65004));
    match a.apply(&bad).await {
        Err(BirdError::Rejected { message }) => {
            println!("BIRD refused: {message}");
            assert!(message.contains("bird.conf.new:"), "{message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(!da.path().join("bird.conf.new").exists());
    assert!(established(&neighbor_status(&a, "nbr-1").await));
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    // A graceful shutdown withdraws BIRD's kernel routes.
    assert!(
        !topo.kernel_routes(&topo.b).contains("10.91.0.0"),
        "{}",
        topo.kernel_routes(&topo.b)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_then_max_routes() {
    require_env();
    let topo = Topo::new("pw", 212);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(da.path(), &topo.a).await;
    let b = start(db.path(), &topo.b).await;
    let mut na = neighbor("nbr-1", topo.addr(2), 65002);
    na.password = Some(Zeroizing::new("right-secret".into()));
    na.families = vec![strait_routing::Family {
        afi: strait_routing::Afi::Ipv4,
        enabled: true,
        max_routes: Some(2),
        import_filter: None,
        export_filter: None,
    }];
    let mut nb = neighbor("nbr-1", topo.addr(1), 65001);
    nb.password = Some(Zeroizing::new("wrong-secret".into()));
    a.apply(&config(topo.addr(1), 65001, &["10.91.0.0/24"], vec![na]))
        .await
        .unwrap();
    let nets_b = ["10.92.0.0/24", "10.92.1.0/24", "10.92.2.0/24"];
    let mut cfg_b = config(topo.addr(2), 65002, &nets_b, vec![nb]);
    b.apply(&cfg_b).await.unwrap();
    // Long enough for several connection attempts (start delay 5 s, retry 5 s).
    tokio::time::sleep(Duration::from_secs(12)).await;
    let s = neighbor_status(&a, "nbr-1").await;
    println!("wrong password: {:?}: {:?}", s.connection_state, s.reason);
    assert!(!established(&s));
    assert!(
        s.reason.as_deref().unwrap_or("").contains("TCP-MD5"),
        "{s:#?}"
    );
    capture(&a, "protocols-wrong-password.txt", "show protocols all");
    let conf = std::fs::read_to_string(&a.paths().config).unwrap();
    assert!(conf.contains("password \"right-secret\""));

    cfg_b.neighbors[0].password = Some(Zeroizing::new("right-secret".into()));
    b.apply(&cfg_b).await.unwrap();
    let s = wait_neighbor(&a, "nbr-1", Duration::from_secs(30), |n| {
        established(n) && n.max_routes_hit
    })
    .await;
    println!("limit: {:?}", s.reason);
    assert_eq!(s.routes_received, 2);
    assert!(
        s.reason
            .as_deref()
            .unwrap_or("")
            .contains("max_routes (2) reached for ipv4"),
        "{s:#?}"
    );
    capture(&a, "protocols-limit-hit.txt", "show protocols all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_restarts_bird_and_routes_come_back() {
    require_env();
    let topo = Topo::new("kill", 213);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(da.path(), &topo.a).await;
    let b = start(db.path(), &topo.b).await;
    a.apply(&config(
        topo.addr(1),
        65001,
        &["10.91.0.0/24"],
        vec![neighbor("nbr-1", topo.addr(2), 65002)],
    ))
    .await
    .unwrap();
    b.apply(&config(
        topo.addr(2),
        65002,
        &["10.92.0.0/24"],
        vec![neighbor("nbr-1", topo.addr(1), 65001)],
    ))
    .await
    .unwrap();
    wait_neighbor(&a, "nbr-1", Duration::from_secs(30), established).await;
    wait_kernel(&topo, &topo.a, "10.92.0.0/24", Duration::from_secs(5)).await;
    let ProcessState::Running { pid } = a.process().state else {
        panic!("{:?}", a.process())
    };
    sh(&["kill", "-9", &pid.to_string()]);
    let t0 = Instant::now();
    // Wait for the supervisor to see the exit and start a new BIRD.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = a.process();
        if p.restarts >= 1 && matches!(p.state, ProcessState::Running { pid: new } if new != pid) {
            println!("restarted after {:?}: {:?}", t0.elapsed(), p.last_exit);
            assert!(
                p.last_exit.as_deref().unwrap_or("").contains("SIGKILL"),
                "{p:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "not restarted: {p:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.wait_ready(Duration::from_secs(5)).await.unwrap();
    // Established first, the peer's UPDATE a moment later.
    let n = wait_neighbor(&a, "nbr-1", Duration::from_secs(40), |n| {
        established(n) && n.routes_received == 1
    })
    .await;
    println!(
        "re-established with the route {:?} after the kill",
        t0.elapsed()
    );
    assert!(n.established_since.is_some());
    wait_kernel(&topo, &topo.a, "10.92.0.0/24", Duration::from_secs(5)).await;
    wait_kernel(&topo, &topo.b, "10.91.0.0/24", Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bfd_detects_a_cut_link() {
    require_env();
    let topo = Topo::new("bfd", 214);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(da.path(), &topo.a).await;
    let b = start(db.path(), &topo.b).await;
    let bfd = Some(Bfd {
        interval_ms: 100,
        multiplier: 3,
    });
    let mut na = neighbor("nbr-1", topo.addr(2), 65002);
    na.bfd = bfd;
    let mut nb = neighbor("nbr-1", topo.addr(1), 65001);
    nb.bfd = bfd;
    a.apply(&config(topo.addr(1), 65001, &["10.91.0.0/24"], vec![na]))
        .await
        .unwrap();
    b.apply(&config(topo.addr(2), 65002, &["10.92.0.0/24"], vec![nb]))
        .await
        .unwrap();
    wait_neighbor(&a, "nbr-1", Duration::from_secs(30), established).await;
    wait_kernel(&topo, &topo.a, "10.92.0.0/24", Duration::from_secs(5)).await;
    // BFD reaches Up with the fast timers; the status says so, with BIRD's timers.
    let up = wait_neighbor(&a, "nbr-1", Duration::from_secs(5), |n| {
        n.bfd.as_ref().is_some_and(|b| b.state == "Up")
    })
    .await;
    let session = up.bfd.as_ref().unwrap();
    assert_eq!(session.address, topo.addr(2));
    assert_eq!(session.interface.as_deref(), Some("eth0"));
    assert_eq!(session.interval_ms, Some(100));
    assert_eq!(session.timeout_ms, Some(300));
    capture(&a, "bfd-sessions.txt", "show bfd sessions");
    sh(&["ip", "-n", &topo.m, "link", "set", "br0", "down"]);
    let t0 = Instant::now();
    let n = wait_neighbor(&a, "nbr-1", Duration::from_secs(5), |n| !established(n)).await;
    let took = t0.elapsed();
    println!(
        "BFD failover: session down {took:?} after the cut (100 ms x 3; hold time 9 s): {:?}",
        n.reason
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert!(
        n.bird
            .as_ref()
            .unwrap()
            .bgp
            .as_ref()
            .unwrap()
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("BFD"),
        "{n:#?}"
    );
    let n = wait_neighbor(&a, "nbr-1", Duration::from_secs(3), |n| {
        n.bfd.as_ref().is_some_and(|b| b.state != "Up")
    })
    .await;
    assert!(
        n.reason.as_deref().unwrap_or("").contains("BFD session is"),
        "{n:#?}"
    );
    assert_eq!(n.ports, None, "no ports without a session");
    capture(&a, "protocols-bfd-down.txt", "show protocols all");
    // The learned route leaves the kernel.
    let deadline = Instant::now() + Duration::from_secs(3);
    while topo.kernel_routes(&topo.a).contains("10.92.0.0/24") {
        assert!(Instant::now() < deadline, "route still in the kernel");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
