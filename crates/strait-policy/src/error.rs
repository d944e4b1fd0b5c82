//! Errors of the management engine, independent of HTTP (the API layer maps them to NSX
//! error bodies and status codes).

use strait_model::path::PathError;
use strait_model::Problems;
use strait_store::StoreError;

/// Why a management operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The path is not a policy path strait knows.
    #[error(transparent)]
    BadPath(#[from] PathError),
    /// No object at the path.
    #[error("{noun} {path} does not exist")]
    NotFound {
        /// What kind of thing was looked for.
        noun: &'static str,
        /// Where.
        path: String,
    },
    /// The parent of an object to create does not exist.
    #[error("{noun} {path} does not exist; create it first (PATCH /policy/api/v1{path})")]
    ParentMissing {
        /// What kind of thing the parent is.
        noun: &'static str,
        /// The parent's path.
        path: String,
    },
    /// The request is invalid; every problem is listed.
    #[error("{summary}")]
    Invalid {
        /// One-line summary.
        summary: String,
        /// Each problem.
        problems: Problems,
    },
    /// `_revision` did not match the stored one.
    #[error("{path} was changed by someone else: the request carries _revision {given} but the object is at _revision {current}; GET it again, reapply your change and send _revision {current}")]
    RevisionMismatch {
        /// The object.
        path: String,
        /// What the request carried.
        given: i64,
        /// What is stored.
        current: i64,
    },
    /// The caller lacks the role for this.
    #[error("{0}")]
    Forbidden(String),
    /// Credentials were wrong.
    #[error("{0}")]
    Unauthenticated(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PolicyError {
    /// An [`PolicyError::Invalid`] with one problem on the whole object.
    pub fn invalid(field: &str, code: u32, message: impl Into<String>) -> PolicyError {
        let mut p = Problems::new();
        let message = message.into();
        p.push(field, code, message.clone());
        PolicyError::Invalid {
            summary: message,
            problems: p,
        }
    }

    /// Wrap collected problems with a summary naming the object.
    pub fn from_problems(what: &str, problems: Problems) -> PolicyError {
        let summary = match problems.as_slice() {
            [only] if only.field.is_empty() => only.message.clone(),
            [only] => format!("{what}: {}: {}", only.field, only.message),
            many => format!(
                "{what} has {} problems: {}",
                many.len(),
                many.iter()
                    .map(|p| if p.field.is_empty() {
                        "(object)".to_owned()
                    } else {
                        p.field.clone()
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        PolicyError::Invalid { summary, problems }
    }
}
