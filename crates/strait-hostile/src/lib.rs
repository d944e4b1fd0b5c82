//! The attacker end of strait's hostile-network tests (issue 12): forged IKEv2 requests
//! ([`forge`]), hand-written IPv4/UDP headers so that the source address and port can be a
//! configured peer's ([`packet`]), a raw socket to send them ([`raw`]), and floods at a fixed
//! rate ([`flood`]); COOKIEs obtained for replay ([`cookie`]). Answers are read with an ordinary UDP socket bound to the forged
//! address, in the namespace that owns it ([`answer`]).
//!
//! Only for test networks: every address here comes from the caller.

pub mod answer;
pub mod cookie;
pub mod flood;
pub mod forge;
pub mod packet;
pub mod raw;

/// The IKEv2 wire format the forged messages are built with.
pub use ike_wire as wire;

pub use flood::{run, Flood, FloodError, FloodReport, Source, SpiMode};
pub use forge::{Forge, KeValue, Kind};
