//! Reading secrets (passwords, PSKs) without putting them on the command line.

use std::path::Path;

use anyhow::{bail, Context, Result};
use zeroize::Zeroizing;

/// Prompt on the terminal without echo.
pub fn prompt(message: &str) -> Result<Zeroizing<String>> {
    let s = rpassword::prompt_password(message).context("cannot read from the terminal")?;
    Ok(Zeroizing::new(s))
}

/// Prompt twice and require both answers to match.
pub fn prompt_confirmed(what: &str) -> Result<Zeroizing<String>> {
    let a = prompt(&format!("{what}: "))?;
    let b = prompt(&format!("{what} (again): "))?;
    if *a != *b {
        bail!("the two entries of the {what} differ; nothing was changed");
    }
    Ok(a)
}

/// Read a secret from a file (one line; the trailing newline is dropped).
pub fn from_file(path: &Path, what: &str) -> Result<Zeroizing<String>> {
    let raw = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} file {}", path.display()))?,
    );
    let s = raw.strip_suffix('\n').unwrap_or(&raw);
    let s = s.strip_suffix('\r').unwrap_or(s);
    Ok(Zeroizing::new(s.to_owned()))
}

/// A secret from `--*-file`, else the environment variable, else a confirmed prompt.
pub fn file_env_or_prompt(file: Option<&Path>, env: &str, what: &str) -> Result<Zeroizing<String>> {
    if let Some(f) = file {
        return from_file(f, what);
    }
    if let Ok(v) = std::env::var(env) {
        if !v.is_empty() {
            return Ok(Zeroizing::new(v));
        }
    }
    prompt_confirmed(what)
        .with_context(|| format!("no {what}: pass a file, set {env}, or run in a terminal"))
}
