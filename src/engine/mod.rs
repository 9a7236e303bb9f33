//! The call engine: one call from audio to a sealed, redacted result,
//! whatever feeds it.
//!
//! * [`call::LiveCall`] is one call, synchronously: frames → signals, KPIs
//!   and prompts at once; VAD-gated utterances out as transcription jobs;
//!   redacted transcript segments (partial and final) back in; cleared
//!   audio out behind the redaction frontier.
//! * [`kpi`] follows the call's state and raises the built-in prompts.
//! * [`batch`] drives it as fast as whisper goes (offline analysis);
//!   [`crate::grpc::server::run_call`] drives it in real time (live calls
//!   over gRPC and from sound devices).
//! * [`seal`] redacts the finished call and gives what it leaves to store.

pub mod batch;
pub mod call;
pub mod kpi;
pub mod seal;
