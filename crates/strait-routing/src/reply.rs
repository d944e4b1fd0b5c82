//! BIRD's control-socket replies (sans-IO): framing of lines into [`Reply`]s, bounded.
//!
//! BIRD answers a command with lines ending in `\n`: `DDDD-text` (a line of reply code DDDD,
//! more follow), ` text` (another line of the previous line's code, more follow), and
//! `DDDD text` (the last line). Codes 0xxx end a successful command, 1xxx are data lines,
//! 2xxx table headers, 8xxx run-time errors and 9xxx parse errors (BIRD's `doc/reply_codes`).
//! Lines starting with `+` are asynchronous messages and are skipped.

/// Bounds on what one reply may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest line, bytes (without the `\n`).
    pub max_line: usize,
    /// Largest reply, bytes.
    pub max_reply: usize,
    /// Most lines in a reply.
    pub max_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 16 * 1024,
            max_reply: 64 * 1024 * 1024,
            max_lines: 4 * 1024 * 1024,
        }
    }
}

/// One line of a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Reply code of the line (inherited for continuation lines).
    pub code: u16,
    /// The text after the code and separator (invalid UTF-8 replaced by U+FFFD, so up to
    /// three times the raw line's length).
    pub text: String,
}

/// A complete reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// Every line, the last one included.
    pub lines: Vec<Line>,
}

impl Reply {
    /// The code of the last line (the reply's outcome).
    pub fn code(&self) -> u16 {
        self.lines.last().map_or(0, |l| l.code)
    }
    /// Whether BIRD refused the command (8xxx run-time or 9xxx parse error).
    pub fn is_error(&self) -> bool {
        self.code() >= 8000
    }
    /// The text of the last line.
    pub fn final_text(&self) -> &str {
        self.lines.last().map_or("", |l| l.text.as_str())
    }
    /// The error lines' text (codes 8xxx/9xxx) joined with `\n`, BIRD's words unchanged;
    /// every line when there is none.
    pub fn error_text(&self) -> String {
        let v: Vec<&str> = self
            .lines
            .iter()
            .filter(|l| l.code >= 8000)
            .map(|l| l.text.as_str())
            .collect();
        if v.is_empty() {
            self.text()
        } else {
            v.join("\n")
        }
    }
    /// Every line's text joined with `\n` (for messages such as parse errors).
    pub fn text(&self) -> String {
        let v: Vec<&str> = self.lines.iter().map(|l| l.text.as_str()).collect();
        v.join("\n")
    }
}

/// Why bytes are not a well-formed reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A line longer than [`Limits::max_line`].
    #[error("line {line}: longer than {max} bytes")]
    LineTooLong {
        /// 1-based line number.
        line: usize,
        /// The limit.
        max: usize,
    },
    /// A reply larger than [`Limits::max_reply`] or with more than [`Limits::max_lines`].
    #[error("reply larger than {max_bytes} bytes or {max_lines} lines")]
    ReplyTooLarge {
        /// Byte limit.
        max_bytes: usize,
        /// Line limit.
        max_lines: usize,
    },
    /// A line that is neither `DDDD-`, `DDDD `, ` ` nor `+`.
    #[error("line {line}: {why}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// The bytes end before the reply's last line.
    #[error("reply ends before its final line")]
    Incomplete,
    /// Bytes after the reply's final line.
    #[error("data after the final line of the reply")]
    TrailingData,
    /// A well-framed reply whose content is not what the command returns.
    #[error("unexpected reply content at line {line}: {why}")]
    Content {
        /// 1-based line number within the reply.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

/// Assembles lines into a [`Reply`], one line at a time (what the socket client feeds).
#[derive(Debug)]
pub struct ReplyReader {
    limits: Limits,
    lines: Vec<Line>,
    bytes: usize,
    seen: usize,
}

impl ReplyReader {
    /// A reader for the next reply.
    pub fn new(limits: Limits) -> Self {
        ReplyReader {
            limits,
            lines: Vec::new(),
            bytes: 0,
            seen: 0,
        }
    }

    /// Takes one line (without its `\n`; a trailing `\r` is kept as text). Returns the reply
    /// once its final line arrived; the reader is then ready for the next reply.
    pub fn push_line(&mut self, raw: &[u8]) -> Result<Option<Reply>, ParseError> {
        self.seen += 1;
        let line = self.seen;
        if raw.len() > self.limits.max_line {
            return Err(ParseError::LineTooLong {
                line,
                max: self.limits.max_line,
            });
        }
        self.bytes = self.bytes.saturating_add(raw.len() + 1);
        if self.bytes > self.limits.max_reply || self.lines.len() >= self.limits.max_lines {
            return Err(ParseError::ReplyTooLarge {
                max_bytes: self.limits.max_reply,
                max_lines: self.limits.max_lines,
            });
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match raw.first() {
            Some(b'+') => return Ok(None),
            Some(b' ') => {
                let Some(prev) = self.lines.last() else {
                    return Err(ParseError::BadLine {
                        line,
                        why: "continuation line without a code before it",
                    });
                };
                let code = prev.code;
                self.lines.push(Line {
                    code,
                    text: text(raw.get(1..).unwrap_or_default()),
                });
                return Ok(None);
            }
            _ => {}
        }
        let (digits, rest) = raw.split_at(raw.len().min(4));
        if digits.len() != 4 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::BadLine {
                line,
                why: "does not start with a 4-digit code, ' ' or '+'",
            });
        }
        let code = digits
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        let (last, body) = match rest.split_first() {
            None => (true, &[][..]),
            Some((b' ', body)) => (true, body),
            Some((b'-', body)) => (false, body),
            Some(_) => {
                return Err(ParseError::BadLine {
                    line,
                    why: "code not followed by ' ' or '-'",
                })
            }
        };
        self.lines.push(Line {
            code,
            text: text(body),
        });
        if last {
            let lines = std::mem::take(&mut self.lines);
            self.bytes = 0;
            self.seen = 0;
            Ok(Some(Reply { lines }))
        } else {
            Ok(None)
        }
    }
}

/// Parses exactly one reply from `bytes` (every line ending in `\n`).
pub fn parse_reply(bytes: &[u8], limits: Limits) -> Result<Reply, ParseError> {
    let mut r = ReplyReader::new(limits);
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
            if rest.len() > limits.max_line {
                return Err(ParseError::LineTooLong {
                    line: r.seen + 1,
                    max: limits.max_line,
                });
            }
            return Err(ParseError::Incomplete);
        };
        let (line, after) = rest.split_at(nl);
        rest = after.get(1..).unwrap_or_default();
        if let Some(reply) = r.push_line(line)? {
            // BIRD's asynchronous '+' lines may follow a reply; they belong to no reply
            // (`parse_replies` skips them the same way).
            return if only_async_lines(rest) {
                Ok(reply)
            } else {
                Err(ParseError::TrailingData)
            };
        }
    }
    Err(ParseError::Incomplete)
}

/// Whether `rest` is nothing but complete asynchronous ('+') lines.
fn only_async_lines(rest: &[u8]) -> bool {
    rest.split_inclusive(|b| *b == b'\n')
        .all(|l| l.starts_with(b"+") && l.ends_with(b"\n"))
}

/// Parses a stream of replies (e.g. a greeting followed by answers), every one complete.
pub fn parse_replies(bytes: &[u8], limits: Limits) -> Result<Vec<Reply>, ParseError> {
    let mut r = ReplyReader::new(limits);
    let mut out = Vec::new();
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        let Some(line) = line.strip_suffix(b"\n") else {
            return Err(ParseError::Incomplete);
        };
        if let Some(reply) = r.push_line(line)? {
            out.push(reply);
        }
    }
    if r.lines.is_empty() {
        Ok(out)
    } else {
        Err(ParseError::Incomplete)
    }
}
