//! Per-speaker conversation signals, computed frame by frame.
//!
//! [`CallSignals`] takes the VAD decisions of both legs for each 20 ms frame
//! and keeps, without allocating per frame:
//!
//! * **talk spans** per leg: voiced frames with gaps shorter than
//!   `bridge_s` bridged and spans shorter than `min_span_s` (0.1 s) dropped;
//!   **talk time** is their total length. `bridge_s` is 0.26 s: the VAD
//!   keeps quiet word edges down to −45 dBFS, which makes pauses about 40 ms
//!   shorter than a −40 dBFS energy gate sees them, so this matches the usual
//!   "bridge pauses under 0.3 s" rule;
//! * **silences**: gaps of at least `min_silence_s` (2 s) in the union of both
//!   legs' talk and tones (DTMF keys are activity, not silence), including a
//!   silent start or end of the call;
//! * **turns**: a speaker's talk spans less than `turn_gap_s` (1 s) apart —
//!   an utterance with its short pauses;
//! * **interruptions and backchannels**: leg B starts a new turn while leg A
//!   is in the middle of a turn that began earlier (talking, or pausing for
//!   less than `turn_gap_s`). What B does next decides what it was:
//!   - B **takes the floor** — talks for at least `floor_s` (0.8 s of voice)
//!     while the two legs' talk spans overlap for at least `min_overlap_s`
//!     (0.3 s) — or **cuts A off** (A stops while B is talking, does not
//!     resume, and the overlap reached `min_overlap_s`): an **interruption**,
//!     reported at B's start, `by` B `of` A, with the overlap;
//!   - B says something short (less than `floor_s` of voice), falls quiet
//!     for `settle_s` (0.6 s) and A carries on: a **backchannel** ("mm-hm",
//!     "yeah", "right", a laugh) — a listening cue, reported on its own and
//!     never as an interruption. B is then not holding a turn, so B's next
//!     vocalisation is judged afresh;
//!   - anything else (short overlaps where both stop) is neither.
//!
//!   Live, an interruption is known once B has talked `floor_s`, a
//!   backchannel `settle_s` after it ended. The report later demotes an
//!   interruption whose words are only listener tokens (see
//!   [`crate::report::Report::refine_interruptions_with_words`]);
//! * **overtalk**: total time both legs are inside talk spans;
//! * **loudness**: mean power of a leg's voiced frames in dBFS, and a 0–100
//!   score that maps −60 dBFS to 0 and 0 dBFS to 100;
//! * **syllable rate**: energy-envelope peaks (syllable nuclei) per second of
//!   talk time — a talk-speed estimate that needs no transcript.
//!
//! Live consumers get [`SignalEvent`]s as soon as each fact is known; the
//! offline report takes the [`CallSummary`] from [`CallSignals::finish`].

pub mod talk;

use serde::{Deserialize, Serialize};

use crate::dsp::vad::{FrameClass, LegDecision};
use crate::frame::{FRAME_SECONDS, Leg, frames_to_s};
use talk::{LegTalk, Span, TalkChange};

/// Thresholds of the signal definitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalConfig {
    /// Gaps in a leg's voice shorter than this are bridged, seconds.
    pub bridge_s: f64,
    /// Talk spans shorter than this are dropped, seconds.
    pub min_span_s: f64,
    /// Shortest gap in both legs' activity reported as a silence, seconds.
    pub min_silence_s: f64,
    /// Shortest overlap that makes an interruption, seconds.
    pub min_overlap_s: f64,
    /// A speaker's talk spans less than this apart form one turn, seconds.
    pub turn_gap_s: f64,
    /// Voice (seconds of talk spans) with which an overlapping speaker takes
    /// the floor; less than this is a backchannel when the other goes on.
    pub floor_s: f64,
    /// Quiet after a short overlapping vocalisation before it is judged a
    /// backchannel, seconds.
    pub settle_s: f64,
}

impl Default for SignalConfig {
    fn default() -> Self {
        SignalConfig {
            bridge_s: 0.26,
            min_span_s: 0.1,
            min_silence_s: 2.0,
            min_overlap_s: 0.3,
            turn_gap_s: 1.0,
            floor_s: 0.8,
            settle_s: 0.6,
        }
    }
}

fn to_frames(s: f64) -> u64 {
    (s / FRAME_SECONDS).round().max(1.0) as u64
}

/// A fact about the conversation, emitted as soon as it is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SignalEvent {
    /// A leg started talking at `t` (known 0.1 s later).
    SpeakingStarted {
        /// The leg.
        leg: Leg,
        /// Start of the talk span, seconds.
        t: f64,
    },
    /// A leg stopped talking at `t` (known 0.3 s later).
    SpeakingStopped {
        /// The leg.
        leg: Leg,
        /// End of the talk span, seconds.
        t: f64,
    },
    /// `by` cut off `of` at `t`; emitted once the overlap reaches the threshold.
    Interruption {
        /// When the interrupter started, seconds.
        t: f64,
        /// Who interrupted.
        by: Leg,
        /// Who was interrupted.
        of: Leg,
        /// Overlap so far, seconds.
        overlap_s: f64,
    },
    /// `by` made a listening noise ("mm-hm") from `t` to `end` while `of`
    /// went on talking; emitted `settle_s` after it ended.
    Backchannel {
        /// Start of the vocalisation, seconds.
        t: f64,
        /// End of it, seconds.
        end: f64,
        /// Who made it (the listener).
        by: Leg,
        /// Who was talking.
        of: Leg,
    },
    /// Both legs have been quiet since `t` for `min_silence_s`.
    SilenceStarted {
        /// Start of the silence, seconds.
        t: f64,
        /// How long it had lasted when it was announced (`min_silence_s`), seconds.
        after_s: f64,
    },
    /// A silence ended.
    SilenceEnded {
        /// Start of the silence, seconds.
        start: f64,
        /// End of the silence, seconds.
        end: f64,
    },
}

/// One interruption in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interruption {
    /// When the interrupter started, seconds.
    pub t: f64,
    /// Who interrupted.
    pub by: Leg,
    /// Who was interrupted.
    pub of: Leg,
    /// How long both talked together, seconds.
    pub overlap_s: f64,
}

/// One backchannel in the summary: a short listener vocalisation over the
/// other speaker's turn that did not take the floor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backchannel {
    /// Start, seconds.
    pub t: f64,
    /// End, seconds.
    pub end: f64,
    /// Who made it (the listener).
    pub by: Leg,
    /// Who was talking.
    pub of: Leg,
}

impl From<Backchannel> for SignalEvent {
    fn from(b: Backchannel) -> Self {
        SignalEvent::Backchannel {
            t: b.t,
            end: b.end,
            by: b.by,
            of: b.of,
        }
    }
}

/// One silence in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

/// Per-leg totals.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LegSummary {
    /// Total talk time, seconds.
    pub talk_time_s: f64,
    /// Number of talk spans (turns, roughly).
    pub turns: u64,
    /// Mean level of voiced frames, dBFS.
    pub loudness_dbfs: Option<f32>,
    /// Syllable nuclei per second of talk time.
    pub syllables_per_s: Option<f64>,
}

/// Everything [`CallSignals`] measured over a call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallSummary {
    /// Call length, seconds.
    pub duration_s: f64,
    /// Whether the call had two legs.
    pub stereo: bool,
    /// Per leg, agent first (the customer entry is unused for mono calls).
    pub legs: [LegSummary; 2],
    /// Interruptions in time order (empty for mono calls).
    pub interruptions: Vec<Interruption>,
    /// Backchannels in time order (empty for mono calls).
    pub backchannels: Vec<Backchannel>,
    /// Silences in time order.
    pub silences: Vec<Silence>,
    /// Time both legs talked at once, seconds.
    pub overtalk_s: f64,
    /// Time neither leg talked, seconds.
    pub non_talk_s: f64,
}

/// An overlap being watched: `by` started a turn at `start` while the
/// other leg was mid-turn.
#[derive(Debug, Clone, Copy)]
struct Pending {
    by: Leg,
    start: u64,
    /// Overlap of the two legs' closed spans since `start`, frames.
    overlap: u64,
    /// `by`'s voice in closed spans since `start`, frames.
    voiced: u64,
    /// End of `by`'s last closed span since `start`.
    by_end: Option<u64>,
    /// Decided to be an interruption (and announced).
    announced: bool,
}

impl Pending {
    fn interruption(&self, overlap: u64) -> Interruption {
        Interruption {
            t: frames_to_s(self.start),
            by: self.by,
            of: self.by.other(),
            overlap_s: frames_to_s(overlap),
        }
    }
}

impl From<Interruption> for SignalEvent {
    fn from(i: Interruption) -> Self {
        SignalEvent::Interruption {
            t: i.t,
            by: i.by,
            of: i.of,
            overlap_s: i.overlap_s,
        }
    }
}

/// The per-call signal stage. Feed it every frame with [`CallSignals::process`].
pub struct CallSignals {
    stereo: bool,
    min_silence: u64,
    min_overlap: u64,
    turn_gap: u64,
    floor: u64,
    settle: u64,
    legs: [LegTalk; 2],
    pending: Option<Pending>,
    interruptions: Vec<Interruption>,
    backchannels: Vec<Backchannel>,
    silences: Vec<Silence>,
    /// One past the last frame with activity (talk or tone) on any leg.
    last_activity_end: u64,
    silence_open: bool,
    /// Frames where both legs were inside talk spans / either was.
    overtalk_frames: u64,
    union_frames: u64,
    /// Frames processed.
    frames_seen: u64,
    /// Last closed span per leg.
    closed: [Option<Span>; 2],
    /// First frame of each leg's current (or last) turn.
    turn_start: [u64; 2],
    /// Talk spans per leg.
    legs_spans: [u64; 2],
}

impl CallSignals {
    /// A stage for a stereo (`true`) or mono call.
    pub fn new(cfg: &SignalConfig, stereo: bool) -> Self {
        let bridge = to_frames(cfg.bridge_s);
        let min_span = to_frames(cfg.min_span_s);
        CallSignals {
            stereo,
            min_silence: to_frames(cfg.min_silence_s),
            min_overlap: to_frames(cfg.min_overlap_s),
            turn_gap: to_frames(cfg.turn_gap_s),
            floor: to_frames(cfg.floor_s),
            settle: to_frames(cfg.settle_s),
            legs: [
                LegTalk::new(bridge, min_span),
                LegTalk::new(bridge, min_span),
            ],
            pending: None,
            interruptions: Vec::with_capacity(64),
            backchannels: Vec::with_capacity(64),
            silences: Vec::with_capacity(64),
            last_activity_end: 0,
            silence_open: false,
            overtalk_frames: 0,
            union_frames: 0,
            frames_seen: 0,
            closed: [None, None],
            turn_start: [0, 0],
            legs_spans: [0, 0],
        }
    }

    /// Whether `leg` is talking (inside a counted span) right now.
    pub fn is_talking(&self, leg: Leg) -> bool {
        self.legs[leg.index()].current().is_some()
    }

    /// Talk time so far of `leg`, seconds (closed spans plus the open one).
    pub fn talk_time_s(&self, leg: Leg) -> f64 {
        let t = &self.legs[leg.index()];
        frames_to_s(t.talk_frames + t.current().map_or(0, |s| s.len()))
    }

    /// Feeds the decisions for frame `seq` (one per leg; one for mono calls)
    /// and appends the resulting events to `out`.
    pub fn process(&mut self, seq: u64, decisions: &[LegDecision], out: &mut Vec<SignalEvent>) {
        debug_assert_eq!(decisions.len(), if self.stereo { 2 } else { 1 });
        self.frames_seen = seq + 1;
        let mut tone = false;
        for (i, d) in decisions.iter().enumerate() {
            tone |= d.class == FrameClass::Tone;
            let leg = Leg::BOTH[i];
            match self.legs[i].process(seq, d) {
                TalkChange::None => {}
                TalkChange::Started { start } => {
                    out.push(SignalEvent::SpeakingStarted {
                        leg,
                        t: frames_to_s(start),
                    });
                    self.activity_from(start, out);
                    self.on_started(leg, start, out);
                }
                TalkChange::Stopped(span) => {
                    out.push(SignalEvent::SpeakingStopped {
                        leg,
                        t: frames_to_s(span.end),
                    });
                    self.on_stopped(leg, span);
                }
            }
        }
        if tone {
            self.activity_from(seq, out);
        }
        let voiced = (0..decisions.len()).any(|i| self.legs[i].voiced_at(seq));
        if voiced || tone {
            self.last_activity_end = seq + 1;
        }
        if !self.silence_open
            && (seq + 1).saturating_sub(self.last_activity_end) >= self.min_silence
        {
            self.silence_open = true;
            out.push(SignalEvent::SilenceStarted {
                t: frames_to_s(self.last_activity_end),
                after_s: frames_to_s(self.min_silence),
            });
        }
        self.check_pending(seq, out);
    }

    /// Activity (re)starts at frame `start`: closes a silence before it.
    fn activity_from(&mut self, start: u64, out: &mut Vec<SignalEvent>) {
        self.record_silence_until(start, out);
        self.silence_open = false;
        self.last_activity_end = self.last_activity_end.max(start + 1);
    }

    /// Records the gap from the last activity to frame `end` if it is long
    /// enough to be a silence.
    fn record_silence_until(&mut self, end: u64, out: &mut Vec<SignalEvent>) {
        if end.saturating_sub(self.last_activity_end) >= self.min_silence {
            let s = Silence {
                start: frames_to_s(self.last_activity_end),
                end: frames_to_s(end),
            };
            out.push(SignalEvent::SilenceEnded {
                start: s.start,
                end: s.end,
            });
            self.silences.push(s);
        }
    }

    /// Whether leg `i` is in a turn at frame `seq`: talking, or paused for
    /// less than the turn gap.
    fn in_turn(&self, i: usize, seq: u64) -> bool {
        self.legs[i].current().is_some()
            || self.closed[i].is_some_and(|s| seq.saturating_sub(s.end) < self.turn_gap)
    }

    fn on_started(&mut self, leg: Leg, start: u64, out: &mut Vec<SignalEvent>) {
        let (me, other) = (leg.index(), leg.other().index());
        let new_turn = self.closed[me].is_none_or(|s| start.saturating_sub(s.end) >= self.turn_gap);
        if !new_turn {
            return;
        }
        self.turn_start[me] = start;
        if self.stereo && self.in_turn(other, start) && self.turn_start[other] < start {
            if let Some(p) = self.pending.take() {
                self.settle(p, out);
            }
            self.pending = Some(Pending {
                by: leg,
                start,
                overlap: 0,
                voiced: 0,
                by_end: None,
                announced: false,
            });
        }
    }

    fn on_stopped(&mut self, leg: Leg, span: Span) {
        let i = leg.index();
        // Overtalk: a closing span is charged with its overlap with the other
        // leg's open span; a span of the other leg that already closed charged
        // its overlap with this one when it closed.
        let overlap = self.legs[1 - i]
            .current()
            .map_or(0, |o| span.end.saturating_sub(o.start.max(span.start)));
        self.overtalk_frames += overlap;
        self.union_frames += span.len() - overlap;
        self.closed[i] = Some(span);
        self.legs_spans[i] += 1;
        if let Some(p) = &mut self.pending {
            p.overlap += overlap;
            if p.by == leg {
                p.voiced += span.end.saturating_sub(span.start.max(p.start));
                p.by_end = Some(span.end);
            }
        }
    }

    /// Voice of the overlapping leg since the watched overlap began, open span included.
    fn voiced_so_far(&self, p: &Pending) -> u64 {
        p.voiced
            + self.legs[p.by.index()]
                .current()
                .map_or(0, |s| s.end.saturating_sub(s.start.max(p.start)))
    }

    /// Overlap of a watched interruption so far, open spans included.
    fn overlap_so_far(&self, p: &Pending) -> u64 {
        let open = match (self.legs[0].current(), self.legs[1].current()) {
            (Some(a), Some(b)) => a
                .end
                .min(b.end)
                .saturating_sub(a.start.max(b.start).max(p.start)),
            _ => 0,
        };
        p.overlap + open
    }

    fn check_pending(&mut self, seq: u64, out: &mut Vec<SignalEvent>) {
        let Some(mut p) = self.pending else {
            return;
        };
        let (b, a) = (p.by.index(), p.by.other().index());
        let overlap = self.overlap_so_far(&p);
        if !p.announced {
            if overlap >= self.min_overlap && self.voiced_so_far(&p) >= self.floor {
                // B took the floor.
                p.announced = true;
                out.push(p.interruption(overlap).into());
            } else if let Some(by_end) = p
                .by_end
                .filter(|&e| self.legs[b].current().is_none() && seq + 1 - e >= self.settle)
            {
                // B said something short and fell quiet: a backchannel if A
                // went on past it; otherwise wait for A to resume or end.
                let went_on = self.legs[a].current().is_some_and(|s| s.end > by_end)
                    || self.closed[a].is_some_and(|s| s.end > by_end);
                if went_on {
                    self.pending = None;
                    let bc = Backchannel {
                        t: frames_to_s(p.start),
                        end: frames_to_s(by_end),
                        by: p.by,
                        of: p.by.other(),
                    };
                    out.push(bc.clone().into());
                    self.backchannels.push(bc);
                    // B holds no turn: its next vocalisation is judged afresh.
                    self.closed[b] = None;
                    return;
                }
            }
        }
        // The overlap is over when either side's turn is.
        if self.in_turn(0, seq) && self.in_turn(1, seq) {
            self.pending = Some(p);
        } else {
            self.pending = None;
            self.settle(p, out);
        }
    }

    /// Closes a watched overlap: an interruption if B took the floor, or if
    /// A's turn ended under B (A was cut off) with enough overlap.
    fn settle(&mut self, p: Pending, out: &mut Vec<SignalEvent>) {
        let overlap = self.overlap_so_far(&p);
        if overlap >= self.min_overlap {
            let interruption = p.interruption(overlap);
            if !p.announced {
                out.push(interruption.clone().into());
            }
            self.interruptions.push(interruption);
        }
    }

    /// Ends the call at frame `end` (one past the last frame) and returns the totals.
    pub fn finish(mut self, end: u64, out: &mut Vec<SignalEvent>) -> CallSummary {
        let end = end.max(self.frames_seen);
        let legs = if self.stereo { 2 } else { 1 };
        for i in 0..legs {
            if let Some(span) = self.legs[i].finish() {
                out.push(SignalEvent::SpeakingStopped {
                    leg: Leg::BOTH[i],
                    t: frames_to_s(span.end),
                });
                self.on_stopped(Leg::BOTH[i], span);
            }
        }
        if let Some(p) = self.pending.take() {
            self.settle(p, out);
        }
        self.record_silence_until(end, out);
        self.interruptions.sort_by(|a, b| a.t.total_cmp(&b.t));
        self.backchannels.sort_by(|a, b| a.t.total_cmp(&b.t));
        let summary_leg = |t: &LegTalk, spans: u64| {
            let talk = frames_to_s(t.talk_frames);
            LegSummary {
                talk_time_s: talk,
                turns: spans,
                loudness_dbfs: t.loudness_db(),
                syllables_per_s: (talk > 0.0).then(|| t.syllables() as f64 / talk),
            }
        };
        CallSummary {
            duration_s: frames_to_s(end),
            stereo: self.stereo,
            legs: [
                summary_leg(&self.legs[0], self.legs_spans[0]),
                summary_leg(&self.legs[1], self.legs_spans[1]),
            ],
            interruptions: self.interruptions,
            backchannels: self.backchannels,
            silences: self.silences,
            overtalk_s: frames_to_s(self.overtalk_frames),
            non_talk_s: frames_to_s(end.saturating_sub(self.union_frames)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::spectrum::FrameFeatures;

    fn d(class: FrameClass) -> LegDecision {
        let db = if class == FrameClass::Quiet {
            -60.0
        } else {
            -20.0
        };
        LegDecision {
            class,
            features: FrameFeatures {
                level_db: db,
                band_db: db,
            },
            floor_db: -60.0,
            dtmf: Default::default(),
        }
    }

    /// Runs two legs given as (start_s, end_s) talk intervals, plus tone intervals on the customer leg.
    fn run(
        agent: &[(f64, f64)],
        customer: &[(f64, f64)],
        tones: &[(f64, f64)],
        secs: f64,
    ) -> (CallSummary, Vec<SignalEvent>) {
        let mut s = CallSignals::new(&SignalConfig::default(), true);
        let mut out = Vec::new();
        let frames = (secs / FRAME_SECONDS) as u64;
        let inside = |iv: &[(f64, f64)], t: f64| iv.iter().any(|&(a, b)| t >= a && t < b);
        for seq in 0..frames {
            let t = seq as f64 * FRAME_SECONDS + 0.001;
            let a = if inside(agent, t) {
                FrameClass::Speech
            } else {
                FrameClass::Quiet
            };
            let c = if inside(tones, t) {
                FrameClass::Tone
            } else if inside(customer, t) {
                FrameClass::Speech
            } else {
                FrameClass::Quiet
            };
            s.process(seq, &[d(a), d(c)], &mut out);
        }
        let summary = s.finish(frames, &mut out);
        (summary, out)
    }

    #[test]
    fn a_customer_cutting_in_for_a_second_is_an_interruption_of_the_agent() {
        let (sum, events) = run(&[(1.0, 5.0)], &[(4.0, 7.0)], &[], 8.0);
        assert_eq!(sum.interruptions.len(), 1, "{:?}", sum.interruptions);
        let i = &sum.interruptions[0];
        assert_eq!((i.by, i.of), (Leg::Customer, Leg::Agent));
        assert!(
            (i.t - 4.0).abs() < 0.03 && (i.overlap_s - 1.0).abs() < 0.03,
            "{i:?}"
        );
        assert!((sum.overtalk_s - 1.0).abs() < 0.03);
        assert!((sum.legs[0].talk_time_s - 4.0).abs() < 0.03);
        // The live event fires once the overlap reached 0.3 s.
        assert!(events.iter().any(|e| matches!(
            e,
            SignalEvent::Interruption {
                by: Leg::Customer,
                ..
            }
        )));
    }

    #[test]
    fn a_backchannel_is_not_an_interruption() {
        let (sum, events) = run(&[(1.0, 5.0)], &[(2.0, 2.25)], &[], 6.0);
        assert!(sum.interruptions.is_empty(), "{:?}", sum.interruptions);
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, SignalEvent::Interruption { .. }))
        );
    }

    #[test]
    fn a_murmur_the_speaker_talks_past_is_a_backchannel_even_with_long_overlap() {
        // The agent says "mm-hm" for 0.5 s, all of it over the customer, who goes on.
        let (sum, events) = run(&[(3.0, 3.5)], &[(1.0, 6.0)], &[], 8.0);
        assert!(sum.interruptions.is_empty(), "{:?}", sum.interruptions);
        assert_eq!(sum.backchannels.len(), 1, "{:?}", sum.backchannels);
        let b = &sum.backchannels[0];
        assert_eq!((b.by, b.of), (Leg::Agent, Leg::Customer));
        assert!(
            (b.t - 3.0).abs() < 0.03 && (b.end - 3.5).abs() < 0.03,
            "{b:?}"
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, SignalEvent::Backchannel { by: Leg::Agent, .. }))
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, SignalEvent::Interruption { .. }))
        );
    }

    #[test]
    fn several_backchannels_in_one_turn_are_each_counted() {
        let (sum, _) = run(
            &[(2.0, 2.3), (4.0, 4.4), (6.0, 6.2)],
            &[(1.0, 8.0)],
            &[],
            9.0,
        );
        assert!(sum.interruptions.is_empty(), "{:?}", sum.interruptions);
        assert_eq!(sum.backchannels.len(), 3, "{:?}", sum.backchannels);
    }

    #[test]
    fn taking_the_floor_is_an_interruption_announced_once_the_floor_is_taken() {
        // The customer talks over the agent from 4.0 and carries on; the agent stops at 4.6.
        let mut s = CallSignals::new(&SignalConfig::default(), true);
        let mut out = Vec::new();
        let mut announced_at = None;
        for seq in 0..400u64 {
            let t = seq as f64 * FRAME_SECONDS + 0.001;
            let a = if (1.0..4.6).contains(&t) {
                FrameClass::Speech
            } else {
                FrameClass::Quiet
            };
            let c = if (4.0..7.0).contains(&t) {
                FrameClass::Speech
            } else {
                FrameClass::Quiet
            };
            s.process(seq, &[d(a), d(c)], &mut out);
            if announced_at.is_none()
                && out
                    .iter()
                    .any(|e| matches!(e, SignalEvent::Interruption { .. }))
            {
                announced_at = Some(t);
            }
        }
        let sum = s.finish(400, &mut out);
        assert_eq!(sum.interruptions.len(), 1, "{:?}", sum.interruptions);
        assert!(sum.backchannels.is_empty());
        // Known once the customer has talked `floor_s` (0.8 s) — before the agent's turn is over.
        let at = announced_at.expect("announced");
        assert!((4.7..5.0).contains(&at), "announced at {at}");
    }

    #[test]
    fn a_short_cut_in_that_stops_the_speaker_is_an_interruption() {
        // The customer says "wait—" (0.5 s) over the agent, who stops and does not go on.
        let (sum, _) = run(&[(1.0, 4.3)], &[(4.0, 4.5)], &[], 8.0);
        assert_eq!(sum.interruptions.len(), 1, "{:?}", sum.interruptions);
        assert!(sum.backchannels.is_empty());
    }

    #[test]
    fn starting_in_the_others_short_pause_and_overlapping_after_it_counts() {
        // The customer pauses 0.6 s mid-turn; the agent starts in the pause
        // and the customer carries on over the agent.
        let (sum, _) = run(&[(3.3, 5.0)], &[(1.0, 3.0), (3.6, 4.5)], &[], 6.0);
        assert_eq!(sum.interruptions.len(), 1, "{:?}", sum.interruptions);
        assert_eq!(sum.interruptions[0].by, Leg::Agent);
        assert!((sum.interruptions[0].overlap_s - 0.9).abs() < 0.03);
    }

    #[test]
    fn taking_turns_is_not_interrupting() {
        let (sum, _) = run(&[(0.5, 3.0), (6.0, 8.0)], &[(3.4, 5.6)], &[], 9.0);
        assert!(sum.interruptions.is_empty());
        assert_eq!(sum.overtalk_s, 0.0);
    }

    #[test]
    fn silences_are_gaps_in_both_legs_and_tones_break_them() {
        let (sum, events) = run(
            &[(0.5, 2.0), (9.0, 10.0)],
            &[(2.3, 3.0)],
            &[(5.0, 5.1)],
            13.0,
        );
        let got: Vec<(f64, f64)> = sum.silences.iter().map(|s| (s.start, s.end)).collect();
        // 3.0–5.0 (the DTMF tone at 5.0 is activity), 5.12–9.0 (the tone's frames), 10.0–13.0 (end of call).
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            (got[0].0 - 3.0).abs() < 0.03 && (got[0].1 - 5.0).abs() < 0.03,
            "{got:?}"
        );
        assert!((got[1].1 - 9.0).abs() < 0.03, "{got:?}");
        assert!(
            (got[2].0 - 10.0).abs() < 0.03 && (got[2].1 - 13.0).abs() < 0.03,
            "{got:?}"
        );
        // The tone is not talk.
        assert!((sum.legs[1].talk_time_s - 0.7).abs() < 0.03);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, SignalEvent::SilenceStarted { .. }))
        );
    }

    #[test]
    fn mono_calls_have_no_interruptions() {
        let mut s = CallSignals::new(&SignalConfig::default(), false);
        let mut out = Vec::new();
        for seq in 0..200 {
            let class = if (50..150).contains(&seq) {
                FrameClass::Speech
            } else {
                FrameClass::Quiet
            };
            s.process(seq, &[d(class)], &mut out);
        }
        let sum = s.finish(200, &mut out);
        assert!(!sum.stereo && sum.interruptions.is_empty());
        assert!((sum.legs[0].talk_time_s - 2.0).abs() < 0.03);
    }
}
