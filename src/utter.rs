//! VAD-gated utterances: cut each leg's talk spans out of the frame stream
//! for transcription.
//!
//! An utterance is one talk span (see [`crate::signals`]) with
//! [`PRE_ROLL_S`] of audio before it and [`POST_ROLL_S`] after it, so
//! whisper hears word onsets and tails; spans of one leg less than
//! [`CutConfig::join_gap_s`] apart are joined into one utterance (pauses
//! included) while it is shorter than [`CutConfig::join_max_s`]; spans
//! longer than [`MAX_UTTERANCE_S`] are cut into pieces. The span decisions arrive a few
//! frames late (a span is confirmed after 0.1 s and closed after the pause
//! bridge), so the cutter keeps a short ring of recent frames per leg.
//! Buffers are allocated once; emitting an utterance copies its samples.

use crate::asr::Utterance;
use crate::frame::{CallId, FRAME_LEN, FRAME_SECONDS, Leg};
use crate::signals::SignalEvent;

/// Audio kept before a span's first voiced frame, seconds.
pub const PRE_ROLL_S: f64 = 0.2;
/// Audio kept after a span's last voiced frame, seconds.
pub const POST_ROLL_S: f64 = 0.3;
/// Longest utterance handed to the recogniser, seconds.
pub const MAX_UTTERANCE_S: f64 = 25.0;

/// How talk spans become utterances.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CutConfig {
    /// Spans of one leg closer than this are joined into one utterance,
    /// seconds (0: every span its own utterance); a span counts from when
    /// it is confirmed, 0.1 s after it starts. Whisper's cost per
    /// utterance has a fixed part (an encoder pass over at least 5 s), so
    /// phrases of one turn cut apart at every 0.26 s pause cost it far more
    /// than the turn in one piece; a final transcript waits this much longer
    /// after the speaker stops. Measured on the 12 μ-law corpus calls
    /// (`analyze`, base q8_0): 0 s 16.0× real time, WER 7.8 % / 15.0 %,
    /// over-redaction 2.2 %; 0.5 s (default) 20.6×, 9.6 % / 13.8 %, 3.7 %;
    /// 0.8 s 22.0×, 10.4 % / 18.2 %, 4.3 %; every card span masked in all.
    pub join_gap_s: f64,
    /// An utterance this long (seconds) takes no further span.
    pub join_max_s: f64,
}

impl Default for CutConfig {
    fn default() -> Self {
        CutConfig {
            join_gap_s: 0.5,
            join_max_s: 10.0,
        }
    }
}

const HISTORY: usize = 64; // frames (1.28 s) of look-back

fn frames(s: f64) -> u64 {
    (s / FRAME_SECONDS).round() as u64
}

struct LegCutter {
    ring: Box<[[f32; FRAME_LEN]; HISTORY]>,
    /// Sequence number of the newest frame in the ring, if any.
    newest: Option<u64>,
    /// First frame of the utterance being collected.
    start: Option<u64>,
    /// Frame after which to stop (end of span + post-roll), once known.
    stop_at: Option<u64>,
    /// Frame up to which to wait for the speaker to go on before the
    /// utterance is emitted (end of span + join gap).
    hold_to: u64,
    buf: Vec<f32>,
}

impl LegCutter {
    fn new() -> Self {
        LegCutter {
            ring: Box::new([[0.0; FRAME_LEN]; HISTORY]),
            newest: None,
            start: None,
            stop_at: None,
            hold_to: 0,
            buf: Vec::with_capacity(
                (MAX_UTTERANCE_S / FRAME_SECONDS) as usize * FRAME_LEN + FRAME_LEN,
            ),
        }
    }

    /// Emits what was collected from frame `start` up to frame `end` and
    /// empties the buffer.
    fn emit(&mut self, call_id: &CallId, leg: Leg, start: u64, end: u64, out: &mut Vec<Utterance>) {
        let n = ((end.saturating_sub(start)) as usize * FRAME_LEN).min(self.buf.len());
        out.push(Utterance {
            call_id: call_id.clone(),
            leg,
            start_s: start as f64 * FRAME_SECONDS,
            samples: self.buf[..n].to_vec(),
            prime_digits: false,
        });
        self.buf.clear();
    }

    fn frame(&self, seq: u64) -> Option<&[f32; FRAME_LEN]> {
        let newest = self.newest?;
        (seq <= newest && newest - seq < HISTORY as u64)
            .then(|| &self.ring[(seq % HISTORY as u64) as usize])
    }
}

/// Cuts utterances out of both legs of a call.
pub struct UtteranceCutter {
    call_id: CallId,
    legs: [LegCutter; 2],
    join_gap: u64,
    join_max: u64,
}

impl UtteranceCutter {
    /// A cutter for one call.
    pub fn new(call_id: CallId, cfg: &CutConfig) -> Self {
        UtteranceCutter {
            call_id,
            legs: [LegCutter::new(), LegCutter::new()],
            join_gap: frames(cfg.join_gap_s.max(0.0)),
            join_max: frames(cfg.join_max_s.clamp(0.0, MAX_UTTERANCE_S)),
        }
    }

    /// Feeds frame `seq` of `leg` and the signal events of that frame;
    /// finished utterances are appended to `out`.
    pub fn push(
        &mut self,
        leg: Leg,
        seq: u64,
        samples: &[f32; FRAME_LEN],
        events: &[SignalEvent],
        out: &mut Vec<Utterance>,
    ) {
        let i = leg.index();
        {
            let c = &mut self.legs[i];
            c.ring[(seq % HISTORY as u64) as usize] = *samples;
            c.newest = Some(seq);
        }
        for e in events {
            match *e {
                SignalEvent::SpeakingStarted { leg: l, t } if l == leg => {
                    let c = &mut self.legs[i];
                    if let (Some(start), Some(stop)) = (c.start, c.stop_at) {
                        if seq - start < self.join_max {
                            // The speaker goes on within the join gap: the
                            // pause and this span join the utterance.
                            c.stop_at = None;
                        } else {
                            // Long enough already: it ends, the span starts anew.
                            c.emit(&self.call_id, leg, start, stop, out);
                            c.start = None;
                        }
                    }
                    if c.start.is_none() {
                        let first = frames(t).saturating_sub(frames(PRE_ROLL_S));
                        // Whatever of the pre-roll is still in the ring.
                        let first = (first..=seq).find(|&s| c.frame(s).is_some()).unwrap_or(seq);
                        c.start = Some(first);
                        c.stop_at = None;
                        c.buf.clear();
                        for s in first..seq {
                            let f = *c.frame(s).expect("checked in ring");
                            c.buf.extend_from_slice(&f);
                        }
                    }
                }
                SignalEvent::SpeakingStopped { leg: l, t } if l == leg => {
                    let c = &mut self.legs[i];
                    c.stop_at = Some(frames(t) + frames(POST_ROLL_S));
                    c.hold_to = frames(t) + self.join_gap;
                }
                _ => {}
            }
        }
        let c = &mut self.legs[i];
        let Some(start) = c.start else {
            return;
        };
        if seq >= start && (seq - start) as usize * FRAME_LEN >= c.buf.len() {
            c.buf.extend_from_slice(samples);
        }
        let collected_to = start + (c.buf.len() / FRAME_LEN) as u64;
        let done = c.stop_at.is_some_and(|stop| {
            collected_to >= stop
                && (collected_to >= c.hold_to || collected_to - start >= self.join_max)
        });
        let full = collected_to - start >= frames(MAX_UTTERANCE_S);
        if done || full {
            let end = c.stop_at.map_or(collected_to, |s| s.min(collected_to));
            c.emit(&self.call_id, leg, start, end, out);
            if done {
                c.start = None;
                c.stop_at = None;
            } else {
                // A long span goes on: the next piece starts here.
                c.start = Some(collected_to);
            }
        }
    }

    /// The utterance being collected on `leg`: start (seconds) and samples so far.
    pub fn in_progress(&self, leg: Leg) -> Option<(f64, &[f32])> {
        let c = &self.legs[leg.index()];
        let start = c.start?;
        (!c.buf.is_empty()).then_some((start as f64 * FRAME_SECONDS, c.buf.as_slice()))
    }

    /// Ends the call: emits what is being collected.
    pub fn finish(&mut self, out: &mut Vec<Utterance>) {
        for (i, c) in self.legs.iter_mut().enumerate() {
            if let Some(start) = c.start.take()
                && !c.buf.is_empty()
            {
                out.push(Utterance {
                    call_id: self.call_id.clone(),
                    leg: Leg::BOTH[i],
                    start_s: start as f64 * FRAME_SECONDS,
                    samples: std::mem::take(&mut c.buf),
                    prime_digits: false,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: f32) -> [f32; FRAME_LEN] {
        [v; FRAME_LEN]
    }

    #[test]
    fn a_span_is_cut_with_pre_and_post_roll() {
        let mut cut = UtteranceCutter::new("c".into(), &CutConfig::default());
        let mut out = Vec::new();
        // Frame value = its sequence number, so the cut can be checked.
        for seq in 0..200u64 {
            let mut events = Vec::new();
            if seq == 54 {
                events.push(SignalEvent::SpeakingStarted {
                    leg: Leg::Agent,
                    t: 1.0,
                });
            }
            if seq == 113 {
                events.push(SignalEvent::SpeakingStopped {
                    leg: Leg::Agent,
                    t: 2.0,
                });
            }
            cut.push(Leg::Agent, seq, &frame(seq as f32), &events, &mut out);
            cut.push(Leg::Customer, seq, &frame(0.0), &[], &mut out);
        }
        cut.finish(&mut out);
        assert_eq!(out.len(), 1);
        let u = &out[0];
        assert_eq!(u.leg, Leg::Agent);
        assert!((u.start_s - 0.8).abs() < 1e-9, "{}", u.start_s);
        // 0.8 s … 2.3 s: 75 frames, first frame 40, last frame 114.
        assert_eq!(u.samples.len(), 75 * FRAME_LEN);
        assert_eq!(u.samples[0], 40.0);
        assert_eq!(*u.samples.last().unwrap(), 114.0);
    }

    #[test]
    fn long_spans_are_split() {
        let mut cut = UtteranceCutter::new("c".into(), &CutConfig::default());
        let mut out = Vec::new();
        let n = (60.0 / FRAME_SECONDS) as u64;
        for seq in 0..n {
            let events = if seq == 5 {
                vec![SignalEvent::SpeakingStarted {
                    leg: Leg::Customer,
                    t: 0.0,
                }]
            } else {
                vec![]
            };
            cut.push(Leg::Customer, seq, &frame(1.0), &events, &mut out);
        }
        cut.finish(&mut out);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|u| u.duration_s() <= MAX_UTTERANCE_S + 1e-9));
        let total: f64 = out.iter().map(|u| u.duration_s()).sum();
        assert!((total - 60.0).abs() < 0.05, "{total}");
    }

    /// Feeds `secs` of agent frames (value = sequence number) with talk
    /// spans `spans` (start, end seconds) and returns the utterances cut.
    fn cut_spans(cfg: &CutConfig, spans: &[(f64, f64)], secs: f64) -> Vec<Utterance> {
        let mut cut = UtteranceCutter::new("c".into(), cfg);
        let mut out = Vec::new();
        // Events arrive late, as the tracker confirms them: a start 0.1 s
        // after it, an end after the 0.26 s bridge.
        for seq in 0..frames(secs) {
            let mut events = Vec::new();
            for &(a, b) in spans {
                if seq == frames(a + 0.1) {
                    events.push(SignalEvent::SpeakingStarted {
                        leg: Leg::Agent,
                        t: a,
                    });
                }
                if seq == frames(b + 0.26) {
                    events.push(SignalEvent::SpeakingStopped {
                        leg: Leg::Agent,
                        t: b,
                    });
                }
            }
            cut.push(Leg::Agent, seq, &frame(seq as f32), &events, &mut out);
        }
        cut.finish(&mut out);
        out
    }

    #[test]
    fn spans_closer_than_the_join_gap_make_one_utterance() {
        let cfg = CutConfig::default();
        // 0.3 s apart: one utterance from 0.8 s (pre-roll) to 3.6 s
        // (post-roll), the pause included.
        let out = cut_spans(&cfg, &[(1.0, 2.0), (2.3, 3.3)], 8.0);
        assert_eq!(out.len(), 1);
        assert!((out[0].start_s - 0.8).abs() < 1e-9);
        assert!(
            (out[0].duration_s() - 2.8).abs() < 1e-9,
            "{}",
            out[0].duration_s()
        );
        let first = frames(0.8) as f32;
        assert!(
            out[0]
                .samples
                .chunks(FRAME_LEN)
                .enumerate()
                .all(|(k, f)| f[0] == first + k as f32)
        );
        // 1.5 s apart: two.
        let out = cut_spans(&cfg, &[(1.0, 2.0), (3.5, 4.5)], 8.0);
        assert_eq!(out.len(), 2);
        // Joining off: two even 0.3 s apart.
        let off = CutConfig {
            join_gap_s: 0.0,
            ..cfg
        };
        assert_eq!(cut_spans(&off, &[(1.0, 2.0), (2.3, 3.3)], 8.0).len(), 2);
    }

    #[test]
    fn a_long_utterance_takes_no_further_span_and_loses_none() {
        let cfg = CutConfig {
            join_gap_s: 0.5,
            join_max_s: 3.0,
        };
        let out = cut_spans(&cfg, &[(1.0, 4.5), (4.9, 5.9)], 9.0);
        assert_eq!(out.len(), 2);
        // The first ends at its post-roll; the second starts at its pre-roll.
        assert!((out[0].start_s + out[0].duration_s() - 4.8).abs() < 1e-9);
        assert!((out[1].start_s - 4.7).abs() < 1e-9, "{}", out[1].start_s);
        assert!((out[1].duration_s() - 1.5).abs() < 1e-9);
    }
}
