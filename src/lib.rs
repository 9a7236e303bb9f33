//! # callscope
//!
//! Contact-centre speech analytics that runs on your own machines.
//!
//! ## Architecture
//!
//! Data flows one way: **sources → per-call pipeline → sinks**.
//!
//! ```text
//!  WAV file (PCM/float/G.711) ─┐
//!  sound device (cpal) ────────┤  per leg: f32 at native rate
//!  gRPC StreamCall ────────────┘
//!                               ▼
//!                  convert::LegConverter   rubato FFT resampler → 16 kHz,
//!                               │          cut into 20 ms frame::Frame
//!                               ▼
//!                  dsp::vad::CallVad       realfft spectrum, adaptive noise
//!                               │          floor, tone and bleed rejection
//!                               ▼
//!                  signals::CallSignals    talk spans, silences, interruptions,
//!                               │          overtalk, loudness, syllable rate
//!                               ├──► utter: utterances ──► asr::whisper pool (own threads)
//!                               ▼                                 │
//!                  redact: text, audio, audit  ◄──────────────────┘
//!                               │          only `redact::Redacted<T>` leaves
//!                               ▼
//!                  rules::insights        complaint, flags, sentiment, scorecard
//!                               ▼
//!   store: recordings/<id>.wav, audit/<id>.jsonl, reports/<id>.json, callscope.db
//! ```
//!
//! * [`source`] reads recordings block by block (an hour-long call is never
//!   held in memory) and explains every bad file.
//! * [`convert`], [`dsp`] and [`signals`] are synchronous, allocation-free
//!   stages with no async runtime inside, so the same code serves a file and a
//!   live call; [`pipeline::CallPipeline`] chains them for one call.
//! * [`asr`] transcribes on dedicated whisper threads; [`redact`] is the
//!   gate everything stored or sent passes; [`rules`] turns the redacted
//!   transcript and signals into prompts and post-call analytics.
//! * [`analyze`] drives a file through the pipeline and stores it; [`live`]
//!   and [`grpc`] do the same for live calls; [`store`] writes and queries
//!   what calls leave; [`cli`] is the command line.
//!
//! Each signal's definition is documented in [`signals`].
//!
//! ## Example
//!
//! Two legs of 8 kHz audio through the per-call pipeline: the agent talks for
//! two seconds, then the customer for one.
//!
//! ```
//! use callscope::pipeline::{CallPipeline, PipelineConfig};
//!
//! let rate = 8_000;
//! let voice = |on: std::ops::Range<f32>| -> Vec<f32> {
//!     (0..rate * 4)
//!         .map(|i| {
//!             let t = i as f32 / rate as f32;
//!             let v: f32 = (1..10).map(|k| (6.283 * 140.0 * k as f32 * t).sin() / k as f32).sum();
//!             if on.contains(&t) { 0.05 * v } else { 0.0 }
//!         })
//!         .collect()
//! };
//! let (agent, customer) = (voice(0.5..2.5), voice(2.8..3.8));
//! let mut call = CallPipeline::new("example".into(), 2, rate as u32, &PipelineConfig::default())?;
//! let mut events = Vec::new();
//! call.push(&[&agent, &customer], &mut events);
//! let summary = call.finish(&mut events);
//! assert!((summary.legs[0].talk_time_s - 2.0).abs() < 0.1);
//! assert!((summary.legs[1].talk_time_s - 1.0).abs() < 0.1);
//! assert!(summary.interruptions.is_empty());
//! # Ok::<(), callscope::convert::ConvertError>(())
//! ```

#![warn(missing_docs)]

pub mod analyze;
pub mod asr;
pub mod cli;
pub mod convert;
pub mod dsp;
pub mod embed;
pub mod engine;
pub mod eval;
pub mod frame;
pub mod grpc;
pub mod live;
pub mod model;
pub mod pipeline;
pub mod redact;
pub mod report;
pub mod rules;
pub mod security;
pub mod signals;
pub mod source;
pub mod store;
pub mod telemetry;
pub mod utter;
