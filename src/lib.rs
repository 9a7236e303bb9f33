//! # callscope
//!
//! Contact-centre speech analytics that runs on your own machines.
//!
//! ## Architecture
//!
//! Data flows one way: **sources → per-call pipeline → sinks**.
//!
//! ```text
//!  WAV file (PCM/float/G.711) ──┐
//!  (later: sound device, gRPC) ─┤  per leg: f32 at native rate
//!                               ▼
//!                  convert::LegConverter   rubato FFT resampler → 16 kHz,
//!                               │          cut into 20 ms frame::Frame
//!                               ▼
//!                  dsp::vad::CallVad       realfft spectrum, adaptive noise
//!                               │          floor, tone and bleed rejection
//!                               ▼
//!                  signals::CallSignals    talk spans, silences, interruptions,
//!                               │          overtalk, loudness, syllable rate
//!                               ▼
//!                  report::Report  ──►  DIR/reports/<call_id>.json
//! ```
//!
//! * [`source`] reads recordings block by block (an hour-long call is never
//!   held in memory) and explains every bad file.
//! * [`convert`], [`dsp`] and [`signals`] are synchronous, allocation-free
//!   stages with no async runtime inside, so the same code serves a file and a
//!   live call; [`pipeline::CallPipeline`] chains them for one call.
//! * [`analyze`] drives a file through the pipeline and stores the report;
//!   [`cli`] is the command line.
//!
//! Each signal's definition is documented in [`signals`].

#![warn(missing_docs)]

pub mod analyze;
pub mod cli;
pub mod convert;
pub mod dsp;
pub mod frame;
pub mod pipeline;
pub mod report;
pub mod signals;
pub mod source;
