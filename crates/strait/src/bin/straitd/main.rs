//! `straitd`: the strait gateway daemon.
//!
//! `straitd --data-dir DIR [--listen 127.0.0.1:8443] [--tls-cert F --tls-key F]`
//!
//! Opens (or creates) the store in DIR, makes sure an admin exists, and serves the HTTPS
//! API until SIGTERM or SIGINT.
#![forbid(unsafe_code)]
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

mod limits;
mod logging;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// mimalloc rather than glibc's malloc: with many threads (tokio's workers and blocking
/// pool, the data plane's workers, key-exchange threads), glibc's per-thread arenas held
/// on to freed memory. With 3,000 sessions stored (scripts/bench-mgmt-scale.sh, issue 16),
/// RSS after the run and after 10 s idle: glibc 374/334 MB, jemalloc 254/206 MB,
/// mimalloc 231/149 MB, which also answered lists and summaries fastest.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::Parser;
use strait_policy::accounts::InitialAdmin;
use strait_policy::Policy;
use strait_store::Store;
use zeroize::Zeroizing;

/// Log output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The strait route-based IPsec VPN gateway daemon.
#[derive(Debug, Parser)]
#[command(name = "straitd", version, about)]
struct Args {
    /// Directory for the database, keys and certificates (created if missing).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Address and port of the HTTPS API and console.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// PEM certificate (chain) for HTTPS, instead of the generated self-signed one.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Data-plane worker threads (each with its own TUN queue per VTI and socket per local
    /// address); default: one per CPU core.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    dataplane_workers: Option<u16>,
    /// The BIRD 2 binary that realizes BGP (Debian's bird2); started only when a tier-0 has
    /// BGP configured, with its files in DIR/bird.
    #[arg(long, value_name = "FILE", default_value = "/usr/sbin/bird")]
    bird: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let ike_log_level = logging::init(args.log_format);
    crash_on_panic();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("straitd")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(args, ike_log_level))
}

async fn run(args: Args, ike_log_level: Option<logging::IkeLogLevel>) -> Result<()> {
    let dir = args.data_dir.clone();
    let store = Arc::new(
        Store::open(&dir)
            .with_context(|| format!("cannot open the data directory {}", dir.display()))?,
    );
    let policy = Policy::open(store).context("cannot initialize the policy store")?;
    let env_password = std::env::var("STRAIT_ADMIN_PASSWORD")
        .ok()
        .map(Zeroizing::new);
    match policy
        .accounts()
        .ensure_initial_admin(&dir, env_password)
        .context("cannot create the initial admin")?
    {
        InitialAdmin::Generated(file) => {
            eprintln!("initial admin password written to {}", file.display());
        }
        InitialAdmin::FromEnvironment => {
            tracing::info!("created user admin with the password from STRAIT_ADMIN_PASSWORD");
        }
        InitialAdmin::Existing => {}
    }

    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => tls::load(c, k)?,
        (None, None) => tls::self_signed(&dir, args.listen.ip())?,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    let listener = std::net::TcpListener::bind(args.listen).with_context(|| {
        format!(
            "cannot listen on {}: is another straitd running there?",
            args.listen
        )
    })?;
    listener
        .set_nonblocking(true)
        .context("cannot configure the listening socket")?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let mut dp_cfg = strait_dataplane::DataplaneConfig::default();
    if let Some(n) = args.dataplane_workers {
        dp_cfg.workers = usize::from(n);
    }
    // The VTIs' interface group (deleted as one on stop): this data directory's, so two
    // daemons on one host keep apart.
    let canonical = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
    dp_cfg.link_group = strait_dataplane::link_group_for(canonical.as_os_str().as_encoded_bytes());
    tracing::info!(
        group = format_args!("{:#x}", dp_cfg.link_group),
        "VTIs go in this interface group (ip -d link show group {})",
        dp_cfg.link_group
    );
    if let Some(limit) = limits::raise_open_files() {
        let count = |kind: strait_model::Kind| {
            policy
                .store()
                .read(|tx| tx.count_objects(kind.as_str()))
                .unwrap_or(0)
        };
        limits::check(
            limit,
            count(strait_model::Kind::Session),
            count(strait_model::Kind::LocalEndpoint),
            u64::try_from(dp_cfg.workers).unwrap_or(u64::MAX),
        );
    }
    let (dataplane, dp_events) = strait_dataplane::Dataplane::start(dp_cfg)
        .context("cannot start the data-plane workers")?;
    let control = strait_control::ControlPlane::start(
        policy.clone(),
        Arc::new(dataplane),
        dp_events,
        ike_proto::EndpointConfig::default(),
    );
    if let Some(ike) = ike_log_level {
        let mut level = control.ike_log_level();
        tokio::spawn(async move {
            while level.changed().await.is_ok() {
                let l = *level.borrow_and_update();
                ike.set(l);
            }
        });
    }
    let routing = strait_control::routing::RoutingRuntime::start(
        policy.clone(),
        dir.join("bird"),
        strait_routing::BirdOptions {
            bird: args.bird.clone(),
            ..strait_routing::BirdOptions::default()
        },
    );
    let status = control.handle().with_routing(routing.view());
    let app = strait_api::router(
        strait_api::AppState::new(policy).with_status(std::sync::Arc::new(status)),
    );
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(
        listener,
        axum_server::tls_rustls::RustlsConfig::from_config(tls),
    )
    .context("cannot start the HTTPS server")?
    .handle(handle.clone());
    eprintln!("straitd listening on https://{local}");
    tracing::info!(address = %local, data_dir = %dir.display(), "straitd started");

    let shutdown = handle.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        shutdown.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    server
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
        .context("the HTTPS server failed")?;
    // SIGTERM: send Deletes for every IKE SA and remove the VTIs before exiting (contract).
    control.shutdown().await;
    // BIRD stops with straitd: its routes leave the kernel with it.
    routing.shutdown().await;
    tracing::info!("straitd stopped");
    Ok(())
}

/// A panic anywhere (a violated invariant in a debug build, a bug in a release build) ends
/// the whole daemon with exit code 101, after the usual message: a gateway whose control
/// plane died while its API still answers would report a stale status forever. systemd
/// restarts it (`Restart=on-failure`), and every session comes back from the store.
fn crash_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(panic = %info, "straitd panicked; exiting");
        default(info);
        std::process::exit(101);
    }));
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the process still stops on SIGTERM by default.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
