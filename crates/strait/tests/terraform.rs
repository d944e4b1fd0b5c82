//! VMware's own Terraform provider for NSX (`vmware/nsxt` v3.11.1, as shipped with these
//! machines in `../shared/tools/terraform-nsxt`) manages a real straitd: the provider's
//! example configuration through apply, plan with no changes, an update (descriptions and
//! TCP MSS clamping) with a clean plan after it, import of objects made through the API,
//! data sources, and destroy leaving nothing. Runs as root: straitd lives in a network
//! namespace of its own with the example's local address 203.0.113.1.
mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::netns::Netns;
use common::straitd::StraitInNs;
use common::ADMIN_PASSWORD;
use serde_json::{json, Value};

const T0: &str = "/policy/api/v1/infra/tier-0s/edge-t0";
const SVC: &str = "/policy/api/v1/infra/tier-0s/edge-t0/ipsec-vpn-services/vpn";

/// Where the provider is: `STRAIT_TERRAFORM_NSXT_DIR`, or `shared/tools/terraform-nsxt` beside
/// the repository (or its parents).
fn provider_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("STRAIT_TERRAFORM_NSXT_DIR") {
        return PathBuf::from(d);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates: Vec<PathBuf> = repo
        .canonicalize()
        .unwrap_or(repo)
        .ancestors()
        .map(|a| a.join("shared/tools/terraform-nsxt"))
        .chain([PathBuf::from("/work/shared/tools/terraform-nsxt")])
        .collect();
    candidates
        .iter()
        .find(|c| c.join("terraform-provider-nsxt").is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "VMware's Terraform provider for NSX was not found (looked in {candidates:?}); \
                 set STRAIT_TERRAFORM_NSXT_DIR to the directory holding terraform-provider-nsxt"
            )
        })
}

fn terraform_bin() -> PathBuf {
    ["/usr/local/bin/terraform", "/usr/bin/terraform"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("terraform is not installed (looked in /usr/local/bin and /usr/bin)")
        })
}

struct Terraform<'a> {
    ns: &'a Netns,
    dir: tempfile::TempDir,
    host: String,
    rc: PathBuf,
}

impl<'a> Terraform<'a> {
    fn new(ns: &'a Netns, straitd: &StraitInNs<'_>) -> Terraform<'a> {
        let provider = provider_dir();
        let dir = tempfile::tempdir().unwrap();
        let rc = dir.path().join("nsxt.tfrc");
        std::fs::write(
            &rc,
            format!(
                "provider_installation {{\n  dev_overrides {{ \"vmware/nsxt\" = \"{}\" }}\n  direct {{}}\n}}\n",
                provider.display()
            ),
        )
        .unwrap();
        std::fs::copy(provider.join("example/main.tf"), dir.path().join("main.tf"))
            .expect("the provider's example/main.tf");
        Terraform {
            ns,
            host: straitd.base().trim_start_matches("https://").to_owned(),
            dir,
            rc,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn edit(&self, from: &str, to: &str) {
        let main = self.path("main.tf");
        let text = std::fs::read_to_string(&main).unwrap();
        assert!(text.contains(from), "main.tf has no {from:?}");
        std::fs::write(&main, text.replacen(from, to, 1)).unwrap();
    }

    fn append(&self, name: &str, text: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        self.ns
            .command(terraform_bin())
            .args(args)
            .arg("-no-color")
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", &self.rc)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_LOG", "DEBUG")
            .env("TF_LOG_PROVIDER_NSX_HTTP", "1")
            .env("TF_LOG_PATH", self.path("tf.log"))
            .env("TF_VAR_host", &self.host)
            .env("TF_VAR_password", ADMIN_PASSWORD)
            .output()
            .expect("run terraform")
    }

    /// Run and require exit code `want`; on failure show its output and the log's end.
    #[track_caller]
    fn expect(&self, args: &[&str], want: i32) -> String {
        let o = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if o.status.code() != Some(want) {
            let log = std::fs::read_to_string(self.path("tf.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            panic!(
                "terraform {args:?} exited {:?}, not {want}:\n{text}\n--- tf.log (end) ---\n{}",
                o.status.code(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        text
    }

    #[track_caller]
    fn plan_is_clean(&self) {
        let text = self.expect(&["plan", "-detailed-exitcode"], 0);
        assert!(text.contains("No changes"), "{text}");
    }
}

#[test]
fn vmwares_terraform_provider_runs_its_example_against_straitd() {
    let ns = Netns::new();
    // The example's local endpoint address, on a link of the namespace.
    ns.ip(&["link", "add", "tf0", "type", "veth", "peer", "name", "tf1"]);
    ns.add_addr("tf0", "203.0.113.1/24");
    ns.ip(&["link", "set", "tf0", "up"]);
    ns.ip(&["link", "set", "tf1", "up"]);
    let straitd = StraitInNs::start(&ns);
    let tf = Terraform::new(&ns, &straitd);

    // Apply the example as shipped, then plan: nothing to change.
    let out = tf.expect(&["apply", "-auto-approve"], 0);
    assert!(out.contains("4 added"), "{out}");
    let session = straitd.api(|h| h.get(&format!("{SVC}/sessions/branch")).expect(200).body);
    assert_eq!(session["resource_type"], "RouteBasedIPSecVpnSession");
    assert_eq!(session["peer_address"], "203.0.113.2");
    assert_eq!(
        session["tunnel_interfaces"][0]["ip_subnets"][0]["ip_addresses"],
        json!(["169.254.31.1"])
    );
    tf.plan_is_clean();

    // An update: descriptions and TCP MSS clamping, then a clean plan.
    tf.edit(
        "  ha_mode      = \"ACTIVE_STANDBY\"\n",
        "  ha_mode      = \"ACTIVE_STANDBY\"\n  description  = \"edge gateway\"\n",
    );
    tf.edit(
        "  psk                 = \"example-psk-change-me\"\n",
        "  psk                 = \"example-psk-change-me\"\n  description         = \"branch office\"\n  direction           = \"BOTH\"\n  max_segment_size    = 1300\n",
    );
    let out = tf.expect(&["apply", "-auto-approve"], 0);
    assert!(out.contains("2 changed"), "{out}");
    let session = straitd.api(|h| h.get(&format!("{SVC}/sessions/branch")).expect(200).body);
    assert_eq!(session["description"], "branch office");
    assert_eq!(
        session["tcp_mss_clamping"],
        json!({"direction": "BOTH", "max_segment_size": 1300})
    );
    let t0 = straitd.api(|h| h.get(T0).expect(200).body);
    assert_eq!(t0["description"], "edge gateway");
    tf.plan_is_clean();

    // Objects made through the API, then imported: a DPD profile and a second session.
    straitd.api(|h| {
        h.patch(
            "/policy/api/v1/infra/ipsec-vpn-dpd-profiles/dpd-api",
            &json!({"display_name": "dpd-api", "dpd_probe_interval": 30}),
        )
        .expect(200);
        h.patch(
            &format!("{SVC}/sessions/api-made"),
            &json!({
                "resource_type": "RouteBasedIPSecVpnSession",
                "display_name": "api-made",
                "local_endpoint_path": "/infra/tier-0s/edge-t0/ipsec-vpn-services/vpn/local-endpoints/le",
                "peer_address": "203.0.113.3",
                "peer_id": "203.0.113.3",
                "psk": "api-made-psk",
                "dpd_profile_path": "/infra/ipsec-vpn-dpd-profiles/dpd-api",
                "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": ["169.254.32.1"], "prefix_length": 30}]}]
            }),
        )
        .expect(200);
    });
    tf.append(
        "imported.tf",
        r#"
resource "nsxt_policy_ipsec_vpn_dpd_profile" "imported" {
  nsx_id             = "dpd-api"
  display_name       = "dpd-api"
  dpd_probe_interval = 30
}

resource "nsxt_policy_ipsec_vpn_session" "imported" {
  nsx_id              = "api-made"
  display_name        = "api-made"
  vpn_type            = "RouteBased"
  service_path        = nsxt_policy_ipsec_vpn_service.vpn.path
  local_endpoint_path = nsxt_policy_ipsec_vpn_local_endpoint.le.path
  dpd_profile_path    = nsxt_policy_ipsec_vpn_dpd_profile.imported.path
  ip_addresses        = ["169.254.32.1"]
  prefix_length       = 30
  peer_address        = "203.0.113.3"
  peer_id             = "203.0.113.3"
  psk                 = "api-made-psk"
}
"#,
    );
    tf.expect(
        &[
            "import",
            "nsxt_policy_ipsec_vpn_dpd_profile.imported",
            "dpd-api",
        ],
        0,
    );
    tf.expect(
        &[
            "import",
            "nsxt_policy_ipsec_vpn_session.imported",
            "/infra/tier-0s/edge-t0/ipsec-vpn-services/vpn/sessions/api-made",
        ],
        0,
    );
    // The PSK is never returned by a GET (as NSX), so the first plan after an import
    // writes it once; nothing else differs, and afterwards the plan is clean.
    let plan = tf.expect(&["plan", "-detailed-exitcode"], 2);
    assert!(plan.contains("1 to change, 0 to destroy"), "{plan}");
    assert!(plan.contains("psk"), "{plan}");
    tf.expect(&["apply", "-auto-approve"], 0);
    tf.plan_is_clean();

    // Data sources find the objects by name through the search API.
    tf.append(
        "data.tf",
        r#"
data "nsxt_policy_tier0_gateway" "found" {
  display_name = "edge-t0"
  depends_on   = [nsxt_policy_ipsec_vpn_session.branch]
}
data "nsxt_policy_ipsec_vpn_service" "found" {
  display_name = "vpn"
  gateway_path = data.nsxt_policy_tier0_gateway.found.path
}
data "nsxt_policy_ipsec_vpn_local_endpoint" "found" {
  display_name = "le"
  service_path = data.nsxt_policy_ipsec_vpn_service.found.path
}
output "found" {
  value = {
    t0  = data.nsxt_policy_tier0_gateway.found.path
    svc = data.nsxt_policy_ipsec_vpn_service.found.path
    le  = data.nsxt_policy_ipsec_vpn_local_endpoint.found.local_address
  }
}
"#,
    );
    tf.expect(&["apply", "-auto-approve"], 0);
    let outputs: Value = serde_json::from_str(&tf.expect(&["output", "-json"], 0)).unwrap();
    assert_eq!(
        outputs["found"]["value"],
        json!({"t0": "/infra/tier-0s/edge-t0", "svc": "/infra/tier-0s/edge-t0/ipsec-vpn-services/vpn", "le": "203.0.113.1"})
    );

    // Destroy leaves nothing of what Terraform managed.
    let out = tf.expect(&["destroy", "-auto-approve"], 0);
    assert!(
        out.contains("Destroy complete! Resources: 6 destroyed"),
        "{out}"
    );
    straitd.api(|h| {
        let t0s = h.get("/policy/api/v1/infra/tier-0s").expect(200).body;
        assert_eq!(t0s["result_count"], 0, "{t0s}");
        h.get("/policy/api/v1/infra/ipsec-vpn-dpd-profiles/dpd-api")
            .expect(404);
        let found = h
            .get("/policy/api/v1/search/query?query=marked_for_delete:false%20AND%20NOT%20_system_owned:true")
            .expect(200)
            .body;
        assert_eq!(found["result_count"], 0, "objects left: {found}");
    });
}
