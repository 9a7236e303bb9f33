//! Per-leg talk spans, loudness and syllable rate.

use crate::dsp::vad::{FrameClass, LegDecision};

/// A stretch of talk on one leg, in frames: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First voiced frame.
    pub start: u64,
    /// One past the last voiced frame.
    pub end: u64,
}

impl Span {
    /// Length in frames.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the span is empty.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// What a [`LegTalk`] reports for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TalkChange {
    /// Nothing new.
    None,
    /// A span became long enough to count as talk; it started at `start`.
    Started {
        /// First voiced frame of the span.
        start: u64,
    },
    /// A counted span ended (its last voiced frame was `span.end - 1`).
    Stopped(Span),
}

/// Turns a leg's frame classes into talk spans: gaps shorter than `bridge`
/// frames are bridged, spans shorter than `min_span` frames are dropped.
#[derive(Debug, Clone)]
pub struct LegTalk {
    bridge: u64,
    min_span: u64,
    open: Option<Span>,
    confirmed: bool,
    /// Frames counted as talk so far (closed spans).
    pub talk_frames: u64,
    /// Power sum and count of voiced frames, for loudness.
    power_sum: f64,
    voiced: u64,
    syllables: SyllableCounter,
    /// Consecutive background frames just before this one.
    faint_run: u64,
}

/// Background frames right before a span that are taken as its onset
/// (a word's first 60 ms is quieter than the talker's level).
const ONSET_FRAMES: u64 = 3;

impl LegTalk {
    /// A tracker bridging gaps shorter than `bridge` frames and dropping spans
    /// shorter than `min_span` frames.
    pub fn new(bridge: u64, min_span: u64) -> Self {
        LegTalk {
            bridge: bridge.max(1),
            min_span: min_span.max(1),
            open: None,
            confirmed: false,
            talk_frames: 0,
            power_sum: 0.0,
            voiced: 0,
            syllables: SyllableCounter::default(),
            faint_run: 0,
        }
    }

    /// The span in progress, if it already counts as talk.
    pub fn current(&self) -> Option<Span> {
        self.open.filter(|_| self.confirmed)
    }

    /// Whether a counted span is open and was voiced in frame `seq`.
    pub fn voiced_at(&self, seq: u64) -> bool {
        self.current().is_some_and(|s| s.end == seq + 1)
    }

    /// Feeds frame `seq`.
    pub fn process(&mut self, seq: u64, d: &LegDecision) -> TalkChange {
        let speech = d.class == FrameClass::Speech;
        if speech {
            self.power_sum += f64::from(10f32.powf(d.features.level_db / 10.0));
            self.voiced += 1;
        }
        if self.open.is_some() || speech {
            self.syllables.process(d.features.band_db, d.floor_db);
        } else {
            self.syllables.rest();
        }
        if d.class == FrameClass::Tone && !self.confirmed {
            // Onset frames of a keypad tone look like speech; a span that is
            // only that is not talk.
            self.open = None;
        }
        let faint_before = self.faint_run;
        self.faint_run = if d.class == FrameClass::Background {
            self.faint_run + 1
        } else {
            0
        };
        match (&mut self.open, speech) {
            (None, false) => TalkChange::None,
            (None, true) => {
                self.open = Some(Span {
                    start: seq - faint_before.min(ONSET_FRAMES).min(seq),
                    end: seq + 1,
                });
                self.confirmed = false;
                self.confirm()
            }
            (Some(span), true) => {
                span.end = seq + 1;
                self.confirm()
            }
            (Some(span), false) => {
                if seq + 1 - span.end >= self.bridge {
                    let span = *span;
                    self.open = None;
                    self.syllables.rest();
                    if self.confirmed {
                        self.talk_frames += span.len();
                        return TalkChange::Stopped(span);
                    }
                }
                TalkChange::None
            }
        }
    }

    fn confirm(&mut self) -> TalkChange {
        match self.open {
            Some(span) if !self.confirmed && span.len() >= self.min_span => {
                self.confirmed = true;
                TalkChange::Started { start: span.start }
            }
            _ => TalkChange::None,
        }
    }

    /// Ends the call: closes the open span if it counts.
    pub fn finish(&mut self) -> Option<Span> {
        let span = self.open.take()?;
        if self.confirmed && span.len() >= self.min_span {
            self.talk_frames += span.len();
            Some(span)
        } else {
            None
        }
    }

    /// Mean level of voiced frames, dBFS; `None` if the leg never spoke.
    pub fn loudness_db(&self) -> Option<f32> {
        (self.voiced > 0)
            .then(|| crate::dsp::power_db((self.power_sum / self.voiced as f64) as f32))
    }

    /// Syllable nuclei counted so far.
    pub fn syllables(&self) -> u64 {
        self.syllables.count
    }
}

/// Counts syllable nuclei: peaks of the speech-band energy envelope that rise
/// and fall by at least `HYSTERESIS_DB` and stand `MIN_PROMINENCE_DB` above
/// the noise floor. Works frame by frame (20 ms), no transcript needed.
#[derive(Debug, Clone, Default)]
struct SyllableCounter {
    count: u64,
    smoothed: Option<f32>,
    rising: bool,
    valley: f32,
    peak: f32,
}

const HYSTERESIS_DB: f32 = 3.0;
const MIN_PROMINENCE_DB: f32 = 10.0;

impl SyllableCounter {
    fn process(&mut self, band_db: f32, floor_db: f32) {
        let e = match self.smoothed {
            Some(prev) => 0.5 * prev + 0.5 * band_db,
            None => {
                self.valley = band_db;
                self.rising = false;
                band_db
            }
        };
        self.smoothed = Some(e);
        if self.rising {
            self.peak = self.peak.max(e);
            if self.peak - e >= HYSTERESIS_DB {
                if self.peak - self.valley >= HYSTERESIS_DB
                    && self.peak >= floor_db + MIN_PROMINENCE_DB
                {
                    self.count += 1;
                }
                self.rising = false;
                self.valley = e;
            }
        } else {
            self.valley = self.valley.min(e);
            if e - self.valley >= HYSTERESIS_DB {
                self.rising = true;
                self.peak = e;
            }
        }
    }

    fn rest(&mut self) {
        if self.rising && self.peak - self.valley >= HYSTERESIS_DB {
            // A nucleus cut off by the end of the span.
            self.count += 1;
        }
        self.smoothed = None;
        self.rising = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::spectrum::FrameFeatures;

    fn decision(speech: bool, db: f32) -> LegDecision {
        LegDecision {
            class: if speech {
                FrameClass::Speech
            } else {
                FrameClass::Quiet
            },
            features: FrameFeatures {
                level_db: db,
                band_db: db,
            },
            floor_db: -60.0,
            dtmf: Default::default(),
        }
    }

    fn run(pattern: &str) -> (Vec<TalkChange>, LegTalk) {
        let mut t = LegTalk::new(15, 5);
        let mut changes = Vec::new();
        for (i, c) in pattern.chars().enumerate() {
            let ch = t.process(
                i as u64,
                &decision(c == '#', if c == '#' { -20.0 } else { -60.0 }),
            );
            if ch != TalkChange::None {
                changes.push(ch);
            }
        }
        if let Some(s) = t.finish() {
            changes.push(TalkChange::Stopped(s));
        }
        (changes, t)
    }

    #[test]
    fn short_gaps_are_bridged_and_blips_dropped() {
        // 10 voiced, 14 quiet (bridged), 10 voiced, 20 quiet, a 4-frame blip, quiet.
        let p = format!(
            "{}{}{}{}{}{}",
            "#".repeat(10),
            ".".repeat(14),
            "#".repeat(10),
            ".".repeat(20),
            "####",
            ".".repeat(30)
        );
        let (changes, t) = run(&p);
        assert_eq!(
            changes,
            vec![
                TalkChange::Started { start: 0 },
                TalkChange::Stopped(Span { start: 0, end: 34 }),
            ]
        );
        assert_eq!(t.talk_frames, 34);
    }

    #[test]
    fn a_gap_of_exactly_the_bridge_splits() {
        let p = format!("{}{}{}", "#".repeat(10), ".".repeat(15), "#".repeat(10));
        let (changes, t) = run(&p);
        assert_eq!(changes.len(), 4, "{changes:?}");
        assert_eq!(t.talk_frames, 20);
    }

    #[test]
    fn syllables_are_counted_from_energy_peaks() {
        let mut t = LegTalk::new(15, 5);
        // 4 "syllables" per second for 2 s: 10-frame cycles of a raised cosine in dB.
        for i in 0..100u64 {
            let phase = (i % 12) as f32 / 12.0 * std::f32::consts::TAU;
            let db = -40.0 + 10.0 * (1.0 - phase.cos());
            t.process(i, &decision(true, db));
        }
        t.finish();
        let n = t.syllables();
        assert!((7..=9).contains(&n), "{n}");
    }
}
