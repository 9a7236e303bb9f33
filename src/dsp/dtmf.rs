//! DTMF (keypad tone) detection with the Goertzel algorithm.
//!
//! For each 20 ms frame the power at the eight DTMF frequencies is measured.
//! A frame carries a key when the strongest low-group and high-group tones
//! each stand ≥ `GROUP_MARGIN_DB` above the rest of their group, their levels
//! differ by at most `MAX_TWIST_DB` (twist), and together they hold at least
//! `MIN_TONE_SHARE` of the frame's speech-band energy — speech, even very
//! tonal synthetic speech, spreads its energy over other frequencies.
//! [`DtmfDetector`] then requires two consecutive frames with the same key
//! (40 ms, the shortest valid DTMF tone) before reporting a key press.

use crate::frame::{FRAME_LEN, SAMPLE_RATE};

/// Low-group (row) frequencies, Hz.
pub const LOW_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group (column) frequencies, Hz.
pub const HIGH_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
const GROUP_MARGIN_DB: f32 = 6.0;
const MAX_TWIST_DB: f32 = 8.0;
const MIN_TONE_SHARE: f32 = 0.7;
const MIN_LEVEL_DB: f32 = -45.0;

/// Measures the DTMF frequencies in one frame.
#[derive(Debug, Clone)]
pub struct Goertzel {
    coeffs: [f32; 8],
}

impl Default for Goertzel {
    fn default() -> Self {
        Self::new()
    }
}

impl Goertzel {
    /// Precomputes the eight Goertzel coefficients.
    pub fn new() -> Self {
        let mut coeffs = [0.0; 8];
        for (c, hz) in coeffs.iter_mut().zip(LOW_HZ.iter().chain(&HIGH_HZ)) {
            *c = 2.0 * (std::f32::consts::TAU * hz / SAMPLE_RATE as f32).cos();
        }
        Goertzel { coeffs }
    }

    /// Mean-square level of each DTMF frequency in the frame (low group first).
    pub fn powers(&self, samples: &[f32; FRAME_LEN]) -> [f32; 8] {
        let mut out = [0.0f32; 8];
        for (o, &c) in out.iter_mut().zip(&self.coeffs) {
            let (mut s1, mut s2) = (0.0f32, 0.0f32);
            for &x in samples {
                let s = x + c * s1 - s2;
                s2 = s1;
                s1 = s;
            }
            let power = s1 * s1 + s2 * s2 - c * s1 * s2;
            // A sine of amplitude A at the bin centre gives (A·N/2)²; its mean square is A²/2.
            *o = 2.0 * power / (FRAME_LEN * FRAME_LEN) as f32;
        }
        out
    }

    /// The key a frame carries, if any; `band_db` is the frame's speech-band
    /// level from [`super::spectrum::FrameFeatures`].
    pub fn key(&self, samples: &[f32; FRAME_LEN], band_db: f32) -> Option<char> {
        if band_db < MIN_LEVEL_DB {
            return None;
        }
        let p = self.powers(samples);
        let (lo, lo_p) = strongest(&p[..4], GROUP_MARGIN_DB)?;
        let (hi, hi_p) = strongest(&p[4..], GROUP_MARGIN_DB)?;
        let twist = 10.0 * (lo_p / hi_p).log10();
        let band = 10f32.powf(band_db / 10.0);
        if twist.abs() > MAX_TWIST_DB || (lo_p + hi_p) < MIN_TONE_SHARE * band {
            return None;
        }
        Some(KEYS[lo][hi])
    }
}

/// Index and power of the strongest entry if it beats every other by `margin_db`.
fn strongest(p: &[f32], margin_db: f32) -> Option<(usize, f32)> {
    let (i, &best) = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    let ratio = 10f32.powf(margin_db / 10.0);
    p.iter()
        .enumerate()
        .all(|(j, &x)| j == i || x * ratio <= best)
        .then_some((i, best))
}

/// Debounces per-frame keys into key presses.
#[derive(Debug, Clone, Default)]
pub struct DtmfDetector {
    goertzel: Goertzel,
    last: Option<char>,
    run: u32,
}

/// What the detector says about one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DtmfFrame {
    /// The frame carries a key tone (possibly not yet confirmed).
    pub tone: bool,
    /// A key press was confirmed with this frame (reported once per press).
    pub pressed: Option<char>,
}

impl DtmfDetector {
    /// A detector with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the history.
    pub fn reset(&mut self) {
        self.last = None;
        self.run = 0;
    }

    /// Examines one frame.
    pub fn process(&mut self, samples: &[f32; FRAME_LEN], band_db: f32) -> DtmfFrame {
        let key = self.goertzel.key(samples, band_db);
        if key.is_some() && key == self.last {
            self.run += 1;
        } else {
            self.run = u32::from(key.is_some());
        }
        self.last = key;
        DtmfFrame {
            tone: key.is_some(),
            pressed: if self.run == 2 { key } else { None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::spectrum::SpectrumAnalyzer;
    use crate::dsp::spectrum::tests::sines;

    fn band_db(f: &[f32; FRAME_LEN]) -> f32 {
        SpectrumAnalyzer::new().analyze(f).band_db
    }

    #[test]
    fn every_key_is_recognised_up_to_one_percent_off() {
        let g = Goertzel::new();
        for (r, &lo) in LOW_HZ.iter().enumerate() {
            for (c, &hi) in HIGH_HZ.iter().enumerate() {
                for detune in [0.99f32, 1.0, 1.01] {
                    let f = sines(&[(lo * detune, 0.2), (hi * detune, 0.25)], 77);
                    assert_eq!(
                        g.key(&f, band_db(&f)),
                        Some(KEYS[r][c]),
                        "{lo}/{hi} x{detune}"
                    );
                }
            }
        }
    }

    #[test]
    fn single_tones_twisted_pairs_and_harmonic_voices_are_not_keys() {
        let g = Goertzel::new();
        let single = sines(&[(697.0, 0.3)], 0);
        assert_eq!(g.key(&single, band_db(&single)), None);
        let twisted = sines(&[(697.0, 0.3), (1209.0, 0.03)], 0);
        assert_eq!(g.key(&twisted, band_db(&twisted)), None);
        // A voice whose harmonics fall on 700 and 1400 Hz, with its other harmonics.
        let voice: Vec<(f32, f32)> = (1..=24)
            .map(|k| (140.0 * k as f32, if k == 5 || k == 10 { 0.2 } else { 0.04 }))
            .collect();
        let v = sines(&voice, 0);
        assert_eq!(g.key(&v, band_db(&v)), None);
    }

    #[test]
    fn presses_are_confirmed_after_two_frames_once() {
        let mut d = DtmfDetector::new();
        let tone = |k: usize| sines(&[(852.0, 0.2), (1477.0, 0.2)], k * FRAME_LEN);
        let quiet = [0.0f32; FRAME_LEN];
        let mut presses = Vec::new();
        for k in 0..5 {
            let f = tone(k);
            presses.extend(d.process(&f, band_db(&f)).pressed);
        }
        d.process(&quiet, -120.0);
        for k in 0..3 {
            let f = tone(k);
            presses.extend(d.process(&f, band_db(&f)).pressed);
        }
        assert_eq!(presses, vec!['9', '9']);
    }
}
