//! strait's data plane: for each route-based session a TUN-backed virtual tunnel interface
//! (VTI) whose routes decide what crosses the tunnel, userspace ESP (RFC 4303, `esp-proto`)
//! over UDP 4500 (RFC 3948) or IP protocol 50, TCP MSS clamping and per-tunnel counters.
#![warn(missing_docs)]

pub mod mss;
pub mod vti;
