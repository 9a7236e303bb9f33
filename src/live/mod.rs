//! Live calls: the same stages as file analysis, on audio as it arrives.
//!
//! * [`crate::engine`] is the call engine these drive;
//!   [`crate::grpc::server`] runs one actor per call around it;
//!   [`capture`] feeds it from sound devices.
//! * [`load`] runs many calls against a server and measures event latency.
//! * [`commands`] are the `serve`, `replay`, `watch`, `capture` and `load` commands.

pub mod capture;
pub mod commands;
pub mod load;
