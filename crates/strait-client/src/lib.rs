//! A blocking HTTPS client for strait's REST API: Basic authentication, the server's
//! certificate verified against the system roots, a given CA file, or (explicitly)
//! not at all, and NSX `ApiError` bodies turned into readable errors.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Wire and API input reach this crate: no panics by construction (issue 12).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use zeroize::Zeroizing;

/// How to check the server's certificate.
#[derive(Debug, Clone)]
pub enum TlsVerify {
    /// Against the platform's roots plus, if given, this PEM CA file (e.g. straitd's
    /// self-signed `tls-cert.pem`).
    CaFile(Option<PathBuf>),
    /// Do not verify (`--insecure`): accept any certificate. Only for first contact with a
    /// self-signed server on a trusted network.
    DangerAcceptAnyCertificate,
}

/// Connection settings.
#[derive(Clone)]
pub struct ClientConfig {
    /// e.g. `https://127.0.0.1:8443`.
    pub server: String,
    /// Username.
    pub user: String,
    /// Password.
    pub password: Zeroizing<String>,
    /// Certificate checking.
    pub verify: TlsVerify,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// An NSX error body.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ApiErrorBody {
    /// Numeric code.
    #[serde(default)]
    pub error_code: u64,
    /// Message.
    #[serde(default)]
    pub error_message: String,
    /// Individual problems.
    #[serde(default)]
    pub related_errors: Vec<RelatedErrorBody>,
}

/// One NSX related error.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RelatedErrorBody {
    /// Message.
    #[serde(default)]
    pub error_message: String,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error status.
    #[error("{}", render_api_error(*.status, .body))]
    Api {
        /// HTTP status.
        status: u16,
        /// Parsed NSX error body (default when not JSON).
        body: ApiErrorBody,
    },
    /// Could not talk to the server.
    #[error("cannot reach {server}: {reason}")]
    Transport {
        /// Server URL.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// Client setup failed (bad CA file...).
    #[error("{0}")]
    Setup(String),
    /// The server's answer was not the JSON expected.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

impl ClientError {
    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn render_api_error(status: u16, body: &ApiErrorBody) -> String {
    let mut s = format!("{} (HTTP {status})", body.error_message);
    if body.related_errors.len() > 1 {
        for r in &body.related_errors {
            s.push_str("\n  - ");
            s.push_str(&r.error_message);
        }
    }
    s
}

/// The client.
pub struct Client {
    http: reqwest::blocking::Client,
    config: ClientConfig,
}

#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(verify: &TlsVerify) -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Setup(format!("TLS setup failed: {e}")))?;
    let cfg = match verify {
        TlsVerify::DangerAcceptAnyCertificate => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth(),
        TlsVerify::CaFile(file) => {
            let mut roots = rustls::RootCertStore::empty();
            if let Some(file) = file {
                use rustls_pki_types::pem::PemObject;
                let certs = rustls_pki_types::CertificateDer::pem_file_iter(file).map_err(|e| {
                    ClientError::Setup(format!("cannot read --ca-cert {}: {e}", file.display()))
                })?;
                for c in certs {
                    let c = c.map_err(|e| {
                        ClientError::Setup(format!("--ca-cert {}: {e}", file.display()))
                    })?;
                    roots.add(c).map_err(|e| {
                        ClientError::Setup(format!(
                            "--ca-cert {}: unusable certificate: {e}",
                            file.display()
                        ))
                    })?;
                }
            }
            for path in ["/etc/ssl/certs/ca-certificates.crt"] {
                if let Ok(iter) = <rustls_pki_types::CertificateDer as rustls_pki_types::pem::PemObject>::pem_file_iter(path) {
                    for c in iter.flatten() {
                        let _ = roots.add(c);
                    }
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(cfg)
}

/// Percent-encode one path segment (an id).
pub fn encode_segment(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

impl Client {
    /// Build a client.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let http = reqwest::blocking::Client::builder()
            .use_preconfigured_tls(tls_config(&config.verify)?)
            .timeout(config.timeout)
            .user_agent(concat!("strait-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Setup(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client { http, config })
    }

    /// The server URL.
    pub fn server(&self) -> &str {
        &self.config.server
    }

    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), ClientError> {
        let url = format!("{}{}", self.config.server.trim_end_matches('/'), path);
        let mut rb = self
            .http
            .request(method, &url)
            .basic_auth(&self.config.user, Some(self.config.password.as_str()));
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = rb.send().map_err(|e| ClientError::Transport {
            server: self.config.server.clone(),
            reason: transport_reason(&e),
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        if status >= 400 {
            let body =
                serde_json::from_str::<ApiErrorBody>(&text).unwrap_or_else(|_| ApiErrorBody {
                    error_message: if text.is_empty() {
                        format!("HTTP {status}")
                    } else {
                        text.clone()
                    },
                    ..Default::default()
                });
            return Err(ClientError::Api { status, body });
        }
        Ok((status, text))
    }

    fn json(text: &str) -> Result<Value, ClientError> {
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(text).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// GET returning JSON.
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        let (_, t) = self.send(reqwest::Method::GET, path, None)?;
        Self::json(&t)
    }

    /// GET returning text.
    pub fn get_text(&self, path: &str) -> Result<String, ClientError> {
        Ok(self.send(reqwest::Method::GET, path, None)?.1)
    }

    /// GET that maps 404 to `None`.
    pub fn get_opt(&self, path: &str) -> Result<Option<Value>, ClientError> {
        match self.get(path) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PATCH.
    pub fn patch(&self, path: &str, body: &Value) -> Result<(), ClientError> {
        self.send(reqwest::Method::PATCH, path, Some(body))
            .map(|_| ())
    }

    /// PUT returning the stored object.
    pub fn put(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let (_, t) = self.send(reqwest::Method::PUT, path, Some(body))?;
        Self::json(&t)
    }

    /// POST returning JSON (or Null).
    pub fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let (_, t) = self.send(reqwest::Method::POST, path, body)?;
        Self::json(&t)
    }

    /// DELETE.
    pub fn delete(&self, path: &str) -> Result<(), ClientError> {
        self.send(reqwest::Method::DELETE, path, None).map(|_| ())
    }

    /// Every member of a collection, following cursors (bounded at 100 pages).
    pub fn list_all(&self, collection: &str) -> Result<Vec<Value>, ClientError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let sep = if collection.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                Some(c) => format!("{collection}{sep}cursor={}", encode_segment(c)),
                None => collection.to_owned(),
            };
            let page = self.get(&url)?;
            if let Some(items) = page.get("results").and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            match page.get("cursor").and_then(Value::as_str) {
                Some(c) if !c.is_empty() => cursor = Some(c.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }
}

fn transport_reason(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    if msg.contains("UnknownIssuer") || msg.contains("certificate") {
        msg.push_str(
            " (straitd uses a self-signed certificate by default: pass --ca-cert DATA_DIR/tls-cert.pem, or --insecure on a trusted network)",
        );
    } else if msg.contains("Connection refused") {
        msg.push_str(" (is straitd running, and is --server right?)");
    }
    msg
}
