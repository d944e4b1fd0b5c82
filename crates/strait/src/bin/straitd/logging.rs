//! straitd's logs: structured events (tracing) on stderr, as text or JSON lines. Everything
//! logs at INFO, except the IKE targets ([`strait_control::IKE_LOG_TARGETS`]), whose level
//! the VPN services' `ike_log_level` sets at run time. `STRAIT_LOG` (an `EnvFilter`), when
//! set, replaces all of this.
//!
//! The IKE level is an atomic read by a per-layer filter: changing it needs no subscriber
//! reload, and IKE callsites are evaluated per event (`Interest::sometimes`) so a change
//! takes effect at once.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::LogFormat;

/// Sets the level of the IKE log targets.
pub struct IkeLogLevel(Arc<AtomicU8>);

impl IkeLogLevel {
    /// `debug`, `info`, `warn` or `error` (anything else: info).
    pub fn set(&self, name: &str) {
        let rank = match name {
            "debug" => 0,
            "warn" => 2,
            "error" => 3,
            _ => 1,
        };
        if self.0.swap(rank, Ordering::Relaxed) != rank {
            tracing::info!(ike_log_level = name, "IKE log level set by the VPN service");
        }
    }
}

fn rank_level(rank: u8) -> Level {
    match rank {
        0 => Level::DEBUG,
        1 => Level::INFO,
        2 => Level::WARN,
        _ => Level::ERROR,
    }
}

fn is_ike(meta: &Metadata<'_>) -> bool {
    strait_control::IKE_LOG_TARGETS.iter().any(|t| {
        meta.target()
            .strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// INFO for everything, the service-chosen level for IKE.
struct ServiceLevels {
    ike: Arc<AtomicU8>,
}

impl<S> Filter<S> for ServiceLevels {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        if is_ike(meta) {
            *meta.level() <= rank_level(self.ike.load(Ordering::Relaxed))
        } else {
            *meta.level() <= Level::INFO
        }
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_ike(meta) {
            Interest::sometimes()
        } else if *meta.level() <= Level::INFO {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }
}

/// Install the subscriber. Returns the IKE level control, or None when `STRAIT_LOG` rules.
pub fn init(format: LogFormat) -> Option<IkeLogLevel> {
    let ansi = std::io::stderr().is_terminal();
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("STRAIT_LOG") {
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(ansi)
            .with_writer(std::io::stderr);
        match format {
            LogFormat::Text => builder.init(),
            LogFormat::Json => builder.json().init(),
        }
        return None;
    }
    let ike = Arc::new(AtomicU8::new(1));
    let filter = ServiceLevels { ike: ike.clone() };
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(layer.with_filter(filter))
            .init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(layer.json().with_filter(filter))
            .init(),
    }
    Some(IkeLogLevel(ike))
}
