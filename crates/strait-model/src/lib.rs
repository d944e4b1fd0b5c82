//! strait's management-plane model: the NSX Policy objects of a route-based IPsec VPN
//! (gateways, VPN services, local endpoints, sessions, profiles, certificates, CRLs,
//! static routes), their defaults, and every validation rule of the NSX API reference
//! (docs/api.md lists them).
//!
//! Pure: no I/O, no clock. Request bodies are parsed field by field so one response can
//! report every problem (`Problems`), then checked against the stored tree through the
//! [`validate::PolicyView`] trait.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
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

pub mod enums;
pub mod identity;
pub mod merge;
pub mod objects;
pub mod path;
pub mod problems;
pub mod reader;
pub mod routing_status;
pub mod search_keys;
pub mod status;
pub mod system;
pub mod validate;

pub use enums::NsxEnum;
pub use objects::{parse_body, ParseCtx, Parsed, PolicyObject, SecretChange};
pub use path::{Kind, ObjectPath, ParsedPath};
pub use problems::{Problem, Problems};
