//! `/api/v1/node/...`: what NSX Manager says about itself.
//!
//! Clients probe `GET /api/v1/node/version` before anything else: VMware's Terraform
//! provider refuses to start without an answer, and it decides which fields it sends and
//! reads (`tcp_mss_clamping` on sessions, for one) by comparing this version with the
//! release that introduced them.

use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The NSX release whose Policy API strait follows: clients (the Terraform provider) turn
/// on every IPsec VPN and tier-0 field that release has. See docs/api.md "Versions".
pub const NSX_COMPATIBLE_VERSION: &str = "4.2.1.0.0.24304122";

/// `GET /api/v1/node/version` (NSX's `NodeVersion`).
pub async fn version() -> Response {
    axum::Json(json!({
        "node_version": NSX_COMPATIBLE_VERSION,
        "product_version": NSX_COMPATIBLE_VERSION,
        "strait_version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}
