//! Audio sources: where call audio comes from before it is converted to frames.
//!
//! Today: WAV recordings ([`wav::WavSource`]), including the G.711 μ-law and
//! A-law files SIP recorders write ([`g711`]). Every source hands out
//! de-interleaved `f32` samples per channel at its native rate; the
//! [`crate::convert`] stage turns them into canonical frames.

pub mod g711;
pub mod wav;

use std::fmt;
use std::path::PathBuf;

pub use wav::WavSource;

/// How the samples of a source are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Linear PCM integers of the given width (8, 16, 24 or 32 bits).
    Pcm {
        /// Bits per sample.
        bits: u16,
    },
    /// 32-bit IEEE float.
    Float32,
    /// G.711 μ-law, 8 bits per sample.
    MuLaw,
    /// G.711 A-law, 8 bits per sample.
    ALaw,
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Codec::Pcm { bits } => write!(f, "PCM {bits}-bit"),
            Codec::Float32 => f.write_str("32-bit float"),
            Codec::MuLaw => f.write_str("G.711 mu-law"),
            Codec::ALaw => f.write_str("G.711 A-law"),
        }
    }
}

/// What a source holds, known once its header is read.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// 1 (mono) or 2 (stereo).
    pub channels: u16,
    /// Sample encoding.
    pub codec: Codec,
    /// Sample frames (one sample per channel) that can actually be read.
    pub frames: u64,
    /// Set when the header promises more audio than the file holds: the
    /// number of frames the header declares.
    pub truncated_from: Option<u64>,
}

impl AudioInfo {
    /// Duration of the readable audio in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames as f64 / f64::from(self.sample_rate)
    }
}

/// Lowest sample rate callscope accepts, in Hz (narrow-band telephony).
pub const MIN_RATE: u32 = 8_000;
/// Highest sample rate callscope accepts, in Hz.
pub const MAX_RATE: u32 = 48_000;

/// Why a source could not be read. Every variant names the file.
///
/// All variants mean: **skip this input** and carry on with the others; the
/// message says what the user can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The file could not be opened or read (missing, permissions, I/O error).
    #[error("{path}: cannot read the file: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is empty or its data chunk holds no samples.
    #[error(
        "{path}: holds no audio (empty file or zero-length data chunk); check the recorder's output"
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a RIFF/WAVE file.
    #[error(
        "{path}: not a WAV file ({detail}); convert it to WAV first, e.g. `sox in.mp3 -c 2 out.wav`"
    )]
    NotWav {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },
    /// The WAV header is present but damaged.
    #[error("{path}: damaged WAV header: {detail}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// More than two channels.
    #[error(
        "{path}: has {channels} channels; callscope takes mono or stereo (agent + customer) recordings: split or downmix it first, e.g. `sox in.wav out.wav remix 1 2`"
    )]
    TooManyChannels {
        /// The file.
        path: PathBuf,
        /// Channels in the file.
        channels: u16,
    },
    /// Sample rate outside 8–48 kHz.
    #[error(
        "{path}: sample rate {rate} Hz is outside the supported 8000-48000 Hz; resample it first, e.g. `sox in.wav -r 16000 out.wav`"
    )]
    UnsupportedRate {
        /// The file.
        path: PathBuf,
        /// The rate found.
        rate: u32,
    },
    /// A codec callscope does not decode.
    #[error(
        "{path}: codec {codec} (WAV format tag {tag:#06x}) is not supported; supported are PCM 8/16/24/32-bit, 32-bit float and G.711 mu-law/A-law: convert it, e.g. `sox in.wav -e signed-integer -b 16 out.wav`"
    )]
    UnsupportedCodec {
        /// The file.
        path: PathBuf,
        /// The WAV format tag.
        tag: u16,
        /// A human name for the codec.
        codec: String,
    },
}
