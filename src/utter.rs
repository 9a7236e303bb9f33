//! VAD-gated utterances: cut each leg's talk spans out of the frame stream
//! for transcription.
//!
//! An utterance is one talk span (see [`crate::signals`]) with
//! [`PRE_ROLL_S`] of audio before it and [`POST_ROLL_S`] after it, so
//! whisper hears word onsets and tails; spans longer than
//! [`MAX_UTTERANCE_S`] are cut into pieces. The span decisions arrive a few
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
    buf: Vec<f32>,
}

impl LegCutter {
    fn new() -> Self {
        LegCutter {
            ring: Box::new([[0.0; FRAME_LEN]; HISTORY]),
            newest: None,
            start: None,
            stop_at: None,
            buf: Vec::with_capacity(
                (MAX_UTTERANCE_S / FRAME_SECONDS) as usize * FRAME_LEN + FRAME_LEN,
            ),
        }
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
}

impl UtteranceCutter {
    /// A cutter for one call.
    pub fn new(call_id: CallId) -> Self {
        UtteranceCutter {
            call_id,
            legs: [LegCutter::new(), LegCutter::new()],
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
                    self.legs[i].stop_at = Some(frames(t) + frames(POST_ROLL_S));
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
        let done = c.stop_at.is_some_and(|stop| collected_to >= stop);
        let full = collected_to - start >= frames(MAX_UTTERANCE_S);
        if done || full {
            let end = c.stop_at.map_or(collected_to, |s| s.min(collected_to));
            let n = ((end - start) as usize * FRAME_LEN).min(c.buf.len());
            out.push(Utterance {
                call_id: self.call_id.clone(),
                leg,
                start_s: start as f64 * FRAME_SECONDS,
                samples: c.buf[..n].to_vec(),
            });
            c.buf.clear();
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
        let mut cut = UtteranceCutter::new("c".into());
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
        let mut cut = UtteranceCutter::new("c".into());
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
}
