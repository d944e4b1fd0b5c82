//! The parsers against real replies of BIRD 2.0.12 captured from the netns tests
//! (`tests/fixtures`, made with `STRAIT_ROUTING_CAPTURE`), plus framing edge cases.

use std::net::{IpAddr, Ipv4Addr};

use strait_routing::{
    parse_bfd_sessions, parse_protocols, parse_replies, parse_reply, parse_routes, ConnectionState,
    Limits, ParseError,
};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn reply(name: &str) -> strait_routing::Reply {
    parse_reply(&fixture(name), Limits::default()).unwrap()
}

#[test]
fn protocols_established() {
    let ps = parse_protocols(&reply("protocols-established.txt")).unwrap();
    let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "strait_device",
            "strait_kernel4",
            "strait_kernel6",
            "strait_announce4",
            "bgp_nbr_1_676dc7ef"
        ]
    );
    let p = &ps[4];
    assert_eq!((p.proto.as_str(), p.state.as_str()), ("BGP", "up"));
    assert_eq!(p.since, Some(1796525483));
    assert_eq!(p.description.as_deref(), Some("nbr-1"));
    let b = p.bgp.as_ref().unwrap();
    assert_eq!(
        ConnectionState::from_bird(&b.bgp_state),
        ConnectionState::Established
    );
    assert_eq!(
        ConnectionState::from_bird(&b.bgp_state).as_nsx(),
        "ESTABLISHED"
    );
    assert_eq!(
        b.neighbor_address,
        Some(IpAddr::V4(Ipv4Addr::new(10, 211, 0, 2)))
    );
    assert_eq!((b.neighbor_as, b.local_as), (Some(65002), Some(65001)));
    assert_eq!(b.neighbor_id, Some(Ipv4Addr::new(10, 211, 0, 2)));
    assert_eq!(
        b.source_address,
        Some(IpAddr::V4(Ipv4Addr::new(10, 211, 0, 1)))
    );
    assert_eq!((b.hold_time_s, b.keepalive_s), (Some(9), Some(3)));
    assert_eq!(b.session.as_deref(), Some("external AS4"));
    assert_eq!(b.last_error, None);
    let c = &p.channels[0];
    assert_eq!((c.name.as_str(), c.state.as_str()), ("ipv4", "UP"));
    assert_eq!((c.imported, c.exported, c.preferred), (1, 1, 1));
    assert_eq!(c.import_limit, None);
}

#[test]
fn protocols_wrong_password_limit_and_bfd() {
    let ps = parse_protocols(&reply("protocols-wrong-password.txt")).unwrap();
    let b = ps.iter().find_map(|p| p.bgp.clone()).unwrap();
    assert!(matches!(
        ConnectionState::from_bird(&b.bgp_state),
        ConnectionState::Connect | ConnectionState::Active
    ));
    assert_eq!(b.neighbor_id, None);

    let ps = parse_protocols(&reply("protocols-limit-hit.txt")).unwrap();
    let p = ps.iter().find(|p| p.bgp.is_some()).unwrap();
    let c = &p.channels[0];
    assert_eq!(
        (c.import_limit, c.import_limit_hit, c.imported),
        (Some(2), true, 2)
    );

    let ps = parse_protocols(&reply("protocols-bfd-down.txt")).unwrap();
    let p = ps.iter().find(|p| p.bgp.is_some()).unwrap();
    assert_ne!(
        ConnectionState::from_bird(&p.bgp.as_ref().unwrap().bgp_state),
        ConnectionState::Established
    );
    assert_eq!(
        p.bgp.as_ref().unwrap().last_error.as_deref(),
        Some("Error: BFD session down")
    );
    assert!(ps.iter().any(|p| p.proto == "BFD"));

    let ps = parse_protocols(&reply("protocols-two-neighbors.txt")).unwrap();
    assert_eq!(ps.iter().filter(|p| p.bgp.is_some()).count(), 2);
}

#[test]
fn bfd_sessions() {
    let s = parse_bfd_sessions(&reply("bfd-sessions.txt")).unwrap();
    assert_eq!(s.len(), 1);
    let b = &s[0];
    assert_eq!(b.protocol, "strait_bfd");
    assert_eq!(b.address, "10.214.0.2".parse::<IpAddr>().unwrap());
    assert_eq!(b.interface.as_deref(), Some("eth0"));
    assert_eq!(b.state, "Up");
    assert_eq!(b.since, Some(1796525479));
    assert_eq!((b.interval_ms, b.timeout_ms), (Some(100), Some(300)));
    // A session line with a field missing is an error, not a guess.
    let bad = parse_reply(
        b"1020-strait_bfd:\n 10.214.0.2 eth0 Up 1796525479 0.100\n0000 \n",
        Limits::default(),
    )
    .unwrap();
    assert!(parse_bfd_sessions(&bad).is_err());
    // No BFD protocol at all: BIRD answers with an error code.
    let none = parse_reply(
        b"9002 There is no BFD protocol running\n",
        Default::default(),
    )
    .unwrap();
    assert!(parse_bfd_sessions(&none).is_err());
}

#[test]
fn routes() {
    let rs = parse_routes(&reply("routes-bgp.txt")).unwrap();
    assert_eq!(rs.len(), 1);
    let r = &rs[0];
    assert_eq!(r.table, "master4");
    assert_eq!(r.prefix, Some("10.92.0.0/24".parse().unwrap()));
    assert_eq!(
        (r.kind.as_str(), r.protocol.as_str()),
        ("unicast", "bgp_nbr_1_676dc7ef")
    );
    assert!(r.primary);
    assert_eq!(r.preference, Some(100));
    assert_eq!(r.next_hops.len(), 1);
    assert_eq!(
        r.next_hops[0].via,
        Some(IpAddr::V4(Ipv4Addr::new(10, 211, 0, 2)))
    );
    assert_eq!(r.next_hops[0].interface.as_deref(), Some("eth0"));
    assert_eq!(
        (r.as_path.as_str(), r.origin.as_deref(), r.local_pref),
        ("65002", Some("IGP"), Some(100))
    );
    assert_eq!(r.bgp_next_hop.as_deref(), Some("10.211.0.2"));
    let all = parse_routes(&reply("routes-all.txt")).unwrap();
    let static_route = all.iter().find(|r| r.kind == "blackhole").unwrap();
    assert_eq!(static_route.protocol, "strait_announce4");
    assert!(static_route.next_hops.is_empty());
}

#[test]
fn route_alternatives_and_ecmp() {
    // The shapes BIRD prints for a second route of the same prefix and for multipath.
    let text = "1007-Table master4:\n 10.5.0.0/24          unicast [p1 100] * (100) [AS65002i]\n \tvia 10.0.0.2 on eth0 weight 1\n \tvia 10.0.1.2 on eth1 weight 1\n1008-\tType: BGP univ\n1012-\tBGP.med: 50\n 2001:db8::/32        unicast [p2 100] (100) [AS65003i]\n1007-                     unicast [p3 101] (100) [AS65004i]\n \tdev eth2\n0000 \n";
    let rs = parse_routes(&parse_reply(text.as_bytes(), Limits::default()).unwrap()).unwrap();
    assert_eq!(rs.len(), 3);
    assert_eq!(rs[0].next_hops.len(), 2);
    assert_eq!(rs[0].med, Some(50));
    assert_eq!(rs[2].prefix, Some("2001:db8::/32".parse().unwrap()));
    assert!(!rs[2].primary);
    assert_eq!(rs[2].next_hops[0].interface.as_deref(), Some("eth2"));
}

#[test]
fn configure_replies() {
    let r = reply("configure-check-error.txt");
    assert!(r.is_error());
    assert_eq!(r.code(), 8002);
    assert_eq!(
        r.error_text(),
        "/tmp/bt/bad.conf:2:18 syntax error, unexpected CF_SYM_UNDEFINED"
    );
    let rs = parse_replies(
        &fixture("configure-check-then-configure.txt"),
        Limits::default(),
    )
    .unwrap();
    assert_eq!(rs.iter().map(|r| r.code()).collect::<Vec<_>>(), [20, 3]);
    assert_eq!(rs[1].final_text(), "Reconfigured");
}

#[test]
fn framing_errors_and_bounds() {
    let l = Limits::default();
    assert_eq!(
        parse_reply(b"0001 x\nextra", l),
        Err(ParseError::TrailingData)
    );
    assert_eq!(parse_reply(b"1002-a\n", l), Err(ParseError::Incomplete));
    assert!(matches!(
        parse_reply(b" cont\n", l),
        Err(ParseError::BadLine { .. })
    ));
    assert!(matches!(
        parse_reply(b"12a4 x\n", l),
        Err(ParseError::BadLine { .. })
    ));
    assert!(matches!(
        parse_reply(b"1234/x\n", l),
        Err(ParseError::BadLine { .. })
    ));
    let small = Limits {
        max_line: 8,
        max_reply: 20,
        max_lines: 3,
    };
    assert!(matches!(
        parse_reply(b"1002-123456789\n0000 \n", small),
        Err(ParseError::LineTooLong { .. })
    ));
    assert!(matches!(
        parse_reply(b"1002-a\n b\n c\n0000 \n", small),
        Err(ParseError::ReplyTooLarge { .. })
    ));
    // Asynchronous messages are skipped; a bare code ends a reply.
    let r = parse_reply(b"+0001 async\n0000\n", l).unwrap();
    assert_eq!(r.lines.len(), 1);
    // Errors of the commands themselves.
    let e = parse_reply(b"9001 syntax error\n", l).unwrap();
    assert!(parse_protocols(&e).is_err() && parse_routes(&e).is_err());
}

#[test]
fn invalid_utf8_is_replaced_not_refused() {
    // Found by the bird_reply fuzz target (its bound on text length was too tight).
    let r = parse_reply(
        b"1007-Table master4:\n 10.92.0.0/\xff\xff [x]\n0000 \n",
        Limits::default(),
    )
    .unwrap();
    assert_eq!(r.lines[1].text, "10.92.0.0/\u{fffd}\u{fffd} [x]");
    let _ = parse_routes(&r);
}
