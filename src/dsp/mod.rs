//! Synchronous, allocation-free DSP stages that run on every frame.
//!
//! * [`spectrum::SpectrumAnalyzer`]: windowed FFT of a frame and the features
//!   later stages need (levels, speech-band energy).
//! * [`dtmf`]: keypad tones told from voices by the purity, harmonics and
//!   steadiness of two spectral peaks, confirmed over two frames.
//! * [`vad::CallVad`]: per-leg voice activity with an adaptive noise floor,
//!   rejecting DTMF tones and the other leg's bleed.

pub mod dtmf;
pub mod echo;
pub mod spectrum;
pub mod vad;

/// Converts a mean-square power to decibels, floored at -120 dB.
#[inline]
pub fn power_db(power: f32) -> f32 {
    10.0 * power.max(1e-12).log10()
}
