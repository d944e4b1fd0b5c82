//! Traffic through strait tunnels: straitd's userspace ESP over its VTIs against strongSwan
//! (kernel-libipsec, ESP in UDP 4500) and against another straitd (UDP-encapsulated and plain
//! ESP), each side in its own network namespace, configured only through the REST API.
//! ping and iperf3 both ways over routes into the VTIs, MSS clamping seen on the wire,
//! counters that match what was sent, and a forced rekey under load that loses nothing
//! (contract: no integrity/replay/SA-mismatch drops, no 1-second iperf3 interval at zero).
//!
//! Needs root and `scripts/install-deps.sh` (fails loudly otherwise, never skips).
mod common;

use common::netns::{ping, topology_with_lans, Capture, Netns, PskConn, StrongSwan, Topology};
use common::straitd::{configure, StraitInNs, PSK, SESSION, WAIT};
use serde_json::{json, Value};

const A: &str = "198.51.100.1";
const B: &str = "198.51.100.2";
/// LAN addresses behind each side (on `lo`), routed over the tunnel.
const LAN_A: &str = "10.1.0.1";
const LAN_B: &str = "10.2.0.1";

/// strait's session is UP with an installed tunnel; returns its status.
fn strait_up(s: &StraitInNs) -> Value {
    s.wait_status(SESSION, "the session UP", |st| {
        st["runtime_status"] == "UP" && st["interface_name"].is_string()
    })
}

fn stats(s: &StraitInNs) -> Value {
    s.api(|h| h.get(&format!("{SESSION}/statistics")).expect(200).body)["results"][0]
        ["policy_statistics"][0]["tunnel_statistics"][0]
        .clone()
}

/// strongSwan in `b` as the peer of strait in `a`, both routing the other's LAN into the tunnel.
fn strait_and_strongswan(t: &Topology) -> (StraitInNs<'_>, StrongSwan, String) {
    let ss = StrongSwan::start(&t.b);
    ss.set_tunnel_addr("169.254.100.2/30");
    ss.add_tunnel_route(&format!("{LAN_A}/32"));
    let mut conn = PskConn::new("rb", B, A, PSK);
    conn.replay_window = Some(4096);
    ss.load(&conn.render());
    let strait = StraitInNs::start(&t.a);
    strait.api(|h| configure(h, A, B, "169.254.100.1", true, json!({})));
    let st = strait_up(&strait);
    let vti = st["interface_name"].as_str().unwrap().to_owned();
    t.a.ip(&["route", "add", &format!("{LAN_B}/32"), "dev", &vti]);
    (strait, ss, vti)
}

#[test]
fn strait_and_strongswan_ping_over_the_vti_and_count_it() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let (strait, ss, vti) = strait_and_strongswan(&t);
    ss.wait_established("rb", WAIT);
    // The VTI: the session's address, up, an MTU that leaves room for ESP in UDP.
    let link = t.a.ip(&["-d", "-j", "addr", "show", "dev", &vti]);
    let link: Value = serde_json::from_str(&link).unwrap();
    assert_eq!(link[0]["mtu"], 1438, "{link:#}");
    assert!(link[0]["flags"].as_array().unwrap().contains(&json!("UP")));
    assert_eq!(link[0]["addr_info"][0]["local"], "169.254.100.1");
    assert_eq!(link[0]["addr_info"][0]["prefixlen"], 30);

    // Over the VTI subnet itself, then LAN to LAN through the added routes, both ways.
    let before = stats(&strait);
    assert!(
        ping(&t.a, "169.254.100.2", 5),
        "ping over the VTI failed\n{}",
        strait.log()
    );
    assert!(
        ping(&t.b, "169.254.100.1", 5),
        "ping from strongSwan's side"
    );
    let out = t.a.exec(&[
        "ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "2", "-I", LAN_A, LAN_B,
    ]);
    assert!(
        out.status.success(),
        "LAN to LAN: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after = stats(&strait);
    // 15 echo requests out and 15 replies in (5 of them answered by strait's side for the
    // peer's pings: 5 requests in, 5 replies out). Ping sizes: 84-byte IPv4 packets.
    let d = |f: &str| after[f].as_u64().unwrap() - before[f].as_u64().unwrap();
    assert_eq!(d("packets_out"), 15, "{after:#}");
    assert_eq!(d("packets_in"), 15, "{after:#}");
    assert_eq!(d("bytes_out"), 15 * 84);
    assert_eq!(d("bytes_in"), 15 * 84);
    for f in [
        "dropped_packets_in",
        "dropped_packets_out",
        "integrity_failures",
        "replay_errors",
        "sa_mismatch_errors_in",
        "decryption_failures",
    ] {
        assert_eq!(after[f], 0, "{f}: {after:#}");
    }
    assert_eq!(after["tunnel_status"], "UP");
    // strongSwan counted the same packets on its Child SA.
    let sa = ss.list_sas();
    let child = sa[0].installed_children()[0].clone();
    assert_eq!(child.packets_in, 15, "{child:?}");
    assert_eq!(child.packets_out, 15, "{child:?}");

    // iperf3 both ways, LAN to LAN.
    let swan_drops_before = udp_rcvbuf_errors(&t.b);
    let (up, _) = iperf3(&t.b, &t.a, LAN_B, 2, false);
    let (down, _) = iperf3(&t.b, &t.a, LAN_B, 2, true);
    assert!(up.iter().chain(&down).all(|r| *r > 1e6), "{up:?} {down:?}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let s = stats(&strait);
    no_drops(&s);
    // strongSwan received what strait sent, except what its own UDP receive buffer dropped
    // (libipsec reads one packet per system call and falls behind under iperf3), and strait
    // received exactly what strongSwan sent.
    let child = ss.list_sas()[0].installed_children()[0].clone();
    let swan_drops = udp_rcvbuf_errors(&t.b) - swan_drops_before;
    assert_eq!(
        s["packets_out"].as_u64(),
        Some(child.packets_in + swan_drops),
        "{s:#} {child:?} strongSwan's socket dropped {swan_drops}"
    );
    assert_eq!(
        s["packets_in"].as_u64(),
        Some(child.packets_out),
        "{s:#} {child:?}"
    );
}

/// The kernel's count of UDP datagrams dropped for a full receive buffer in `ns`.
fn udp_rcvbuf_errors(ns: &Netns) -> u64 {
    let out = ns.run(&["cat", "/proc/net/snmp"]);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("Udp:"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let col = rows[0].iter().position(|h| *h == "RcvbufErrors").unwrap();
    rows[1][col].parse().unwrap()
}

/// A forced capture proves the packets cross the veth as ESP in UDP 4500.
#[test]
fn strait_to_strongswan_traffic_is_esp_in_udp_4500() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let (strait, ss, _vti) = strait_and_strongswan(&t);
    let cap = Capture::start(&t.a, "st-a", "udp port 4500");
    let ok = ping(&t.a, "169.254.100.2", 3);
    if !ok {
        eprintln!("STATS {:#}", stats(&strait));
        eprintln!("LINK {}", t.a.ip(&["-s", "link"]));
        eprintln!("SWAN {}", t.b.ip(&["-s", "link"]));
        eprintln!("SAS {:#?}", ss.list_sas());
    }
    assert!(ok, "{}", strait.log());
    let lines = cap.stop();
    let esp: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("UDP-encap: ESP"))
        .collect();
    assert!(esp.len() >= 6, "{lines:#?}");
    assert!(
        !lines.iter().any(|l| l.contains("ICMP echo")),
        "plaintext on the wire: {lines:#?}"
    );
}

/// Two straitds, `a` initiating, each routing the other's LAN into its VTI.
fn strait_pair<'t>(t: &'t Topology, extra: Value) -> (StraitInNs<'t>, StraitInNs<'t>) {
    let sa = StraitInNs::start(&t.a);
    let sb = StraitInNs::start(&t.b);
    let e = extra.clone();
    sb.api(move |h| configure(h, B, A, "169.254.100.2", false, e));
    sa.api(move |h| configure(h, A, B, "169.254.100.1", true, extra));
    let va = strait_up(&sa)["interface_name"]
        .as_str()
        .unwrap()
        .to_owned();
    let vb = strait_up(&sb)["interface_name"]
        .as_str()
        .unwrap()
        .to_owned();
    t.a.ip(&["route", "add", &format!("{LAN_B}/32"), "dev", &va]);
    t.b.ip(&["route", "add", &format!("{LAN_A}/32"), "dev", &vb]);
    (sa, sb)
}

/// iperf3 TCP from `client` to `server_addr` (served in `server`) for `secs`; returns the
/// per-second received rates (bit/s) and the total bytes.
fn iperf3(
    server: &Netns,
    client: &Netns,
    server_addr: &str,
    secs: u32,
    reverse: bool,
) -> (Vec<f64>, u64) {
    let mut srv = server.spawn(
        server
            .command("iperf3")
            .args(["-s", "-1", "-B", server_addr])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let secs = secs.to_string();
    let mut args = vec!["iperf3", "-c", server_addr, "-t", &secs, "-i", "1", "-J"];
    if reverse {
        args.push("-R");
    }
    let out = client.exec(&args);
    let _ = srv.wait();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "iperf3 output: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert!(v["error"].is_null(), "iperf3: {}", v["error"]);
    let rates = v["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sum"]["bits_per_second"].as_f64().unwrap())
        .collect();
    (rates, v["end"]["sum_received"]["bytes"].as_u64().unwrap())
}

#[track_caller]
fn no_drops(s: &Value) {
    for f in [
        "dropped_packets_in",
        "dropped_packets_out",
        "integrity_failures",
        "replay_errors",
        "sa_mismatch_errors_in",
        "sa_mismatch_errors_out",
        "decryption_failures",
        "encryption_failures",
        "seq_number_overflow_error",
    ] {
        assert_eq!(s[f], 0, "{f}: {s:#}");
    }
}

#[test]
fn strait_to_strait_udp_encapsulated_ping_iperf3_both_ways_counters_match() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let (sa, sb) = strait_pair(&t, json!({}));
    assert!(ping(&t.a, "169.254.100.2", 5), "{}", sa.log());
    assert!(ping(&t.b, "169.254.100.1", 5), "{}", sb.log());
    let (up, bytes_up) = iperf3(&t.b, &t.a, LAN_B, 3, false);
    let (down, bytes_down) = iperf3(&t.b, &t.a, LAN_B, 3, true);
    assert!(up.iter().all(|r| *r > 1e6), "A->B intervals {up:?}");
    assert!(down.iter().all(|r| *r > 1e6), "B->A intervals {down:?}");
    assert!(bytes_up > 1_000_000 && bytes_down > 1_000_000);
    // Let the last ACKs land, then both ends agree packet for packet.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (a, b) = (stats(&sa), stats(&sb));
    no_drops(&a);
    no_drops(&b);
    assert_eq!(a["packets_out"], b["packets_in"], "A {a:#}\nB {b:#}");
    assert_eq!(a["packets_in"], b["packets_out"], "A {a:#}\nB {b:#}");
    assert_eq!(a["bytes_out"], b["bytes_in"]);
    assert!(a["bytes_out"].as_u64().unwrap() > bytes_up);
    // Reset zeroes them.
    sa.api(|h| {
        h.raw("POST", &format!("{SESSION}/statistics?action=reset"), "")
            .expect(200)
    });
    let a = stats(&sa);
    assert!(a["packets_out"].as_u64().unwrap() < 5, "{a:#}");
}

#[test]
fn strait_to_strait_plain_esp_when_udp_encapsulation_is_off() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let (sa, _sb) = strait_pair(&t, json!({"udp_encapsulation": false}));
    let st = sa.status(SESSION);
    assert_eq!(st["sas"]["ike"]["udp_encapsulation"], false, "{st:#}");
    let cap = Capture::start(&t.a, "st-a", "esp or udp port 4500");
    assert!(ping(&t.a, "169.254.100.2", 3), "{}", sa.log());
    let lines = cap.stop();
    assert!(
        lines.iter().filter(|l| l.contains(": ESP(spi=")).count() >= 6,
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("UDP-encap")), "{lines:#?}");
    let (rates, _) = iperf3(&t.b, &t.a, LAN_B, 2, false);
    assert!(rates.iter().all(|r| *r > 1e6), "{rates:?}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    no_drops(&stats(&sa));
}

/// iperf3 in the background (client in `client`, server on `server_addr` in `server`).
fn iperf3_background(
    server: &Netns,
    client: &Netns,
    server_addr: &str,
    secs: u32,
) -> std::thread::JoinHandle<(Vec<f64>, u64)> {
    let (sname, cname) = (server.name().to_owned(), client.name().to_owned());
    let addr = server_addr.to_owned();
    std::thread::spawn(move || {
        let ns = |n: &str| {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", n]);
            c
        };
        let mut srv = ns(&sname)
            .args(["iperf3", "-s", "-1", "-B", &addr])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("iperf3 -s");
        std::thread::sleep(std::time::Duration::from_millis(500));
        let out = ns(&cname)
            .args([
                "iperf3",
                "-c",
                &addr,
                "-t",
                &secs.to_string(),
                "-i",
                "1",
                "-J",
            ])
            .output()
            .expect("iperf3 -c");
        let _ = srv.wait();
        let v: Value = serde_json::from_slice(&out.stdout).expect("iperf3 json");
        assert!(v["error"].is_null(), "iperf3: {}", v["error"]);
        let rates = v["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["sum"]["bits_per_second"].as_f64().unwrap())
            .collect();
        (rates, v["end"]["sum_received"]["bytes"].as_u64().unwrap())
    })
}

fn child_spis(s: &StraitInNs) -> Vec<String> {
    s.status(SESSION)["sas"]["child"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["spi_in"].as_str().unwrap().to_owned())
        .collect()
}

fn rekey(s: &StraitInNs, action: &str) {
    s.api(|h| {
        h.raw("POST", &format!("{SESSION}?action={action}"), "")
            .expect(200)
    });
}

/// Contract: a forced Child or IKE rekey during iperf3 produces zero integrity, replay and
/// SA-mismatch drops and no 1-second interval at zero. Rekeys from both ends, three Child
/// rekeys each: the window a wrong order opens (strait's Delete or response leaving before
/// its data plane holds the new inbound SA, while strongSwan sends at full rate) is a
/// millisecond or two per rekey, so one rekey per side caught it only now and then.
#[test]
fn rekeys_from_both_ends_during_iperf3_lose_nothing_with_strongswan() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let (strait, ss, _vti) = strait_and_strongswan(&t);
    let first = child_spis(&strait);
    let first_ike = strait.status(SESSION)["sas"]["ike"]["spi_i"].clone();
    let run = iperf3_background(&t.b, &t.a, LAN_B, 12);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    for _ in 0..3 {
        rekey(&strait, "rekey_child");
        std::thread::sleep(std::time::Duration::from_secs(1));
        ss.rekey_child("rb").expect("strongSwan child rekey");
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    rekey(&strait, "rekey_ike");
    std::thread::sleep(std::time::Duration::from_secs(1));
    ss.rekey_ike("rb").expect("strongSwan IKE rekey");
    let (rates, bytes) = run.join().unwrap();
    assert!(
        rates.iter().all(|r| *r > 1e6),
        "an interval near zero: {rates:?}\n{}",
        strait.log()
    );
    assert!(bytes > 10_000_000, "{bytes}");
    let after = child_spis(&strait);
    assert!(
        !after.iter().any(|s| first.contains(s)),
        "the Child SA was rekeyed: {first:?} -> {after:?}"
    );
    let ike = strait.status(SESSION)["sas"]["ike"]["spi_i"].clone();
    assert_ne!(ike, first_ike, "the IKE SA was rekeyed");
    let s = stats(&strait);
    for f in [
        "integrity_failures",
        "replay_errors",
        "sa_mismatch_errors_in",
        "sa_mismatch_errors_out",
        "dropped_packets_in",
        "dropped_packets_out",
    ] {
        assert_eq!(s[f], 0, "{f}: {s:#}\n{}", strait.log());
    }
}

#[test]
fn rekeys_from_both_ends_during_iperf3_lose_nothing_between_straits() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let (sa, sb) = strait_pair(&t, json!({}));
    let first = child_spis(&sa);
    let first_ike = sa.status(SESSION)["sas"]["ike"]["spi_i"].clone();
    let run = iperf3_background(&t.b, &t.a, LAN_B, 8);
    std::thread::sleep(std::time::Duration::from_millis(2000));
    rekey(&sa, "rekey_child");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    rekey(&sb, "rekey_child");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    rekey(&sb, "rekey_ike");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    rekey(&sa, "rekey_ike");
    let (rates, _) = run.join().unwrap();
    assert!(rates.iter().all(|r| *r > 1e6), "{rates:?}");
    let after = child_spis(&sa);
    assert!(
        !after.iter().any(|s| first.contains(s)),
        "{first:?} -> {after:?}"
    );
    assert_ne!(sa.status(SESSION)["sas"]["ike"]["spi_i"], first_ike);
    std::thread::sleep(std::time::Duration::from_millis(500));
    no_drops(&stats(&sa));
    no_drops(&stats(&sb));
}

/// MSS clamping (BOTH, 1200): the SYN leaves strait clamped (seen decrypted on strongSwan's
/// ipsec0) and the SYN-ACK enters strait's VTI clamped (seen on the VTI).
#[test]
fn mss_clamping_is_visible_on_the_wire() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let ss = StrongSwan::start(&t.b);
    ss.set_tunnel_addr("169.254.100.2/30");
    ss.add_tunnel_route(&format!("{LAN_A}/32"));
    ss.load(&PskConn::new("rb", B, A, PSK).render());
    let strait = StraitInNs::start(&t.a);
    strait.api(|h| {
        configure(
            h,
            A,
            B,
            "169.254.100.1",
            true,
            json!({"tcp_mss_clamping": {"direction": "BOTH", "max_segment_size": 1200}}),
        )
    });
    let vti = strait_up(&strait)["interface_name"]
        .as_str()
        .unwrap()
        .to_owned();
    t.a.ip(&["route", "add", &format!("{LAN_B}/32"), "dev", &vti]);
    let syn = "tcp[tcpflags] & tcp-syn != 0";
    let on_vti = Capture::start(&t.a, &vti, syn);
    let on_swan = Capture::start(&t.b, "ipsec0", syn);
    let (rates, _) = iperf3(&t.b, &t.a, LAN_B, 1, false);
    assert!(rates.iter().all(|r| *r > 0.0));
    let vti_lines = on_vti.stop();
    let swan_lines = on_swan.stop();
    // The kernel's SYN (MSS = VTI MTU 1438 - 40) as it entered the VTI...
    assert!(
        vti_lines
            .iter()
            .any(|l| l.contains("Flags [S]") && l.contains("mss 1398")),
        "{vti_lines:#?}"
    );
    // ...left the tunnel clamped,
    assert!(
        swan_lines
            .iter()
            .any(|l| l.contains("Flags [S]") && l.contains("mss 1200")),
        "{swan_lines:#?}"
    );
    // and the peer's SYN-ACK (MSS 1360 from its 1400 MTU) arrived clamped.
    assert!(
        swan_lines
            .iter()
            .any(|l| l.contains("Flags [S.]") && l.contains("mss 1360")),
        "{swan_lines:#?}"
    );
    assert!(
        vti_lines
            .iter()
            .any(|l| l.contains("Flags [S.]") && l.contains("mss 1200")),
        "{vti_lines:#?}"
    );
    assert!(
        !vti_lines
            .iter()
            .chain(&swan_lines)
            .any(|l| l.contains("Flags [S.]") && l.contains("mss 1398")),
        "no SYN-ACK escaped clamping"
    );
}
