//! strait's control-plane runtime. It owns the sans-IO IKEv2 endpoint (`ike-proto`) and
//! gives it what it needs: UDP sockets on every local endpoint address (ports 500 and
//! 4500), the clock, OS randomness, and the desired sessions derived from the stored policy
//! whenever it changes. It drives the data plane (`strait-dataplane`): a tunnel (VTI) per
//! session that can run, the Child SAs the protocol negotiates, and port 4500, which the data
//! plane owns and on which it hands IKE back; session status goes to the [`StatusBoard`] the
//! API reads, with the data plane's counters.
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

mod board;
pub mod boundary;
pub mod certs;
pub mod crypto_pool;
pub mod desired;
pub mod gateway;
pub mod invariants;
pub mod routing;
mod runtime;
pub mod sockets;

pub use board::StatusBoard;
pub use boundary::{DataplaneApi, IkeSockets};
pub use gateway::Gateway;
pub use runtime::{ControlPlane, OsRandom, RuntimeHandle, StatusView, IKE_LOG_TARGETS};
