//! Self-test of the interop harness (`common::netns`): strongSwan on both sides of a veth,
//! a route-based PSK tunnel with NSX's default proposals, traffic through it, rekeys, and
//! the cleanup (namespaces, processes, directories) also after a panic.
//!
//! Needs root and `scripts/install-deps.sh`; fails (never skips) without them.
mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::netns::{
    in_netns, parse_list_sas, ping, require_interop_env, Capture, ChildSaInfo, IkeSaInfo, Link,
    Netns, PskConn, StrongSwan, StrongSwanOptions,
};

const PSK: &str = "strait-interop-harness-psk-0123456789";
const WAIT: Duration = Duration::from_secs(15);

fn netns_list() -> String {
    let o = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn listed(name: &str) -> bool {
    netns_list()
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
    })
}

fn mounts_mention(path: &std::path::Path) -> bool {
    let p = path.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| m.contains(&*p))
}

/// The IKE_SA with NSX's default IKE profile: AES_128 (CBC), SHA2_256, GROUP14.
#[track_caller]
fn check_ike(sa: &IkeSaInfo, local: &str, remote: &str, initiator: bool) {
    assert_eq!(sa.name, "rb");
    assert_eq!(sa.state, "ESTABLISHED");
    assert_eq!(sa.local_host, local);
    assert_eq!(sa.local_id, local);
    assert_eq!(sa.remote_host, remote);
    assert_eq!(sa.remote_id, remote);
    // libipsec forces NAT-T, so IKE floats to 4500
    assert_eq!((sa.local_port, sa.remote_port), (4500, 4500));
    assert_eq!(sa.initiator, initiator);
    assert_eq!(sa.encr_alg, "AES_CBC");
    assert_eq!(sa.encr_keysize, Some(128));
    assert_eq!(sa.integ_alg.as_deref(), Some("HMAC_SHA2_256_128"));
    assert_eq!(sa.prf_alg, "PRF_HMAC_SHA2_256");
    assert_eq!(sa.dh_group, "MODP_2048");
    assert_eq!(
        sa.algorithms(),
        "AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"
    );
    assert_eq!(sa.installed_children().len(), 1, "{sa:#?}");
}

/// The CHILD_SA with NSX's default tunnel profile: AES_GCM_128, route-based 0/0, ESP in UDP.
#[track_caller]
fn check_child(c: &ChildSaInfo, pfs: bool) {
    assert_eq!(c.name, "rb");
    assert_eq!(c.state, "INSTALLED");
    assert_eq!(c.mode, "TUNNEL");
    assert_eq!(c.protocol, "ESP");
    assert!(c.encap, "ESP must be UDP-encapsulated: {c:#?}");
    assert_eq!(c.encr_alg, "AES_GCM_16");
    assert_eq!(c.encr_keysize, Some(128));
    assert_eq!(c.integ_alg, None);
    // The CHILD_SA made in IKE_AUTH has no DH exchange; a rekey uses the PFS group.
    let dh = if pfs { Some("MODP_2048") } else { None };
    assert_eq!(c.dh_group.as_deref(), dh, "{c:#?}");
    assert_eq!(c.local_ts, ["0.0.0.0/0"]);
    assert_eq!(c.remote_ts, ["0.0.0.0/0"]);
    assert_eq!(c.spi_in.len(), 8, "{c:#?}");
    assert_eq!(c.spi_out.len(), 8, "{c:#?}");
}

/// Both ends agree: a's inbound SPI is b's outbound one and vice versa.
#[track_caller]
fn check_pair(a: &ChildSaInfo, b: &ChildSaInfo) {
    assert_eq!(a.spi_in, b.spi_out);
    assert_eq!(a.spi_out, b.spi_in);
}

/// The one INSTALLED CHILD_SA of the one IKE_SA.
#[track_caller]
fn child_of(sas: &[IkeSaInfo]) -> ChildSaInfo {
    assert_eq!(sas.len(), 1, "{sas:#?}");
    let installed = sas[0].installed_children();
    assert_eq!(installed.len(), 1, "{sas:#?}");
    installed[0].clone()
}

/// One IKE_SA, ESTABLISHED, with one INSTALLED CHILD_SA satisfying `child` (the CHILD_SA it
/// replaced may still be listed as REKEYED for a few seconds).
fn settled(sas: &[IkeSaInfo], child: impl Fn(&ChildSaInfo) -> bool) -> bool {
    if sas.len() != 1 || sas[0].state != "ESTABLISHED" {
        return false;
    }
    let installed = sas[0].installed_children();
    installed.len() == 1 && child(installed[0])
}

/// Ping both ways through the tunnel while capturing on b's veth; everything on the wire
/// must be ESP in UDP/4500 with the negotiated SPIs, nothing in plaintext.
#[track_caller]
fn traffic_through_tunnel(a: &Netns, b: &Netns, sa: &StrongSwan, sb: &StrongSwan) {
    let before_a = child_of(&sa.list_sas());
    let before_b = child_of(&sb.list_sas());
    // IPv4 only: the kernel's own IPv6 link-local chatter (ICMP6 ND/MLD) is not ours
    let cap = Capture::start(b, "veth-b", "ip");
    assert!(
        ping(a, "169.254.100.2", 3),
        "ping a -> b through the tunnel failed\n--- a ---\n{}\n--- b ---\n{}",
        sa.log(),
        sb.log()
    );
    assert!(
        ping(b, "169.254.100.1", 3),
        "ping b -> a through the tunnel failed"
    );
    let packets = cap.stop();
    let ca = child_of(&sa.list_sas());
    let cb = child_of(&sb.list_sas());
    // 3 echo requests + 3 replies each way
    assert!(ca.packets_out >= before_a.packets_out + 6, "{ca:#?}");
    assert!(ca.packets_in >= before_a.packets_in + 6, "{ca:#?}");
    assert!(cb.packets_out >= before_b.packets_out + 6, "{cb:#?}");
    assert!(cb.packets_in >= before_b.packets_in + 6, "{cb:#?}");
    assert!(ca.bytes_out > before_a.bytes_out && cb.bytes_in > before_b.bytes_in);

    let esp_with = |spi: &str| {
        let needle = format!("esp(spi=0x{},", spi.to_lowercase());
        packets
            .iter()
            .filter(|l| l.to_lowercase().contains(&needle) && l.contains(".4500 > "))
            .count()
    };
    assert!(
        esp_with(&ca.spi_out) >= 6,
        "a's ESP (spi {}) not seen on the wire:\n{}",
        ca.spi_out,
        packets.join("\n")
    );
    assert!(
        esp_with(&cb.spi_out) >= 6,
        "b's ESP (spi {}) not seen on the wire:\n{}",
        cb.spi_out,
        packets.join("\n")
    );
    assert!(
        !packets.iter().any(|l| l.contains("ICMP")),
        "plaintext ICMP on the veth:\n{}",
        packets.join("\n")
    );
}

#[test]
fn strongswan_to_strongswan_route_based_psk() {
    require_interop_env();
    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("[{:>6.2}s] {what}", t0.elapsed().as_secs_f64());

    let a = Netns::new();
    let b = Netns::new();
    let names = [a.name().to_owned(), b.name().to_owned()];
    assert!(listed(&names[0]) && listed(&names[1]), "{}", netns_list());
    let _link = Link::veth(
        &a,
        "veth-a",
        "198.51.100.1/24",
        &b,
        "veth-b",
        "198.51.100.2/24",
    );
    assert!(
        ping(&a, "198.51.100.2", 1),
        "plain ping over the veth failed"
    );
    lap("namespaces and veth");

    let sa = StrongSwan::start(&a);
    let sb = StrongSwan::start(&b);
    assert_ne!(sa.pid(), sb.pid());
    sa.set_tunnel_addr("169.254.100.1/30");
    sb.set_tunnel_addr("169.254.100.2/30");
    let conn = PskConn::new("rb", "198.51.100.1", "198.51.100.2", PSK);
    sa.load(&conn.render());
    sb.load(&conn.mirrored().render());
    lap("two charons started and loaded");

    if let Err(e) = sa.initiate("rb") {
        panic!("initiate failed: {e}");
    }
    let ia = sa.wait_established("rb", WAIT);
    let ib = sb.wait_established("rb", WAIT);
    check_ike(&ia, "198.51.100.1", "198.51.100.2", true);
    check_ike(&ib, "198.51.100.2", "198.51.100.1", false);
    assert_eq!(
        (&ia.initiator_spi, &ia.responder_spi),
        (&ib.initiator_spi, &ib.responder_spi)
    );
    let (ca, cb) = (
        child_of(std::slice::from_ref(&ia)),
        child_of(std::slice::from_ref(&ib)),
    );
    check_child(&ca, false);
    check_child(&cb, false);
    check_pair(&ca, &cb);
    lap("IKE_SA ESTABLISHED, CHILD_SA INSTALLED on both sides");

    traffic_through_tunnel(&a, &b, &sa, &sb);
    lap("pings through the tunnel, ESP-in-UDP only on the wire");

    // CHILD_SA rekey (with PFS): new SPIs on both sides, the old CHILD_SA gone.
    let old = ca;
    sa.rekey_child("rb").expect("rekey child");
    let fresh = |c: &ChildSaInfo| {
        c.spi_in != old.spi_in
            && c.spi_in != old.spi_out
            && c.spi_out != old.spi_out
            && c.spi_out != old.spi_in
    };
    let ra = sa.wait_sas("CHILD_SA rekeyed", WAIT, |s| settled(s, fresh));
    let rb = sb.wait_sas("CHILD_SA rekeyed", WAIT, |s| settled(s, fresh));
    let (ca, cb) = (child_of(&ra), child_of(&rb));
    check_child(&ca, true);
    check_child(&cb, true);
    check_pair(&ca, &cb);
    assert_eq!(ra[0].initiator_spi, ia.initiator_spi, "IKE_SA must stay");
    traffic_through_tunnel(&a, &b, &sa, &sb);
    lap("CHILD_SA rekeyed, traffic flows");

    // IKE_SA rekey: new IKE SPIs, same algorithms, the CHILD_SA moves over unchanged.
    let child = ca;
    sa.rekey_ike("rb").expect("rekey ike");
    let rekeyed = |s: &[IkeSaInfo]| {
        settled(s, |c| c.spi_in == child.spi_in) && s[0].initiator_spi != ia.initiator_spi
    };
    let ka = sa.wait_sas("IKE_SA rekeyed", WAIT, rekeyed);
    let kb = sb.wait_sas("IKE_SA rekeyed", WAIT, |s| {
        settled(s, |c| c.spi_out == child.spi_in) && s[0].initiator_spi != ia.initiator_spi
    });
    check_ike(&ka[0], "198.51.100.1", "198.51.100.2", true);
    check_ike(&kb[0], "198.51.100.2", "198.51.100.1", false);
    assert_eq!(ka[0].initiator_spi, kb[0].initiator_spi);
    assert_ne!(ka[0].uniqueid, ia.uniqueid);
    traffic_through_tunnel(&a, &b, &sa, &sb);
    lap("IKE_SA rekeyed, traffic flows");

    // Delete: both sides drop the SAs and nothing crosses any more.
    sa.terminate_ike("rb").expect("terminate");
    sa.wait_sas("no SAs after terminate", WAIT, |s| s.is_empty());
    sb.wait_sas("no SAs after the peer's delete", WAIT, |s| s.is_empty());
    assert!(
        !ping(&a, "169.254.100.2", 1),
        "ping crossed a deleted tunnel"
    );
    lap("terminated, tunnel gone");

    let log = sa.log();
    assert!(log.contains("IKE_SA rb[1] established"), "{log}");
    let pids = [sa.pid(), sb.pid()];
    let dirs: Vec<PathBuf> = vec![sa.dir().to_owned(), sb.dir().to_owned()];
    drop(sa);
    drop(sb);
    for p in pids {
        assert!(!process_alive(p), "charon {p} still running");
    }
    for d in &dirs {
        assert!(!d.exists(), "{} left behind", d.display());
        assert!(!mounts_mention(d), "{} still mounted", d.display());
    }
    assert!(!a.has_link("ipsec0"), "ipsec0 outlived charon");
    drop(a);
    drop(b);
    for n in &names {
        assert!(!listed(n), "namespace {n} left behind: {}", netns_list());
    }
    lap("everything cleaned up");
}

#[test]
fn netns_processes_and_in_netns() {
    require_interop_env();
    let a = Netns::new();
    let b = Netns::new();
    let name = a.name().to_owned();
    assert!(name.starts_with("st-") && name.len() <= 15, "{name}");
    assert_ne!(a.name(), b.name());
    Link::veth(&a, "v0", "203.0.113.1/24", &b, "v1", "203.0.113.2/24");
    assert!(a.ip(&["-br", "link", "show", "lo"]).contains("UP"));

    // in_netns: the closure's thread sees the namespace's interfaces, the caller does not.
    let dev = in_netns(&a, || {
        std::fs::read_to_string("/proc/thread-self/net/dev").expect("net/dev")
    });
    assert!(dev.contains("v0:"), "{dev}");
    let own = std::fs::read_to_string("/proc/thread-self/net/dev").expect("net/dev");
    assert!(!own.contains(" v0:"), "the test thread must stay outside");
    // ... and its sockets are there: a listener on 127.0.0.1 inside, reached from inside.
    let got = in_netns(&a, || {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let t = std::thread::spawn(move || {
            // a thread spawned in the namespace thread stays in the namespace
            let mut c = std::net::TcpStream::connect(addr).expect("connect");
            c.write_all(b"hello").expect("write");
        });
        let (mut s, _) = l.accept().expect("accept");
        let mut buf = String::new();
        s.read_to_string(&mut buf).expect("read");
        t.join().expect("client thread");
        buf
    });
    assert_eq!(got, "hello");
    // A panic inside in_netns reaches the caller.
    let r = std::panic::catch_unwind(|| in_netns(&a, || panic!("boom inside")));
    assert!(r.is_err());

    // Processes spawned in the namespace are stopped when it goes.
    let mut child = a.spawn(a.command("sleep").arg("600"));
    let pid = child.id();
    assert!(a.pids().contains(&pid), "sleep not inside {name}");
    assert!(a.run(&["ip", "-br", "addr"]).contains("203.0.113.1/24"));
    drop(a);
    let status = child.wait().expect("wait");
    assert!(!status.success(), "sleep should have been killed: {status}");
    assert!(!listed(&name), "{}", netns_list());
}

#[test]
fn cleanup_after_a_panic() {
    require_interop_env();
    let seen: Mutex<Option<(String, u32, PathBuf)>> = Mutex::new(None);
    let r = std::panic::catch_unwind(|| {
        let ns = Netns::new();
        let ss = StrongSwan::start(&ns);
        *seen.lock().unwrap() = Some((ns.name().to_owned(), ss.pid(), ss.dir().to_owned()));
        panic!("test failure with charon running");
    });
    assert!(r.is_err());
    let (name, pid, dir) = seen.into_inner().unwrap().expect("the closure ran");
    assert!(!process_alive(pid), "charon {pid} survived the panic");
    assert!(!dir.exists(), "{} survived the panic", dir.display());
    assert!(!mounts_mention(&dir));
    assert!(
        !listed(&name),
        "{name} survived the panic: {}",
        netns_list()
    );
}

#[test]
#[should_panic(expected = "outer address 192.0.2.1/24 must lie within")]
fn outer_addresses_are_checked() {
    require_interop_env();
    let a = Netns::new();
    let b = Netns::new();
    Link::veth(&a, "x0", "192.0.2.1/24", &b, "x1", "198.51.100.2/24");
}

#[test]
#[should_panic(expected = "outside the test networks")]
fn peer_addresses_are_checked() {
    PskConn::new("rb", "198.51.100.1", "192.168.1.1", PSK);
}

#[test]
fn swanctl_conf_rendering() {
    let c = PskConn::new("rb", "198.51.100.1", "198.51.100.2", PSK);
    let text = c.render();
    for line in [
        "local_addrs = 198.51.100.1",
        "remote_addrs = 198.51.100.2",
        "proposals = aes128-sha256-modp2048",
        "esp_proposals = aes128gcm16-modp2048",
        "encap = yes",
        "local_ts = 0.0.0.0/0",
        "remote_ts = 0.0.0.0/0",
        "id = \"198.51.100.1\"",
        "start_action = none",
        "dpd_delay = 30s",
        "secret = \"strait-interop-harness-psk-0123456789\"",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    let m = c.mirrored().render();
    assert!(m.contains("local_addrs = 198.51.100.2") && m.contains("id-local = \"198.51.100.2\""));
}

#[test]
fn strongswan_conf_rendering() {
    let conf = StrongSwanOptions::default()
        .log("ike", 3)
        .render(std::path::Path::new("/tmp/x"));
    eprintln!("{conf}");
    let load = conf
        .lines()
        .find_map(|l| l.trim().strip_prefix("load = "))
        .expect("charon load line");
    let plugins: Vec<&str> = load.split_whitespace().collect();
    let at = |p: &str| plugins.iter().position(|x| *x == p).expect(p);
    assert_eq!(plugins[0], "openssl", "openssl must come first: {load}");
    assert!(at("kernel-libipsec") < at("kernel-netlink"), "{load}");
    for line in [
        "load_modular = no",
        "routing_table_prio = 40000",
        "socket = unix:///tmp/x/charon.vici",
        "path = /tmp/x/charon.log",
        "ike = 3",
        "knl = 1",
    ] {
        assert!(conf.contains(line), "{line:?} missing from:\n{conf}");
    }
    assert!(!conf.contains("ike = 2"), "{conf}");
}

#[test]
fn list_sas_parsing() {
    let out = "\
list-sa event {
  rb {
    uniqueid = 3
    version = 2
    state = ESTABLISHED
    local-host = 198.51.100.1
    local-port = 4500
    local-id = C=US, O=Strait Test, CN=a = b
    remote-host = 198.51.100.2
    remote-port = 4500
    remote-id = 198.51.100.2
    initiator = yes
    initiator-spi = 07b9ae7238c92f9c
    responder-spi = f47e3b07129c3bc1
    encr-alg = AES_CBC
    encr-keysize = 128
    integ-alg = HMAC_SHA2_256_128
    prf-alg = PRF_HMAC_SHA2_256
    dh-group = MODP_2048
    child-sas {
      rb-5 {
        name = rb
        uniqueid = 5
        reqid = 1
        state = INSTALLED
        mode = TUNNEL
        protocol = ESP
        encap = yes
        spi-in = a0db5aaa
        spi-out = 2a467942
        encr-alg = AES_GCM_16
        encr-keysize = 128
        dh-group = MODP_2048
        bytes-in = 504
        packets-in = 6
        bytes-out = 504
        packets-out = 6
        local-ts = [
          0.0.0.0/0
        ]
        remote-ts = [
          0.0.0.0/0
          10.0.0.0/8
        ]
      }
    }
  }
}
list-sa event {
  other {
    state = CONNECTING
    child-sas {
    }
  }
}
list-sas reply {
}
";
    let sas = parse_list_sas(out);
    assert_eq!(sas.len(), 2);
    let s = &sas[0];
    assert_eq!(
        (s.name.as_str(), s.uniqueid, s.state.as_str()),
        ("rb", 3, "ESTABLISHED")
    );
    assert_eq!(s.local_id, "C=US, O=Strait Test, CN=a = b");
    assert!(s.initiator);
    assert_eq!(
        s.algorithms(),
        "AES_CBC-128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048"
    );
    let c = &s.children[0];
    assert_eq!(
        (c.spi_in.as_str(), c.spi_out.as_str()),
        ("a0db5aaa", "2a467942")
    );
    assert_eq!(c.algorithms(), "AES_GCM_16-128/MODP_2048");
    assert_eq!((c.packets_in, c.bytes_out), (6, 504));
    assert_eq!(c.remote_ts, ["0.0.0.0/0", "10.0.0.0/8"]);
    assert_eq!(c.fields["reqid"], "1");
    assert_eq!(sas[1].name, "other");
    assert!(sas[1].children.is_empty());
    assert!(parse_list_sas("list-sas reply {\n}\n").is_empty());
}
