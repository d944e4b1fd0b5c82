//! Both ends initiate at the same moment (issue 10). NSX's default initiation mode is
//! INITIATOR, so two gateways that boot together both start IKE: both send IKE_SA_INIT, two
//! IKE SAs with a Child SA each are made, and the duplicate is deleted. Whatever is deleted,
//! both data planes must be left with a working inbound *and* outbound SA.
//!
//! Each test configures both sides once through the REST API, then runs [`ROUNDS`] rounds of:
//! stop both sides (SIGTERM), start both from two threads released by one `Barrier`, wait for
//! the tunnel to be up on both (at most [`UP_WITHIN`]) and for IKE to settle (see
//! [`settle`]), then ping VTI to VTI and LAN to LAN in both directions, and check strait's
//! statistics (`packets_out` grew; no UP session with growing `nomatching_policy_errors`).
//!
//! A capture of IKE on the link shows, per round, whether both sides sent an IKE_SA_INIT
//! request, whether both were answered (two IKE SAs were made), and whether the requests
//! really crossed: both on the wire before the first response, each answered without a
//! retransmission. (A request that reaches the peer before it listens on UDP 500 is lost,
//! and its retransmission makes the second IKE SA seconds later.)
//!
//! Every round runs; a failed round prints which round, what failed, both sides' status and
//! statistics and the end of both logs, and the test fails at the end naming every failed
//! round. Needs root and `scripts/install-deps.sh` (fails loudly otherwise, never skips).
mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::netns::{topology_with_lans, Capture, IkeSaInfo, Netns, PskConn, StrongSwan};
use common::straitd::{configure, StraitInNs, PSK, SESSION};
use serde_json::{json, Value};

const A: &str = "198.51.100.1";
const B: &str = "198.51.100.2";
const VTI_A: &str = "169.254.100.1";
const VTI_B: &str = "169.254.100.2";
/// LAN addresses behind each side (on `lo`), reached through static routes over the tunnel.
const LAN_A: &str = "10.1.0.1";
const LAN_B: &str = "10.2.0.1";
/// The veth end in namespace `a` (see `common::netns::topology`): every IKE packet crosses it.
const LINK_A: &str = "st-a";
/// IKE (UDP 500, and UDP 4500 after NAT detection) and, on 4500, ESP and NAT keepalives.
const IKE_FILTER: &str = "udp port 500 or udp port 4500";

/// Restarts at the same instant per test.
const ROUNDS: usize = 20;
/// How long both sides get to be up after the simultaneous start.
const UP_WITHIN: Duration = Duration::from_secs(15);
/// How long IKE gets to settle once both sides are up.
const SETTLE_WITHIN: Duration = Duration::from_secs(15);
/// Silence on the link (no IKE message) that counts as settled: longer than the first
/// retransmission timeout of strait (2 s) and of strongSwan (4 s), so that a request the
/// peer lost or ignored (e.g. a Delete of the duplicate IKE SA that arrived while the peer
/// still had it half-open) has been sent again, and acted on, before the pings.
const QUIET_STRAIT: Duration = Duration::from_millis(2500);
const QUIET_STRONGSWAN: Duration = Duration::from_millis(4500);
/// Echo requests per ping; every one must be answered.
const PINGS: u32 = 3;
/// Log lines of each side shown with a failure.
const LOG_TAIL: usize = 60;

// ---------------------------------------------------------------------------------------------
// strait's API
// ---------------------------------------------------------------------------------------------

/// A static route to the remote LAN via the peer's VTI address, through the API.
fn add_static_route(s: &StraitInNs, network: &str, next_hop: &str) {
    let body = json!({"network": network, "next_hops": [{"ip_address": next_hop}]});
    s.api(move |h| {
        h.patch(
            "/policy/api/v1/infra/tier-0s/t0/static-routes/remote-lan",
            &body,
        )
        .expect(200);
    });
}

fn up(st: &Value) -> bool {
    st["runtime_status"] == "UP" && st["interface_name"].is_string()
}

/// `GET path` on straitd; never panics (a dead straitd gives an error text), so that failure
/// reports can always be written.
fn try_get(s: &StraitInNs, path: &str) -> Result<Value, String> {
    let path = path.to_owned();
    catch_unwind(AssertUnwindSafe(|| {
        s.api(move |h| {
            let r = h.get(&path);
            if r.status == 200 {
                Ok(r.body)
            } else {
                Err(format!("HTTP {}: {}", r.status, r.text))
            }
        })
    }))
    .unwrap_or_else(|_| Err("no answer (is straitd running?)".to_owned()))
}

/// The session's detailed-status result, or Null.
fn status(s: &StraitInNs) -> Value {
    try_get(s, &format!("{SESSION}/detailed-status"))
        .map(|b| b["results"][0].clone())
        .unwrap_or(Value::Null)
}

/// The session's tunnel statistics (`results[0].policy_statistics[0].tunnel_statistics[0]`),
/// or Null.
fn tunnel_stats(s: &StraitInNs) -> Value {
    try_get(s, &format!("{SESSION}/statistics"))
        .map(|b| b["results"][0]["policy_statistics"][0]["tunnel_statistics"][0].clone())
        .unwrap_or(Value::Null)
}

fn counter(stats: &Value, name: &str) -> u64 {
    stats[name].as_u64().unwrap_or(0)
}

/// Check the statistics taken before and after the pings: packets left (`packets_out` grew),
/// and an UP session does not drop outbound packets for lack of an SA.
fn check_stats(who: &str, before: &Value, after: &Value, st_after: &Value) -> Vec<String> {
    let mut failed = Vec::new();
    let out = (
        counter(before, "packets_out"),
        counter(after, "packets_out"),
    );
    if out.1 <= out.0 {
        failed.push(format!(
            "{who}: packets_out did not grow during the pings ({} -> {}; dropped_packets_out {} \
             -> {})",
            out.0,
            out.1,
            counter(before, "dropped_packets_out"),
            counter(after, "dropped_packets_out")
        ));
    }
    let nomatch = (
        counter(before, "nomatching_policy_errors"),
        counter(after, "nomatching_policy_errors"),
    );
    if up(st_after) && nomatch.1 > nomatch.0 {
        failed.push(format!(
            "{who}: UP, yet nomatching_policy_errors grew during the pings ({} -> {})",
            nomatch.0, nomatch.1
        ));
    }
    failed
}

/// One side's status, statistics and the log lines it wrote since `log_from`, for a failure
/// report.
fn dump_strait(name: &str, s: &StraitInNs, log_from: usize) -> String {
    let show = |r: Result<Value, String>| match r {
        Ok(v) => format!("{v:#}"),
        Err(e) => e,
    };
    let st = show(try_get(s, &format!("{SESSION}/detailed-status")));
    let stats = show(try_get(s, &format!("{SESSION}/statistics")));
    let log = s.log();
    let lines: Vec<&str> = log.lines().skip(log_from).collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
    format!(
        "--- {name}: GET {SESSION}/detailed-status ---\n{st}\n\
         --- {name}: GET {SESSION}/statistics ---\n{stats}\n\
         --- {name}: straitd log of this round (last {} of {} lines) ---\n{}\n",
        tail.len(),
        lines.len(),
        tail.join("\n")
    )
}

fn log_len(s: &StraitInNs) -> usize {
    s.log().lines().count()
}

// ---------------------------------------------------------------------------------------------
// pings
// ---------------------------------------------------------------------------------------------

/// `ping` from `src` to `dst` inside `ns`: whether all [`PINGS`] were answered, and ping's
/// summary line.
fn ping_from(ns: &Netns, src: &str, dst: &str) -> (bool, String) {
    let count = PINGS.to_string();
    let o = ns.exec(&[
        "ping", "-n", "-q", "-c", &count, "-i", "0.2", "-W", "1", "-I", src, dst,
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    let summary = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or("no ping summary")
        .to_owned();
    // "3 packets transmitted, 3 received, 0% packet loss, time 402ms"
    let received = summary
        .split(", ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    (received == PINGS, summary)
}

/// The four pings of a round: VTI to VTI and LAN to LAN, from A and from B. Returns one
/// line per failed ping.
fn ping_both_ways(a: &Netns, b: &Netns, b_name: &str) -> Vec<String> {
    let mut failed = Vec::new();
    for (ns, from, src, dst) in [
        (a, "A (strait)", VTI_A, VTI_B),
        (b, b_name, VTI_B, VTI_A),
        (a, "A (strait)", LAN_A, LAN_B),
        (b, b_name, LAN_B, LAN_A),
    ] {
        let (ok, summary) = ping_from(ns, src, dst);
        if !ok {
            failed.push(format!("ping from {from} {src} -> {dst} failed: {summary}"));
        }
    }
    failed
}

// ---------------------------------------------------------------------------------------------
// what the capture shows
// ---------------------------------------------------------------------------------------------

/// The packets of a running capture so far, as `tcpdump -n -r` prints them (tcpdump writes
/// the file packet by packet; a packet still being written is left out).
fn capture_so_far(cap: &Capture) -> Vec<String> {
    Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(cap.path())
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// An IKE message (`isakmp: ...` on 500, `NONESP-encap: isakmp: ...` on 4500), not ESP
/// (`UDP-encap: ESP`) nor a NAT keepalive (`isakmp-nat-keep-alive`).
fn is_ike(line: &str) -> bool {
    line.contains("isakmp:")
}

/// Seconds since midnight of a `tcpdump -n -r` line (`10:35:07.906293 IP ...`).
fn capture_time(line: &str) -> Option<f64> {
    let t = line.split_whitespace().next()?;
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// The IKE_SA_INIT exchanges of one round, from the capture.
#[derive(Debug, Default, Clone, Copy)]
struct Initiations {
    /// A (resp. B) sent an IKE_SA_INIT request.
    a: bool,
    b: bool,
    /// The peer answered A's (resp. B's) request.
    a_answered: bool,
    b_answered: bool,
    /// A (resp. B) sent its request more than once before the answer (the first was lost,
    /// typically because the peer did not listen yet).
    a_retransmitted: bool,
    b_retransmitted: bool,
    /// Both requests were on the wire before the first IKE_SA_INIT response.
    both_before_any_response: bool,
    /// When B's first request left minus when A's did, in seconds.
    b_minus_a: Option<f64>,
    /// IKE messages in the capture.
    ike_messages: usize,
}

impl Initiations {
    /// From `tcpdump -n` lines (`IP 198.51.100.1.500 > 198.51.100.2.500: isakmp: parent_sa
    /// ikev2_init[I]`).
    fn from_capture(lines: &[String]) -> Initiations {
        let from_a = format!(" {A}.500 > {B}.500: ");
        let from_b = format!(" {B}.500 > {A}.500: ");
        let mut i = Initiations::default();
        let (mut sent_a, mut sent_b) = (0, 0);
        let (mut first_a, mut first_b) = (None, None);
        let mut responded = false;
        for l in lines.iter().filter(|l| is_ike(l)) {
            i.ike_messages += 1;
            if l.contains("ikev2_init[R]") {
                responded = true;
                // B answers A's request, and the other way round.
                i.a_answered |= l.contains(&from_b);
                i.b_answered |= l.contains(&from_a);
            } else if l.contains("ikev2_init[I]") {
                if l.contains(&from_a) && !i.a_answered {
                    sent_a += 1;
                    first_a = first_a.or(capture_time(l));
                }
                if l.contains(&from_b) && !i.b_answered {
                    sent_b += 1;
                    first_b = first_b.or(capture_time(l));
                }
                i.a |= sent_a > 0;
                i.b |= sent_b > 0;
                if !responded && i.a && i.b {
                    i.both_before_any_response = true;
                }
            }
        }
        i.a_retransmitted = sent_a > 1;
        i.b_retransmitted = sent_b > 1;
        if let (Some(a), Some(b)) = (first_a, first_b) {
            i.b_minus_a = Some(b - a);
        }
        i
    }

    fn both(&self) -> bool {
        self.a && self.b
    }

    fn both_answered(&self) -> bool {
        self.a_answered && self.b_answered
    }

    /// Both requests in flight at once, each reaching a listening peer: a real crossing.
    fn crossed(&self) -> bool {
        self.both_before_any_response
            && self.both_answered()
            && !self.a_retransmitted
            && !self.b_retransmitted
    }

    /// Every request that was sent has been answered.
    fn all_answered(&self) -> bool {
        (!self.a || self.a_answered) && (!self.b || self.b_answered)
    }

    fn describe(&self) -> String {
        let mut s = match (self.a, self.b) {
            (true, true) if self.crossed() => "both initiated, requests crossed".to_owned(),
            (true, true) => "both initiated, not crossed".to_owned(),
            (true, false) => "only A initiated".to_owned(),
            (false, true) => "only B initiated".to_owned(),
            (false, false) => "no IKE_SA_INIT request seen".to_owned(),
        };
        if let Some(d) = self.b_minus_a {
            let (ms, rel) = ((d * 1e3).abs(), if d >= 0.0 { "after" } else { "before" });
            s += &format!(" (B's first request {ms:.1} ms {rel} A's)");
        }
        s += match (self.a_answered, self.b_answered) {
            (true, true) => ", both answered (two IKE SAs)",
            (true, false) => ", only A's answered",
            (false, true) => ", only B's answered",
            (false, false) => ", none answered",
        };
        for (who, retx) in [("A", self.a_retransmitted), ("B", self.b_retransmitted)] {
            if retx {
                s += &format!(", {who}'s first request lost (retransmitted)");
            }
        }
        s
    }
}

/// Once both sides are up: wait (at most [`SETTLE_WITHIN`]) until every IKE_SA_INIT request
/// in the capture has been answered and no IKE message has crossed the link for `quiet`, so
/// that a duplicate IKE SA made late (from a retransmitted request) has been made and deleted
/// before the pings look at the tunnel. Returns the capture's lines and, if IKE did not
/// settle, why.
fn settle(cap: Capture, quiet: Duration) -> (Vec<String>, Option<String>) {
    let start = Instant::now();
    let mut seen = 0;
    let mut last_change = Instant::now();
    let problem = loop {
        let lines = capture_so_far(&cap);
        let i = Initiations::from_capture(&lines);
        if i.ike_messages != seen {
            seen = i.ike_messages;
            last_change = Instant::now();
        }
        if i.all_answered() && last_change.elapsed() >= quiet {
            break None;
        }
        if start.elapsed() >= SETTLE_WITHIN {
            break Some(format!(
                "IKE did not settle within {SETTLE_WITHIN:?} of both sides being up ({}; last \
                 IKE message {:.1} s ago)",
                i.describe(),
                last_change.elapsed().as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    (cap.stop(), problem)
}

// ---------------------------------------------------------------------------------------------
// rounds
// ---------------------------------------------------------------------------------------------

/// What happened in one round.
struct Round {
    failures: Vec<String>,
    initiations: Initiations,
}

/// Totals over the rounds; panics at the end if any round failed.
#[derive(Default)]
struct Tally {
    failed: Vec<(usize, String)>,
    first_report: Option<String>,
    both_initiated: usize,
    both_answered: usize,
    crossed: usize,
}

impl Tally {
    fn add(&mut self, round: usize, r: &Round, report: impl FnOnce() -> String) {
        self.both_initiated += usize::from(r.initiations.both());
        self.both_answered += usize::from(r.initiations.both_answered());
        self.crossed += usize::from(r.initiations.crossed());
        if !r.failures.is_empty() {
            let report = report();
            eprintln!("{report}");
            self.first_report.get_or_insert(report);
            self.failed.push((round, r.failures.join("; ")));
        }
    }

    #[track_caller]
    fn finish(self, what: &str, elapsed: Duration) {
        let summary = format!(
            "{what}: {} of {ROUNDS} rounds failed; both sides initiated in {} rounds, both \
             requests were answered (two IKE SAs) in {}, the requests really crossed in {} \
             ({:.1} s in all)",
            self.failed.len(),
            self.both_initiated,
            self.both_answered,
            self.crossed,
            elapsed.as_secs_f64()
        );
        eprintln!("{summary}");
        if !self.failed.is_empty() {
            let list: String = self
                .failed
                .iter()
                .map(|(n, f)| format!("  round {n}: {f}\n"))
                .collect();
            panic!(
                "{summary}\n{list}\nthe first failed round in full:\n{}",
                self.first_report.unwrap_or_default()
            );
        }
        // Otherwise this test does not test what it says (e.g. one side always started
        // long after the other).
        assert!(
            2 * self.both_initiated >= ROUNDS,
            "{summary}\nboth sides initiated in fewer than half of the rounds"
        );
    }
}

/// Wait until `done` holds, polling every 100 ms, at most `limit`; returns how long it took,
/// or None on timeout.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if done() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn outcome(failures: &[String]) -> String {
    if failures.is_empty() {
        "ok".to_owned()
    } else {
        format!("FAILED ({})", failures.join("; "))
    }
}

// ---------------------------------------------------------------------------------------------
// strait and strait
// ---------------------------------------------------------------------------------------------

#[test]
fn two_initiators_started_at_once_carry_traffic_both_ways() {
    let t = topology_with_lans(LAN_A, LAN_B);
    let mut sa = StraitInNs::start(&t.a);
    let mut sb = StraitInNs::start(&t.b);
    // Both INITIATOR, NSX's default.
    sa.api(|h| configure(h, A, B, VTI_A, true, json!({})));
    add_static_route(&sa, &format!("{LAN_B}/32"), VTI_B);
    sb.api(|h| configure(h, B, A, VTI_B, true, json!({})));
    add_static_route(&sb, &format!("{LAN_A}/32"), VTI_A);
    assert!(
        wait_until(UP_WITHIN, || up(&status(&sa)) && up(&status(&sb))).is_some(),
        "setup: not UP on both sides after configuration\n{}{}",
        dump_strait("A", &sa, 0),
        dump_strait("B", &sb, 0)
    );

    let test_start = Instant::now();
    let mut tally = Tally::default();
    for round in 1..=ROUNDS {
        let round_start = Instant::now();
        // Stop both at once, too: stopping one first would make the other see a Delete and
        // retry on its own schedule.
        let exits = std::thread::scope(|sc| {
            let ta = sc.spawn(|| sa.terminate());
            let tb = sc.spawn(|| sb.terminate());
            [ta.join().unwrap(), tb.join().unwrap()]
        });
        let stopped = round_start.elapsed();
        let (log_a, log_b) = (log_len(&sa), log_len(&sb));
        let cap = Capture::start(&t.a, LINK_A, IKE_FILTER);

        // Start both from two threads released at the same instant.
        let barrier = Barrier::new(2);
        let go = Instant::now();
        let (ready_a, ready_b) = std::thread::scope(|sc| {
            let ta = sc.spawn(|| {
                barrier.wait();
                let t0 = Instant::now();
                sa.restart();
                (t0 - go, t0.elapsed())
            });
            let tb = sc.spawn(|| {
                barrier.wait();
                let t0 = Instant::now();
                sb.restart();
                (t0 - go, t0.elapsed())
            });
            (ta.join().unwrap(), tb.join().unwrap())
        });
        let skew = ready_a.0.abs_diff(ready_b.0);

        let mut failures = Vec::new();
        for (who, e) in [("A", exits[0]), ("B", exits[1])] {
            if !e.success() {
                failures.push(format!("{who}: straitd exited with {e} on SIGTERM"));
            }
        }
        let up_after = wait_until(UP_WITHIN, || up(&status(&sa)) && up(&status(&sb)));
        let (lines, unsettled) = settle(cap, QUIET_STRAIT);
        let settled = go.elapsed();
        let initiations = Initiations::from_capture(&lines);
        failures.extend(unsettled);
        let mut ping_time = Duration::ZERO;
        match up_after {
            None => failures.push(format!(
                "not UP on both sides within {UP_WITHIN:?} (A {}, B {})",
                status(&sa)["runtime_status"],
                status(&sb)["runtime_status"]
            )),
            Some(_) => {
                let before = (tunnel_stats(&sa), tunnel_stats(&sb));
                let p0 = Instant::now();
                failures.extend(ping_both_ways(&t.a, &t.b, "B (strait)"));
                ping_time = p0.elapsed();
                let after = (tunnel_stats(&sa), tunnel_stats(&sb));
                failures.extend(check_stats("A", &before.0, &after.0, &status(&sa)));
                failures.extend(check_stats("B", &before.1, &after.1, &status(&sb)));
            }
        }
        println!(
            "round {round:2}/{ROUNDS}: {} | stop {}, starts {:.1} ms apart, API up after {} / \
             {}, UP on both after {}, IKE settled after {} ({} IKE messages), pings {}, round \
             {}: {}",
            initiations.describe(),
            secs(stopped),
            skew.as_secs_f64() * 1e3,
            secs(ready_a.1),
            secs(ready_b.1),
            up_after.map_or("never".to_owned(), secs),
            secs(settled),
            initiations.ike_messages,
            secs(ping_time),
            secs(round_start.elapsed()),
            outcome(&failures)
        );
        let r = Round {
            failures,
            initiations,
        };
        tally.add(round, &r, || {
            format!(
                "=== round {round}/{ROUNDS} failed ({}):\n  {}\n{}{}",
                initiations.describe(),
                r.failures.join("\n  "),
                dump_strait("A (strait 198.51.100.1)", &sa, log_a),
                dump_strait("B (strait 198.51.100.2)", &sb, log_b)
            )
        });
    }
    tally.finish(
        "two strait INITIATORs started at once",
        test_start.elapsed(),
    );
}

// ---------------------------------------------------------------------------------------------
// strait and strongSwan
// ---------------------------------------------------------------------------------------------

/// charon in `ns`, its tunnel interface addressed and routing strait's LAN into it, with no
/// connection loaded yet.
fn start_charon_unloaded(ns: &Netns) -> StrongSwan {
    let ss = StrongSwan::start(ns);
    ss.set_tunnel_addr(&format!("{VTI_B}/30"));
    ss.add_tunnel_route(&format!("{LAN_A}/32"));
    ss
}

/// [`start_charon_unloaded`], then `conn` loaded (which, with `start_action = start`,
/// initiates at once).
fn start_charon(ns: &Netns, conn: &PskConn) -> StrongSwan {
    let ss = start_charon_unloaded(ns);
    ss.load(&conn.render());
    ss
}

/// An IKE_SA ESTABLISHED with an INSTALLED CHILD_SA.
fn charon_up(sas: &[IkeSaInfo]) -> bool {
    sas.iter()
        .any(|s| s.state == "ESTABLISHED" && !s.installed_children().is_empty())
}

/// Outbound packets of charon's installed CHILD_SAs.
fn charon_packets_out(sas: &[IkeSaInfo]) -> u64 {
    sas.iter()
        .flat_map(|s| s.installed_children())
        .map(|c| c.packets_out)
        .sum()
}

fn dump_charon(ss: &StrongSwan) -> String {
    let o = ss.swanctl(&["--list-sas"]);
    let log = ss.log();
    let lines: Vec<&str> = log.lines().collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
    format!(
        "--- B (strongSwan 198.51.100.2): swanctl --list-sas ---\n{}{}\n\
         --- B (strongSwan): charon.log of this round (last {} of {} lines) ---\n{}\n",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        tail.len(),
        lines.len(),
        tail.join("\n")
    )
}

/// Largest start offset the even rounds use to make the requests cross.
const ALIGN_LIMIT: f64 = 0.5;
/// When charon's first request should leave relative to strait's, in seconds: a little
/// before it, so that it is on the wire before strait's answer from charon (charon answers
/// within a millisecond), but not before straitd listens (it binds UDP 500 some 20 ms before
/// it initiates).
const ALIGN_TARGET: f64 = -0.008;

#[test]
fn strait_and_strongswan_started_at_once_carry_traffic_both_ways() {
    let t = topology_with_lans(LAN_A, LAN_B);
    // strongSwan initiates as soon as its connection is loaded, and retries forever, as a
    // gateway configured to bring its tunnel up by itself would.
    let mut conn = PskConn::new("rb", B, A, PSK);
    conn.start_action = "start".to_owned();
    conn.keyingtries = 0;
    conn.replay_window = Some(4096);
    let mut sa = StraitInNs::start(&t.a);
    sa.api(|h| configure(h, A, B, VTI_A, true, json!({})));
    add_static_route(&sa, &format!("{LAN_B}/32"), VTI_B);
    let mut ss = start_charon(&t.b, &conn);
    assert!(
        wait_until(UP_WITHIN, || up(&status(&sa)) && charon_up(&ss.list_sas())).is_some(),
        "setup: not up on both sides\n{}{}",
        dump_strait("A (strait)", &sa, 0),
        dump_charon(&ss)
    );

    let test_start = Instant::now();
    let mut tally = Tally::default();
    // Even rounds: seconds by which straitd starts after charon loads its connection
    // (negative: charon loads it after straitd started), tuned from round to round so that
    // both IKE_SA_INIT requests leave at the same moment.
    let mut shift: f64 = 0.0;
    for round in 1..=ROUNDS {
        let round_start = Instant::now();
        let exit = std::thread::scope(|sc| {
            let ta = sc.spawn(|| sa.terminate());
            ss.stop();
            ta.join().unwrap()
        });
        drop(ss);
        let stopped = round_start.elapsed();
        let log_a = log_len(&sa);
        // Odd rounds: straitd, and charon with its connection, start at the same instant.
        // charon takes longer to get to its first request, so strait's usually reaches charon
        // first and is answered, and charon's request follows tens of milliseconds later (both
        // initiate, two IKE SAs, but nothing crosses). Even rounds make the requests cross:
        // charon already runs, and the load of its connection (when it initiates) and the
        // start of straitd are released together, one of them delayed by `shift`.
        let aligned = round % 2 == 0;
        let prepared = aligned.then(|| start_charon_unloaded(&t.b));
        let (delay_a, delay_b) = if !aligned {
            (Duration::ZERO, Duration::ZERO)
        } else if shift >= 0.0 {
            (Duration::from_secs_f64(shift), Duration::ZERO)
        } else {
            (Duration::ZERO, Duration::from_secs_f64(-shift))
        };
        let cap = Capture::start(&t.a, LINK_A, IKE_FILTER);

        let barrier = Barrier::new(2);
        let go = Instant::now();
        let (ready_a, (ready_b, new_ss)) = std::thread::scope(|sc| {
            let ta = sc.spawn(|| {
                barrier.wait();
                std::thread::sleep(delay_a);
                let t0 = Instant::now();
                sa.restart();
                (t0 - go, t0.elapsed())
            });
            let tb = sc.spawn(|| {
                barrier.wait();
                std::thread::sleep(delay_b);
                let t0 = Instant::now();
                let ss = match prepared {
                    Some(ss) => {
                        ss.load(&conn.render());
                        ss
                    }
                    None => start_charon(&t.b, &conn),
                };
                ((t0 - go, t0.elapsed()), ss)
            });
            (ta.join().unwrap(), tb.join().unwrap())
        });
        ss = new_ss;

        let mut failures = Vec::new();
        if !exit.success() {
            failures.push(format!("A: straitd exited with {exit} on SIGTERM"));
        }
        let up_after = wait_until(UP_WITHIN, || up(&status(&sa)) && charon_up(&ss.list_sas()));
        let (lines, unsettled) = settle(cap, QUIET_STRONGSWAN);
        let settled = go.elapsed();
        let initiations = Initiations::from_capture(&lines);
        failures.extend(unsettled);
        if aligned {
            if let Some(d) = initiations.b_minus_a {
                // B's request later than wanted: start straitd later (or charon earlier).
                // Half steps, since the start-up times jitter by some 10 ms.
                shift = (shift + (d - ALIGN_TARGET) / 2.0).clamp(-ALIGN_LIMIT, ALIGN_LIMIT);
            }
        }
        let mut ping_time = Duration::ZERO;
        let mut ike_sas = 0;
        match up_after {
            None => failures.push(format!(
                "not up on both sides within {UP_WITHIN:?} (strait {}, strongSwan {})",
                status(&sa)["runtime_status"],
                if charon_up(&ss.list_sas()) {
                    "ESTABLISHED"
                } else {
                    "not established"
                }
            )),
            Some(_) => {
                let before = (tunnel_stats(&sa), charon_packets_out(&ss.list_sas()));
                let p0 = Instant::now();
                failures.extend(ping_both_ways(&t.a, &t.b, "B (strongSwan)"));
                ping_time = p0.elapsed();
                let sas = ss.list_sas();
                ike_sas = sas.len();
                let after = (tunnel_stats(&sa), charon_packets_out(&sas));
                failures.extend(check_stats("A", &before.0, &after.0, &status(&sa)));
                if after.1 <= before.1 {
                    failures.push(format!(
                        "B (strongSwan): packets-out of its installed CHILD_SAs did not grow \
                         during the pings ({} -> {})",
                        before.1, after.1
                    ));
                }
            }
        }
        println!(
            "round {round:2}/{ROUNDS}: {} | stop {}, {}, straitd started at +{:.1} ms (API up \
             after {}), charon at +{:.1} ms (connection loaded after {}), up on both after {}, \
             IKE settled after {} ({} IKE messages), strongSwan IKE SAs {ike_sas}, pings {}, \
             round {}: {}",
            initiations.describe(),
            secs(stopped),
            if aligned {
                "charon running, its connection loaded as straitd starts"
            } else {
                "straitd and charon started together"
            },
            ready_a.0.as_secs_f64() * 1e3,
            secs(ready_a.1),
            ready_b.0.as_secs_f64() * 1e3,
            secs(ready_b.1),
            up_after.map_or("never".to_owned(), secs),
            secs(settled),
            initiations.ike_messages,
            secs(ping_time),
            secs(round_start.elapsed()),
            outcome(&failures)
        );
        let r = Round {
            failures,
            initiations,
        };
        tally.add(round, &r, || {
            format!(
                "=== round {round}/{ROUNDS} failed ({}):\n  {}\n{}{}",
                initiations.describe(),
                r.failures.join("\n  "),
                dump_strait("A (strait 198.51.100.1)", &sa, log_a),
                dump_charon(&ss)
            )
        });
    }
    tally.finish(
        "strait INITIATOR and strongSwan start_action=start started at once",
        test_start.elapsed(),
    );
}
