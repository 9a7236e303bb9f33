//! Voice activity per leg, decided frame by frame from both legs together.
//!
//! For each leg a frame is [`FrameClass::Speech`] when
//! 1. its speech-band (300–3400 Hz) energy is at least `snr_db` above the
//!    leg's adaptive noise floor and above `min_level_db`;
//! 2. it is not a keypad tone: frames the [`super::dtmf`] detector recognises
//!    are [`FrameClass::Tone`] (activity, but not talk);
//! 3. it is not bleed: when the other leg was `bleed_margin_db` louder within
//!    the last `bleed_lags` frames and its spectrum matches this one
//!    (correlation ≥ `bleed_corr`), this leg only carries the other party's
//!    echo or crosstalk;
//! 4. it is not background talk: each leg tracks its near talker's level
//!    (`near_db`: up fast on louder speech, down slowly and only from frames
//!    within `BG_BAND_DB` of it, updated by frames finally judged speech)
//!    and the level of voices heard away from the talker's own speech
//!    (`bg_db`); a frame more than `near_margin_db` below the talker, or
//!    not `BG_CLEAR_DB` above that background, is the floor behind the
//!    talker — other agents, a television — not the party on this line
//!    ([`FrameClass::Background`]);
//! 5. it is not line echo: when [`super::echo`] has found that this leg
//!    carries a delayed, attenuated copy of the other, the frame is judged
//!    on what is left after that copy is subtracted.
//!
//! The noise floor follows the band energy down at once and up slowly
//! (`floor_rise_db_per_s`), the usual minimum-tracking scheme: speech has
//! pauses every few hundred milliseconds, noise does not.
//! Hangover and span logic live in [`crate::signals`].

use super::dtmf::{DtmfDetector, DtmfFrame};
use super::echo::{EchoConfig, EchoTracker};
use super::spectrum::{BINS, FrameFeatures, SPEECH_HI, SPEECH_LO, SpectrumAnalyzer};
use crate::frame::{FRAME_LEN, FRAME_SECONDS};

/// How a frame of one leg is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameClass {
    /// Nothing but the noise floor (or the other leg's bleed).
    #[default]
    Quiet,
    /// Someone talking on this leg.
    Speech,
    /// A DTMF key tone. Activity, but not talk.
    Tone,
    /// Voice-like energy far below this leg's near talker: the floor behind
    /// them (other agents, a television). Not talk; a talk span that starts
    /// right after such frames takes a few of them as its onset.
    Background,
}

/// VAD thresholds; the defaults suit telephone audio.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VadConfig {
    /// Required margin of the speech band over the noise floor, dB.
    pub snr_db: f32,
    /// Absolute minimum speech-band level for speech, dBFS.
    pub min_level_db: f32,
    /// How fast the noise floor may rise, dB per second.
    pub floor_rise_db_per_s: f32,
    /// Noise floor assumed at the start of a call, dBFS.
    pub initial_floor_db: f32,
    /// How much louder the other leg must be for this leg to be its bleed, dB.
    pub bleed_margin_db: f32,
    /// Spectral correlation at or above which a quieter leg is the other's bleed.
    pub bleed_corr: f32,
    /// How many frames of echo delay the bleed check looks back (20 ms each).
    pub bleed_lags: usize,
    /// Frames this far below the leg's near-talker level are background, dB
    /// (0 turns the check off).
    pub near_margin_db: f32,
    /// The narrowest that margin gets when there is background talk, dB.
    pub near_margin_min_db: f32,
    /// Extra margin while speech continues (word tails are quieter), dB.
    pub near_hold_db: f32,
    /// Line-echo tracking.
    pub echo: EchoConfig,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            snr_db: 12.0,
            min_level_db: -45.0,
            floor_rise_db_per_s: 3.0,
            initial_floor_db: -65.0,
            bleed_margin_db: 3.0,
            bleed_corr: 0.95,
            bleed_lags: 8,
            near_margin_db: 24.0,
            near_margin_min_db: 16.0,
            near_hold_db: 8.0,
            echo: EchoConfig::default(),
        }
    }
}

/// How fast the near-talker level follows louder speech (per frame).
const NEAR_UP: f32 = 0.1;
/// How fast it follows quieter speech (per frame).
const NEAR_DOWN: f32 = 0.01;
/// How fast the background-talk level follows louder / quieter background
/// frames, and fades over quiet frames (per frame).
const BG_UP: f32 = 0.05;
const BG_DOWN: f32 = 0.005;
const BG_FADE: f32 = 0.002;
/// Frames at least this far below the near talker, and more than
/// `BG_AWAY_FRAMES` (0.5 s) after a frame that was not, feed the
/// background-talk level.
const BG_BAND_DB: f32 = 12.0;
const BG_AWAY_FRAMES: u32 = 25;
/// The extra margin of continuing speech holds this long after the last
/// frame near the talker's level (0.3 s: a word's tail), frames.
const HOLD_FRAMES: u32 = 15;
/// How far above the background-talk level the near talker's threshold stays, dB.
const BG_CLEAR_DB: f32 = 12.0;

/// Maximum bleed look-back, frames.
pub const MAX_BLEED_LAGS: usize = 16;
const CORR_BINS: usize = SPEECH_HI - SPEECH_LO + 1;

/// Result for one leg and one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LegDecision {
    /// The class.
    pub class: FrameClass,
    /// The frame's features.
    pub features: FrameFeatures,
    /// The leg's noise floor after this frame, dBFS.
    pub floor_db: f32,
    /// Keypad tone in this frame, and a key press confirmed with it. The key
    /// is sensitive (it may be a card digit): never log or store it.
    pub dtmf: DtmfFrame,
}

struct LegState {
    analyzer: SpectrumAnalyzer,
    floor_db: f32,
    /// Level of this leg's near talker, dBFS (speech band); `None` before
    /// the first speech.
    near_db: Option<f32>,
    /// Level of background talk behind the near talker, dBFS; `None` until heard.
    bg_db: Option<f32>,
    /// Frames since one within `BG_BAND_DB` of the near talker.
    since_near: u32,
    /// The near-talker threshold of the current frame, dBFS.
    near_threshold: Option<f32>,
    /// Whether the previous frame was speech (continuing speech may be quieter).
    was_speech: bool,
    /// Ring of recent speech-band power spectra and their band levels.
    history: Box<[[f32; CORR_BINS]; MAX_BLEED_LAGS]>,
    history_db: [f32; MAX_BLEED_LAGS],
    head: usize,
    dtmf: DtmfDetector,
    last_dtmf: DtmfFrame,
}

impl LegState {
    fn new(cfg: &VadConfig) -> Self {
        LegState {
            analyzer: SpectrumAnalyzer::new(),
            floor_db: cfg.initial_floor_db,
            near_db: None,
            bg_db: None,
            since_near: 0,
            near_threshold: None,
            was_speech: false,
            history: Box::new([[0.0; CORR_BINS]; MAX_BLEED_LAGS]),
            history_db: [-120.0; MAX_BLEED_LAGS],
            head: 0,
            dtmf: DtmfDetector::new(),
            last_dtmf: DtmfFrame::default(),
        }
    }

    fn reset(&mut self, cfg: &VadConfig) {
        self.floor_db = cfg.initial_floor_db;
        self.near_db = None;
        self.bg_db = None;
        self.since_near = 0;
        self.near_threshold = None;
        self.was_speech = false;
        self.history_db = [-120.0; MAX_BLEED_LAGS];
        self.head = 0;
        self.dtmf.reset();
        self.last_dtmf = DtmfFrame::default();
    }

    /// Analyses a frame, updates the floor and records the spectrum.
    fn observe(
        &mut self,
        samples: &[f32; FRAME_LEN],
        cfg: &VadConfig,
    ) -> (FrameFeatures, FrameClass) {
        let f = self.analyzer.analyze(samples);
        let power: &[f32; BINS] = self.analyzer.power();
        self.head = (self.head + 1) % MAX_BLEED_LAGS;
        self.history[self.head].copy_from_slice(&power[SPEECH_LO..=SPEECH_HI]);
        self.history_db[self.head] = f.band_db;

        let rise = cfg.floor_rise_db_per_s * FRAME_SECONDS as f32;
        self.floor_db = if f.band_db < self.floor_db {
            f.band_db
        } else {
            (self.floor_db + rise).min(f.band_db)
        };
        let loud = f.band_db >= cfg.min_level_db && f.band_db >= self.floor_db + cfg.snr_db;
        let mut background = false;
        if cfg.near_margin_db > 0.0 {
            // The quietest a frame may be and still be the near talker's:
            // `near_margin_db` below their level (more while speech
            // continues shortly after a loud frame: word tails are
            // quieter), but at least
            // `BG_CLEAR_DB` above background talk when there is some, and
            // never less than `near_margin_min_db` below the talker.
            let hold = if self.was_speech && self.since_near <= HOLD_FRAMES {
                cfg.near_hold_db
            } else {
                0.0
            };
            let threshold = self.near_db.map(|near| {
                let mut t = near - cfg.near_margin_db - hold;
                if let Some(bg) = self.bg_db {
                    t = t.max(bg + BG_CLEAR_DB);
                }
                t.min(near - cfg.near_margin_min_db)
            });
            let near = self.near_db;
            if near.is_some_and(|n| f.band_db >= n - BG_BAND_DB) {
                self.since_near = 0;
            } else {
                self.since_near = self.since_near.saturating_add(1);
            }
            if !loud {
                // Background talk pauses too; its level fades slowly.
                if let Some(bg) = self.bg_db.as_mut() {
                    *bg += BG_FADE * (self.floor_db - *bg);
                }
            } else if self.since_near > BG_AWAY_FRAMES {
                // Voice well away from the near talker's speech: the floor behind them.
                let bg = self.bg_db.get_or_insert(self.floor_db);
                let rate = if f.band_db > *bg { BG_UP } else { BG_DOWN };
                *bg += rate * (f.band_db - *bg);
            }
            background = loud && threshold.is_some_and(|t| f.band_db < t);
            self.near_threshold = threshold;
        }
        let was_tone = self.last_dtmf.tone;
        self.last_dtmf = self.dtmf.process(self.analyzer.power(), f.band_db);
        // A tone's first frame, before it is confirmed, is not talk either; and
        // the frame after a tone holds its tail (and the silence after it):
        // loud energy there is still the tone, not talk.
        let tone = self.last_dtmf.tone || self.last_dtmf.candidate || (was_tone && loud);
        let class = match (loud, tone) {
            (false, _) => FrameClass::Quiet,
            (true, true) => FrameClass::Tone,
            (true, false) if background => FrameClass::Background,
            (true, false) => FrameClass::Speech,
        };
        self.was_speech = class == FrameClass::Speech;
        (f, class)
    }

    /// Lets a frame finally judged this leg's speech move the near-talker level.
    /// Only frames within `BG_BAND_DB` of it pull it down, so quieter
    /// voices behind the talker cannot drag it towards themselves.
    fn accept_near(&mut self, band_db: f32) {
        self.near_db = Some(match self.near_db {
            Some(near) if band_db > near => near + NEAR_UP * (band_db - near),
            Some(near) if band_db >= near - BG_BAND_DB => near + NEAR_DOWN * (band_db - near),
            Some(near) => near,
            None => band_db,
        });
    }

    fn current(&self) -> &[f32; CORR_BINS] {
        &self.history[self.head]
    }
}

/// Voice activity for the two legs of a call (or the one leg of a mono call).
pub struct CallVad {
    cfg: VadConfig,
    legs: [LegState; 2],
    echo: EchoTracker,
}

impl CallVad {
    /// A detector with the given thresholds.
    pub fn new(mut cfg: VadConfig) -> Self {
        cfg.bleed_lags = cfg.bleed_lags.clamp(1, MAX_BLEED_LAGS);
        let legs = [LegState::new(&cfg), LegState::new(&cfg)];
        let echo = EchoTracker::new(cfg.echo.clone());
        CallVad { cfg, legs, echo }
    }

    /// Forgets all state, as at the start of a call.
    pub fn reset(&mut self) {
        for leg in &mut self.legs {
            leg.reset(&self.cfg);
        }
        self.echo.reset();
    }

    /// Classifies the frames of both legs at the same media time.
    pub fn process_pair(
        &mut self,
        agent: &[f32; FRAME_LEN],
        customer: &[f32; FRAME_LEN],
    ) -> [LegDecision; 2] {
        let (fa, ca) = self.legs[0].observe(agent, &self.cfg);
        let (fc, cc) = self.legs[1].observe(customer, &self.cfg);
        self.echo.push([agent, customer]);
        let mut classes = [ca, cc];
        for (me, class) in classes.iter_mut().enumerate() {
            if *class == FrameClass::Speech && (self.is_bleed(me) || self.is_echo(me)) {
                *class = FrameClass::Quiet;
            }
            if *class == FrameClass::Speech {
                let band = [fa.band_db, fc.band_db][me];
                self.legs[me].accept_near(band);
            }
        }
        [
            LegDecision {
                class: classes[0],
                features: fa,
                floor_db: self.legs[0].floor_db,
                dtmf: self.legs[0].last_dtmf,
            },
            LegDecision {
                class: classes[1],
                features: fc,
                floor_db: self.legs[1].floor_db,
                dtmf: self.legs[1].last_dtmf,
            },
        ]
    }

    /// Classifies the frame of a single-leg (mono) call.
    pub fn process_mono(&mut self, samples: &[f32; FRAME_LEN]) -> LegDecision {
        let (features, class) = self.legs[0].observe(samples, &self.cfg);
        if class == FrameClass::Speech {
            self.legs[0].accept_near(features.band_db);
        }
        LegDecision {
            class,
            features,
            floor_db: self.legs[0].floor_db,
            dtmf: self.legs[0].last_dtmf,
        }
    }

    /// Whether leg `me`'s current frame is only the other leg's line echo:
    /// with the echo subtracted, what is left is not loud enough for this
    /// leg's talker (or is only the background talk behind them).
    fn is_echo(&self, me: usize) -> bool {
        let leg = &self.legs[me];
        self.echo.residual_db(me).is_some_and(|r| {
            r < self.cfg.min_level_db
                || r < leg.floor_db + self.cfg.snr_db
                || leg.near_threshold.is_some_and(|t| r < t)
        })
    }

    /// The echo path found on leg `me` (0 agent, 1 customer), if any.
    pub fn echo_path(&self, me: usize) -> Option<super::echo::EchoPath> {
        self.echo.path(me)
    }

    /// Whether leg `me`'s current frame is the other leg's echo or crosstalk.
    fn is_bleed(&self, me: usize) -> bool {
        let mine = &self.legs[me];
        let other = &self.legs[1 - me];
        let my_db = mine.history_db[mine.head];
        (0..self.cfg.bleed_lags).any(|lag| {
            let idx = (other.head + MAX_BLEED_LAGS - lag) % MAX_BLEED_LAGS;
            other.history_db[idx] >= my_db + self.cfg.bleed_margin_db
                && correlation(mine.current(), &other.history[idx]) >= self.cfg.bleed_corr
        })
    }
}

/// Pearson correlation of two amplitude spectra (square roots of the powers).
fn correlation(a: &[f32; CORR_BINS], b: &[f32; CORR_BINS]) -> f32 {
    let n = CORR_BINS as f32;
    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for (&pa, &pb) in a.iter().zip(b) {
        let (x, y) = (pa.sqrt(), pb.sqrt());
        sa += x;
        sb += y;
        saa += x * x;
        sbb += y * y;
        sab += x * y;
    }
    let cov = sab - sa * sb / n;
    let var = (saa - sa * sa / n) * (sbb - sb * sb / n);
    if var <= 1e-20 { 0.0 } else { cov / var.sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::spectrum::tests::sines;

    /// A voiced "speech" frame: harmonics of `f0` with a vowel-like envelope,
    /// amplitude `amp`.
    fn voice(f0: f32, amp: f32, offset: usize) -> [f32; FRAME_LEN] {
        let parts: Vec<(f32, f32)> = (1..=(3400.0 / f0) as usize)
            .map(|k| {
                let hz = f0 * k as f32;
                let formant = (-((hz - 700.0) / 400.0).powi(2)).exp()
                    + 0.5 * (-((hz - 1800.0) / 500.0).powi(2)).exp();
                (hz, amp * (0.1 + formant))
            })
            .collect();
        sines(&parts, offset)
    }

    fn noise(amp: f32, seed: &mut u32) -> [f32; FRAME_LEN] {
        let mut f = [0.0; FRAME_LEN];
        for s in f.iter_mut() {
            *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *s = amp * ((*seed >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0);
        }
        f
    }

    fn add(a: &[f32; FRAME_LEN], b: &[f32; FRAME_LEN], gb: f32) -> [f32; FRAME_LEN] {
        let mut out = *a;
        for (o, x) in out.iter_mut().zip(b) {
            *o += gb * x;
        }
        out
    }

    #[test]
    fn speech_over_noise_is_speech_and_noise_is_not() {
        let mut vad = CallVad::new(VadConfig::default());
        let mut seed = 1;
        for i in 0..100 {
            let n = noise(0.002, &mut seed);
            let d = vad.process_mono(&n);
            assert_eq!(d.class, FrameClass::Quiet, "noise frame {i}");
        }
        let d = vad.process_mono(&add(&voice(120.0, 0.05, 0), &noise(0.002, &mut seed), 1.0));
        assert_eq!(d.class, FrameClass::Speech);
    }

    #[test]
    fn floor_adapts_to_louder_noise() {
        let mut vad = CallVad::new(VadConfig::default());
        let mut seed = 7;
        // Noise at about -35 dBFS: classed as speech at first, then the floor catches up.
        let mut last = FrameClass::Speech;
        for _ in 0..(20.0 / FRAME_SECONDS) as usize {
            last = vad.process_mono(&noise(0.03, &mut seed)).class;
        }
        assert_eq!(last, FrameClass::Quiet);
    }

    #[test]
    fn dtmf_is_a_tone_not_speech() {
        let mut vad = CallVad::new(VadConfig::default());
        for k in 0..5 {
            let d = vad.process_mono(&sines(&[(852.0, 0.2), (1477.0, 0.2)], k * FRAME_LEN));
            assert_eq!(d.class, FrameClass::Tone);
        }
    }

    #[test]
    fn crosstalk_a_few_db_down_is_not_speech_but_real_overlap_is() {
        let mut vad = CallVad::new(VadConfig::default());
        let mut seed = 3;
        for k in 0..50 {
            let agent = add(
                &voice(110.0, 0.05, k * FRAME_LEN),
                &noise(0.001, &mut seed),
                1.0,
            );
            // The customer leg hears the agent 6 dB down, 2 frames late.
            let echo = voice(110.0, 0.025, (k.saturating_sub(2)) * FRAME_LEN);
            let customer = add(&echo, &noise(0.001, &mut seed), 1.0);
            let [a, c] = vad.process_pair(&agent, &customer);
            assert_eq!(a.class, FrameClass::Speech, "frame {k}");
            if k >= 2 {
                assert_eq!(c.class, FrameClass::Quiet, "bleed frame {k}");
            }
        }
        // Now the customer really talks over the agent, with a different voice, 6 dB down.
        for k in 50..100 {
            let agent = voice(110.0, 0.05, k * FRAME_LEN);
            let customer = add(
                &voice(210.0, 0.025, k * FRAME_LEN),
                &voice(110.0, 0.01, k * FRAME_LEN),
                1.0,
            );
            let [a, c] = vad.process_pair(&agent, &customer);
            assert_eq!(a.class, FrameClass::Speech);
            assert_eq!(c.class, FrameClass::Speech, "overlap frame {k}");
        }
    }

    #[test]
    fn background_talk_far_below_the_near_talker_is_not_speech() {
        let mut vad = CallVad::new(VadConfig::default());
        let mut seed = 11;
        // The agent talks loudly for 2 s...
        for k in 0..100 {
            let f = add(
                &voice(110.0, 0.3, k * FRAME_LEN),
                &noise(0.0005, &mut seed),
                1.0,
            );
            assert_eq!(vad.process_mono(&f).class, FrameClass::Speech, "frame {k}");
        }
        // ...then only another voice behind them, 28 dB down (still above
        // the absolute speech minimum), for 1.5 s.
        let mut speech = 0;
        for k in 100..175 {
            let f = add(
                &voice(190.0, 0.012, k * FRAME_LEN),
                &noise(0.0005, &mut seed),
                1.0,
            );
            // The first 0.4 s may still pass as the tail of the agent's word.
            if vad.process_mono(&f).class == FrameClass::Speech && k >= 120 {
                speech += 1;
            }
        }
        assert!(speech <= 2, "{speech} background frames counted as speech");
        // The agent is heard again at once.
        let f = voice(110.0, 0.3, 175 * FRAME_LEN);
        assert_eq!(vad.process_mono(&f).class, FrameClass::Speech);
    }

    #[test]
    fn line_echo_twenty_db_down_and_43_ms_late_is_not_the_agent_talking() {
        let mut vad = CallVad::new(VadConfig::default());
        let mut seed = 5;
        let delay = 688; // samples at 16 kHz: 43 ms, not a whole number of frames
        let mut far = Vec::new();
        let mut echo_frames = 0;
        let mut agent_speech = 0;
        for k in 0..300 {
            // The customer talks with syllable-like bursts; the agent leg only carries the echo.
            let amp = if (k / 10) % 3 == 2 { 0.001 } else { 0.08 };
            let cust = add(
                &voice(180.0 + (k % 7) as f32 * 5.0, amp, k * FRAME_LEN),
                &noise(0.0005, &mut seed),
                1.0,
            );
            far.extend_from_slice(&cust);
            let mut agent = noise(0.0005, &mut seed);
            for (i, a) in agent.iter_mut().enumerate() {
                let n = k * FRAME_LEN + i;
                if n >= delay {
                    *a += 0.1 * far[n - delay];
                }
            }
            let [a, _] = vad.process_pair(&agent, &cust);
            if k >= 100 {
                echo_frames += 1;
                agent_speech += usize::from(a.class == FrameClass::Speech);
            }
        }
        assert!(vad.echo_path(0).is_some(), "the echo path is found");
        assert!(
            agent_speech * 20 <= echo_frames,
            "{agent_speech} of {echo_frames} echo frames counted as the agent talking"
        );
    }
}
