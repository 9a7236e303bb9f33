//! The canonical frame every stage downstream of a source sees.
//!
//! Sources convert at the edge: whatever the input (WAV file, sound device,
//! gRPC stream), each leg becomes 16 kHz mono `f32` in 20 ms frames tagged
//! with the call, the leg, a sequence number and the media time.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Sample rate of every frame, in Hz.
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples per frame (20 ms at 16 kHz).
pub const FRAME_LEN: usize = 320;
/// Duration of one frame in seconds.
pub const FRAME_SECONDS: f64 = FRAME_LEN as f64 / SAMPLE_RATE as f64;

/// Which party of the call a leg (channel) carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Leg {
    /// The contact-centre agent.
    Agent,
    /// The caller.
    Customer,
}

impl Leg {
    /// Both legs, agent first.
    pub const BOTH: [Leg; 2] = [Leg::Agent, Leg::Customer];

    /// Index of the leg in per-leg arrays: agent 0, customer 1.
    pub fn index(self) -> usize {
        match self {
            Leg::Agent => 0,
            Leg::Customer => 1,
        }
    }

    /// The other party.
    pub fn other(self) -> Leg {
        match self {
            Leg::Agent => Leg::Customer,
            Leg::Customer => Leg::Agent,
        }
    }

    /// The name used in reports and events (`"agent"` / `"customer"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Leg::Agent => "agent",
            Leg::Customer => "customer",
        }
    }
}

impl fmt::Display for Leg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier of a call, cheap to clone into every frame.
pub type CallId = Arc<str>;

/// 20 ms of one leg of one call, 16 kHz mono, samples in `[-1, 1]`.
#[derive(Clone)]
pub struct Frame {
    /// The call this frame belongs to.
    pub call_id: CallId,
    /// The party on this leg.
    pub leg: Leg,
    /// Frame number from the start of the call, 0-based; frame `n` starts at `n × 20 ms`.
    pub seq: u64,
    /// The samples.
    pub samples: [f32; FRAME_LEN],
}

impl Frame {
    /// A silent frame.
    pub fn silent(call_id: CallId, leg: Leg, seq: u64) -> Self {
        Frame {
            call_id,
            leg,
            seq,
            samples: [0.0; FRAME_LEN],
        }
    }

    /// Media time of the first sample, in seconds from the start of the call.
    pub fn start_s(&self) -> f64 {
        self.seq as f64 * FRAME_SECONDS
    }

    /// Media time just after the last sample, in seconds.
    pub fn end_s(&self) -> f64 {
        (self.seq + 1) as f64 * FRAME_SECONDS
    }
}

impl fmt::Debug for Frame {
    // Never prints samples: audio is not for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("call_id", &self.call_id)
            .field("leg", &self.leg)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// Converts a frame count to seconds.
pub fn frames_to_s(frames: u64) -> f64 {
    frames as f64 * FRAME_SECONDS
}
