//! Line echo and crosstalk: finds when one leg carries a delayed, attenuated
//! copy of the other, so that copy is not counted as that party talking.
//!
//! Every [`ESTIMATE_EVERY`] frames (0.5 s) the tracker cross-correlates the
//! last second of each leg against the other leg's last 1.25 s (decimated
//! to 8 kHz, by FFT) and, where the normalised correlation peak is strong
//! ([`EchoConfig::min_coherence`]) and the other leg is the louder one,
//! keeps that **echo path**: a delay (refined to one sample at 16 kHz) and
//! a gain. Windows of double talk correlate weakly and leave the path as it
//! was; a path not confirmed for [`EchoConfig::path_life_s`] is dropped.
//!
//! Per frame, [`EchoTracker::residual_db`] subtracts the predicted echo
//! (the other leg's samples `delay` back, times `gain`) and returns the
//! level of what is left: this leg's own voice. A frame whose residual is
//! under the speech thresholds is echo, not talk; in double talk the
//! residual keeps the near voice and stays speech.
//!
//! Nothing here allocates after [`EchoTracker::new`].

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::frame::{FRAME_LEN, SAMPLE_RATE};

/// Frames between path estimates (0.5 s).
pub const ESTIMATE_EVERY: u64 = 25;
/// Window of this leg that is correlated, samples at 16 kHz (1 s).
const WINDOW: usize = SAMPLE_RATE as usize;
/// Longest echo delay looked for, samples at 16 kHz (250 ms).
pub const MAX_DELAY: usize = SAMPLE_RATE as usize / 4;
/// History kept per leg, samples at 16 kHz.
const HISTORY: usize = WINDOW + MAX_DELAY + FRAME_LEN;
/// Decimated window and lag range (8 kHz).
const DEC_WINDOW: usize = WINDOW / 2;
const DEC_MAX_LAG: usize = MAX_DELAY / 2;
const FFT_LEN: usize = 16_384;

/// Echo thresholds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EchoConfig {
    /// Normalised correlation peak at or above which a window shows an echo path.
    pub min_coherence: f32,
    /// The other leg must be at least this much louder over the window, dB.
    pub min_margin_db: f32,
    /// A path not seen again for this long is dropped, seconds.
    pub path_life_s: f32,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig {
            min_coherence: 0.5,
            min_margin_db: 6.0,
            path_life_s: 20.0,
        }
    }
}

/// A leg's echo of the other leg: `x_me[n] ≈ gain · x_other[n − delay]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoPath {
    /// Delay, samples at 16 kHz.
    pub delay: usize,
    /// Linear gain (echo level relative to the source).
    pub gain: f32,
    /// Normalised correlation of the window that set it.
    pub coherence: f32,
    /// Frame at which it was last confirmed.
    pub seen: u64,
}

impl EchoPath {
    /// Echo level relative to the source, dB.
    pub fn level_db(&self) -> f32 {
        20.0 * self.gain.abs().max(1e-6).log10()
    }
}

/// Tracks the echo path of each leg from the other and cancels it per frame.
pub struct EchoTracker {
    cfg: EchoConfig,
    /// Ring buffers of the two legs' samples; `pos` is the next write index.
    history: [Box<[f32]>; 2],
    pos: usize,
    filled: usize,
    frame: u64,
    paths: [Option<EchoPath>; 2],
    fft: Arc<dyn RealToComplex<f32>>,
    ifft: Arc<dyn ComplexToReal<f32>>,
    a: Vec<f32>,
    b: Vec<f32>,
    spec_a: Vec<Complex<f32>>,
    spec_b: Vec<Complex<f32>>,
    scratch_f: Vec<Complex<f32>>,
    scratch_i: Vec<Complex<f32>>,
    /// Prefix sums of the decimated other leg's energy.
    prefix: Vec<f64>,
}

impl EchoTracker {
    /// A tracker with no path known.
    pub fn new(cfg: EchoConfig) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(FFT_LEN);
        let ifft = planner.plan_fft_inverse(FFT_LEN);
        EchoTracker {
            cfg,
            history: [
                vec![0.0; HISTORY].into_boxed_slice(),
                vec![0.0; HISTORY].into_boxed_slice(),
            ],
            pos: 0,
            filled: 0,
            frame: 0,
            paths: [None, None],
            a: fft.make_input_vec(),
            b: fft.make_input_vec(),
            spec_a: fft.make_output_vec(),
            spec_b: fft.make_output_vec(),
            scratch_f: fft.make_scratch_vec(),
            scratch_i: ifft.make_scratch_vec(),
            prefix: vec![0.0; DEC_WINDOW + DEC_MAX_LAG + 1],
            fft,
            ifft,
        }
    }

    /// Forgets everything, as at the start of a call.
    pub fn reset(&mut self) {
        for h in &mut self.history {
            h.fill(0.0);
        }
        self.pos = 0;
        self.filled = 0;
        self.frame = 0;
        self.paths = [None, None];
    }

    /// The echo path of leg `me` (0 agent, 1 customer) from the other leg, if known.
    pub fn path(&self, me: usize) -> Option<EchoPath> {
        self.paths[me]
    }

    /// Takes the next frame of both legs and, every [`ESTIMATE_EVERY`]
    /// frames, re-estimates the echo paths.
    pub fn push(&mut self, frames: [&[f32; FRAME_LEN]; 2]) {
        for (h, f) in self.history.iter_mut().zip(frames) {
            let first = (HISTORY - self.pos).min(FRAME_LEN);
            h[self.pos..self.pos + first].copy_from_slice(&f[..first]);
            h[..FRAME_LEN - first].copy_from_slice(&f[first..]);
        }
        self.pos = (self.pos + FRAME_LEN) % HISTORY;
        self.filled = (self.filled + FRAME_LEN).min(HISTORY);
        self.frame += 1;
        let life = (f64::from(self.cfg.path_life_s) / crate::frame::FRAME_SECONDS) as u64;
        for p in &mut self.paths {
            if p.is_some_and(|p| self.frame.saturating_sub(p.seen) > life) {
                *p = None;
            }
        }
        if self.frame.is_multiple_of(ESTIMATE_EVERY) && self.filled == HISTORY {
            for me in 0..2 {
                if let Some(p) = self.estimate(me) {
                    self.paths[me] = Some(p);
                }
            }
        }
    }

    /// Sample `back` samples before the newest one of leg `leg` (0 = newest).
    fn at(&self, leg: usize, back: usize) -> f32 {
        self.history[leg][(self.pos + HISTORY - 1 - back) % HISTORY]
    }

    /// Level of the newest frame of leg `me` after its echo is subtracted,
    /// dBFS (mean power of the samples); `None` when no echo path is known.
    pub fn residual_db(&self, me: usize) -> Option<f32> {
        let p = self.paths[me]?;
        let mut sum = 0.0f32;
        for back in 0..FRAME_LEN {
            let r = self.at(me, back) - p.gain * self.at(1 - me, back + p.delay);
            sum += r * r;
        }
        Some(crate::dsp::power_db(sum / FRAME_LEN as f32))
    }

    /// Estimates leg `me`'s echo path from the last second, if the window shows one.
    fn estimate(&mut self, me: usize) -> Option<EchoPath> {
        let other = 1 - me;
        // Decimated (pairs averaged) windows, oldest first: this leg's last
        // DEC_WINDOW samples in `a`, the other leg's last DEC_WINDOW +
        // DEC_MAX_LAG in `b`.
        let span_b = DEC_WINDOW + DEC_MAX_LAG;
        self.a.fill(0.0);
        self.b.fill(0.0);
        for i in 0..DEC_WINDOW {
            let back = 2 * (DEC_WINDOW - 1 - i);
            self.a[i] = 0.5 * (self.at(me, back) + self.at(me, back + 1));
        }
        for i in 0..span_b {
            let back = 2 * (span_b - 1 - i);
            self.b[i] = 0.5 * (self.at(other, back) + self.at(other, back + 1));
        }
        let e_me: f64 = self.a[..DEC_WINDOW]
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum();
        self.prefix[0] = 0.0;
        for i in 0..span_b {
            self.prefix[i + 1] = self.prefix[i] + f64::from(self.b[i]) * f64::from(self.b[i]);
        }
        // The other leg's window for lag k (k samples earlier) is b[DEC_MAX_LAG - k ..][..DEC_WINDOW].
        let e_other = |prefix: &[f64], k: usize| {
            let s = DEC_MAX_LAG - k;
            prefix[s + DEC_WINDOW] - prefix[s]
        };
        let loudest_other = (0..=DEC_MAX_LAG)
            .step_by(50)
            .map(|k| e_other(&self.prefix, k))
            .fold(0.0f64, f64::max);
        let margin = 10f64.powf(f64::from(self.cfg.min_margin_db) / 10.0);
        let quiet = 1e-5 * DEC_WINDOW as f64; // −50 dBFS mean power
        if loudest_other < quiet || e_me <= 0.0 || loudest_other < e_me * margin {
            return None;
        }
        // Cross-correlation c[j] = Σ a[n] b[n + j]: lag k = DEC_MAX_LAG − j.
        self.fft
            .process_with_scratch(&mut self.a, &mut self.spec_a, &mut self.scratch_f)
            .ok()?;
        self.fft
            .process_with_scratch(&mut self.b, &mut self.spec_b, &mut self.scratch_f)
            .ok()?;
        for (x, y) in self.spec_a.iter_mut().zip(&self.spec_b) {
            *x = x.conj() * y;
        }
        // The imaginary parts of the DC and Nyquist bins must be zero for the inverse.
        self.spec_a[0].im = 0.0;
        let last = self.spec_a.len() - 1;
        self.spec_a[last].im = 0.0;
        self.ifft
            .process_with_scratch(&mut self.spec_a, &mut self.a, &mut self.scratch_i)
            .ok()?;
        let scale = 1.0 / FFT_LEN as f64;
        let mut best = (0usize, 0.0f64);
        for k in 0..=DEC_MAX_LAG {
            let c = f64::from(self.a[DEC_MAX_LAG - k]) * scale;
            let eo = e_other(&self.prefix, k);
            if eo <= 0.0 {
                continue;
            }
            let rho = c / (e_me * eo).sqrt();
            if rho > best.1 {
                best = (k, rho);
            }
        }
        let (k, rho) = best;
        if (rho as f32) < self.cfg.min_coherence {
            return None;
        }
        // Refine at 16 kHz around 2k and take the gain there.
        let mut refined = (2 * k, f32::MIN, 0.0f32);
        for d in (2 * k).saturating_sub(2)..=(2 * k + 2).min(MAX_DELAY) {
            let (mut c, mut eo) = (0.0f32, 0.0f32);
            for back in 0..WINDOW {
                let o = self.at(other, back + d);
                c += self.at(me, back) * o;
                eo += o * o;
            }
            if eo > 0.0 && c / eo.sqrt() > refined.1 {
                refined = (d, c / eo.sqrt(), c / eo);
            }
        }
        Some(EchoPath {
            delay: refined.0,
            gain: refined.2,
            coherence: rho as f32,
            seen: self.frame,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A speech-like signal: a buzz with a syllable envelope and a wandering pitch.
    fn talker(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        let mut phase = 0.0f32;
        (0..n)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                let f0 = 120.0 + 30.0 * (t * 1.7 + seed as f32).sin();
                phase += f0 / SAMPLE_RATE as f32;
                let env = (0.5 + 0.5 * (t * 4.0 * std::f32::consts::TAU).sin()).powi(2);
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = ((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.3;
                env * 0.1 * ((phase * std::f32::consts::TAU).sin().signum() * 0.5 + noise)
            })
            .collect()
    }

    fn frames(x: &[f32]) -> impl Iterator<Item = &[f32; FRAME_LEN]> {
        x.chunks_exact(FRAME_LEN).map(|c| c.try_into().unwrap())
    }

    #[test]
    fn finds_a_delayed_attenuated_copy_and_cancels_it() {
        let n = SAMPLE_RATE as usize * 4;
        let far = talker(n, 1);
        let delay = 700; // 43.75 ms
        let gain = 0.1; // −20 dB
        let near: Vec<f32> = (0..n)
            .map(|i| {
                if i >= delay {
                    gain * far[i - delay]
                } else {
                    0.0
                }
            })
            .collect();
        let mut t = EchoTracker::new(EchoConfig::default());
        for (a, c) in frames(&near).zip(frames(&far)) {
            // Agent leg (0) carries the customer's echo.
            t.push([a, c]);
        }
        let p = t.path(0).expect("an echo path on the agent leg");
        assert_eq!(p.delay, delay, "{p:?}");
        assert!((p.level_db() + 20.0).abs() < 0.5, "{p:?}");
        assert!(t.path(1).is_none(), "the customer leg has no echo");
        let res = t.residual_db(0).unwrap();
        assert!(res < -90.0, "residual {res} dB");
    }

    #[test]
    fn double_talk_keeps_the_near_voice() {
        let n = SAMPLE_RATE as usize * 4;
        let far = talker(n, 1);
        let own = talker(n, 9);
        let delay = 480;
        let echo_only: Vec<f32> = (0..n)
            .map(|i| {
                if i >= delay {
                    0.1 * far[i - delay]
                } else {
                    0.0
                }
            })
            .collect();
        let mut t = EchoTracker::new(EchoConfig::default());
        for (a, c) in frames(&echo_only).zip(frames(&far)) {
            t.push([a, c]);
        }
        assert!(t.path(0).is_some());
        // Now the agent talks too: the residual is the agent's own level.
        let both: Vec<f32> = (0..FRAME_LEN * 10)
            .map(|i| own[i] + 0.1 * far[n - FRAME_LEN * 10 + i - delay])
            .collect();
        let tail = &far[n - FRAME_LEN * 10..];
        let mut last = 0.0;
        for (a, c) in frames(&both).zip(frames(tail)) {
            t.push([a, c]);
            last = t.residual_db(0).unwrap();
        }
        let own_db = crate::dsp::power_db(
            own[FRAME_LEN * 9..FRAME_LEN * 10]
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                / FRAME_LEN as f32,
        );
        assert!(
            (last - own_db).abs() < 3.0,
            "residual {last} vs own {own_db}"
        );
    }

    #[test]
    fn independent_talkers_have_no_path() {
        let n = SAMPLE_RATE as usize * 4;
        let a = talker(n, 3);
        let b: Vec<f32> = talker(n, 5).iter().map(|x| x * 3.0).collect();
        let mut t = EchoTracker::new(EchoConfig::default());
        for (x, y) in frames(&a).zip(frames(&b)) {
            t.push([x, y]);
        }
        assert!(t.path(0).is_none() && t.path(1).is_none());
    }
}
