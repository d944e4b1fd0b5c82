//! BIRD control-socket replies (`strait-routing`): any bytes as a stream of replies, each
//! reply through the `show protocols all`, `show route all` and `show bfd sessions` parsers
//! (and the bytes as the kernel's TCP socket table, read for BGP sessions' ports), with small and default
//! bounds. Must never panic; a reply parsed line by line equals the one parsed whole, and no
//! reply exceeds the bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strait_routing::tcp::{bgp_ports, parse_proc_net_tcp};
use strait_routing::{
    parse_bfd_sessions, parse_protocols, parse_replies, parse_reply, parse_routes, ConnectionState,
    Limits,
};

fuzz_target!(|data: &[u8]| {
    let table = parse_proc_net_tcp(&String::from_utf8_lossy(data));
    if let Some(first) = table.first() {
        let _ = bgp_ports(&table, Some(first.local.0), first.remote.0);
    }
    let small = Limits { max_line: 256, max_reply: 4096, max_lines: 64 };
    for limits in [small, Limits::default()] {
        if let Ok(replies) = parse_replies(data, limits) {
            for r in &replies {
                assert!(r.lines.len() <= limits.max_lines);
                // Invalid UTF-8 becomes U+FFFD (3 bytes) per byte: at most 3x the raw line.
                assert!(r.lines.iter().all(|l| l.text.len() <= 3 * limits.max_line));
                if let Ok(ps) = parse_protocols(r) {
                    for p in ps {
                        if let Some(b) = p.bgp {
                            let _ = ConnectionState::from_bird(&b.bgp_state).as_nsx();
                        }
                    }
                }
                let _ = parse_routes(r);
                if let Ok(sessions) = parse_bfd_sessions(r) {
                    assert!(sessions.len() <= r.lines.len());
                }
            }
            if let [one] = replies.as_slice() {
                assert_eq!(parse_reply(data, limits).as_ref(), Ok(one));
            }
        }
    }
});
