//! `render` against a golden file (`tests/golden/full.conf`; `UPDATE_GOLDEN=1` rewrites it),
//! BIRD's own parser (`bird -p`) on the result when bird is installed, and validation.

use std::net::Ipv4Addr;
use std::path::Path;

use strait_routing::{
    render, Action, Afi, Aggregate, Bfd, Family, GrMode, GracefulRestart, Neighbor, Paths,
    PrefixEntry, PrefixList, Redistribution, RoutingConfig,
};
use zeroize::Zeroizing;

fn neighbor(name: &str, addr: &str, remote_as: u32) -> Neighbor {
    Neighbor {
        name: name.into(),
        enabled: true,
        address: addr.parse().unwrap(),
        remote_as,
        local_as: None,
        source: None,
        hold_time_s: 180,
        keepalive_s: 60,
        password: None,
        bfd: None,
        allow_as_in: false,
        max_hop: 1,
        graceful_restart: None,
        families: vec![],
    }
}

fn family(afi: Afi) -> Family {
    Family {
        afi,
        enabled: true,
        max_routes: None,
        import_filter: None,
        export_filter: None,
    }
}

/// Every feature at once.
fn full() -> RoutingConfig {
    let mut n1 = neighbor("nbr-1", "169.254.10.2", 65002);
    n1.source = Some("169.254.10.1".parse().unwrap());
    n1.password = Some(Zeroizing::new("s3cret-md5".into()));
    n1.bfd = Some(Bfd {
        interval_ms: 500,
        multiplier: 3,
    });
    n1.hold_time_s = 9;
    n1.keepalive_s = 3;
    n1.families = vec![
        Family {
            max_routes: Some(100),
            import_filter: Some("from-site-b".into()),
            ..family(Afi::Ipv4)
        },
        Family {
            export_filter: Some("to-site-b".into()),
            ..family(Afi::Ipv6)
        },
    ];
    let mut n2 = neighbor("ibgp peer/2", "10.255.0.2", 65001);
    n2.max_hop = 3;
    n2.allow_as_in = true;
    n2.graceful_restart = Some(GrMode::GrAndHelper);
    n2.hold_time_s = 0;
    n2.keepalive_s = 0;
    let mut n3 = neighbor("nbr-v6", "2001:db8:ff::2", 65003);
    n3.local_as = Some(65100);
    n3.enabled = false;
    RoutingConfig {
        router_id: Ipv4Addr::new(10, 255, 0, 1),
        local_as: 65001,
        ecmp: true,
        graceful_restart: GracefulRestart {
            mode: GrMode::HelperOnly,
            restart_time_s: 180,
            stale_time_s: 600,
        },
        ebgp_admin_distance: Some(20),
        ibgp_admin_distance: None,
        neighbors: vec![n1, n2, n3],
        redistribute: Redistribution {
            networks: vec![
                "10.1.1.0/24".parse().unwrap(),
                "10.1.2.0/24".parse().unwrap(),
                "10.9.0.0/16".parse().unwrap(),
                "2001:db8:1::/48".parse().unwrap(),
            ],
        },
        aggregates: vec![
            Aggregate {
                prefix: "10.1.0.0/16".parse().unwrap(),
                summary_only: true,
            },
            Aggregate {
                prefix: "10.200.0.0/16".parse().unwrap(),
                summary_only: false,
            },
            Aggregate {
                prefix: "2001:db8::/32".parse().unwrap(),
                summary_only: false,
            },
        ],
        prefix_lists: vec![
            PrefixList {
                name: "from-site-b".into(),
                entries: vec![
                    PrefixEntry {
                        action: Action::Deny,
                        network: Some("10.2.66.0/24".parse().unwrap()),
                        ge: None,
                        le: None,
                    },
                    PrefixEntry {
                        action: Action::Permit,
                        network: Some("10.2.0.0/16".parse().unwrap()),
                        ge: None,
                        le: Some(24),
                    },
                    PrefixEntry {
                        action: Action::Permit,
                        network: Some("2001:db8:2::/48".parse().unwrap()),
                        ge: Some(56),
                        le: None,
                    },
                ],
            },
            PrefixList {
                name: "to-site-b".into(),
                entries: vec![
                    PrefixEntry {
                        action: Action::Deny,
                        network: None,
                        ge: Some(60),
                        le: None,
                    },
                    PrefixEntry {
                        action: Action::Permit,
                        network: None,
                        ge: None,
                        le: None,
                    },
                ],
            },
        ],
        never_import: vec![
            "198.51.100.2".parse().unwrap(),
            "2001:db8:ffff::2".parse().unwrap(),
        ],
    }
}

#[test]
fn full_config_matches_golden_and_bird_parses_it() {
    let cfg = full();
    cfg.validate().unwrap();
    let text = render(&cfg, &Paths::in_dir("/var/lib/strait/bird"));
    assert_eq!(
        text,
        render(&cfg, &Paths::in_dir("/var/lib/strait/bird")),
        "deterministic"
    );
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/full.conf");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(
        text, want,
        "render changed; review and run with UPDATE_GOLDEN=1"
    );
    // 10.200.0.0/16 covers no announced network: not announced.
    assert!(!text.contains("10.200.0.0/16"));
    if Path::new("/usr/sbin/bird").exists() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bird.conf");
        std::fs::write(&f, &text).unwrap();
        let out = std::process::Command::new("/usr/sbin/bird")
            .arg("-p")
            .arg("-c")
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bird -p: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn minimal_config() {
    let cfg = RoutingConfig {
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        local_as: 65001,
        ecmp: false,
        graceful_restart: GracefulRestart::default(),
        ebgp_admin_distance: None,
        ibgp_admin_distance: None,
        neighbors: vec![neighbor("nbr-1", "169.254.10.2", 65002)],
        redistribute: Redistribution::default(),
        aggregates: vec![],
        prefix_lists: vec![],
        never_import: vec![],
    };
    cfg.validate().unwrap();
    let text = render(&cfg, &Paths::in_dir("/tmp/x"));
    assert!(!text.contains("merge paths"));
    assert!(!text.contains("protocol static"));
    assert!(!text.contains("protocol bfd"));
    assert!(text.contains(
        "  neighbor 169.254.10.2 as 65002;\n  direct;\n  hold time 180;\n  keepalive time 60;\n"
    ));
    assert!(text.contains("krt_metric = 20;"));
    assert!(text.contains("graceful restart aware;"));
}

#[test]
fn protocol_names_are_bird_symbols_and_distinct() {
    let a = strait_routing::protocol_name("nbr-1");
    let b = strait_routing::protocol_name("nbr_1");
    assert_ne!(a, b);
    for n in [
        a,
        b,
        strait_routing::protocol_name("ünïcode name with spaces and a very long tail indeed"),
    ] {
        assert!(
            n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{n}"
        );
        assert!(n.len() <= 48, "{n}");
    }
}

#[test]
fn validation_names_fields() {
    let mut cfg = full();
    cfg.local_as = 0;
    cfg.router_id = Ipv4Addr::UNSPECIFIED;
    cfg.neighbors[0].hold_time_s = 2;
    cfg.neighbors[1].keepalive_s = 5; // hold time 0
    cfg.neighbors[2].remote_as = 0;
    cfg.neighbors[0].password = Some(Zeroizing::new("has\"quote".into()));
    cfg.neighbors[0].families[0].import_filter = Some("nope".into());
    cfg.neighbors[0].bfd = Some(Bfd {
        interval_ms: 5,
        multiplier: 0,
    });
    cfg.prefix_lists[0].entries[1].le = Some(8); // shorter than /16
    cfg.neighbors.push(neighbor("nbr-1", "169.254.10.6", 65002));
    let errs = cfg.validate().unwrap_err();
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    for want in [
        "router_id",
        "local_as",
        "neighbors[nbr-1].hold_time_s",
        "neighbors[ibgp peer/2].keepalive_s",
        "neighbors[nbr-v6].remote_as",
        "neighbors[nbr-1].password",
        "neighbors[nbr-1].families[ipv4].import_filter",
        "neighbors[nbr-1].bfd.interval_ms",
        "neighbors[nbr-1].bfd.multiplier",
        "prefix_lists[from-site-b].entries[1].le",
        "neighbors[nbr-1].name",
    ] {
        assert!(fields.contains(&want), "{want} missing from {errs:#?}");
    }
    // The password itself never appears in an error.
    assert!(errs.iter().all(|e| !e.to_string().contains("has\"quote")));
    let mut k = full();
    k.neighbors[0].keepalive_s = 10; // hold 9
    assert_eq!(
        k.validate().unwrap_err()[0].field,
        "neighbors[nbr-1].keepalive_s"
    );
}

#[test]
fn debug_redacts_passwords() {
    let cfg = full();
    let dbg = format!("{cfg:?}");
    assert!(!dbg.contains("s3cret-md5"), "{dbg}");
    assert!(dbg.contains("<redacted>"));
}
