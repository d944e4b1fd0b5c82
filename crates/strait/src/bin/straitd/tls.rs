//! HTTPS certificates: the operator's own (`--tls-cert`/`--tls-key`), or a self-signed one
//! generated on first start into the data directory (`tls-cert.pem`, `tls-key.pem`).

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// File name of the generated certificate.
pub const CERT_FILE: &str = "tls-cert.pem";
/// File name of the generated key.
pub const KEY_FILE: &str = "tls-key.pem";

/// Load the operator's certificate and key.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read --tls-cert {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!(
                "--tls-cert {} is not a PEM certificate file",
                cert.display()
            )
        })?;
    if certs.is_empty() {
        bail!(
            "--tls-cert {} holds no -----BEGIN CERTIFICATE----- block",
            cert.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "--tls-key {} holds no usable PEM private key",
            key.display()
        )
    })?;
    config(certs, key)
}

fn config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>> {
    let mut cfg = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow!("the TLS certificate and key cannot be used together: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Use (or create on first start) the self-signed certificate in `dir`.
pub fn self_signed(dir: &Path, listen: IpAddr) -> Result<Arc<ServerConfig>> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    if !cert_path.exists() || !key_path.exists() {
        let mut names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        if !listen.is_unspecified() && !listen.is_loopback() {
            names.push(listen.to_string());
        }
        if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
            let h = h.trim();
            if !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                names.push(h.to_owned());
            }
        }
        let key = rcgen::KeyPair::generate().context("cannot generate a TLS key")?;
        let mut params =
            rcgen::CertificateParams::new(names).context("cannot build the TLS certificate")?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "strait self-signed");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "strait");
        let now = rcgen::date_time_ymd(2025, 1, 1);
        params.not_before = now;
        params.not_after = rcgen::date_time_ymd(2035, 1, 1);
        let cert = params
            .self_signed(&key)
            .context("cannot sign the TLS certificate")?;
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        std::fs::write(&cert_path, cert.pem())
            .with_context(|| format!("cannot write {}", cert_path.display()))?;
        tracing::info!(cert = %cert_path.display(), "generated a self-signed HTTPS certificate");
    }
    load(&cert_path, &key_path)
}

fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(data)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
