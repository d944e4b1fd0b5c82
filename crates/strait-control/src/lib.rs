//! strait's control-plane runtime. It owns the sans-IO IKEv2 endpoint (`ike-proto`) and
//! gives it what it needs: UDP sockets on every local endpoint address (ports 500 and
//! 4500), the clock, OS randomness, and the desired sessions derived from the stored policy
//! whenever it changes. Child SAs the protocol negotiates go to an [`SaSink`] (the data
//! plane's boundary, modelled on strongSwan's `kernel_ipsec`); session status goes to the
//! [`StatusBoard`] the API reads.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod board;
pub mod desired;
mod runtime;

pub use board::StatusBoard;
pub use runtime::{ControlPlane, LoggingSaSink, OsRandom, RuntimeHandle, SaSink};
