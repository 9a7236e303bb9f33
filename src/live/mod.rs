//! Live calls: the same stages as file analysis, on audio as it arrives.
//!
//! * [`call::LiveCall`] is one call, synchronously: frames → signals, KPIs
//!   and prompts at once; VAD-gated utterances out as transcription jobs;
//!   redacted transcript segments (partial and final) back in.
//! * [`kpi`] follows the call's state and raises the built-in prompts.
//! * [`crate::grpc::server`] runs one actor per call around it;
//!   [`capture`] feeds it from sound devices.
//! * [`load`] runs many calls against a server and measures event latency.
//! * [`commands`] are the `serve`, `replay`, `watch`, `capture` and `load` commands.

pub mod call;
pub mod capture;
pub mod commands;
pub mod kpi;
pub mod load;
