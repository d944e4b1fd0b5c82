//! BIRD's control socket over a tokio `UnixStream`: one command at a time, every read
//! bounded in size ([`Limits`]) and time.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt as _, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::reply::{Limits, ParseError, Reply, ReplyReader};

/// What went wrong talking to BIRD.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting or reading/writing the socket failed.
    #[error("BIRD control socket {path}: {source}")]
    Io {
        /// The socket.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// BIRD did not answer in time.
    #[error("BIRD did not answer {what:?} within {after:?}")]
    Timeout {
        /// The command (or `greeting`).
        what: String,
        /// The time allowed.
        after: Duration,
    },
    /// BIRD closed the socket mid-reply.
    #[error("BIRD closed the control socket")]
    Closed,
    /// The reply is malformed or too large.
    #[error("BIRD's reply: {0}")]
    Parse(#[from] ParseError),
    /// The command contains a newline (it would be two commands).
    #[error("a BIRD command must be one line")]
    BadCommand,
}

/// A connection to BIRD's control socket.
#[derive(Debug)]
pub struct Client {
    stream: BufReader<UnixStream>,
    path: String,
    limits: Limits,
    timeout: Duration,
}

impl Client {
    /// Connects and reads BIRD's greeting (`0001 BIRD 2.0.12 ready.`).
    pub async fn connect(path: &Path, timeout: Duration) -> Result<Client, ClientError> {
        let p = path.display().to_string();
        let stream = tokio::time::timeout(timeout, UnixStream::connect(path))
            .await
            .map_err(|_| ClientError::Timeout {
                what: "connect".into(),
                after: timeout,
            })?
            .map_err(|source| ClientError::Io {
                path: p.clone(),
                source,
            })?;
        let mut c = Client {
            stream: BufReader::new(stream),
            path: p,
            limits: Limits::default(),
            timeout,
        };
        c.read_reply("greeting").await?;
        Ok(c)
    }

    /// Bounds on replies (default: [`Limits::default`]).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Time allowed for one whole reply.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sends one command and reads its reply (an error reply is returned as a [`Reply`]
    /// whose [`Reply::is_error`] is true).
    pub async fn command(&mut self, cmd: &str) -> Result<Reply, ClientError> {
        if cmd.contains(['\n', '\r']) {
            return Err(ClientError::BadCommand);
        }
        let mut buf = Vec::with_capacity(cmd.len() + 1);
        buf.extend_from_slice(cmd.as_bytes());
        buf.push(b'\n');
        let path = self.path.clone();
        tokio::time::timeout(self.timeout, self.stream.get_mut().write_all(&buf))
            .await
            .map_err(|_| ClientError::Timeout {
                what: cmd.into(),
                after: self.timeout,
            })?
            .map_err(|source| ClientError::Io { path, source })?;
        self.read_reply(cmd).await
    }

    async fn read_reply(&mut self, what: &str) -> Result<Reply, ClientError> {
        let after = self.timeout;
        tokio::time::timeout(after, self.read_reply_inner())
            .await
            .map_err(|_| ClientError::Timeout {
                what: what.into(),
                after,
            })?
    }

    async fn read_reply_inner(&mut self) -> Result<Reply, ClientError> {
        let mut reader = ReplyReader::new(self.limits);
        let mut line = Vec::new();
        loop {
            line.clear();
            // Read at most max_line + 1 bytes of a line: a longer one is refused without
            // buffering it.
            let max = self.limits.max_line.saturating_add(2);
            let mut limited = (&mut self.stream).take(max as u64);
            let n = limited
                .read_until(b'\n', &mut line)
                .await
                .map_err(|source| ClientError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            let Some(body) = line.strip_suffix(b"\n") else {
                if n >= max {
                    return Err(ParseError::LineTooLong {
                        line: 0,
                        max: self.limits.max_line,
                    }
                    .into());
                }
                return Err(ClientError::Closed);
            };
            if let Some(reply) = reader.push_line(body)? {
                return Ok(reply);
            }
        }
    }
}
