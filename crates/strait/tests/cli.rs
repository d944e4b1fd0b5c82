//! The seed page's flow through the `strait` CLI against a real straitd: every change goes
//! through the REST API, and what the CLI created is what the API returns.
mod common;

use std::process::{Command, Output};

use common::{Daemon, ADMIN_PASSWORD};

struct Cli<'a> {
    d: &'a Daemon,
    password: String,
    user: String,
}

impl Cli<'_> {
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_strait"));
        cmd.arg("--server")
            .arg(&self.d.base)
            .arg("--ca-cert")
            .arg(self.d.path("tls-cert.pem"))
            .arg("--user")
            .arg(&self.user)
            .args(args)
            .env("STRAIT_PASSWORD", &self.password)
            .env_remove("STRAIT_PSK")
            .env_remove("STRAIT_SERVER")
            .env_remove("STRAIT_USER");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run strait")
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        self.ok_env(args, &[])
    }

    #[track_caller]
    fn ok_env(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.run(args, env);
        assert!(
            out.status.success(),
            "strait {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs with `input` on stdin.
    #[track_caller]
    fn ok_stdin(&self, args: &[&str], input: &str) -> String {
        use std::io::Write as _;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_strait"));
        cmd.arg("--server")
            .arg(&self.d.base)
            .arg("--ca-cert")
            .arg(self.d.path("tls-cert.pem"))
            .arg("--user")
            .arg(&self.user)
            .args(args)
            .env("STRAIT_PASSWORD", &self.password)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn strait");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "strait {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[track_caller]
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, &[]);
        assert!(
            !out.status.success(),
            "strait {args:?} should fail: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn admin(d: &Daemon) -> Cli<'_> {
    Cli {
        d,
        password: ADMIN_PASSWORD.into(),
        user: "admin".into(),
    }
}

#[test]
fn seed_flow_through_the_cli() {
    let d = Daemon::start();
    let cli = admin(&d);
    cli.ok(&["gateway", "create", "t0", "--display-name", "Tier-0"]);
    cli.ok(&["service", "create", "vpn", "--ike-log-level", "debug"]);
    cli.ok(&[
        "endpoint",
        "create",
        "le",
        "--local-address",
        "198.51.100.1",
        "--local-id",
        "site-a.example.com",
    ]);
    let psk_file = d.path("psk.txt");
    std::fs::write(&psk_file, "correct horse battery staple\n").unwrap();
    cli.ok(&[
        "session",
        "add",
        "--route-based",
        "site-b",
        "--service",
        "vpn",
        "--local-endpoint",
        "le",
        "--remote-ip",
        "198.51.100.2",
        "--description",
        "to site B",
        "--admin-status",
        "enabled",
        "--compliance-suite",
        "none",
        "--tunnel-interface",
        "169.254.100.1/30",
        "--auth-mode",
        "psk",
        "--psk-file",
        psk_file.to_str().unwrap(),
        "--remote-id",
        "site-b.example.com",
        "--tag",
        "env=lab",
        "--ike-profile",
        "nsx-default-l3vpn-ike-profile",
        "--ipsec-profile",
        "nsx-default-l3vpn-tunnel-profile",
        "--dpd-profile",
        "nsx-default-l3vpn-dpd-profile",
        "--initiation-mode",
        "respond-only",
        "--mss-direction",
        "both",
        "--mss-value",
        "1360",
    ]);

    // What the CLI created is exactly what the API serves.
    let s = d
        .admin()
        .get("/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/site-b")
        .expect(200)
        .body;
    assert_eq!(s["peer_address"], "198.51.100.2");
    assert_eq!(s["peer_id"], "site-b.example.com");
    assert_eq!(s["connection_initiation_mode"], "RESPOND_ONLY");
    assert_eq!(s["tcp_mss_clamping"]["direction"], "BOTH");
    assert_eq!(s["tcp_mss_clamping"]["max_segment_size"], 1360);
    assert_eq!(
        s["tunnel_interfaces"][0]["ip_subnets"][0]["ip_addresses"][0],
        "169.254.100.1"
    );
    assert_eq!(s["tags"][0]["tag"], "lab");
    let sens = d
        .admin()
        .get("/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/site-b?action=show_sensitive_data")
        .expect(200)
        .body;
    assert_eq!(
        sens["psk"], "correct horse battery staple",
        "the file's trailing newline is not part of the PSK"
    );

    // Tables.
    let list = cli.ok(&["session", "list"]);
    assert!(list.lines().next().unwrap().starts_with("ID"), "{list}");
    assert!(
        list.contains("site-b")
            && list.contains("169.254.100.1/30")
            && list.contains("RESPOND_ONLY"),
        "{list}"
    );
    assert!(
        !list.contains("correct horse"),
        "the PSK never appears in output"
    );
    let profiles = cli.ok(&["ike-profile", "list"]);
    assert!(
        profiles.contains("nsx-default-l3vpn-ike-profile") && profiles.contains("yes"),
        "{profiles}"
    );

    // show, --json, update, PSK from the environment on create.
    let shown = cli.ok(&["session", "show", "site-b"]);
    assert!(
        shown.contains("peer_address") && shown.contains("198.51.100.2"),
        "{shown}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(&["--json", "session", "show", "site-b"])).unwrap();
    assert_eq!(json["id"], "site-b");
    cli.ok(&["session", "update", "site-b", "--admin-status", "disabled"]);
    assert_eq!(
        d.admin()
            .get("/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/site-b")
            .body["enabled"],
        false
    );
    cli.ok_env(
        &[
            "session",
            "add",
            "--route-based",
            "site-c",
            "--local-endpoint",
            "le",
            "--remote-ip",
            "198.51.100.3",
            "--remote-id",
            "198.51.100.3",
            "--tunnel-interface",
            "169.254.100.5/30",
        ],
        &[("STRAIT_PSK", "psk-from-env")],
    );
    assert_eq!(
        d.admin()
            .get("/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/site-c?action=show_sensitive_data")
            .body["psk"],
        "psk-from-env"
    );

    // Errors from the API reach the user with every problem listed, and a failing exit code.
    let err = cli.fails(&[
        "session",
        "add",
        "--route-based",
        "bad",
        "--local-endpoint",
        "le",
        "--remote-ip",
        "1.2.3",
        "--remote-id",
        "C=US, CN=x",
        "--tunnel-interface",
        "169.254.100.2/32",
        "--psk-file",
        psk_file.to_str().unwrap(),
    ]);
    assert!(
        err.contains("peer_address") && err.contains("prefix_length") && err.contains("peer_id"),
        "{err}"
    );
    let err = cli.fails(&[
        "session",
        "add",
        "--route-based",
        "site-b",
        "--local-endpoint",
        "le",
    ]);
    assert!(err.contains("already exists"), "{err}");
    let err = cli.fails(&["endpoint", "delete", "le"]);
    assert!(err.contains("in use by") && err.contains("site-b"), "{err}");

    // Profiles, routes, delete.
    cli.ok(&[
        "ike-profile",
        "create",
        "strong",
        "--encryption",
        "aes-256",
        "--digest",
        "sha2-384",
        "--dh-group",
        "20",
    ]);
    let p = d
        .admin()
        .get("/policy/api/v1/infra/ipsec-vpn-ike-profiles/strong")
        .expect(200)
        .body;
    assert_eq!(p["dh_groups"][0], "GROUP20");
    cli.ok(&[
        "tunnel-profile",
        "create",
        "gcm256",
        "--encryption",
        "aes-gcm-256",
        "--dh-group",
        "group19",
    ]);
    cli.ok(&[
        "dpd-profile",
        "create",
        "fast",
        "--mode",
        "on-demand",
        "--interval",
        "5",
    ]);
    cli.ok(&[
        "route",
        "create",
        "to-b-lan",
        "--network",
        "10.2.0.0/24",
        "--next-hop",
        "169.254.100.2",
    ]);
    assert!(cli.ok(&["route", "list"]).contains("10.2.0.0/24"));
    cli.ok(&["session", "delete", "site-c"]);
    d.admin()
        .get("/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/sessions/site-c")
        .expect(404);

    // The audit log shows who did what.
    let audit = cli.ok(&["audit", "list", "--page-size", "5"]);
    assert!(
        audit.contains("DELETE") && audit.contains("sessions/site-c"),
        "{audit}"
    );
}

#[test]
fn users_through_the_cli() {
    let d = Daemon::start();
    let cli = admin(&d);
    let pw = d.path("pw.txt");
    std::fs::write(&pw, "auditor-password-1\n").unwrap();
    cli.ok(&[
        "user",
        "create",
        "ops",
        "--role",
        "auditor",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert!(cli.ok(&["user", "list"]).contains("auditor"));
    let auditor = Cli {
        d: &d,
        password: "auditor-password-1".into(),
        user: "ops".into(),
    };
    assert!(auditor
        .ok(&["ike-profile", "list"])
        .contains("nsx-default-l3vpn-ike-profile"));
    let err = auditor.fails(&["gateway", "create", "t9"]);
    assert!(err.contains("read-only") && err.contains("403"), "{err}");
    // An auditor changes their own password: the CLI sends the login password as old_password.
    std::fs::write(&pw, "auditor-password-2\n").unwrap();
    auditor.ok(&[
        "user",
        "update",
        "ops",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    let again = Cli {
        d: &d,
        password: "auditor-password-2".into(),
        user: "ops".into(),
    };
    again.ok(&["user", "show", "ops"]);
    let err = cli.fails(&["user", "delete", "admin"]);
    assert!(err.contains("last admin"), "{err}");
    cli.ok(&["user", "delete", "ops"]);
}

#[test]
fn the_cli_refuses_an_unverified_certificate_and_explains() {
    let d = Daemon::start();
    let out = Command::new(env!("CARGO_BIN_EXE_strait"))
        .args(["--server", &d.base, "gateway", "list"])
        .env("STRAIT_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--ca-cert") && err.contains("--insecure"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_strait"))
        .args(["--server", &d.base, "--insecure", "gateway", "list"])
        .env("STRAIT_PASSWORD", ADMIN_PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_strait"))
        .args(["--server", &d.base, "--insecure", "gateway", "list"])
        .env("STRAIT_PASSWORD", "wrong-password")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("incorrect"));
}

/// Certificates and CRLs through the CLI: import a CA (checked to be one), a site
/// certificate with its key from stdin, a CRL; the local endpoint uses them; list and show
/// say what uses what; deleting a certificate in use is refused with the API's reason and
/// what to change; keys never appear in any output.
#[test]
fn certificates_through_the_cli() {
    let d = Daemon::start();
    let cli = admin(&d);
    cli.ok(&["gateway", "create", "t0"]);
    cli.ok(&["service", "create", "vpn"]);
    cli.ok(&[
        "endpoint",
        "create",
        "le",
        "--local-address",
        "198.51.100.1",
    ]);
    let ca = common::pki::ca("Test CA");
    let site = common::pki::leaf("site-a", &ca);
    let file = |name: &str, text: &str| {
        let p = d.path(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let ca_file = file("ca.pem", &ca.pem);
    let site_file = file("site.pem", &format!("{}{}", site.pem, ca.pem));
    let key = site.key_pem();
    let mixed_file = file("mixed.pem", &format!("{}{key}", site.pem));
    let crl_file = file("ca.crl", &common::pki::crl(&ca));

    // Errors say what was wrong and what to give instead.
    let err = cli.fails(&["certificate", "create", "x"]);
    assert!(err.contains("--cert-file FILE"), "{err}");
    let err = cli.fails(&[
        "certificate",
        "create",
        "x",
        "--ca",
        "--cert-file",
        &site_file,
    ]);
    assert!(
        err.contains("is not a CA certificate") && err.contains("CN=site-a"),
        "{err}"
    );
    let err = cli.fails(&["certificate", "create", "x", "--cert-file", &mixed_file]);
    assert!(
        err.contains("holds a private key") && err.contains("--key-file"),
        "{err}"
    );
    assert!(!err.contains(&key), "{err}");
    let err = cli.fails(&[
        "certificate",
        "create",
        "x",
        "--cert-file",
        "-",
        "--key-file",
        "-",
    ]);
    assert!(err.contains("only one of"), "{err}");

    cli.ok(&[
        "certificate",
        "create",
        "ca",
        "--ca",
        "--cert-file",
        &ca_file,
    ]);
    let out = cli.ok_stdin(
        &[
            "certificate",
            "create",
            "site",
            "--cert-file",
            &site_file,
            "--key-file",
            "-",
        ],
        &key,
    );
    assert!(
        out.contains("created certificate /infra/certificates/site"),
        "{out}"
    );
    cli.ok(&["crl", "create", "crl", "--crl-file", &crl_file]);
    cli.ok(&[
        "endpoint",
        "update",
        "le",
        "--certificate",
        "site",
        "--trust-ca",
        "ca",
        "--trust-crl",
        "crl",
    ]);
    let le = d
        .admin()
        .get("/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le")
        .expect(200)
        .body;
    assert_eq!(le["certificate_path"], "/infra/certificates/site");
    assert_eq!(le["trust_ca_paths"][0], "/infra/certificates/ca");
    assert_eq!(le["trust_crl_paths"][0], "/infra/crls/crl");

    let list = cli.ok(&["certificate", "list"]);
    for needle in [
        "ID    SUBJECT",
        "ISSUER",
        "EXPIRES",
        "PRIVATE KEY",
        "USED BY",
        "C=US, O=Org, CN=site-a",
        "2039-06-01 00:00:00",
        "EC 256",
        "le (site certificate)",
        "le (trusted CA)",
    ] {
        assert!(list.contains(needle), "missing {needle:?} in\n{list}");
    }
    let site_row = list.lines().find(|l| l.starts_with("site ")).unwrap();
    let cells: Vec<&str> = site_row
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(cells[4..7], ["EC 256", "yes", "no"], "{site_row}");
    let crls = cli.ok(&["crl", "list"]);
    assert!(crls.contains("le (trusted CRL)"), "{crls}");

    let show = cli.ok(&["certificate", "show", "site"]);
    for needle in [
        "subject             C=US, O=Org, CN=site-a\n",
        "issuer              C=US, O=Strait Test, CN=Test CA\n",
        "san_dns             site-a.example.com\n",
        "private_key         yes\n",
        "chain               C=US, O=Org, CN=site-a; C=US, O=Strait Test, CN=Test CA\n",
        "used_by             /infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le (site certificate)\n",
    ] {
        assert!(show.contains(needle), "missing {needle:?} in\n{show}");
    }
    let pem = cli.ok(&["certificate", "show", "ca", "--pem"]);
    assert_eq!(pem.trim(), ca.pem.trim());
    for args in [
        &["certificate", "show", "site", "--pem"][..],
        &["--json", "certificate", "show", "site"],
        &["--json", "certificate", "list"],
    ] {
        let out = cli.ok(args);
        assert!(!out.contains("PRIVATE KEY"), "{args:?}: {out}");
    }

    // In use: the API refuses; the CLI prints why and what to change.
    let err = cli.fails(&["certificate", "delete", "site"]);
    assert!(err.contains("HTTP 400"), "{err}");
    assert!(
        err.contains(
            "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le (site certificate)"
        ) && err.contains("--no-certificate"),
        "{err}"
    );
    cli.ok(&[
        "endpoint",
        "update",
        "le",
        "--no-certificate",
        "--no-trust-ca",
        "--no-trust-crl",
    ]);
    let le = d
        .admin()
        .get("/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le")
        .expect(200)
        .body;
    assert!(le.get("certificate_path").is_none(), "{le}");
    assert!(le.get("trust_ca_paths").is_none(), "{le}");
    cli.ok(&["certificate", "delete", "site"]);
    cli.ok(&["crl", "delete", "crl"]);
    let list = cli.ok(&["certificate", "list"]);
    assert!(!list.contains("site-a"), "{list}");
}
