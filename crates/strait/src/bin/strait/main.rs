//! `strait`: the command-line client of straitd's REST API.
//!
//! `strait [--server URL] [--user NAME] [--insecure | --ca-cert FILE] [--json] <noun> <verb> ...`
//!
//! Nouns mirror the API's objects; verbs are list, show, create, update, delete. Every
//! change goes through the same REST API the console and automation use.
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

mod args;
mod bgp;
mod certs;
mod commands;
mod output;
mod secrets;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use strait_client::{Client, ClientConfig, TlsVerify};

fn main() -> ExitCode {
    let args = args::Cli::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: args::Cli) -> Result<()> {
    let password = match std::env::var("STRAIT_PASSWORD") {
        Ok(p) if !p.is_empty() => zeroize::Zeroizing::new(p),
        _ => secrets::prompt(&format!("Password for {}@{}: ", cli.user, cli.server))
            .context("no password: set STRAIT_PASSWORD or run strait in a terminal")?,
    };
    let verify = if cli.insecure {
        TlsVerify::DangerAcceptAnyCertificate
    } else {
        TlsVerify::CaFile(cli.ca_cert.clone())
    };
    let client = Client::new(ClientConfig {
        server: cli.server.clone(),
        user: cli.user.clone(),
        password,
        verify,
        timeout: Duration::from_secs(60),
    })?;
    let out = output::Output { json: cli.json };
    commands::run(&client, &out, &cli.user, cli.command)
}
