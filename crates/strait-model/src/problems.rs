//! Validation problems, collected so that one request reports every mistake at once
//! (NSX `ApiError.related_errors`).

use serde::Serialize;

/// Stable error codes. NSX uses 255 for field-level (schema) errors; strait's own
/// semantic VPN checks live in the 110xxx range NSX uses for VPN.
pub mod codes {
    /// A field has the wrong JSON type, is unknown, missing or out of range.
    pub const FIELD: u32 = 255;
    /// A `*_path` does not name an existing object of the right type.
    pub const BAD_REFERENCE: u32 = 110_001;
    /// A cross-field or cross-object rule is broken (overlap, duplicate, mode mismatch).
    pub const CONFLICT: u32 = 110_002;
    /// The request asks for something strait does not support (yet).
    pub const UNSUPPORTED: u32 = 110_003;
    /// The certificate, key or CRL could not be accepted.
    pub const CERTIFICATE: u32 = 110_004;
}

/// One thing wrong with a request, tied to the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// JSON path of the offending field, e.g. `tunnel_interfaces[0].ip_subnets[0].prefix_length`;
    /// empty when the problem concerns the object as a whole.
    pub field: String,
    /// Stable numeric code (see [`codes`]).
    pub code: u32,
    /// What is wrong and what to change, in the operator's terms.
    pub message: String,
}

/// An accumulator of [`Problem`]s.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems {
    list: Vec<Problem>,
}

/// At most this many problems are reported for one request; the rest are summarized.
pub const MAX_PROBLEMS: usize = 100;

impl Problems {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a field-level problem (code [`codes::FIELD`]).
    pub fn field(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.push(field, codes::FIELD, message);
    }

    /// Record a problem with an explicit code.
    pub fn push(&mut self, field: impl Into<String>, code: u32, message: impl Into<String>) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(Problem {
                field: field.into(),
                code,
                message: message.into(),
            });
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Number of problems recorded.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The recorded problems, in the order they were found.
    pub fn as_slice(&self) -> &[Problem] {
        &self.list
    }

    /// Consume into the list.
    pub fn into_vec(self) -> Vec<Problem> {
        self.list
    }

    /// `Ok(value)` if nothing was recorded.
    pub fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Append another accumulator's problems.
    pub fn extend(&mut self, other: Problems) {
        for p in other.list {
            if self.list.len() >= MAX_PROBLEMS {
                break;
            }
            self.list.push(p);
        }
    }
}

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.list.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if p.field.is_empty() {
                write!(f, "{}", p.message)?;
            } else {
                write!(f, "{}: {}", p.field, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}
