//! DTMF (keypad tone) detection from each frame's power spectrum.
//!
//! A key tone is one pure sine from the low (row) group plus one from the
//! high (column) group, each within ±3.5 % of its nominal frequency (ITU-T
//! Q.24 lets senders drift that far), lasting 40 ms or more. Speech can put
//! two strong harmonics in those places for a frame or two; what it cannot
//! do is put nearly all its energy there, with no other partials, no
//! harmonics of the two, at a steady pitch. Detection works in two stages:
//!
//! 1. **Per frame** ([`estimate`]): in the 20 ms frame's Hann-windowed
//!    spectrum (from [`super::spectrum`]) the strongest peak of each group
//!    is located to a few hertz by interpolation, so off-nominal tones lose
//!    nothing, and mapped to a row and a column if it lies within
//!    `ACCEPT` (±4 %) of one. The frame is *strong* evidence when the two
//!    tones' lobes hold at least `STRONG_PURITY_DB` more energy than the
//!    rest of the 300–3400 Hz band, their twist is within `MAX_TWIST_DB` and
//!    their second harmonics are weak (`MAX_HARMONIC_DB`); *weak* evidence
//!    (a tone's partial first or last frame, or a frame with some speech
//!    over it) needs only `WEAK_PURITY_DB`.
//! 2. **Over frames** ([`DtmfDetector`]): a key is confirmed by two
//!    consecutive frames, at least one strong, with the same key at the same
//!    frequencies (within `STABLE_REL`) and twist (within
//!    `STABLE_TWIST_DB`). Once confirmed, the tone is followed while either
//!    evidence goes on or the two locked lobes keep their level under
//!    whatever is drowning them, for up to `MAX_BRIDGE` frames; and on
//!    confirmation the detector looks back over up to `MAX_BRIDGE` earlier
//!    frames that already carried the locked tone under speech or noise
//!    ([`DtmfFrame::back`]), so a partly drowned tone is masked whole.

use super::spectrum::{BINS, FFT_LEN, SPEECH_HI, SPEECH_LO};
use crate::frame::SAMPLE_RATE;

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

/// Width of one spectrum bin, Hz (16 kHz / 512 = 31.25 Hz).
const BIN_HZ: f32 = SAMPLE_RATE as f32 / FFT_LEN as f32;
/// Largest relative distance from a nominal frequency still taken as that
/// tone: Q.24 senders may be ±3.5 % off; a further 0.5 % covers the error of
/// estimating a frequency from one 20 ms frame. Neighbouring nominal
/// frequencies are 10.5 % apart, so a tone ±5.5 % off (beyond any sender's
/// tolerance) is 4.5 % from both neighbours and falls outside every window.
const ACCEPT: f32 = 0.04;
/// Half-width of a tone's spectral lobe, bins. The Hann window of a 320-sample
/// frame has its main lobe within ±2 DFT bins of 50 Hz, i.e. ±100 Hz = ±3.2
/// bins of the zero-padded 31.25 Hz spectrum: ±3 bins hold ≥ 99 % of a sine.
const LOBE: usize = 3;
/// First bin searched for a low-group peak (697 Hz − `ACCEPT`).
const LOW_FIRST: usize = (LOW_HZ[0] * (1.0 - ACCEPT) / BIN_HZ) as usize;
/// Last bin searched for a low-group peak (941 Hz + `ACCEPT`).
const LOW_LAST: usize = (LOW_HZ[3] * (1.0 + ACCEPT) / BIN_HZ) as usize + 1;
/// First bin searched for a high-group peak (1209 Hz − `ACCEPT`).
const HIGH_FIRST: usize = (HIGH_HZ[0] * (1.0 - ACCEPT) / BIN_HZ) as usize;
/// Last bin searched for a high-group peak (1633 Hz + `ACCEPT`).
const HIGH_LAST: usize = (HIGH_HZ[3] * (1.0 + ACCEPT) / BIN_HZ) as usize + 1;
/// First bin of the spectrum region kept per frame for looking back: the
/// low search range with its lobes.
const REGION_LO: usize = LOW_FIRST - LOBE - 1;
/// Number of bins kept per frame for looking back (to the high range's lobes).
const REGION_LEN: usize = HIGH_LAST + LOBE + 2 - REGION_LO;

/// Quietest tone taken, mean-square dB per tone (−45 here is a sine of
/// amplitude 0.008, −42 dBFS by peak): 7 dB below the −35 dBFS that keypads
/// must be heard at, and still ≥ 15 dB above a telephone line's noise in
/// a tone's 190 Hz lobe.
const MIN_TONE_DB: f32 = -45.0;
/// Largest level difference between the two tones (twist), dB. Q.24 asks
/// for 8 dB forward (high tone louder) and 4–8 dB reverse; ±8 dB covers both.
const MAX_TWIST_DB: f32 = 8.0;
/// Strong evidence: the two tone lobes must hold this much more energy than
/// the rest of the speech band. Keypad tones in the dev corpus (μ-law) score
/// 31–33 dB, a −35 dBFS tone pair over −55 dBFS line noise about 20 dB;
/// the most tone-like frames of real and synthetic speech in the dev corpus
/// and the real recordings score at most 10.6 dB.
const STRONG_PURITY_DB: f32 = 16.0;
/// Weak evidence (a tone's partial edge frame, or speech over part of the
/// frame): the two lobes hold at least as much as the rest of the band, less
/// 3 dB of slack.
const WEAK_PURITY_DB: f32 = -3.0;
/// Strongest allowed second harmonic (2f lobe) of either tone, dB relative to
/// that tone. Keypads' harmonic distortion is ≤ −20 dB (a telephone line's
/// own distortion adds a few dB); a voice whose harmonics happen to sit on
/// the two frequencies has partials at their doubles as well.
const MAX_HARMONIC_DB: f32 = -15.0;
/// Strongest allowed partial at `2·low − high` or `2·high − low`, dB relative
/// to the weaker tone. Where a voice has two harmonics it has the rest of the
/// series at the same spacing; a keypad's intermodulation products there are
/// −30 dB or less.
const MAX_SERIES_DB: f32 = -20.0;
/// Largest relative frequency change between the two confirming frames. A
/// key tone is a fixed oscillator (estimates agree within about 0.3 %);
/// the pitch of a voice drifts.
const STABLE_REL: f32 = 0.012;
/// Largest twist change between the two confirming frames, dB.
const STABLE_TWIST_DB: f32 = 3.0;
/// While following a confirmed tone, each locked lobe may fall at most this
/// far below the level it was confirmed at (speech over a tone adds to its
/// lobes; only the tone's end takes them down).
const BRIDGE_DROP_DB: f32 = 6.0;
/// While following a confirmed tone, the locked lobes must still hold at
/// least this share of the band relative to the rest, dB: −9 dB keeps a
/// tone under speech up to about 6 dB louder than itself.
const BRIDGE_PURITY_DB: f32 = -9.0;
/// Frames a tone is followed (or looked back over) without fresh evidence of
/// the key: 12 frames, 240 ms. Bounds how much speech after a tone can be
/// masked with it.
pub const MAX_BRIDGE: usize = 12;

/// What the spectrum of one frame says about a possible key tone.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ToneEstimate {
    /// Row and column of the key when both peaks lie within the accepted
    /// distance of a nominal frequency.
    pub key: Option<(usize, usize)>,
    /// Estimated frequency of the strongest low-group peak, Hz.
    pub low_hz: f32,
    /// Estimated frequency of the strongest high-group peak, Hz.
    pub high_hz: f32,
    /// Power in the low peak's lobe (mean square, linear).
    pub low_power: f32,
    /// Power in the high peak's lobe (mean square, linear).
    pub high_power: f32,
    /// Energy of the two lobes over the rest of the speech band, dB.
    pub purity_db: f32,
    /// The stronger second harmonic of the two tones relative to its tone, dB.
    pub harmonic_db: f32,
    /// The stronger of the partials a voice would have next to the pair,
    /// at `2·low − high` and `2·high − low`, relative to the weaker tone, dB.
    pub series_db: f32,
}

/// How far a frame's estimate goes towards a key tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Evidence {
    /// Not a key tone.
    #[default]
    None,
    /// Could be a key tone's edge or a tone under speech.
    Weak,
    /// Two pure tones and hardly anything else.
    Strong,
}

impl ToneEstimate {
    /// The key character, if any. Sensitive: never log or store it.
    pub fn key_char(&self) -> Option<char> {
        self.key.map(|(r, c)| KEYS[r][c])
    }

    /// Level difference low − high, dB.
    pub fn twist_db(&self) -> f32 {
        10.0 * (self.low_power.max(1e-12) / self.high_power.max(1e-12)).log10()
    }

    /// Grades the estimate.
    pub fn evidence(&self) -> Evidence {
        let level = super::power_db(self.low_power.min(self.high_power));
        if self.key.is_none() || level < MIN_TONE_DB || self.twist_db().abs() > MAX_TWIST_DB {
            Evidence::None
        } else if self.purity_db >= STRONG_PURITY_DB
            && self.harmonic_db <= MAX_HARMONIC_DB
            && self.series_db <= MAX_SERIES_DB
        {
            Evidence::Strong
        } else if self.purity_db >= WEAK_PURITY_DB {
            Evidence::Weak
        } else {
            Evidence::None
        }
    }

    /// Whether two frames' estimates could be the same steady key tone.
    fn steady_with(&self, o: &ToneEstimate) -> bool {
        self.key == o.key
            && (self.low_hz - o.low_hz).abs() <= STABLE_REL * self.low_hz
            && (self.high_hz - o.high_hz).abs() <= STABLE_REL * self.high_hz
            && (self.twist_db() - o.twist_db()).abs() <= STABLE_TWIST_DB
    }
}

/// Sum of `power[centre - LOBE ..= centre + LOBE]`.
#[inline]
fn lobe(power: &[f32], centre: usize) -> f32 {
    power[centre - LOBE..=centre + LOBE].iter().sum()
}

/// The strongest local maximum of `power[first..=last]`, its frequency
/// refined by a parabola through the log powers, `(bin, hz)`.
fn peak(power: &[f32; BINS], first: usize, last: usize) -> Option<(usize, f32)> {
    let (mut k, mut best) = (first, power[first]);
    for (i, &p) in power.iter().enumerate().take(last + 1).skip(first + 1) {
        if p > best {
            (k, best) = (i, p);
        }
    }
    // At the edge of the range the peak may belong to energy outside it.
    if best <= 0.0 || power[k - 1] > best || power[k + 1] > best {
        return None;
    }
    let (a, b, c) = (
        power[k - 1].max(1e-20).ln(),
        best.ln(),
        power[k + 1].max(1e-20).ln(),
    );
    let den = a - 2.0 * b + c;
    let delta = if den < 0.0 {
        (0.5 * (a - c) / den).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    Some((k, (k as f32 + delta) * BIN_HZ))
}

/// Index of the nominal frequency within `ACCEPT` of `hz`.
fn nominal(hz: f32, group: &[f32; 4]) -> Option<usize> {
    group.iter().position(|&f| (hz - f).abs() <= ACCEPT * f)
}

/// Looks for a key tone in one frame: `power` is the frame's power spectrum
/// and `band_db` its 300–3400 Hz level, both from
/// [`super::spectrum::SpectrumAnalyzer`]. `None` when the frame is too quiet
/// or has no peak in one of the groups.
pub fn estimate(power: &[f32; BINS], band_db: f32) -> Option<ToneEstimate> {
    if band_db < MIN_TONE_DB {
        return None;
    }
    let (lk, low_hz) = peak(power, LOW_FIRST, LOW_LAST)?;
    let (hk, high_hz) = peak(power, HIGH_FIRST, HIGH_LAST)?;
    let (low_power, high_power) = (lobe(power, lk), lobe(power, hk));
    let band: f32 = power[SPEECH_LO..=SPEECH_HI].iter().sum();
    let rest = (band - low_power - high_power).max(band * 1e-6);
    let purity_db = 10.0 * ((low_power + high_power) / rest).log10();
    // Second harmonics: 2f of the high tone is always free; 2f of the low
    // tone may land on the high tone itself, where it cannot be told apart.
    let h_hi = (2 * hk).min(BINS - 1 - LOBE);
    let mut harmonic_db = super::power_db(lobe(power, h_hi)) - super::power_db(high_power);
    let h_lo = 2 * lk;
    if h_lo.abs_diff(hk) > 2 * LOBE + 1 {
        harmonic_db =
            harmonic_db.max(super::power_db(lobe(power, h_lo)) - super::power_db(low_power));
    }
    // If the pair were two harmonics of a voice, `high − low` would be a
    // multiple of its pitch and the series would go on on both sides.
    let weaker = low_power.min(high_power);
    let mut series_db = -120.0f32;
    for k in [(2 * lk).checked_sub(hk), Some(2 * hk - lk)]
        .into_iter()
        .flatten()
    {
        if (SPEECH_LO + LOBE..=SPEECH_HI - LOBE).contains(&k) {
            series_db = series_db.max(super::power_db(lobe(power, k)) - super::power_db(weaker));
        }
    }
    let key = nominal(low_hz, &LOW_HZ).zip(nominal(high_hz, &HIGH_HZ));
    Some(ToneEstimate {
        key,
        low_hz,
        high_hz,
        low_power,
        high_power,
        purity_db,
        harmonic_db,
        series_db,
    })
}

/// What the detector says about one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DtmfFrame {
    /// The frame is part of a confirmed key tone: audio to mask.
    pub tone: bool,
    /// With the frame that confirms a tone: how many frames before this one
    /// belong to it too (the first frame of the confirming pair and any
    /// drowned frames before it). 0 otherwise.
    pub back: u8,
    /// The frame is strong evidence of a key tone not (yet) confirmed:
    /// activity, not talk, but nothing to mask unless confirmed.
    pub candidate: bool,
    /// A key press was confirmed with this frame (reported once per press).
    /// Sensitive (it may be a card digit): never log or store it.
    pub pressed: Option<char>,
}

/// The tone being followed.
#[derive(Debug, Clone, Copy)]
struct Lock {
    key: (usize, usize),
    low_hz: f32,
    high_hz: f32,
    /// Lobe centres of the two tones, in region coordinates.
    low_bin: usize,
    high_bin: usize,
    low_power: f32,
    high_power: f32,
    /// Frames followed since the last evidence of the key.
    bridged: usize,
}

impl Lock {
    fn new(e: &ToneEstimate, key: (usize, usize)) -> Self {
        let bin = |hz: f32| (hz / BIN_HZ).round() as usize - REGION_LO;
        Lock {
            key,
            low_hz: e.low_hz,
            high_hz: e.high_hz,
            low_bin: bin(e.low_hz),
            high_bin: bin(e.high_hz),
            low_power: e.low_power,
            high_power: e.high_power,
            bridged: 0,
        }
    }

    /// Whether a frame (its spectrum region and band power) still carries
    /// the locked tone, perhaps under something louder.
    fn carried_by(&self, region: &[f32; REGION_LEN], band: f32) -> bool {
        let drop = 10f32.powf(-BRIDGE_DROP_DB / 10.0);
        let (lo, hi) = (lobe(region, self.low_bin), lobe(region, self.high_bin));
        let rest = (band - lo - hi).max(band * 1e-6);
        lo >= drop * self.low_power
            && hi >= drop * self.high_power
            && 10.0 * ((lo + hi) / rest).log10() >= BRIDGE_PURITY_DB
    }

    /// Whether a frame's estimate is fresh evidence of the locked key.
    fn renewed_by(&self, e: &ToneEstimate) -> bool {
        e.key == Some(self.key)
            && (e.low_hz - self.low_hz).abs() <= 2.0 * STABLE_REL * self.low_hz
            && (e.high_hz - self.high_hz).abs() <= 2.0 * STABLE_REL * self.high_hz
    }
}

/// Turns per-frame estimates into confirmed key tones for one leg. Holds the
/// spectra of the last `MAX_BRIDGE` frames in a fixed ring; processing a
/// frame does not allocate.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    /// The previous frame's estimate and its grade.
    prev: Option<(ToneEstimate, Evidence)>,
    lock: Option<Lock>,
    /// Ring of the last frames' spectrum regions and band powers (newest at `head`).
    regions: [[f32; REGION_LEN]; MAX_BRIDGE + 2],
    bands: [f32; MAX_BRIDGE + 2],
    head: usize,
    /// Frames in the ring (up to its length).
    filled: usize,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        DtmfDetector {
            prev: None,
            lock: None,
            regions: [[0.0; REGION_LEN]; MAX_BRIDGE + 2],
            bands: [0.0; MAX_BRIDGE + 2],
            head: 0,
            filled: 0,
        }
    }
}

impl DtmfDetector {
    /// A detector with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the history.
    pub fn reset(&mut self) {
        self.prev = None;
        self.lock = None;
        self.filled = 0;
    }

    /// Examines one frame, given its power spectrum and speech-band level
    /// (both from [`super::spectrum::SpectrumAnalyzer`]).
    pub fn process(&mut self, power: &[f32; BINS], band_db: f32) -> DtmfFrame {
        let est = estimate(power, band_db);
        let ev = est.map_or(Evidence::None, |e| e.evidence());
        let band: f32 = power[SPEECH_LO..=SPEECH_HI].iter().sum();
        let len = self.regions.len();
        self.head = (self.head + 1) % len;
        self.regions[self.head].copy_from_slice(&power[REGION_LO..REGION_LO + REGION_LEN]);
        self.bands[self.head] = band;
        self.filled = (self.filled + 1).min(len);
        let prev = self.prev.replace((est.unwrap_or_default(), ev));

        if let Some(lock) = &mut self.lock {
            let renewed = ev != Evidence::None && est.is_some_and(|e| lock.renewed_by(&e));
            if renewed {
                let e = est.expect("renewed needs an estimate");
                if ev == Evidence::Strong {
                    lock.low_power = lock.low_power.max(e.low_power);
                    lock.high_power = lock.high_power.max(e.high_power);
                }
                lock.bridged = 0;
                return DtmfFrame {
                    tone: true,
                    ..DtmfFrame::default()
                };
            }
            if lock.bridged < MAX_BRIDGE && lock.carried_by(&self.regions[self.head], band) {
                lock.bridged += 1;
                return DtmfFrame {
                    tone: true,
                    ..DtmfFrame::default()
                };
            }
            // The tone has ended; this frame may still start another with the next.
            self.lock = None;
            return DtmfFrame {
                candidate: ev == Evidence::Strong,
                ..DtmfFrame::default()
            };
        }

        let candidate = ev == Evidence::Strong;
        let (Some(e), Some((p, pev))) = (est, prev) else {
            return DtmfFrame {
                candidate,
                ..DtmfFrame::default()
            };
        };
        let confirmed = ev != Evidence::None
            && pev != Evidence::None
            && (ev == Evidence::Strong || pev == Evidence::Strong)
            && e.steady_with(&p);
        let Some(key) = e.key.filter(|_| confirmed) else {
            return DtmfFrame {
                candidate,
                ..DtmfFrame::default()
            };
        };
        // Lock on a strong frame's view of the tone, at the louder level of
        // the two if both are strong.
        let mut lock = Lock::new(if ev == Evidence::Strong { &e } else { &p }, key);
        if ev == Evidence::Strong && pev == Evidence::Strong {
            lock.low_power = lock.low_power.max(p.low_power);
            lock.high_power = lock.high_power.max(p.high_power);
        }
        // Frames before the pair that already carried the tone under speech or noise.
        let mut back = 1;
        while back < MAX_BRIDGE && back + 1 < self.filled {
            let i = (self.head + len - back - 1) % len;
            if !lock.carried_by(&self.regions[i], self.bands[i]) {
                break;
            }
            back += 1;
        }
        self.lock = Some(lock);
        DtmfFrame {
            tone: true,
            back: back as u8,
            candidate: false,
            pressed: Some(KEYS[key.0][key.1]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::spectrum::SpectrumAnalyzer;
    use crate::frame::FRAME_LEN;
    use std::f32::consts::TAU;

    const RATE: f32 = SAMPLE_RATE as f32;

    /// Amplitude of a sine at `dbfs` (a full-scale sine is 0 dBFS).
    fn amp(dbfs: f32) -> f32 {
        10f32.powf(dbfs / 20.0)
    }

    /// Adds a sine from sample `start` for `len` samples.
    fn add_sine(x: &mut [f32], hz: f32, a: f32, start: usize, len: usize) {
        for (i, s) in x.iter_mut().enumerate().skip(start).take(len) {
            *s += a * (TAU * hz * (i - start) as f32 / RATE + 0.3).sin();
        }
    }

    /// Adds white noise of RMS `rms` over `start..start + len`.
    fn add_noise(x: &mut [f32], rms: f32, start: usize, len: usize, seed: u32) {
        let mut s = seed.wrapping_mul(2_654_435_761) | 1;
        for v in x.iter_mut().skip(start).take(len) {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            // Uniform on [-1, 1) has RMS 1/√3.
            *v += rms * 3f32.sqrt() * ((s >> 8) as f32 / (1u32 << 23) as f32 - 1.0);
        }
    }

    /// Adds a voiced sound over `span`: harmonics of `f0` (gliding by
    /// `glide` per second) under formants at `formants` (Hz, bandwidth `bw`),
    /// RMS `rms`.
    fn add_voice(
        x: &mut [f32],
        (f0, glide): (f32, f32),
        formants: &[f32],
        bw: f32,
        rms: f32,
        span: std::ops::Range<usize>,
    ) {
        let (start, len) = (span.start, span.len());
        let n = (3400.0 / f0) as usize;
        let gains: Vec<f32> = (1..=n)
            .map(|k| {
                let f = f0 * k as f32;
                0.05 + formants
                    .iter()
                    .map(|&fm| 1.0 / (1.0 + ((f - fm) / (bw / 2.0)).powi(2)).sqrt())
                    .sum::<f32>()
            })
            .collect();
        let norm = (gains.iter().map(|g| g * g / 2.0).sum::<f32>()).sqrt();
        let mut phase = 0.0f32;
        for (i, v) in x.iter_mut().enumerate().skip(start).take(len) {
            let t = (i - start) as f32 / RATE;
            phase += TAU * f0 * (1.0 + glide * t) / RATE;
            *v += rms / norm
                * gains
                    .iter()
                    .enumerate()
                    .map(|(k, g)| g * ((k + 1) as f32 * phase).sin())
                    .sum::<f32>();
        }
    }

    /// Adds a vowel as a source–filter model: harmonics of `f0` falling at
    /// 6 dB per octave (glottal source and lip radiation) through a cascade
    /// of formant resonances `(hz, bandwidth)`, RMS `rms`.
    fn add_vowel(x: &mut [f32], f0: f32, formants: &[(f32, f32)], rms: f32) {
        let gains: Vec<f32> = (1..=(3400.0 / f0) as usize)
            .map(|k| {
                let f = f0 * k as f32;
                formants.iter().fold(1.0 / k as f32, |g, &(fm, bw)| {
                    g * fm * fm / ((fm * fm - f * f).powi(2) + (f * bw).powi(2)).sqrt()
                })
            })
            .collect();
        let norm = (gains.iter().map(|g| g * g / 2.0).sum::<f32>()).sqrt();
        for (i, v) in x.iter_mut().enumerate() {
            let t = i as f32 / RATE;
            *v += rms / norm
                * gains
                    .iter()
                    .enumerate()
                    .map(|(k, g)| g * (TAU * f0 * (k + 1) as f32 * t + k as f32).sin())
                    .sum::<f32>();
        }
    }

    /// Every key as (row, column).
    fn keys() -> impl Iterator<Item = (usize, usize)> {
        (0..4).flat_map(|r| (0..4).map(move |c| (r, c)))
    }

    /// Runs the detector over a signal; returns the frames' results and the
    /// masked frames (as the pipeline marks them, with `back`).
    fn run(x: &[f32]) -> (Vec<DtmfFrame>, Vec<bool>) {
        let mut a = SpectrumAnalyzer::new();
        let mut d = DtmfDetector::new();
        let mut frames = Vec::new();
        let mut masked = vec![false; x.len() / FRAME_LEN];
        for (n, chunk) in x.chunks_exact(FRAME_LEN).enumerate() {
            let f: &[f32; FRAME_LEN] = chunk.try_into().unwrap();
            let band = a.analyze(f).band_db;
            let r = d.process(a.power(), band);
            if r.tone {
                for m in &mut masked[n - usize::from(r.back)..=n] {
                    *m = true;
                }
            }
            frames.push(r);
        }
        (frames, masked)
    }

    fn presses(frames: &[DtmfFrame]) -> Vec<char> {
        frames.iter().filter_map(|f| f.pressed).collect()
    }

    /// Whether samples `start..start + len` are masked, with the redactor's
    /// 40 ms padding around masked frames.
    fn covered(masked: &[bool], start: usize, len: usize) -> bool {
        let pad = 2 * FRAME_LEN;
        (start..start + len).step_by(16).all(|i| {
            masked
                .iter()
                .enumerate()
                .any(|(n, &m)| m && i + pad >= n * FRAME_LEN && i < (n + 1) * FRAME_LEN + pad)
        })
    }

    /// A key tone `(row, col)` `ms` long from sample `start` in `total` samples
    /// of −60 dBFS noise; frequencies scaled by `1 + off`, the low tone at
    /// `dbfs` and the high one at `dbfs + twist`.
    fn key_tone(
        r: usize,
        c: usize,
        off: f32,
        dbfs: f32,
        twist: f32,
        start: usize,
        ms: usize,
    ) -> Vec<f32> {
        let total = start + ms * 16 + 8 * FRAME_LEN;
        let mut x = vec![0.0; total];
        add_noise(
            &mut x,
            amp(-60.0) / 2f32.sqrt(),
            0,
            total,
            (r * 4 + c) as u32,
        );
        add_sine(&mut x, LOW_HZ[r] * (1.0 + off), amp(dbfs), start, ms * 16);
        add_sine(
            &mut x,
            HIGH_HZ[c] * (1.0 + off),
            amp(dbfs + twist),
            start,
            ms * 16,
        );
        x
    }

    #[test]
    fn every_key_is_masked_within_q24_tolerance_level_and_twist() {
        let mut failures = Vec::new();
        let mut cases = 0;
        for (r, c) in keys() {
            for off in [-0.035f32, -0.02, 0.0, 0.02, 0.035] {
                for (dbfs, twists) in [
                    (-20.0f32, &[-4.0f32, 0.0, 4.0][..]),
                    (-30.0, &[-4.0, 0.0, 4.0]),
                    (-35.0, &[-4.0, 0.0, 4.0]),
                    (-40.0, &[0.0]),
                ] {
                    for &twist in twists {
                        cases += 1;
                        let start = 3 * FRAME_LEN + 37 * (cases % 9);
                        let x = key_tone(r, c, off, dbfs, twist, start, 100);
                        let (frames, masked) = run(&x);
                        let ok =
                            presses(&frames) == vec![KEYS[r][c]] && covered(&masked, start, 1600);
                        if !ok {
                            failures.push(format!(
                                "{} {off:+} {dbfs} dBFS twist {twist:+}: {:?}",
                                KEYS[r][c],
                                presses(&frames)
                            ));
                        }
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {cases} failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn tones_beyond_tolerance_are_not_keys() {
        for (r, c) in keys() {
            for off in [-0.055f32, 0.055] {
                let x = key_tone(r, c, off, -20.0, 0.0, 3 * FRAME_LEN, 200);
                let (frames, masked) = run(&x);
                assert!(
                    presses(&frames).is_empty() && !masked.contains(&true),
                    "{} {off:+}",
                    KEYS[r][c]
                );
            }
        }
    }

    #[test]
    fn forty_ms_tones_are_masked_at_any_alignment() {
        for shift in (0..FRAME_LEN).step_by(20) {
            let start = 3 * FRAME_LEN + shift;
            let x = key_tone(2, 1, 0.02, -30.0, 2.0, start, 40);
            let (frames, masked) = run(&x);
            assert_eq!(presses(&frames), vec!['8'], "shift {shift}");
            assert!(covered(&masked, start, 640), "shift {shift}");
        }
    }

    #[test]
    fn single_tones_twisted_pairs_and_ten_ms_blips_are_not_keys() {
        let total = 12 * FRAME_LEN;
        let mut single = vec![0.0; total];
        add_sine(&mut single, 697.0, 0.3, 0, total);
        let mut twisted = vec![0.0; total];
        add_sine(&mut twisted, 697.0, 0.3, 0, total);
        add_sine(&mut twisted, 1209.0, 0.03, 0, total);
        for x in [
            single,
            twisted,
            key_tone(0, 0, 0.0, -20.0, 0.0, 3 * FRAME_LEN + 100, 10),
        ] {
            let (frames, masked) = run(&x);
            assert!(presses(&frames).is_empty() && !masked.contains(&true));
        }
    }

    #[test]
    fn presses_are_confirmed_once_per_tone() {
        let mut x = key_tone(2, 2, 0.0, -20.0, 0.0, 2 * FRAME_LEN, 100);
        let more = key_tone(2, 2, 0.0, -20.0, 0.0, 0, 60);
        x.extend_from_slice(&more);
        let (frames, _) = run(&x);
        assert_eq!(presses(&frames), vec!['9', '9']);
    }

    #[test]
    fn a_tone_partly_under_speech_or_noise_is_masked_whole() {
        // 300 ms tones at −30 dBFS per tone; over the first or the second
        // half, a voice 3 dB louder than the tones together, or white noise
        // as loud as them.
        let (start, len) = (5 * FRAME_LEN + 90, 4800);
        for (r, c) in [(0, 0), (1, 2), (3, 1), (2, 3)] {
            for first_half in [true, false] {
                for voice in [true, false] {
                    let mut x = key_tone(r, c, 0.02, -30.0, 0.0, start, 300);
                    let over = if first_half { start } else { start + len / 2 };
                    if voice {
                        add_voice(
                            &mut x,
                            (132.0, 0.3),
                            &[650.0, 1200.0, 2500.0],
                            150.0,
                            amp(-24.0),
                            over..over + len / 2,
                        );
                    } else {
                        add_noise(&mut x, amp(-27.0), over, len / 2, 9);
                    }
                    let (frames, masked) = run(&x);
                    let what = format!("{} first half {first_half} voice {voice}", KEYS[r][c]);
                    assert_eq!(presses(&frames), vec![KEYS[r][c]], "{what}");
                    assert!(covered(&masked, start, len), "{what}: {masked:?}");
                }
            }
        }
    }

    #[test]
    fn steady_vowels_with_harmonics_on_keypad_pairs_are_not_tones() {
        // For each key, voices whose pitch puts one harmonic within 3.5 % of
        // the row frequency and another near the column, with narrow formants
        // right on those two harmonics: the hardest voice there is for a
        // detector, steady for 200 ms.
        let mut found = Vec::new();
        for (r, c) in keys() {
            for f0 in (80..=300).step_by(3).map(|f| f as f32) {
                let lo = (LOW_HZ[r] / f0).round() * f0;
                let hi = (HIGH_HZ[c] / f0).round() * f0;
                if (lo / LOW_HZ[r] - 1.0).abs() > 0.035 || (hi / HIGH_HZ[c] - 1.0).abs() > 0.035 {
                    continue;
                }
                let total = 14 * FRAME_LEN;
                let mut x = vec![0.0; total];
                add_noise(&mut x, amp(-60.0), 0, total, 5);
                add_voice(&mut x, (f0, 0.0), &[lo, hi], 60.0, amp(-20.0), 0..total);
                let (frames, masked) = run(&x);
                if !presses(&frames).is_empty() || masked.contains(&true) {
                    found.push(format!("{} f0 {f0}", KEYS[r][c]));
                }
            }
        }
        assert!(found.is_empty(), "voices taken for tones: {found:?}");
    }

    #[test]
    fn vowels_with_formants_on_keypad_pairs_are_not_tones() {
        // Source–filter vowels whose first two formants sit right on the
        // harmonics nearest a row and a column frequency, for every pitch from
        // 80 to 300 Hz that puts such harmonics within 3.5 % of both; and the
        // classic case, f0 = 140 Hz with formants on 700 and 1400 Hz.
        let mut found = Vec::new();
        let mut voices = vec![(140.0, 700.0, 1400.0, '-')];
        for (r, c) in keys() {
            for f0 in (80..=300).map(|f| f as f32) {
                let lo = (LOW_HZ[r] / f0).round() * f0;
                let hi = (HIGH_HZ[c] / f0).round() * f0;
                if (lo / LOW_HZ[r] - 1.0).abs() <= 0.035 && (hi / HIGH_HZ[c] - 1.0).abs() <= 0.035 {
                    voices.push((f0, lo, hi, KEYS[r][c]));
                }
            }
        }
        for &(f0, lo, hi, key) in &voices {
            let total = 14 * FRAME_LEN;
            let mut x = vec![0.0; total];
            add_noise(&mut x, amp(-60.0), 0, total, 5);
            add_vowel(
                &mut x,
                f0,
                &[(lo, 90.0), (hi, 110.0), (2600.0, 160.0), (3300.0, 200.0)],
                amp(-20.0),
            );
            let (frames, masked) = run(&x);
            if !presses(&frames).is_empty() || masked.contains(&true) {
                found.push(format!("{key} f0 {f0}"));
            }
        }
        assert!(
            found.is_empty(),
            "{} of {} vowels taken for tones: {found:?}",
            found.len(),
            voices.len()
        );
    }
}
