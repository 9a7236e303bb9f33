//! The per-call DSP chain, shared by offline analysis and (later) live calls:
//! per-leg conversion → paired frames → VAD → signals.
//!
//! [`CallPipeline`] is synchronous and owns all its buffers; after the first
//! block of a given size, pushing audio allocates nothing.

use std::collections::VecDeque;

use crate::asr::Utterance;
use crate::convert::{ConvertError, LegConverter};
use crate::dsp::vad::{CallVad, LegDecision, VadConfig};
use crate::frame::{CallId, FRAME_LEN, Frame, Leg};
use crate::signals::{CallSignals, CallSummary, SignalConfig, SignalEvent};
use crate::utter::{CutConfig, UtteranceCutter};

/// Settings of the DSP chain.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Voice-activity thresholds.
    pub vad: VadConfig,
    /// Signal definitions.
    pub signals: SignalConfig,
    /// How talk spans become utterances for transcription.
    pub utterances: CutConfig,
}

/// Converts, frames and analyses the audio of one call.
pub struct CallPipeline {
    converters: Vec<LegConverter>,
    queues: [VecDeque<[f32; FRAME_LEN]>; 2],
    vad: CallVad,
    signals: CallSignals,
    seq: u64,
    cut: CutConfig,
    cutter: Option<UtteranceCutter>,
    utterances: Vec<Utterance>,
    call_id: CallId,
    /// Keypad-tone frames per leg: closed spans and the open one.
    tones: Vec<(Leg, u64, u64)>,
    tone_open: [Option<u64>; 2],
}

/// Everything a finished call's pipeline produced.
#[derive(Debug)]
pub struct CallOutput {
    /// The signal totals.
    pub summary: CallSummary,
    /// Utterances for transcription (empty unless [`CallPipeline::cut_utterances`] was called).
    pub utterances: Vec<Utterance>,
    /// Keypad-tone spans `(leg, start_s, end_s)`: audio to mask, digits never kept.
    pub tones: Vec<(Leg, f64, f64)>,
}

impl CallPipeline {
    /// A pipeline for a call with `legs` legs (1 = mono, 2 = agent + customer)
    /// arriving at `rate` Hz.
    pub fn new(
        call_id: CallId,
        legs: usize,
        rate: u32,
        cfg: &PipelineConfig,
    ) -> Result<Self, ConvertError> {
        assert!((1..=2).contains(&legs), "a call has one or two legs");
        let converters = Leg::BOTH[..legs]
            .iter()
            .map(|&leg| LegConverter::new(call_id.clone(), leg, rate))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CallPipeline {
            converters,
            queues: [VecDeque::with_capacity(64), VecDeque::with_capacity(64)],
            vad: CallVad::new(cfg.vad.clone()),
            signals: CallSignals::new(&cfg.signals, legs == 2),
            seq: 0,
            cut: cfg.utterances,
            cutter: None,
            utterances: Vec::new(),
            call_id,
            tones: Vec::new(),
            tone_open: [None, None],
        })
    }

    /// Also cut VAD-gated utterances for transcription; collect them with
    /// [`Self::take_utterances`].
    pub fn cut_utterances(&mut self) {
        self.cutter = Some(UtteranceCutter::new(self.call_id.clone(), &self.cut));
    }

    /// Moves the utterances finished so far into `out`.
    pub fn take_utterances(&mut self, out: &mut Vec<Utterance>) {
        out.append(&mut self.utterances);
    }

    /// Number of legs.
    pub fn legs(&self) -> usize {
        self.converters.len()
    }

    /// Frames analysed so far.
    pub fn frames(&self) -> u64 {
        self.seq
    }

    /// The utterance being collected on `leg` (live partial transcripts):
    /// its start in seconds and its audio so far.
    pub fn utterance_in_progress(&self, leg: Leg) -> Option<(f64, &[f32])> {
        self.cutter.as_ref()?.in_progress(leg)
    }

    /// Keypad-tone spans closed so far, `(leg, start_s, end_s)` in order.
    pub fn closed_tones(&self) -> impl Iterator<Item = (Leg, f64, f64)> + '_ {
        self.tones.iter().map(|&(leg, a, b)| {
            (
                leg,
                crate::frame::frames_to_s(a),
                crate::frame::frames_to_s(b),
            )
        })
    }

    /// Number of keypad-tone spans closed so far.
    pub fn closed_tone_count(&self) -> usize {
        self.tones.len()
    }

    /// The signal stage, for live queries (who is talking, talk time so far).
    pub fn signals(&self) -> &CallSignals {
        &self.signals
    }

    /// Pushes one block of samples per leg (agent first; equal lengths for a
    /// file, any lengths for live legs) and appends the events it causes.
    pub fn push(&mut self, legs: &[&[f32]], out: &mut Vec<SignalEvent>) {
        assert_eq!(legs.len(), self.converters.len(), "one block per leg");
        for (i, (conv, samples)) in self.converters.iter_mut().zip(legs).enumerate() {
            let q = &mut self.queues[i];
            conv.push(samples, &mut |f: &Frame| q.push_back(f.samples));
        }
        self.drain(out);
    }

    fn drain(&mut self, out: &mut Vec<SignalEvent>) {
        if self.converters.len() == 2 {
            while !self.queues[0].is_empty() && !self.queues[1].is_empty() {
                let a = self.queues[0].pop_front().expect("checked non-empty");
                let c = self.queues[1].pop_front().expect("checked non-empty");
                let d: [LegDecision; 2] = self.vad.process_pair(&a, &c);
                self.track_tones(&d);
                let first = out.len();
                self.signals.process(self.seq, &d, out);
                if let Some(cut) = &mut self.cutter {
                    cut.push(
                        Leg::Agent,
                        self.seq,
                        &a,
                        &out[first..],
                        &mut self.utterances,
                    );
                    cut.push(
                        Leg::Customer,
                        self.seq,
                        &c,
                        &out[first..],
                        &mut self.utterances,
                    );
                }
                self.seq += 1;
            }
        } else {
            // Mono: the one speaker is the agent leg, cut, tone-tracked
            // (and so transcribed and redacted) like either leg of a stereo call.
            while let Some(m) = self.queues[0].pop_front() {
                let d = self.vad.process_mono(&m);
                self.track_tones(std::slice::from_ref(&d));
                let first = out.len();
                self.signals
                    .process(self.seq, std::slice::from_ref(&d), out);
                if let Some(cut) = &mut self.cutter {
                    cut.push(
                        Leg::Agent,
                        self.seq,
                        &m,
                        &out[first..],
                        &mut self.utterances,
                    );
                }
                self.seq += 1;
            }
        }
    }

    fn track_tones(&mut self, decisions: &[LegDecision]) {
        for (i, d) in decisions.iter().enumerate() {
            // Only confirmed tones are masked, from the first frame that carried them.
            match (d.dtmf.tone, self.tone_open[i]) {
                (true, None) => {
                    self.tone_open[i] = Some(self.seq.saturating_sub(u64::from(d.dtmf.back)))
                }
                (false, Some(start)) => {
                    self.tones.push((Leg::BOTH[i], start, self.seq));
                    self.tone_open[i] = None;
                }
                _ => {}
            }
        }
    }

    /// Flushes the converters and ends the call, returning everything.
    pub fn finish_all(self, out: &mut Vec<SignalEvent>) -> CallOutput {
        let (summary, utterances, tones) = self.finish_parts(out);
        CallOutput {
            summary,
            utterances,
            tones,
        }
    }

    /// Flushes the converters and ends the call.
    pub fn finish(self, out: &mut Vec<SignalEvent>) -> CallSummary {
        self.finish_parts(out).0
    }

    fn finish_parts(
        mut self,
        out: &mut Vec<SignalEvent>,
    ) -> (CallSummary, Vec<Utterance>, Vec<(Leg, f64, f64)>) {
        for (i, conv) in self.converters.iter_mut().enumerate() {
            let q = &mut self.queues[i];
            conv.finish(&mut |f: &Frame| q.push_back(f.samples));
        }
        // Live legs may end a frame apart: pad the shorter with silence.
        if self.converters.len() == 2 {
            let n = self.queues[0].len().max(self.queues[1].len());
            for q in &mut self.queues {
                q.resize(n, [0.0; FRAME_LEN]);
            }
        }
        self.drain(out);
        let end = self.seq;
        let first = out.len();
        let summary = self.signals.finish(end, out);
        if let Some(cut) = &mut self.cutter {
            // Spans closed by the end of the call.
            let last = end.saturating_sub(1);
            let quiet = [0.0; FRAME_LEN];
            for leg in &Leg::BOTH[..self.converters.len()] {
                cut.push(*leg, last + 1, &quiet, &out[first..], &mut self.utterances);
            }
            cut.finish(&mut self.utterances);
        }
        for (i, open) in self.tone_open.iter().enumerate() {
            if let Some(start) = open {
                self.tones.push((Leg::BOTH[i], *start, end));
            }
        }
        let tones = self
            .tones
            .iter()
            .map(|&(leg, a, b)| {
                (
                    leg,
                    crate::frame::frames_to_s(a),
                    crate::frame::frames_to_s(b),
                )
            })
            .collect();
        (summary, self.utterances, tones)
    }

    /// Ends the call like [`Self::finish`] and also returns the last utterances.
    pub fn finish_with_utterances(
        self,
        out: &mut Vec<SignalEvent>,
        utterances: &mut Vec<Utterance>,
    ) -> CallSummary {
        let (summary, mut rest, _) = self.finish_parts(out);
        utterances.append(&mut rest);
        summary
    }
}
