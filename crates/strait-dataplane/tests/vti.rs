//! VTI integration tests: real TUN devices, netlink and kernel routing, each test inside a fresh
//! network namespace of its own (created with `ip netns add`, deleted afterwards), entered by a
//! thread with `setns`. The root namespace is never touched.
//!
//! They need root (namespaces, TUN, netlink changes) and fail, never skip, without it:
//! `sudo -E cargo test -p strait-dataplane --test vti`.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{text, Netns};

use ipnet::IpNet;
use strait_dataplane::mss;
use strait_dataplane::vti::{
    add_route, delete_route, routes_of, vti_name, Netlink, Vti, VtiConfig, VtiError, VtiRoute,
    ROOT_QDISC, RTPROT_STRAIT, TX_QUEUE_LEN,
};
use tun_rs::{AsyncDevice, VirtioNetHdr, VIRTIO_NET_HDR_LEN};

const READ_TIMEOUT: Duration = Duration::from_secs(5);

fn net(s: &str) -> IpNet {
    s.parse().expect("test network")
}

fn config(name: &str, queues: usize, offload: bool) -> VtiConfig {
    VtiConfig {
        name: name.to_owned(),
        addresses: vec![net("169.254.10.1/30"), net("fd00:10::1/64")],
        mtu: 1400,
        queues,
        multi_queue: queues > 1,
        offload,
        group: 0,
    }
}

// ---------------------------------------------------------------------------------------------
// packets
// ---------------------------------------------------------------------------------------------

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Whether the IPv4 header checksum and the UDP/TCP checksum of an IPv4 packet verify.
fn ipv4_checksums_ok(p: &[u8]) -> bool {
    let ihl = usize::from(p[0] & 0xf) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    if fold(sum16(&p[..ihl], 0)) != 0xffff || total != p.len() {
        return false;
    }
    let l4 = &p[ihl..total];
    let pseudo = sum16(&p[12..20], 0) + u32::from(p[9]) + l4.len() as u32;
    fold(sum16(l4, pseudo)) == 0xffff
}

/// An IPv4/TCP packet with correct checksums.
#[allow(clippy::too_many_arguments)]
fn tcp4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    options: &[u8],
) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let tcp_len = 20 + options.len();
    let mut p = vec![0u8; 20 + tcp_len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&((20 + tcp_len) as u16).to_be_bytes());
    p[6] = 0x40;
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let c = !fold(sum16(&p[..20], 0));
    p[10..12].copy_from_slice(&c.to_be_bytes());
    let t = &mut p[20..];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = ((tcp_len / 4) as u8) << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    t[20..].copy_from_slice(options);
    let pseudo = sum16(&src.octets(), 0) + sum16(&dst.octets(), 0) + 6 + tcp_len as u32;
    let c = !fold(sum16(&p[20..], pseudo));
    p[36..38].copy_from_slice(&c.to_be_bytes());
    p
}

/// Read one packet (no offload) from a queue, skipping anything `keep` rejects.
async fn read_matching(q: &AsyncDevice, keep: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut buf = vec![0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, q.recv(&mut buf))
            .await
            .expect("no matching packet on the queue within 5 s")
            .expect("read from the TUN queue");
        if keep(&buf[..n]) {
            return buf[..n].to_vec();
        }
    }
}

fn is_udp4_to(p: &[u8], dst: Ipv4Addr, dport: u16) -> bool {
    p.len() >= 28
        && p[0] >> 4 == 4
        && p[9] == 17
        && p[16..20] == dst.octets()
        && u16::from_be_bytes([p[22], p[23]]) == dport
}

/// A UDP socket bound inside the current namespace (call from `Netns::run`).
fn udp_socket(bind: &str) -> UdpSocket {
    UdpSocket::bind(bind).unwrap_or_else(|e| panic!("bind {bind}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------------------------

#[test]
fn create_configures_the_device_and_close_removes_it() {
    let ns = Netns::new();
    let name = vti_name("/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/create");
    let cfg = config(&name, 2, false);
    let vti = ns.run(|| async { Vti::create(&cfg).await.expect("create the VTI") });
    // The device lives in the test's namespace only (this thread is in the original one).
    let here = Command::new("ip")
        .args(["link", "show", "dev", &name])
        .output()
        .unwrap();
    assert!(
        !here.status.success(),
        "{name} leaked into the original namespace"
    );
    ns.run(|| async {
        assert_eq!(vti.name(), name);
        assert_eq!(vti.mtu(), 1400);
        assert_eq!(vti.queues().len(), 2);
        assert!(!vti.offload());

        let link = ns.link(&name).expect("the device exists in the namespace");
        assert_eq!(link["ifname"], name.as_str());
        assert_eq!(link["ifindex"].as_u64(), Some(u64::from(vti.ifindex())));
        assert_eq!(link["mtu"], 1400);
        assert_eq!(link["txqlen"].as_u64(), Some(u64::from(TX_QUEUE_LEN)));
        // One shared noqueue root, not the kernel's mq with 256 pfifo_fast children (issue 11).
        assert_eq!(link["qdisc"], ROOT_QDISC, "{link}");
        let flags: Vec<&str> = link["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert!(flags.contains(&"UP"), "{flags:?}");
        assert!(flags.contains(&"POINTOPOINT"), "{flags:?}");
        let info = &link["linkinfo"];
        assert_eq!(info["info_kind"], "tun", "{link}");
        assert_eq!(info["info_data"]["type"], "tun", "{link}");
        assert_eq!(info["info_data"]["multi_queue"], true, "{link}");
        assert_eq!(info["info_data"]["pi"], false, "{link}");
        assert_eq!(info["info_data"]["vnet_hdr"], false, "{link}");
        assert_eq!(info["info_data"]["persist"], false, "{link}");
        assert_eq!(link["inet6_addr_gen_mode"], "none", "{link}");
        // Exactly the configured addresses: no IPv6 link-local either.
        let mut want = cfg.addresses.clone();
        want.sort();
        assert_eq!(ns.addresses(&name), want);
        // The kernel made the subnet routes.
        let routes = ns.ip_json(&["route", "show", "dev", &name]);
        assert!(routes.to_string().contains("169.254.10.0/30"), "{routes}");
        // MTU changes; IPv6 needs 1280.
        vti.set_mtu(1380).await.expect("set the MTU");
        assert_eq!(vti.mtu(), 1380);
        assert_eq!(ns.link(&name).unwrap()["mtu"], 1380);
        let e = vti.set_mtu(1200).await.expect_err("IPv6 below 1280");
        assert!(matches!(e, VtiError::InvalidConfig { .. }), "{e}");
        assert!(e.to_string().contains("1280"), "{e}");

        // Addresses are replaced: one kept, one changed, one added.
        let next = [
            net("169.254.10.1/30"),
            net("169.254.20.5/29"),
            net("fd00:20::1/64"),
        ];
        vti.set_addresses(&next).await.expect("set addresses");
        assert_eq!(vti.addresses(), next.to_vec());
        let mut want = next.to_vec();
        want.sort();
        assert_eq!(ns.addresses(&name), want);
        vti.set_addresses(&next)
            .await
            .expect("set the same addresses again");
        assert_eq!(ns.addresses(&name), want);
        // IPv4 only: then a small MTU is fine.
        vti.set_addresses(&[net("169.254.30.1/30")])
            .await
            .expect("IPv4 only");
        // Without an IPv6 address IPv6 is off on the VTI: no per-interface IPv6 routes, whose
        // upkeep grows with the number of VTIs in the kernel.
        assert_eq!(ipv6_disabled(&ns, &name), "1");
        assert_eq!(ipv6_routes(&ns, &name), "");
        vti.set_mtu(576).await.expect("small MTU without IPv6");
        assert_eq!(ns.link(&name).unwrap()["mtu"], 576);
        assert_eq!(ns.addresses(&name), vec![net("169.254.30.1/30")]);

        vti.close().await.expect("close");
        assert!(ns.link(&name).is_none(), "close() left {name} behind");

        // Dropping without close() also removes it (the kernel does, with the last fd).
        let vti = Vti::create(&config(&name, 1, false))
            .await
            .expect("create again");
        assert!(ns.link(&name).is_some());
        drop(vti);
        // The kernel unregisters the device when the last queue closes; under load the final
        // release of the file can trail the close by a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while ns.link(&name).is_some() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(ns.link(&name).is_none(), "drop left {name} behind");
    });
}

/// `disable_ipv6` of a device in `ns`.
fn ipv6_disabled(ns: &Netns, dev: &str) -> String {
    let o = Command::new("ip")
        .args(["netns", "exec", &ns.name, "cat"])
        .arg(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"))
        .output()
        .expect("ip netns exec cat");
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn ipv6_routes(ns: &Netns, dev: &str) -> String {
    ns.ip(&["-6", "route", "show", "table", "all", "dev", dev])
        .trim()
        .to_owned()
}

#[test]
fn an_ipv4_vti_has_ipv6_off_until_it_gets_an_ipv6_address() {
    let ns = Netns::new();
    let name = vti_name("/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/v4only");
    ns.run(|| async {
        let mut cfg = config(&name, 1, false);
        cfg.addresses = vec![net("169.254.40.1/30")];
        let vti = Vti::create(&cfg).await.expect("create");
        assert_eq!(ipv6_disabled(&ns, &name), "1");
        // One queue: not a multi-queue device (whose queue structures cost ~224 KB).
        let link = ns.link(&name).expect("the device exists");
        assert_eq!(
            link["linkinfo"]["info_data"]["multi_queue"], false,
            "{link}"
        );
        assert_eq!(link["qdisc"], ROOT_QDISC, "{link}");
        // Not even the multicast route (ff00::/8) the kernel gives every interface it sees
        // come up with IPv6 on.
        assert_eq!(ipv6_routes(&ns, &name), "");
        assert_eq!(ns.addresses(&name), vec![net("169.254.40.1/30")]);
        let dual = [net("169.254.40.1/30"), net("fd00:40::1/64")];
        vti.set_addresses(&dual).await.expect("add IPv6");
        assert_eq!(ipv6_disabled(&ns, &name), "0");
        assert_eq!(ns.addresses(&name), dual.to_vec());
        assert!(ipv6_routes(&ns, &name).contains("fd00:40::/64"));
        vti.close().await.expect("close");
    });
}

#[test]
fn invalid_configurations_are_refused_with_a_reason() {
    let ns = Netns::new();
    ns.run(|| async {
        let mut bad = config("st-bad/name", 1, false);
        let e = Vti::create(&bad).await.expect_err("slash in the name");
        assert!(matches!(e, VtiError::InvalidConfig { .. }), "{e}");
        bad.name = "st-this-is-far-too-long".into();
        assert!(Vti::create(&bad).await.is_err());
        let mut bad = config("st-q0", 0, false);
        let e = Vti::create(&bad).await.expect_err("0 queues");
        assert!(e.to_string().contains("queues"), "{e}");
        bad.queues = 1;
        bad.mtu = 1000;
        let e = Vti::create(&bad).await.expect_err("IPv6 with MTU 1000");
        assert!(e.to_string().contains("1280"), "{e}");
    });
    assert!(ns.link("st-q0").is_none());

    // A failure half-way leaves nothing behind, and says what to do: IPv6 off in the namespace.
    let sysctl = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "sysctl",
            "-qw",
            "net.ipv6.conf.default.disable_ipv6=1",
        ])
        .output()
        .expect("run sysctl");
    assert!(sysctl.status.success(), "sysctl: {}", text(&sysctl));
    let name = vti_name("/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/noipv6");
    let e = ns.run(|| async {
        Vti::create(&config(&name, 2, true))
            .await
            .expect_err("IPv6 is off")
    });
    assert!(e.to_string().contains("IPv6 is disabled"), "{e}");
    assert!(e.to_string().contains("fd00:10::1/64"), "{e}");
    assert!(
        ns.link(&name).is_none(),
        "a failed create left {name} behind"
    );
    // IPv4 only works there.
    ns.run(|| async {
        let mut cfg = config(&name, 1, false);
        cfg.addresses.truncate(1);
        Vti::create(&cfg)
            .await
            .expect("IPv4-only VTI")
            .close()
            .await
            .expect("close");
    });
}

#[test]
fn routes_steer_traffic_into_both_queues() {
    let ns = Netns::new();
    let name = vti_name("/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/routes");
    ns.run(|| async {
        let vti = Vti::create(&config(&name, 2, false)).await.expect("create");
        let ifindex = vti.ifindex();

        // Routes: add, re-add (idempotent), change the metric, IPv6, list, delete.
        add_route(ifindex, net("10.99.0.0/16"), 20)
            .await
            .expect("add route");
        add_route(ifindex, net("10.99.0.0/16"), 20)
            .await
            .expect("add the same route again");
        add_route(ifindex, net("10.98.7.7/16"), 5)
            .await
            .expect("host bits are dropped");
        add_route(ifindex, net("fd99::/48"), 30)
            .await
            .expect("add IPv6 route");
        let mut want = vec![
            VtiRoute {
                net: net("10.98.0.0/16"),
                metric: 5,
            },
            VtiRoute {
                net: net("10.99.0.0/16"),
                metric: 20,
            },
            VtiRoute {
                net: net("fd99::/48"),
                metric: 30,
            },
        ];
        want.sort();
        assert_eq!(routes_of(ifindex).await.expect("list"), want);
        add_route(ifindex, net("10.99.0.0/16"), 10)
            .await
            .expect("new metric");
        let got = routes_of(ifindex).await.expect("list");
        assert!(
            got.contains(&VtiRoute {
                net: net("10.99.0.0/16"),
                metric: 10
            }),
            "{got:?}"
        );
        assert!(
            !got.iter().any(|r| r.metric == 20),
            "the old metric stayed: {got:?}"
        );
        delete_route(ifindex, net("10.98.0.0/16"))
            .await
            .expect("delete");
        delete_route(ifindex, net("10.98.0.0/16"))
            .await
            .expect("delete again is fine");
        assert_eq!(routes_of(ifindex).await.expect("list").len(), 2);

        // A datagram to 10.99.1.1 from inside the namespace is routed into the VTI; many flows
        // spread over both queues.
        let dst = Ipv4Addr::new(10, 99, 1, 1);
        let queues: Vec<Arc<AsyncDevice>> = vti.queues().to_vec();
        let mut per_queue = [0usize; 2];
        let readers: Vec<_> = queues
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let q = q.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = vec![0u8; 2048];
                    while let Ok(Ok(n)) =
                        tokio::time::timeout(Duration::from_millis(1500), q.recv(&mut buf)).await
                    {
                        let p = &buf[..n];
                        if is_udp4_to(p, dst, 5001) {
                            assert!(ipv4_checksums_ok(p), "queue {i}: bad checksums");
                            assert_eq!(&p[12..16], &[169, 254, 10, 1], "source = VTI address");
                            seen.push(p[28..].to_vec());
                        }
                    }
                    seen
                })
            })
            .collect();
        for port in 0..64u16 {
            let s = udp_socket(&format!("0.0.0.0:{}", 40000 + port));
            s.send_to(
                format!("flow {port}").as_bytes(),
                SocketAddr::new(dst.into(), 5001),
            )
            .expect("send to 10.99.1.1");
        }
        let mut payloads = Vec::new();
        for (i, r) in readers.into_iter().enumerate() {
            let seen = r.await.expect("reader");
            per_queue[i] = seen.len();
            payloads.extend(seen);
        }
        payloads.sort();
        let mut want: Vec<Vec<u8>> = (0..64u16)
            .map(|p| format!("flow {p}").into_bytes())
            .collect();
        want.sort();
        assert_eq!(payloads, want, "every datagram is read once");
        assert!(
            per_queue.iter().all(|&n| n > 0),
            "both queues carry traffic: {per_queue:?}"
        );
        eprintln!("datagrams per queue: {per_queue:?}");

        // IPv6 too.
        let s6 = std::net::UdpSocket::bind("[::]:0").expect("bind ::");
        s6.send_to(b"v6", "[fd99::1]:5002")
            .expect("send to fd99::1");
        let q = queues.clone();
        let got = tokio::select! {
            p = read_matching(&q[0], |p| p[0] >> 4 == 6 && p[6] == 17 && p.ends_with(b"v6")) => p,
            p = read_matching(&q[1], |p| p[0] >> 4 == 6 && p[6] == 17 && p.ends_with(b"v6")) => p,
        };
        assert_eq!(
            &got[24..40],
            &"fd99::1".parse::<std::net::Ipv6Addr>().unwrap().octets()
        );

        // Without the route the kernel has nowhere to send it.
        delete_route(ifindex, net("10.99.0.0/16"))
            .await
            .expect("delete");
        let s = udp_socket("0.0.0.0:0");
        let e = s
            .send_to(b"x", SocketAddr::new(dst.into(), 5001))
            .expect_err("no route");
        assert_eq!(e.raw_os_error(), Some(101), "ENETUNREACH expected, got {e}");
        vti.close().await.expect("close");
    });
    let routes = ns.ip(&["route", "show", "proto", &RTPROT_STRAIT.to_string()]);
    assert!(
        routes.trim().is_empty(),
        "routes left after close: {routes}"
    );
}

#[test]
fn ip_route_shows_strait_routes() {
    let ns = Netns::new();
    let name = vti_name("/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/iproute");
    ns.run(|| async {
        let vti = Vti::create(&config(&name, 1, false)).await.expect("create");
        add_route(vti.ifindex(), net("10.2.0.0/16"), 7)
            .await
            .expect("route");
        let shown = ns.ip_json(&["route", "show", "10.2.0.0/16"]);
        let r = &shown[0];
        assert_eq!(r["dev"], name.as_str(), "{shown}");
        assert_eq!(r["metric"], 7, "{shown}");
        assert_eq!(
            r["protocol"].to_string().trim_matches('"'),
            RTPROT_STRAIT.to_string(),
            "{shown}"
        );
        assert_eq!(r["scope"], "link", "{shown}");
        // A route of another protocol to the same network is left alone.
        ns.ip(&[
            "route",
            "add",
            "10.2.0.0/16",
            "dev",
            &name,
            "metric",
            "8",
            "proto",
            "static",
        ]);
        assert_eq!(routes_of(vti.ifindex()).await.expect("list").len(), 1);
        delete_route(vti.ifindex(), net("10.2.0.0/16"))
            .await
            .expect("delete");
        assert!(routes_of(vti.ifindex()).await.expect("list").is_empty());
        let left = ns.ip(&["route", "show", "10.2.0.0/16"]);
        assert!(left.contains("proto static"), "{left}");
        // Routing into a VTI whose interface is gone says so.
        let ifindex = vti.ifindex();
        vti.close().await.expect("close");
        let e = add_route(ifindex, net("10.3.0.0/16"), 1)
            .await
            .expect_err("no interface");
        assert!(matches!(e, VtiError::NoSuchInterface { .. }), "{e}");
    });
}

/// The interface group `ip -d -j link` shows for `link` (a number, or a name from
/// /etc/iproute2/group such as "default").
fn group_of(link: &serde_json::Value) -> String {
    link["group"].to_string().trim_matches('"').to_owned()
}

/// A data plane's VTIs share an interface group, and deleting the group takes all of them in
/// one request (issue 16: deleted one at a time, the kernel waits for an RCU grace period per
/// VTI, and a stop with 10,000 VTIs took minutes); an interface of another group stays.
#[test]
fn a_group_of_vtis_goes_in_one_request() {
    const GROUP: u32 = 0x5354_1234;
    let ns = Netns::new();
    ns.run(|| async {
        let netlink = Netlink::open().expect("open netlink");
        let make = |i: u32, group: u32| {
            let mut cfg = config(&vti_name(&format!("/group-test/{i}")), 1, false);
            cfg.addresses = vec![net(&format!("169.254.{i}.1/30"))];
            cfg.group = group;
            cfg
        };
        let mut vtis = Vec::new();
        for i in 0..5 {
            let v = Vti::create_on(&make(i, GROUP), &netlink)
                .await
                .expect("create a VTI in the group");
            let link = ns.link(v.name()).expect("the VTI exists");
            assert_eq!(group_of(&link), GROUP.to_string(), "{link}");
            vtis.push(v);
        }
        let other = Vti::create_on(&make(99, GROUP + 1), &netlink)
            .await
            .expect("create a VTI in another group");
        let loopback_before = ns.link("lo").expect("lo");

        assert!(netlink.delete_group(GROUP).await.expect("delete the group"));
        for v in &vtis {
            assert!(ns.link(v.name()).is_none(), "{} is still there", v.name());
        }
        assert!(
            ns.link(other.name()).is_some(),
            "another group's VTI went too"
        );
        assert_eq!(
            ns.link("lo").expect("lo")["ifindex"],
            loopback_before["ifindex"]
        );
        // An empty group is not an error; group 0 (every interface's default) is refused.
        assert!(!netlink
            .delete_group(GROUP)
            .await
            .expect("delete an empty group"));
        let e = netlink
            .delete_group(0)
            .await
            .expect_err("group 0 is every interface's");
        assert!(e.to_string().contains("default interface group"), "{e}");
        // The handles still close, their interfaces already gone.
        for v in vtis {
            v.close()
                .await
                .expect("close a VTI whose group was deleted");
        }
        let other_name = other.name().to_owned();
        other.close().await.expect("close");
        assert!(ns.link(&other_name).is_none());
    });
}

#[test]
fn a_stale_device_of_the_same_name_is_replaced() {
    let ns = Netns::new();
    let name = vti_name("/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/stale");
    ns.run(|| async {
        // A persistent TUN with that name, as a crashed tool could leave (no fd attached).
        ns.ip(&["tuntap", "add", "dev", &name, "mode", "tun", "multi_queue"]);
        ns.ip(&["addr", "add", "192.0.2.1/24", "dev", &name]);
        let old = ns.link(&name).expect("stale device");
        assert_eq!(old["linkinfo"]["info_data"]["persist"], true);
        let vti = Vti::create(&config(&name, 1, false))
            .await
            .expect("create over a stale device");
        let new = ns.link(&name).expect("new device");
        assert_ne!(
            new["ifindex"], old["ifindex"],
            "the stale device was reused"
        );
        assert_eq!(new["linkinfo"]["info_data"]["persist"], false);
        assert_eq!(new["mtu"], 1400);
        let mut want = vec![net("169.254.10.1/30"), net("fd00:10::1/64")];
        want.sort();
        assert_eq!(
            ns.addresses(&name),
            want,
            "the stale address went with the stale device"
        );

        // A device still held open (a session that was not closed) is replaced too; the old
        // handle's queue stops working.
        let vti2 = Vti::create(&config(&name, 1, false))
            .await
            .expect("create over a live device");
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_secs(2), vti.queues()[0].recv(&mut buf)).await {
            Ok(Err(e)) => eprintln!("the replaced queue reads: {e}"),
            Ok(Ok(n)) => panic!("the replaced device's queue still reads ({n} bytes)"),
            Err(_) => panic!("the replaced device's queue blocks instead of failing"),
        }
        assert_eq!(
            ns.link(&name).unwrap()["ifindex"].as_u64(),
            Some(u64::from(vti2.ifindex()))
        );
        // Closing the old handle does not delete the new device.
        vti.close().await.expect("close the replaced handle");
        assert!(
            ns.link(&name).is_some(),
            "closing the stale handle deleted the new device"
        );
        vti2.close().await.expect("close");
        assert!(ns.link(&name).is_none());

        // Any other kind of interface with the name is not ours to delete.
        ns.ip(&[
            "link", "add", &name, "type", "veth", "peer", "name", "stpeer0",
        ]);
        let e = Vti::create(&config(&name, 1, false))
            .await
            .expect_err("a veth has the name");
        assert!(matches!(e, VtiError::NameTaken { .. }), "{e}");
        assert!(e.to_string().contains("veth"), "{e}");
        assert_eq!(ns.link(&name).unwrap()["linkinfo"]["info_kind"], "veth");
    });
}

#[test]
fn offload_reads_udp_gso_super_packets() {
    let ns = Netns::new();
    let name = vti_name("/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/uso");
    ns.run(|| async {
        let vti = Vti::create(&config(&name, 1, true))
            .await
            .expect("create with offload");
        assert!(vti.offload());
        assert!(vti.udp_gso(), "the kernel refused USO (needs Linux 6.2+)");
        add_route(vti.ifindex(), net("10.99.0.0/16"), 1)
            .await
            .expect("route");
        let q = vti.queues()[0].clone();

        // One sendmsg with UDP_SEGMENT: 10 segments of 1000 bytes (+ a short 11th).
        let s = udp_socket("169.254.10.1:6000");
        nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::UdpGsoSegment, &1000)
            .expect("UDP_SEGMENT");
        let data: Vec<u8> = (0..10_500u32).map(|i| (i % 251) as u8).collect();
        s.send_to(&data, "10.99.1.1:7000")
            .expect("send a GSO datagram");

        let mut original = vec![0u8; VIRTIO_NET_HDR_LEN + 65535];
        let mut bufs = vec![vec![0u8; 1500]; 64];
        let mut sizes = vec![0usize; 64];
        let deadline = Instant::now() + READ_TIMEOUT;
        let n = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = tokio::time::timeout(
                left,
                q.recv_multiple(&mut original, &mut bufs, &mut sizes, 0),
            )
            .await
            .expect("no packet within 5 s")
            .expect("recv_multiple");
            // Skip unrelated packets (there should be none without IPv6 link-local).
            if is_udp4_to(&bufs[0][..sizes[0]], Ipv4Addr::new(10, 99, 1, 1), 7000) {
                break n;
            }
        };
        // It came as one read: a virtio-net header announcing USO with 1000-byte segments.
        let hdr = VirtioNetHdr::decode(&original).expect("virtio header");
        assert_eq!(hdr.gso_type, tun_rs::VIRTIO_NET_HDR_GSO_UDP_L4, "{hdr:?}");
        assert_eq!(hdr.gso_size, 1000, "{hdr:?}");
        assert_eq!(n, 11, "split into 11 segments");
        let mut joined = Vec::new();
        for (i, (b, &len)) in bufs.iter().zip(&sizes).take(n).enumerate() {
            let p = &b[..len];
            assert!(
                is_udp4_to(p, Ipv4Addr::new(10, 99, 1, 1), 7000),
                "segment {i}"
            );
            assert!(len <= 1400, "segment {i} is {len} bytes, above the MTU");
            assert_eq!(len, 28 + if i < 10 { 1000 } else { 500 }, "segment {i}");
            assert!(ipv4_checksums_ok(p), "segment {i}: checksums");
            joined.extend_from_slice(&p[28..]);
        }
        assert_eq!(
            joined, data,
            "the segments carry the datagram's bytes in order"
        );
        vti.close().await.expect("close");
    });
}

#[test]
fn offload_reads_tcp_tso_super_packets_and_clamps_a_kernel_syn() {
    let ns = Netns::new();
    let name = vti_name("/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/tso");
    ns.run(|| async {
        let vti = Vti::create(&config(&name, 1, true))
            .await
            .expect("create with offload");
        add_route(vti.ifindex(), net("10.99.0.0/16"), 1)
            .await
            .expect("route");
        let q = vti.queues()[0].clone();
        let local = Ipv4Addr::new(169, 254, 10, 1);
        let peer = Ipv4Addr::new(10, 99, 1, 1);

        let mut original = vec![0u8; VIRTIO_NET_HDR_LEN + 65535];
        let mut bufs = vec![vec![0u8; 1500]; 128];
        let mut sizes = vec![0usize; 128];

        // The kernel's SYN (a client connecting through the VTI).
        let client = tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect((peer, 80))
                .await
                .expect("connect");
            let data: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
            tokio::io::AsyncWriteExt::write_all(&mut s, &data)
                .await
                .expect("write");
            // Keep the socket until the reader is done.
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(s);
        });
        let is_tcp_from_client =
            |p: &[u8]| p.len() >= 40 && p[0] == 0x45 && p[9] == 6 && p[16..20] == peer.octets();
        let mut syn = loop {
            let n = tokio::time::timeout(
                READ_TIMEOUT,
                q.recv_multiple(&mut original, &mut bufs, &mut sizes, 0),
            )
            .await
            .expect("no SYN within 5 s")
            .expect("recv_multiple");
            if n == 1 && is_tcp_from_client(&bufs[0][..sizes[0]]) {
                break bufs[0][..sizes[0]].to_vec();
            }
        };
        assert_eq!(syn[33] & 0x12, 0x02, "a SYN");
        assert!(
            ipv4_checksums_ok(&syn),
            "recv_multiple completed the SYN's checksum"
        );
        // Clamp it as the data plane would (outbound SYN of a local connection).
        let policy = mss::MssPolicy {
            direction: mss::MssDirection::OutboundConnection,
            max_segment_size: 1300,
        };
        assert!(
            mss::apply(policy, true, &mut syn),
            "a kernel SYN (MSS 1360) is clamped to 1300"
        );
        assert!(ipv4_checksums_ok(&syn), "clamped SYN checksum");
        let sport = u16::from_be_bytes([syn[20], syn[21]]);
        let client_isn = u32::from_be_bytes([syn[24], syn[25], syn[26], syn[27]]);

        // Answer with a SYN-ACK (MSS 1000, no window scaling: 64 KiB window).
        let server_isn = 7_000_000u32;
        let synack = tcp4(
            peer,
            local,
            80,
            sport,
            server_isn,
            client_isn.wrapping_add(1),
            0x12,
            &[2, 4, 0x03, 0xe8],
        );
        let mut framed = vec![0u8; VIRTIO_NET_HDR_LEN];
        framed.extend_from_slice(&synack);
        q.send(&framed)
            .await
            .expect("write the SYN-ACK (with a virtio-net header)");

        // Data arrives as TSO super-packets: at least one read splits into several segments.
        let mut stream = Vec::new();
        let mut biggest = 0;
        let deadline = Instant::now() + READ_TIMEOUT;
        while stream.len() < 40_000 && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(r) = tokio::time::timeout(
                left,
                q.recv_multiple(&mut original, &mut bufs, &mut sizes, 0),
            )
            .await
            else {
                break;
            };
            let n = r.expect("recv_multiple");
            let hdr = VirtioNetHdr::decode(&original).expect("virtio header");
            let mut data_segments = 0;
            let mut ack_to = 0u32;
            for (b, &len) in bufs.iter().zip(&sizes).take(n) {
                let p = &b[..len];
                if !is_tcp_from_client(p) {
                    continue;
                }
                assert!(len <= 1400, "segment of {len} bytes above the MTU");
                assert!(ipv4_checksums_ok(p), "segment checksums");
                let doff = usize::from(p[32] >> 4) * 4;
                let payload = &p[20 + doff..];
                if payload.is_empty() {
                    continue;
                }
                assert!(payload.len() <= 1000, "segment above the peer's MSS");
                let seq = u32::from_be_bytes([p[24], p[25], p[26], p[27]]);
                let offset = seq.wrapping_sub(client_isn.wrapping_add(1)) as usize;
                if offset == stream.len() {
                    stream.extend_from_slice(payload);
                }
                data_segments += 1;
                ack_to = seq.wrapping_add(payload.len() as u32);
            }
            if data_segments > 1 {
                assert_eq!(hdr.gso_type, tun_rs::VIRTIO_NET_HDR_GSO_TCPV4, "{hdr:?}");
                assert_eq!(hdr.gso_size, 1000, "{hdr:?}");
            }
            biggest = biggest.max(data_segments);
            if ack_to != 0 {
                // Acknowledge what arrived so the sender keeps going.
                let ack = tcp4(peer, local, 80, sport, server_isn + 1, ack_to, 0x10, &[]);
                let mut framed = vec![0u8; VIRTIO_NET_HDR_LEN];
                framed.extend_from_slice(&ack);
                q.send(&framed).await.expect("write an ACK");
            }
        }
        let want: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
        assert_eq!(stream.len(), want.len(), "the whole stream arrived");
        assert_eq!(stream, want);
        assert!(
            biggest > 1,
            "no TSO super-packet was read (largest read: {biggest} segment)"
        );
        eprintln!("largest TSO read: {biggest} segments");
        client.abort();
        // With offload, `ip -d link` shows the virtio-net header flag.
        let info = ns.link(&name).expect("device")["linkinfo"]["info_data"].clone();
        assert_eq!(info["vnet_hdr"], true, "{info}");
        assert_eq!(info["multi_queue"], vti.queues().len() > 1, "{info}");
        vti.close().await.expect("close");
    });
}

const UNPRIVILEGED_CHILD: &str = "STRAIT_VTI_TEST_UNPRIVILEGED_CHILD";

/// Without root / CAP_NET_ADMIN the error names the fix. The test binary re-runs this test as
/// `nobody` with no capabilities (setpriv), inside the test namespace.
#[test]
fn without_privileges_the_error_says_what_to_do() {
    if std::env::var_os(UNPRIVILEGED_CHILD).is_some() {
        // Child: try, and print what happened.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        match rt.block_on(Vti::create(&config("stperm0", 1, false))) {
            Ok(_) => println!("RESULT: created"),
            Err(e) => println!("RESULT: {e}"),
        }
        return;
    }
    let ns = Netns::new();
    let exe = std::env::current_exe().expect("test binary path");
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
        ])
        .args(["--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(&exe)
        .args([
            "--exact",
            "without_privileges_the_error_says_what_to_do",
            "--nocapture",
        ])
        .env(UNPRIVILEGED_CHILD, "1")
        .stdin(Stdio::null())
        .output()
        .expect("run setpriv (util-linux)");
    let out = text(&o);
    assert!(o.status.success(), "child failed: {out}");
    let result = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT: "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        result.ends_with("permission denied: straitd needs root or CAP_NET_ADMIN"),
        "{result}"
    );
    assert!(
        result.starts_with("cannot create TUN device stperm0"),
        "{result}"
    );
    assert!(ns.link("stperm0").is_none());
}
