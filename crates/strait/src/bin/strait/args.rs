//! Command-line grammar (contract: nouns and verbs mirroring the API).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// strait: manage a strait route-based IPsec VPN gateway through its REST API.
#[derive(Debug, Parser)]
#[command(name = "strait", version, about, propagate_version = true)]
pub struct Cli {
    /// straitd's URL.
    #[arg(
        long,
        global = true,
        env = "STRAIT_SERVER",
        default_value = "https://127.0.0.1:8443"
    )]
    pub server: String,
    /// User to log in as (password from STRAIT_PASSWORD, else a prompt).
    #[arg(long, global = true, env = "STRAIT_USER", default_value = "admin")]
    pub user: String,
    /// Accept any server certificate (e.g. straitd's self-signed one) without checking it.
    #[arg(long, global = true, conflicts_with = "ca_cert")]
    pub insecure: bool,
    /// Trust this PEM CA certificate (e.g. DATA_DIR/tls-cert.pem of straitd).
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Noun,
}

/// What to act on.
// Parsed once per process; boxing the larger variants would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Noun {
    /// Tier-0 / tier-1 gateways.
    Gateway(Verb<GatewayFlags>),
    /// IPsec VPN services.
    Service(Verb<ServiceFlags>),
    /// Local endpoints of a VPN service.
    Endpoint(Verb<EndpointFlags>),
    /// Route-based IPsec sessions.
    Session(SessionCmd),
    /// IKE profiles.
    IkeProfile(Verb<IkeProfileFlags>),
    /// IPsec tunnel profiles.
    TunnelProfile(Verb<TunnelProfileFlags>),
    /// DPD profiles.
    DpdProfile(Verb<DpdProfileFlags>),
    /// Imported certificates: site certificates (with their private key) and CA certificates.
    Certificate(CertificateCmd),
    /// Certificate revocation lists.
    Crl(Verb<CrlFlags>),
    /// Static routes of a gateway.
    Route(Verb<RouteFlags>),
    /// BGP over the VTIs: configuration, neighbors, status, routes (tier-0 gateways).
    Bgp(crate::bgp::BgpCmd),
    /// Users.
    User(Verb<UserFlags>),
    /// The audit log.
    Audit(AuditCmd),
}

/// Where scoped objects live.
#[derive(Debug, Clone, Default, Args)]
pub struct Scope {
    /// Gateway id or path (default: the only gateway).
    #[arg(long, value_name = "G")]
    pub gateway: Option<String>,
    /// VPN service id or path (default: the only service of the gateway).
    #[arg(long, value_name = "S")]
    pub service: Option<String>,
}

/// The common verbs.
#[derive(Debug, Args)]
pub struct Verb<F: Args> {
    #[command(subcommand)]
    pub verb: VerbKind<F>,
}

/// list, show, create, update, delete.
#[derive(Debug, Subcommand)]
pub enum VerbKind<F: Args> {
    /// List as a table.
    List {
        #[command(flatten)]
        scope: Scope,
    },
    /// Show one.
    Show {
        /// Id.
        id: String,
        #[command(flatten)]
        scope: Scope,
    },
    /// Create (fails if it exists).
    Create {
        /// Id.
        id: String,
        #[command(flatten)]
        scope: Scope,
        /// JSON body to start from (flags override its fields).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(flatten)]
        flags: F,
    },
    /// Change the given fields (fails if it does not exist).
    Update {
        /// Id.
        id: String,
        #[command(flatten)]
        scope: Scope,
        /// JSON body with the fields to change (flags override its fields).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(flatten)]
        flags: F,
    },
    /// Delete.
    Delete {
        /// Id.
        id: String,
        #[command(flatten)]
        scope: Scope,
    },
}

/// Name, description and tags, shared by every object.
#[derive(Debug, Clone, Default, Args)]
pub struct CommonFlags {
    /// Display name.
    #[arg(long)]
    pub display_name: Option<String>,
    /// Description (up to 1024 characters).
    #[arg(long)]
    pub description: Option<String>,
    /// Tag as scope=tag (repeatable; replaces the object's tags).
    #[arg(long = "tag", value_name = "SCOPE=TAG")]
    pub tags: Vec<String>,
}

/// Gateway fields.
#[derive(Debug, Clone, Default, Args)]
pub struct GatewayFlags {
    #[command(flatten)]
    pub common: CommonFlags,
    /// Gateway tier for create: 0 (tier-0s) or 1 (tier-1s).
    #[arg(long, value_parser = ["0", "1"], default_value = "0")]
    pub tier: String,
    /// HA mode: active-standby (default) or active-active.
    #[arg(long)]
    pub ha_mode: Option<String>,
}

/// VPN service fields.
#[derive(Debug, Clone, Default, Args)]
pub struct ServiceFlags {
    #[command(flatten)]
    pub common: CommonFlags,
    /// enabled or disabled.
    #[arg(long, value_parser = ["enabled", "disabled"])]
    pub admin_status: Option<String>,
    /// IKE log level: debug, info, warn, error, emergency.
    #[arg(long)]
    pub ike_log_level: Option<String>,
    /// Session sync: true or false.
    #[arg(long)]
    pub ha_sync: Option<bool>,
}

/// Local endpoint fields.
#[derive(Debug, Clone, Default, Args)]
pub struct EndpointFlags {
    #[command(flatten)]
    pub common: CommonFlags,
    /// Local IPv4/IPv6 address IKE runs on.
    #[arg(long)]
    pub local_address: Option<String>,
    /// Local IKE ID (IP, FQDN or email; default: the local address).
    #[arg(long)]
    pub local_id: Option<String>,
    /// Site certificate id or path (for certificate authentication).
    #[arg(long)]
    pub certificate: Option<String>,
    /// Trusted CA certificate id or path (repeatable).
    #[arg(long = "trust-ca")]
    pub trust_ca: Vec<String>,
    /// Trusted CRL id or path (repeatable).
    #[arg(long = "trust-crl")]
    pub trust_crl: Vec<String>,
    /// Remove the site certificate (update).
    #[arg(long, conflicts_with = "certificate")]
    pub no_certificate: bool,
    /// Remove every trusted CA (update).
    #[arg(long, conflicts_with = "trust_ca")]
    pub no_trust_ca: bool,
    /// Remove every trusted CRL (update).
    #[arg(long, conflicts_with = "trust_crl")]
    pub no_trust_crl: bool,
}

/// Session fields: the seed page's "Add IPSec Session > Route Based" form, one flag per field.
#[derive(Debug, Clone, Default, Args)]
pub struct SessionFlags {
    /// Local Endpoint: id (within the service) or path.
    #[arg(long)]
    pub local_endpoint: Option<String>,
    /// Remote IP: the peer's public address.
    #[arg(long)]
    pub remote_ip: Option<String>,
    /// Description (up to 1024 characters).
    #[arg(long)]
    pub description: Option<String>,
    /// Admin Status: enabled (default) or disabled.
    #[arg(long, value_parser = ["enabled", "disabled"])]
    pub admin_status: Option<String>,
    /// Compliance Suite: none (default), cnsa, suite-b-gcm-128, suite-b-gcm-256, prime, foundation, fips.
    #[arg(long)]
    pub compliance_suite: Option<String>,
    /// Tunnel Interface in CIDR, e.g. 169.254.10.1/30 (repeat once for an IPv6 subnet).
    #[arg(long = "tunnel-interface", value_name = "CIDR")]
    pub tunnel_interface: Vec<String>,
    /// Authentication Mode: psk (default) or certificate.
    #[arg(long, value_parser = ["psk", "certificate"])]
    pub auth_mode: Option<String>,
    /// Pre-shared Key from this file (else env STRAIT_PSK, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub psk_file: Option<PathBuf>,
    /// Ask for a new pre-shared key (update only).
    #[arg(long)]
    pub psk_prompt: bool,
    /// Remote ID: the peer's IKE ID (IP, FQDN, email, or DN with certificates).
    #[arg(long)]
    pub remote_id: Option<String>,
    /// Tags as scope=tag (repeatable).
    #[arg(long = "tag", value_name = "SCOPE=TAG")]
    pub tags: Vec<String>,
    /// Advanced: IKE profile id or path.
    #[arg(long)]
    pub ike_profile: Option<String>,
    /// Advanced: IPsec (tunnel) profile id or path.
    #[arg(long)]
    pub ipsec_profile: Option<String>,
    /// Advanced: DPD profile id or path.
    #[arg(long)]
    pub dpd_profile: Option<String>,
    /// Advanced: connection initiation mode: initiator (default) or respond-only.
    #[arg(long)]
    pub initiation_mode: Option<String>,
    /// Advanced: TCP MSS clamping direction: none, inbound-connection, outbound-connection, both.
    #[arg(long)]
    pub mss_direction: Option<String>,
    /// Advanced: TCP MSS value 108-8902 (default: derived from the tunnel MTU).
    #[arg(long)]
    pub mss_value: Option<u32>,
    /// Display name (default: the id).
    #[arg(long)]
    pub display_name: Option<String>,
}

/// `strait session ...`.
#[derive(Debug, Args)]
pub struct SessionCmd {
    #[command(subcommand)]
    pub verb: SessionVerb,
}

/// Session verbs: the common ones plus `add --route-based`.
#[derive(Debug, Subcommand)]
pub enum SessionVerb {
    /// Add IPSec Session > Route Based (the seed page's form as flags).
    Add {
        /// Session name (also its id).
        #[arg(long = "route-based", value_name = "NAME")]
        route_based: String,
        /// VPN Service id or path (default: the only one).
        #[arg(long)]
        service: Option<String>,
        /// Gateway id or path (default: the only one).
        #[arg(long)]
        gateway: Option<String>,
        #[command(flatten)]
        flags: SessionFlags,
    },
    /// Status table: name, peer, state, uptime, reason, bytes in/out (one session or all).
    Status {
        /// Session id (default: every session).
        id: Option<String>,
        #[command(flatten)]
        scope: Scope,
    },
    /// Tunnel counters of one session (NSX statistics), `--reset` to zero them.
    Stats {
        /// Session id.
        id: String,
        #[command(flatten)]
        scope: Scope,
        /// Zero the counters (admins).
        #[arg(long)]
        reset: bool,
    },
    /// The remote side's configuration (NSX text or a strongSwan swanctl.conf) on stdout;
    /// the pre-shared key only for admins.
    PeerConfig {
        /// Session id.
        id: String,
        #[command(flatten)]
        scope: Scope,
        /// nsx (NSX's layout) or strongswan (swanctl.conf for the peer).
        #[arg(long, value_parser = ["nsx", "strongswan"], default_value = "nsx")]
        format: String,
    },
    #[command(flatten)]
    Common(VerbKind<SessionFlags>),
}

/// IKE profile fields.
#[derive(Debug, Clone, Default, Args)]
pub struct IkeProfileFlags {
    #[command(flatten)]
    pub common: CommonFlags,
    /// ike-v2 (default), ike-v1 or ike-flex.
    #[arg(long)]
    pub ike_version: Option<String>,
    /// Encryption algorithm (repeatable or comma-separated): aes-128, aes-256, aes-gcm-128, ...
    #[arg(long = "encryption", value_delimiter = ',')]
    pub encryption: Vec<String>,
    /// Digest (repeatable or comma-separated): sha1, sha2-256, sha2-384, sha2-512.
    #[arg(long = "digest", value_delimiter = ',')]
    pub digest: Vec<String>,
    /// DH group (repeatable or comma-separated): group14, group19, ...
    #[arg(long = "dh-group", value_delimiter = ',')]
    pub dh_group: Vec<String>,
    /// SA lifetime in seconds.
    #[arg(long)]
    pub sa_lifetime: Option<u64>,
}

/// Tunnel profile fields.
#[derive(Debug, Clone, Default, Args)]
pub struct TunnelProfileFlags {
    #[command(flatten)]
    pub common: CommonFlags,
    /// ESP encryption (repeatable or comma-separated): aes-gcm-128, aes-256, no-encryption-auth-aes-gmac-128, ...
    #[arg(long = "encryption", value_delimiter = ',')]
    pub encryption: Vec<String>,
    /// Digest (repeatable or comma-separated).
    #[arg(long = "digest", value_delimiter = ',')]
    pub digest: Vec<String>,
    /// Perfect forward secrecy: true or false.
    #[arg(long)]
    pub pfs: Option<bool>,
    /// DH group for PFS (repeatable or comma-separated).
    #[arg(long = "dh-group", value_delimiter = ',')]
    pub dh_group: Vec<String>,
    /// DF bit policy: copy or clear.
    #[arg(long)]
    pub df_policy: Option<String>,
    /// SA lifetime in seconds.
    #[arg(long)]
    pub sa_lifetime: Option<u64>,
}

/// DPD profile fields.
#[derive(Debug, Clone, Default, Args)]
pub struct DpdProfileFlags {
    #[command(flatten)]
    pub common: CommonFlags,
    /// true or false.
    #[arg(long)]
    pub enabled: Option<bool>,
    /// periodic or on-demand.
    #[arg(long)]
    pub mode: Option<String>,
    /// Probe interval in seconds.
    #[arg(long)]
    pub interval: Option<u32>,
    /// Retry count.
    #[arg(long)]
    pub retry_count: Option<u32>,
}

/// Certificate fields. Files may be `-` for stdin (one of them); the private key and its
/// passphrase are only ever read from files or stdin, never from the command line.
#[derive(Debug, Clone, Default, Args)]
pub struct CertificateFlags {
    #[command(flatten)]
    pub common: CommonFlags,
    /// PEM file with the certificate, followed by its chain (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    pub cert_file: Option<PathBuf>,
    /// PEM file with the private key, for a site certificate (`-`: stdin).
    #[arg(long, value_name = "FILE", conflicts_with = "ca")]
    pub key_file: Option<PathBuf>,
    /// File with the private key's passphrase, if it is encrypted (`-`: stdin).
    #[arg(long, value_name = "FILE", requires = "key_file")]
    pub passphrase_file: Option<PathBuf>,
    /// The certificate is a CA certificate (checked before import; no private key).
    #[arg(long)]
    pub ca: bool,
}

/// `strait certificate ...`.
#[derive(Debug, Args)]
pub struct CertificateCmd {
    #[command(subcommand)]
    pub verb: CertificateVerb,
}

/// Certificate verbs.
#[derive(Debug, Subcommand)]
pub enum CertificateVerb {
    /// Table: subject, issuer, expiry, key algorithm, private key, CA, used by.
    List,
    /// One certificate's details and what uses it (`--pem`: its PEM chain, never a key).
    Show {
        /// Id.
        id: String,
        /// Print the certificate chain as PEM (e.g. to give a peer the CA).
        #[arg(long)]
        pem: bool,
    },
    /// Import: `--cert-file F [--key-file F [--passphrase-file F]]`, or `--ca --cert-file F`.
    Create {
        /// Id.
        id: String,
        /// JSON body to start from (flags override its fields).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(flatten)]
        flags: CertificateFlags,
    },
    /// Replace the certificate (and key) or change its name, description or tags.
    Update {
        /// Id.
        id: String,
        /// JSON body with the fields to change (flags override its fields).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(flatten)]
        flags: CertificateFlags,
    },
    /// Delete (refused while a local endpoint uses it).
    Delete {
        /// Id.
        id: String,
    },
}

/// CRL fields.
#[derive(Debug, Clone, Default, Args)]
pub struct CrlFlags {
    #[command(flatten)]
    pub common: CommonFlags,
    /// PEM file with the CRL (`-`: stdin).
    #[arg(long, value_name = "FILE")]
    pub crl_file: Option<PathBuf>,
}

/// Static route fields.
#[derive(Debug, Clone, Default, Args)]
pub struct RouteFlags {
    #[command(flatten)]
    pub common: CommonFlags,
    /// Destination network in CIDR.
    #[arg(long)]
    pub network: Option<String>,
    /// Next hop as IP or IP,DISTANCE (repeatable).
    #[arg(long = "next-hop", value_name = "IP[,DISTANCE]")]
    pub next_hop: Vec<String>,
}

/// User fields.
#[derive(Debug, Clone, Default, Args)]
pub struct UserFlags {
    /// admin or auditor.
    #[arg(long, value_parser = ["admin", "auditor"])]
    pub role: Option<String>,
    /// Set a new password (read from --password-file, env STRAIT_NEW_PASSWORD or a prompt).
    #[arg(long)]
    pub password: bool,
    /// File with the new password.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// `strait audit list`.
#[derive(Debug, Args)]
pub struct AuditCmd {
    #[command(subcommand)]
    pub verb: AuditVerb,
}

/// Audit verbs.
#[derive(Debug, Subcommand)]
pub enum AuditVerb {
    /// Newest entries first.
    List {
        /// Entries to show (1-1000).
        #[arg(long, default_value_t = 50)]
        page_size: u32,
        /// Continue from this cursor.
        #[arg(long)]
        cursor: Option<String>,
    },
}
