//! The web console shows a live tunnel: two straitds in network namespaces with a route-based
//! session between them (configured through the REST API); the console of one, in Chromium
//! running inside that straitd's namespace, shows the row go from "Down - Session not enabled"
//! to "Up" by itself once the session is enabled, with the VTI and the negotiated SAs
//! (`console-tests/live-status.mjs`; the other console tests run on loopback without a peer).
//!
//! Needs root, `scripts/install-deps.sh` (strongSwan is not used, Chromium is) and Node.js;
//! `npm ci` runs in `console-tests/` if its modules are missing. Fails loudly, never skips.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::netns::{require_interop_env, topology};
use common::straitd::{configure, StraitInNs, SESSION};
use serde_json::json;

const A: &str = "198.51.100.1";
const B: &str = "198.51.100.2";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `npm ci` in console-tests/ unless playwright-core is there already.
fn ensure_console_modules() {
    let dir = repo().join("console-tests");
    if dir.join("node_modules/playwright-core").is_dir() {
        return;
    }
    // scripts/test.sh installs them first; this covers `cargo test` run on its own.
    let out = Command::new(repo().join("scripts/npm-ci.sh"))
        .output()
        .expect("npm (Node.js) is needed for the console tests");
    assert!(
        out.status.success(),
        "npm ci in console-tests failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_console_shows_a_live_session_come_up() {
    require_interop_env();
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: run scripts/install-deps.sh"
    );
    ensure_console_modules();
    let t = topology();
    let (a, b) = (&t.a, &t.b);
    // Chromium runs in `a` and aborts its requests whenever an interface or address there
    // changes (net::ERR_NETWORK_CHANGED). The fresh veth's IPv6 link-local address would
    // finish its duplicate address detection a moment later, possibly while the console's
    // modules load; this test is IPv4 only, so IPv6 is off in `a` from the start.
    a.run(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    a.run(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
    let sa = StraitInNs::start(a);
    let sb = StraitInNs::start(b);
    sb.api(|h| configure(h, B, A, "169.254.100.2", false, json!({})));
    sa.api(|h| {
        configure(
            h,
            A,
            B,
            "169.254.100.1",
            true,
            json!({"display_name": "live-session", "enabled": false}),
        )
    });
    let out = a
        .command("node")
        .arg(repo().join("console-tests/live-status.mjs"))
        .env("STRAIT_URL", sa.base())
        .env("STRAIT_PASSWORD", common::ADMIN_PASSWORD)
        .env("SESSION_PATH", SESSION.trim_start_matches("/policy/api/v1"))
        .current_dir(repo())
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "the console did not show the session Up:\n{}\n{}\nstraitd log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        sa.log()
    );
}
