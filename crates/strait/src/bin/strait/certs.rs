//! `strait certificate ...` and `strait crl list`: importing site certificates (with their
//! private key), CA certificates and CRLs, and showing which local endpoints use them.
//!
//! Private keys and passphrases come from files or stdin (`-`), never from the command
//! line, and are never printed.

use std::io::Read as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use strait_client::{encode_segment, Client};
use zeroize::Zeroizing;

use crate::args::{CertificateFlags, CertificateVerb};
use crate::commands::{common, create, in_every_service, update, url, Ctx, ToBody};
use crate::output::{at, field, time_ms, Column, Output};

const CERTS: &str = "/infra/certificates";
const CRLS: &str = "/infra/crls";

/// Text from a file, or from stdin for `-`.
pub fn read_input(path: &Path, what: &str) -> Result<Zeroizing<String>> {
    if path.as_os_str() == "-" {
        let mut s = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut s)
            .with_context(|| format!("cannot read the {what} from stdin"))?;
        return Ok(s);
    }
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))
}

/// A one-line secret from a file or stdin, without its trailing newline.
fn read_secret_line(path: &Path, what: &str) -> Result<Zeroizing<String>> {
    let raw = read_input(path, what)?;
    let s = raw.strip_suffix('\n').unwrap_or(&raw);
    let s = s.strip_suffix('\r').unwrap_or(s);
    Ok(Zeroizing::new(s.to_owned()))
}

fn name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "stdin".into()
    } else {
        path.display().to_string()
    }
}

/// Checks a certificate file before it is sent: no private key in it (that would be stored
/// as the certificate's public text), and with `--ca` a CA certificate.
fn check_certificate_file(pem: &str, path: &Path, ca: bool) -> Result<()> {
    let file = name(path);
    if pem.contains("PRIVATE KEY-----") {
        bail!(
            "{file} holds a private key: put only the certificate and its chain \
             (-----BEGIN CERTIFICATE----- blocks) in --cert-file and give the key with \
             --key-file, so that strait keeps it as a secret"
        );
    }
    if !ca {
        return Ok(());
    }
    let chain =
        strait_pki::parse_certificate_chain(pem).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    match chain.certificates.first() {
        Some(leaf) if leaf.is_ca => Ok(()),
        Some(leaf) => bail!(
            "{file} is not a CA certificate: its first certificate ({}) has no CA basic \
             constraint, so no peer certificate can chain to it; give the CA's own \
             certificate, or import this one without --ca (a site certificate, with \
             --key-file)",
            leaf.subject_dn
        ),
        None => bail!("{file} holds no certificate; give a -----BEGIN CERTIFICATE----- block"),
    }
}

impl ToBody for CertificateFlags {
    fn body(&self, _: &Ctx, _: bool) -> Result<Map<String, Value>> {
        let files = [&self.cert_file, &self.key_file, &self.passphrase_file];
        if files
            .iter()
            .filter(|f| f.as_deref().is_some_and(|p| p.as_os_str() == "-"))
            .count()
            > 1
        {
            bail!(
                "only one of --cert-file, --key-file and --passphrase-file can be - (stdin); \
                 give the others as files"
            );
        }
        let mut m = Map::new();
        common(&mut m, &self.common);
        if let Some(f) = &self.cert_file {
            let pem = read_input(f, "certificate")?;
            check_certificate_file(&pem, f, self.ca)?;
            m.insert("pem_encoded".into(), Value::from(pem.as_str()));
        }
        if let Some(f) = &self.key_file {
            let key = read_input(f, "private key")?;
            if !key.contains("PRIVATE KEY-----") {
                bail!(
                    "{} holds no private key: give a PEM file with a -----BEGIN ... PRIVATE \
                     KEY----- block (PKCS#8, PKCS#1 or SEC1, encrypted or not)",
                    name(f)
                );
            }
            m.insert("private_key".into(), Value::from(key.as_str()));
        }
        if let Some(f) = &self.passphrase_file {
            let pp = read_secret_line(f, "passphrase")?;
            m.insert("passphrase".into(), Value::from(pp.as_str()));
        }
        Ok(m)
    }
}

/// `strait certificate <verb>`.
pub fn certificate(client: &Client, out: &Output, verb: CertificateVerb) -> Result<()> {
    let ctx_path = |id: &str| format!("{CERTS}/{id}");
    match verb {
        CertificateVerb::List => cert_list(client, out),
        CertificateVerb::Show { id, pem } => cert_show(client, out, &id, pem),
        CertificateVerb::Create { id, file, flags } => {
            if flags.cert_file.is_none() && file.is_none() {
                bail!(
                    "give the certificate to import with --cert-file FILE (PEM, - for stdin), \
                     plus --key-file FILE for a site certificate or --ca for a CA certificate"
                );
            }
            create(
                client,
                out,
                "certificate",
                &ctx_path(&id),
                "/infra",
                file.as_deref(),
                &flags,
            )
        }
        CertificateVerb::Update { id, file, flags } => update(
            client,
            out,
            "certificate",
            &ctx_path(&id),
            "/infra",
            file.as_deref(),
            &flags,
        ),
        CertificateVerb::Delete { id } => delete(client, out, "certificate", &ctx_path(&id)),
    }
}

/// Deletes a certificate or CRL; when the API refuses because a local endpoint uses it,
/// says how to change that endpoint.
fn delete(client: &Client, out: &Output, noun: &str, path: &str) -> Result<()> {
    match client.delete(&url(path)) {
        Ok(()) => {
            out.done(&format!("deleted {noun} {path}"), None);
            Ok(())
        }
        Err(e) => {
            let users = used_by(&endpoints(client).unwrap_or_default(), path);
            if users.is_empty() {
                return Err(e.into());
            }
            let list: Vec<String> = users
                .iter()
                .map(|(p, role)| format!("{p} ({role})"))
                .collect();
            bail!(
                "{e}\n{noun} {path} is used by {}; change that local endpoint first, e.g. \
                 `strait endpoint update ID --certificate OTHER` or `--no-certificate`, \
                 `--trust-ca ...` or `--no-trust-ca`, `--trust-crl ...` or `--no-trust-crl`",
                list.join(", ")
            )
        }
    }
}

fn endpoints(client: &Client) -> Result<Vec<Value>> {
    in_every_service(client, "local-endpoints")
}

/// The local endpoints that use `path`, with the role: site certificate, trusted CA or
/// trusted CRL.
fn used_by(endpoints: &[Value], path: &str) -> Vec<(String, &'static str)> {
    let has = |v: &Value, key: &str| {
        at(v, &format!("/{key}"))
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(path)))
    };
    let mut out = Vec::new();
    for e in endpoints {
        let ep = field(e, "path");
        if at(e, "/certificate_path").as_str() == Some(path) {
            out.push((ep.clone(), "site certificate"));
        }
        if has(e, "trust_ca_paths") {
            out.push((ep.clone(), "trusted CA"));
        }
        if has(e, "trust_crl_paths") {
            out.push((ep, "trusted CRL"));
        }
    }
    out
}

/// Adds `used_by` (`<endpoint id> (<role>)` strings) to each item.
fn with_used_by(items: &mut [Value], endpoints: &[Value]) {
    for item in items.iter_mut() {
        let path = field(item, "path");
        let users: Vec<String> = used_by(endpoints, &path)
            .into_iter()
            .map(|(p, role)| format!("{} ({role})", p.rsplit('/').next().unwrap_or(&p)))
            .collect();
        if let Some(m) = item.as_object_mut() {
            m.insert("used_by".into(), json!(users));
        }
    }
}

fn used_by_cell(v: &Value) -> String {
    at(v, "/used_by")
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn yes(v: &Value) -> String {
    if v.as_bool() == Some(true) {
        "yes".into()
    } else {
        "no".into()
    }
}

fn expires(v: &Value, pointer: &str) -> String {
    at(v, pointer).as_i64().map(time_ms).unwrap_or_default()
}

const CERT_COLUMNS: &[Column] = &[
    Column {
        header: "ID",
        cell: |v| field(v, "id"),
    },
    Column {
        header: "SUBJECT",
        cell: |v| field(at(v, "/details/0"), "subject"),
    },
    Column {
        header: "ISSUER",
        cell: |v| field(at(v, "/details/0"), "issuer"),
    },
    Column {
        header: "EXPIRES",
        cell: |v| expires(v, "/details/0/not_after"),
    },
    Column {
        header: "KEY",
        cell: |v| {
            format!(
                "{} {}",
                field(v, "key_algo"),
                field(at(v, "/details/0"), "public_key_length")
            )
        },
    },
    Column {
        header: "PRIVATE KEY",
        cell: |v| yes(at(v, "/has_private_key")),
    },
    Column {
        header: "CA",
        cell: |v| yes(at(v, "/details/0/is_ca")),
    },
    Column {
        header: "USED BY",
        cell: used_by_cell,
    },
];

const CRL_COLUMNS: &[Column] = &[
    Column {
        header: "ID",
        cell: |v| field(v, "id"),
    },
    Column {
        header: "ISSUER",
        cell: |v| field(at(v, "/details"), "issuer"),
    },
    Column {
        header: "REVOKED",
        cell: |v| field(at(v, "/details"), "revoked_count"),
    },
    Column {
        header: "NEXT UPDATE",
        cell: |v| expires(v, "/details/next_update"),
    },
    Column {
        header: "USED BY",
        cell: used_by_cell,
    },
];

fn cert_list(client: &Client, out: &Output) -> Result<()> {
    let mut items = client.list_all(&url(CERTS))?;
    with_used_by(&mut items, &endpoints(client)?);
    out.list(&items, CERT_COLUMNS);
    Ok(())
}

/// `strait crl list`: the CRLs and the local endpoints that check them.
pub fn crl_list(client: &Client, out: &Output) -> Result<()> {
    let mut items = client.list_all(&url(CRLS))?;
    with_used_by(&mut items, &endpoints(client)?);
    out.list(&items, CRL_COLUMNS);
    Ok(())
}

fn cert_show(client: &Client, out: &Output, id: &str, pem: bool) -> Result<()> {
    let path = format!("{CERTS}/{}", encode_segment(id));
    let mut v = client.get(&url(&path))?;
    if pem {
        print!("{}", field(&v, "pem_encoded"));
        return Ok(());
    }
    let eps = endpoints(client)?;
    let users: Vec<String> = used_by(&eps, &field(&v, "path"))
        .into_iter()
        .map(|(p, role)| format!("{p} ({role})"))
        .collect();
    if out.json {
        if let Some(m) = v.as_object_mut() {
            m.insert("used_by".into(), json!(users));
        }
        out.object(&v);
        return Ok(());
    }
    let leaf = at(&v, "/details/0");
    let chain: Vec<String> = at(&v, "/details")
        .as_array()
        .map(|a| a.iter().map(|c| field(c, "subject")).collect())
        .unwrap_or_default();
    let rows = [
        ("id", field(&v, "id")),
        ("display_name", field(&v, "display_name")),
        ("subject", field(leaf, "subject")),
        ("issuer", field(leaf, "issuer")),
        ("serial_number", field(leaf, "serial_number")),
        ("not_before", expires(leaf, "/not_before")),
        ("not_after", expires(leaf, "/not_after")),
        (
            "key",
            format!(
                "{} {}",
                field(&v, "key_algo"),
                field(leaf, "public_key_length")
            ),
        ),
        ("signature", field(leaf, "signature_algorithm")),
        ("private_key", yes(at(&v, "/has_private_key"))),
        ("ca", yes(at(leaf, "/is_ca"))),
        ("san_dns", field(leaf, "san_dns")),
        ("san_ip", field(leaf, "san_ip")),
        ("san_email", field(leaf, "san_email")),
        ("sha256_fingerprint", field(leaf, "sha256_fingerprint")),
        ("chain", chain.join("; ")),
        ("used_by", users.join(", ")),
    ];
    for (k, val) in rows {
        println!("{k:<18}  {val}");
    }
    Ok(())
}
