//! Per-frame spectral features from a 512-point real FFT (31.25 Hz bins).
//!
//! The power spectrum is kept for stages that compare legs (bleed detection).

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::power_db;
use crate::frame::{FRAME_LEN, SAMPLE_RATE};

/// FFT length: the 320-sample frame, Hann-windowed and zero-padded.
pub const FFT_LEN: usize = 512;
/// Number of magnitude bins kept (0 Hz … Nyquist).
pub const BINS: usize = FFT_LEN / 2 + 1;
/// First bin of the telephone speech band (≈ 300 Hz).
pub const SPEECH_LO: usize = 300 * FFT_LEN / SAMPLE_RATE as usize + 1;
/// Last bin of the telephone speech band (≈ 3400 Hz).
pub const SPEECH_HI: usize = 3400 * FFT_LEN / SAMPLE_RATE as usize;

/// What one frame looks like to the later stages.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FrameFeatures {
    /// Mean-square level of the whole frame, dBFS (a full-scale sine is −3 dBFS).
    pub level_db: f32,
    /// Energy in the 300–3400 Hz speech band, dB relative to the same scale.
    pub band_db: f32,
}

/// Windowed FFT of frames. Owns its plan and buffers; analysing does not allocate.
pub struct SpectrumAnalyzer {
    fft: Arc<dyn RealToComplex<f32>>,
    window: [f32; FRAME_LEN],
    input: Vec<f32>,
    output: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    power: [f32; BINS],
    window_gain: f32,
}

impl Default for SpectrumAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl SpectrumAnalyzer {
    /// Plans the FFT and allocates all buffers.
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT_LEN);
        let mut window = [0.0f32; FRAME_LEN];
        for (i, w) in window.iter_mut().enumerate() {
            *w = 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / (FRAME_LEN as f32 - 1.0)).cos();
        }
        let window_gain = window.iter().map(|w| w * w).sum::<f32>();
        SpectrumAnalyzer {
            input: fft.make_input_vec(),
            output: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            window,
            power: [0.0; BINS],
            window_gain,
        }
    }

    /// Analyses one frame; the power spectrum stays available through [`Self::power`].
    pub fn analyze(&mut self, samples: &[f32; FRAME_LEN]) -> FrameFeatures {
        let mean_square = samples.iter().map(|s| s * s).sum::<f32>() / FRAME_LEN as f32;
        for ((dst, s), w) in self.input.iter_mut().zip(samples).zip(&self.window) {
            *dst = s * w;
        }
        self.input[FRAME_LEN..].fill(0.0);
        self.fft
            .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
            .expect("buffers come from the plan");
        // Scale so that the sum over the positive bins equals the mean square.
        let scale = 2.0 / (self.window_gain * FFT_LEN as f32);
        for (p, c) in self.power.iter_mut().zip(&self.output) {
            *p = c.norm_sqr() * scale;
        }
        let band = &self.power[SPEECH_LO..=SPEECH_HI];
        let band_total: f32 = band.iter().sum();
        FrameFeatures {
            level_db: power_db(mean_square),
            band_db: power_db(band_total),
        }
    }

    /// Power spectrum of the last analysed frame.
    pub fn power(&self) -> &[f32; BINS] {
        &self.power
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::f32::consts::TAU;

    /// A frame of a sum of sines `(hz, amplitude)`.
    pub fn sines(parts: &[(f32, f32)], offset: usize) -> [f32; FRAME_LEN] {
        let mut f = [0.0f32; FRAME_LEN];
        for (i, s) in f.iter_mut().enumerate() {
            let t = (i + offset) as f32 / SAMPLE_RATE as f32;
            *s = parts.iter().map(|(hz, a)| a * (TAU * hz * t).sin()).sum();
        }
        f
    }

    #[test]
    fn levels_match_the_signal() {
        let mut a = SpectrumAnalyzer::new();
        let f = a.analyze(&sines(&[(1000.0, 0.5)], 0));
        // 0.5-amplitude sine: mean square 0.125 → −9.03 dB.
        assert!((f.level_db + 9.03).abs() < 0.1, "{}", f.level_db);
        assert!((f.band_db + 9.03).abs() < 0.5, "{}", f.band_db);
        let hum = a.analyze(&sines(&[(50.0, 0.5)], 0));
        assert!(
            hum.band_db < -30.0,
            "mains hum is outside the speech band: {}",
            hum.band_db
        );
    }
}
