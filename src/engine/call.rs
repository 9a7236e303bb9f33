//! One live call, synchronously: audio in, events and transcription jobs out.
//!
//! [`LiveCall`] owns the call's DSP pipeline, the in-memory audio hold and
//! the transcripts so far. It never blocks and never runs whisper: it hands
//! out [`AsrJob`]s and takes their results back, so the actor that drives it
//! (`grpc::server`, or `live::capture` in process) decides what the shared worker pool can take.
//! Signals, KPIs and prompts come from the frames alone and never wait for
//! transcription.
//!
//! ## Ordered release
//!
//! Whisper's workers finish in any order: a customer's short "seven three
//! seven" can be transcribed before the agent's longer "… and the three
//! digits on the back" that makes it a security code. So a final transcript
//! is *released* (sent as a [`LiveEvent::Transcript`]) only when every
//! utterance that started before it ended, on either leg, has been
//! transcribed (or failed): finals still queued for whisper, and the
//! utterance still being spoken or held for the join gap on either leg.
//! Finals that are transcribed but not yet releasable wait in a queue and
//! go out in order of start time as what blocks them clears (on every
//! result, every push and at the end). Each is redacted with everything
//! that started before its end ([`crate::redact::live::final_of`]), so its
//! text does not depend on which worker was quicker. A partial goes out
//! only when the same holds for its end; otherwise it is dropped. Live text
//! also fails closed on numbers (see [`crate::redact::live`]). Transcript
//! prompts come only from released, redacted finals.

use std::collections::BTreeMap;
use tracing::warn;

use super::seal::{CallResult, Redaction, Transcription, redact_and_seal, redact_and_seal_with};
use crate::asr::{AsrError, Transcript, Utterance};
use crate::convert::ConvertError;
use crate::frame::{FRAME_SECONDS, Leg};
use crate::pipeline::{CallOutput, CallPipeline, PipelineConfig};
use crate::redact::Redacted;
use crate::redact::audio::{AudioHold, MaskMethod};
use crate::redact::call::{
    Cleared, Mask, TranscribedUtterance, doubtful_utterances, release_cleared,
};
use crate::redact::detect::{DetectConfig, Kind};
use crate::redact::live::{final_of, partial_of};
use crate::redact::text::UtteranceSpan;
use crate::report::{self, Report, Segment, SourceInfo};
use crate::signals::SignalEvent;
use crate::telemetry;
use crate::utter::PRE_ROLL_S;

use super::kpi::{KpiSnapshot, Kpis, LivePrompt, Prompter};
use crate::rules::Rules;
use crate::rules::coach::Coach;
use std::sync::Arc;

/// Keypad tones closer than this belong to one entry, seconds.
const KEYPAD_GAP_S: f64 = 3.0;

/// Media time after which an utterance that started at `t` is surely known
/// to the cutter: its start includes [`PRE_ROLL_S`] of audio before the
/// speech, and a talk span is confirmed 0.1 s after it starts (plus a frame
/// or two of slack). A transcript ending at `end` is released only once
/// the call has reached `end + SEEN_AFTER_S`, so an utterance of the other
/// leg that started just before `end` cannot be missed.
const SEEN_AFTER_S: f64 = PRE_ROLL_S + 0.2;

/// How a live call is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStart {
    /// The call's identifier (validated by the caller).
    pub call_id: String,
    /// The agent's identifier.
    pub agent_id: String,
    /// The caller's identifier (empty when unknown).
    pub caller_id: String,
    /// When the call started (wall clock).
    pub started_at: std::time::SystemTime,
    /// 1 (agent only) or 2 (agent and customer).
    pub legs: usize,
    /// Input sample rate, Hz.
    pub sample_rate: u32,
    /// Codec description for the report, e.g. `G.711 mu-law (stream)`.
    pub codec: String,
    /// The recording's agent channel (0 or 1), as the input had it.
    pub agent_channel: usize,
}

/// Live-engine settings.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The DSP chain.
    pub pipeline: PipelineConfig,
    /// Redaction detector.
    pub detect: DetectConfig,
    /// Re-decode the utterance in progress this often (media seconds); 0 = no partials.
    pub partial_every_s: f64,
    /// Transcription lag beyond which partials stop and the call says it is lagging, seconds.
    pub max_lag_s: f64,
    /// Transcription lag beyond which the call's transcription is deferred:
    /// for the rest of the call its finished utterances go to whisper only
    /// when no other call's work waits, and whatever is left after the call
    /// ends (still into its events and stored report), so the calls within
    /// bounds keep their live transcripts; seconds, 0 = never.
    pub defer_lag_s: f64,
    /// Prompts, analytics and scorecard rules.
    pub rules: Arc<Rules>,
    /// A stream that sends nothing for this long is ended (stored as
    /// interrupted), seconds.
    pub idle_timeout_s: f64,
    /// How redacted audio is replaced.
    pub mask: MaskMethod,
    /// The whisper model's file name, for the audit trail.
    pub model_name: String,
    /// The redaction frontier ([`HoldConfig`]).
    pub hold: HoldConfig,
}

/// How long a call's audio stays in memory: it leaves (masked) once its
/// redaction is final, and at the latest after [`HoldConfig::max_hold_s`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HoldConfig {
    /// Audio is released in steps of at least this much, media seconds
    /// (the redactor runs over the call's words once per step).
    pub step_s: f64,
    /// Audio older than this leaves the hold whatever is still unsettled
    /// (transcription far behind, a number still being read): what in it is
    /// not settled is masked whole (fail closed), seconds. Bounds a call's
    /// memory: 8 kHz stereo is 3.8 MB a minute.
    pub max_hold_s: f64,
}

impl Default for HoldConfig {
    fn default() -> Self {
        HoldConfig {
            step_s: 10.0,
            max_hold_s: 600.0,
        }
    }
}

impl LiveConfig {
    /// The settings of a live call transcribed and redacted as `t` says.
    pub fn for_transcription(t: &Transcription, pipeline: PipelineConfig) -> Self {
        LiveConfig {
            pipeline,
            detect: t.detect.clone(),
            rules: Arc::clone(&t.rules),
            mask: t.mask,
            model_name: t.model_name.clone(),
            ..LiveConfig::default()
        }
    }
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            pipeline: PipelineConfig::default(),
            detect: DetectConfig::default(),
            partial_every_s: 1.0,
            max_lag_s: 10.0,
            defer_lag_s: 30.0,
            rules: Arc::new(Rules::builtin()),
            idle_timeout_s: 60.0,
            mask: MaskMethod::Silence,
            model_name: "whisper".to_string(),
            hold: HoldConfig::default(),
        }
    }
}

/// Something that happened on the call. Text is always [`Redacted`].
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// A transcript segment; `utterance` is the utterance's start in
    /// milliseconds, shared by its partials and its final.
    Transcript {
        /// The redacted segment.
        segment: Redacted<Segment>,
        /// Final (the utterance ended) or partial.
        is_final: bool,
        /// Utterance key.
        utterance: u64,
    },
    /// A signal from the frames.
    Signal(SignalEvent),
    /// The agent's pace over the last minute of their final transcripts.
    Pace {
        /// Media time, seconds.
        t: f64,
        /// Words per minute.
        wpm: f64,
    },
    /// Advice for the agent.
    Prompt(LivePrompt),
    /// The state of the call, once per media second.
    Kpi(KpiSnapshot),
    /// Something was redacted (never digits).
    Redaction {
        /// What.
        kind: Kind,
        /// Whose leg.
        leg: Leg,
        /// Start, seconds.
        start: f64,
        /// End, seconds.
        end: f64,
        /// Keys of a keypad entry (0 for spoken data).
        keys: u32,
    },
    /// Transcription is behind by `lag_s`; partials are skipped.
    Lagging {
        /// Media seconds the oldest untranscribed utterance has waited since it ended.
        lag_s: f64,
        /// Finished utterances waiting for transcription.
        queued: usize,
        /// Past the defer bound: this call's transcripts now come only when
        /// whisper is otherwise idle, the rest after the call ends.
        deferred: bool,
    },
}

/// Work for the whisper pool.
#[derive(Debug)]
pub struct AsrJob {
    /// Ticket to hand back with the result.
    pub id: u64,
    /// A partial (may be dropped when the pool is busy) or a final (must be done).
    pub partial: bool,
    /// The audio.
    pub utterance: Utterance,
}

/// A live call in progress.
pub struct LiveCall {
    start: LiveStart,
    cfg: LiveConfig,
    pipeline: Option<CallPipeline>,
    output: Option<CallOutput>,
    hold: AudioHold,
    utterances: Vec<TranscribedUtterance>,
    /// Finals not transcribed yet: id → end of the utterance, seconds.
    pending: BTreeMap<u64, f64>,
    /// Finals transcribed (with words) but not released yet: ids.
    held: Vec<usize>,
    /// Partials in flight per leg: (ticket, utterance start, end of the
    /// audio sent).
    partial_inflight: [Option<(u64, f64, f64)>; 2],
    next_partial: u64,
    last_partial_at: [f64; 2],
    kpis: Kpis,
    prompter: Prompter,
    coach: Coach,
    /// Every prompt raised live.
    prompts: Vec<LivePrompt>,
    /// The signal prompts (measurements) among them, carried into the
    /// stored report; its transcript prompts are derived again there.
    signal_prompts: Vec<LivePrompt>,
    next_kpi: f64,
    lagging_since: Option<f64>,
    /// Past the defer bound: finals go to whisper only when it is otherwise
    /// idle, the rest after the call.
    deferred: bool,
    last_lag_notice: f64,
    /// Keypad tones seen and the entry being collected: (first start, last end, keys).
    tones_seen: usize,
    keypad: Option<(Leg, f64, f64, u32)>,
    signal_buf: Vec<SignalEvent>,
    utter_buf: Vec<Utterance>,
    /// Doubtful utterances whose digit-primed second listen is out.
    relisten_out: std::collections::BTreeSet<u64>,
    /// Utterances whose second listen was asked for (once each).
    relisten_asked: Vec<bool>,
    /// Audio released from the hold and not yet taken by the driver.
    cleared: Vec<Cleared>,
    /// Media time of the next release attempt.
    next_release: f64,
    /// Masks added because audio had to leave the hold unsettled.
    forced: Vec<Mask>,
    /// Seconds of audio that left the hold unsettled.
    forced_s: f64,
    /// Finals given up at the hold limit, not yet taken by the driver.
    abandoned: Vec<u64>,
    /// Input not yet pushed, per leg: the engine takes audio in pieces of
    /// one frame's length whatever the blocks it is given, so a file and
    /// the same audio streamed in any chunking give the same call.
    inbuf: Vec<Vec<f32>>,
    /// One piece per leg, reused.
    piece_buf: Vec<Vec<f32>>,
    /// Source samples per piece.
    piece: usize,
    /// What the report says about the source, when not the live default.
    source_name: Option<String>,
    meta: Option<report::CallMeta>,
    warnings: Vec<String>,
}

/// Partial tickets live above this, so they never clash with final ids.
const PARTIAL_BASE: u64 = 1 << 48;
/// Second-listen tickets: this plus the utterance's id.
const RELISTEN_BASE: u64 = 1 << 40;
/// Margin kept behind the redaction frontier for padding and the
/// neighbour rule (a pad, a word's reach, a neighbour gap), seconds.
const FRONTIER_MARGIN_S: f64 = 2.5;

impl LiveCall {
    /// Sets up a call.
    pub fn new(start: LiveStart, cfg: LiveConfig) -> Result<Self, ConvertError> {
        let mut pipeline = CallPipeline::new(
            start.call_id.as_str().into(),
            start.legs,
            start.sample_rate,
            &cfg.pipeline,
        )?;
        pipeline.cut_utterances();
        let legs = start.legs;
        let piece = ((f64::from(start.sample_rate) * FRAME_SECONDS).ceil() as usize).max(1);
        Ok(LiveCall {
            hold: AudioHold::new(start.sample_rate, start.legs),
            prompter: Prompter::new(&cfg.rules),
            coach: Coach::new(Arc::clone(&cfg.rules)),
            start,
            cfg,
            pipeline: Some(pipeline),
            output: None,
            utterances: Vec::new(),
            pending: BTreeMap::new(),
            held: Vec::new(),
            partial_inflight: [None, None],
            next_partial: PARTIAL_BASE,
            last_partial_at: [0.0; 2],
            kpis: Kpis::default(),
            prompts: Vec::new(),
            signal_prompts: Vec::new(),
            next_kpi: 1.0,
            lagging_since: None,
            deferred: false,
            last_lag_notice: f64::NEG_INFINITY,
            tones_seen: 0,
            keypad: None,
            signal_buf: Vec::with_capacity(16),
            utter_buf: Vec::new(),
            relisten_out: std::collections::BTreeSet::new(),
            relisten_asked: Vec::new(),
            cleared: Vec::new(),
            next_release: 0.0,
            forced: Vec::new(),
            forced_s: 0.0,
            abandoned: Vec::new(),
            inbuf: vec![Vec::new(); legs],
            piece_buf: vec![Vec::new(); legs],
            piece,
            source_name: None,
            meta: None,
            warnings: Vec::new(),
        })
    }

    /// The call's set-up.
    pub fn start(&self) -> &LiveStart {
        &self.start
    }

    /// Media time analysed so far, seconds.
    pub fn now(&self) -> f64 {
        self.pipeline.as_ref().map_or(self.hold.duration_s(), |p| {
            p.frames() as f64 * FRAME_SECONDS
        })
    }

    /// How long the oldest final still untranscribed has waited since its
    /// utterance ended, media seconds.
    pub fn lag_s(&self) -> f64 {
        let oldest = self.pending.values().copied().fold(f64::INFINITY, f64::min);
        if oldest.is_finite() {
            (self.now() - oldest).max(0.0)
        } else {
            0.0
        }
    }

    /// Whether the call's transcription is deferred: its lag passed
    /// [`LiveConfig::defer_lag_s`] (it stays so), so its finals wait while
    /// other calls' work does.
    pub fn deferred(&self) -> bool {
        self.deferred
    }

    /// Finals waiting for transcription.
    pub fn pending_finals(&self) -> usize {
        self.pending.len()
    }

    /// Finals transcribed but not released yet (see the module docs).
    pub fn held_finals(&self) -> usize {
        self.held.len()
    }

    /// The KPIs now.
    pub fn snapshot(&self) -> KpiSnapshot {
        let talk = self.pipeline.as_ref().map_or([0.0; 2], |p| {
            [
                p.signals().talk_time_s(Leg::Agent),
                p.signals().talk_time_s(Leg::Customer),
            ]
        });
        self.kpis.snapshot(self.now(), talk, self.lag_s())
    }

    /// Prompts raised so far.
    pub fn prompts(&self) -> &[LivePrompt] {
        &self.prompts
    }

    /// Pushes one block per leg (agent first); appends the events it causes
    /// and the transcription work it creates.
    pub fn push(&mut self, legs: &[&[f32]], out: &mut Vec<LiveEvent>, jobs: &mut Vec<AsrJob>) {
        if self.pipeline.is_none() {
            return;
        }
        for (buf, block) in self.inbuf.iter_mut().zip(legs) {
            buf.extend_from_slice(block);
        }
        while self.inbuf.iter().map(Vec::len).min().unwrap_or(0) >= self.piece {
            self.push_piece(self.piece, out, jobs);
        }
    }

    /// Pushes the first `n` samples of every leg's input (a leg with fewer
    /// is padded with silence).
    fn push_piece(&mut self, n: usize, out: &mut Vec<LiveEvent>, jobs: &mut Vec<AsrJob>) {
        let mut pieces = std::mem::take(&mut self.piece_buf);
        for (piece, buf) in pieces.iter_mut().zip(self.inbuf.iter_mut()) {
            piece.clear();
            let k = n.min(buf.len());
            piece.extend(buf.drain(..k));
            piece.resize(n, 0.0);
        }
        {
            let legs: [&[f32]; 2] = [
                pieces[0].as_slice(),
                pieces.get(1).map_or(&[][..], Vec::as_slice),
            ];
            self.push_now(&legs[..pieces.len()], out, jobs);
        }
        self.piece_buf = pieces;
    }

    fn push_now(&mut self, legs: &[&[f32]], out: &mut Vec<LiveEvent>, jobs: &mut Vec<AsrJob>) {
        let Some(p) = self.pipeline.as_mut() else {
            return;
        };
        self.hold.push(legs);
        self.signal_buf.clear();
        let before = p.frames();
        p.push(legs, &mut self.signal_buf);
        telemetry::frames((p.frames() - before) * self.start.legs as u64);
        p.take_utterances(&mut self.utter_buf);
        let events = std::mem::take(&mut self.signal_buf);
        for e in &events {
            self.kpis.on_signal(e);
            out.push(LiveEvent::Signal(e.clone()));
        }
        self.signal_buf = events;
        self.queue_finals(jobs);
        self.release(out);
        self.track_keypad(out, false);
        let now = self.now();
        while now >= self.next_kpi {
            self.next_kpi += 1.0;
            let snap = self.snapshot();
            let mut prompts = Vec::new();
            self.prompter
                .check(now, &mut self.kpis, &snap, &mut prompts);
            self.signal_prompts.extend(prompts.iter().cloned());
            self.coach.tick(now, &mut self.prompter, &mut prompts);
            for pr in prompts {
                self.prompts.push(pr.clone());
                out.push(LiveEvent::Prompt(pr));
            }
            out.push(LiveEvent::Kpi(snap));
        }
        self.check_lag(now, out);
        if self.lagging_since.is_none() {
            self.queue_partials(now, jobs);
        }
        self.advance_frontier(jobs);
    }

    /// Moves the redaction frontier now if it can (after transcripts came
    /// back; pushes do it on their own), queuing the second listens it
    /// needs.
    pub fn settle(&mut self, jobs: &mut Vec<AsrJob>) {
        if self.pipeline.is_some() {
            self.next_release = 0.0;
            self.advance_frontier(jobs);
        }
    }

    /// Audio that left the hold since the last call, masked (write it in
    /// order; see [`Cleared::late`]).
    pub fn take_cleared(&mut self) -> Vec<Cleared> {
        std::mem::take(&mut self.cleared)
    }

    /// Finals given up at the hold limit since the last call: drop their
    /// jobs if still queued (a result that comes anyway is ignored).
    pub fn take_abandoned(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.abandoned)
    }

    /// Seconds of audio held in memory now.
    pub fn held_s(&self) -> f64 {
        self.hold.duration_s() - self.hold.start_s()
    }

    /// The redaction frontier: call time before which nothing still to come
    /// (an utterance being spoken or transcribed, a second listen, a keypad
    /// entry, a digit string still being read) can change what is masked.
    /// A cue reaches back [`DetectConfig::lookback_s`] from its utterance's
    /// start; digit groups join across pauses of up to
    /// [`DetectConfig::split_gap_s`], so an open string holds the frontier
    /// at its first group.
    fn frontier(&self) -> f64 {
        let now = self.now();
        // Everything before `known` is transcribed.
        let mut known = now - SEEN_AFTER_S;
        let relistens = self.relisten_out.iter().map(|id| id - RELISTEN_BASE);
        for id in self.pending.keys().copied().chain(relistens) {
            known = known.min(self.utterances[id as usize].span.start);
        }
        if let Some(p) = self.pipeline.as_ref() {
            for leg in &Leg::BOTH[..self.start.legs] {
                if let Some((s, _)) = p.utterance_in_progress(*leg) {
                    known = known.min(s);
                }
            }
        }
        if let Some((_, a, _, _)) = self.keypad {
            known = known.min(a);
        }
        // Digit strings still open at `known`, followed back group by group
        // on each leg as the detector joins them: number-bearing utterances
        // of one leg with pauses of up to `split_gap_s` between them, the
        // other leg's turns and short fillers ("okay", "hang on") not
        // counting; any other utterance of the leg ends the string.
        let cfg = &self.cfg.detect;
        let mut chain = known;
        let held_from = self.hold.start_s() - cfg.split_gap_s;
        for leg in &Leg::BOTH[..self.start.legs] {
            let mut mine: Vec<&TranscribedUtterance> = self
                .utterances
                .iter()
                .filter(|tu| {
                    tu.span.leg == *leg && tu.span.end >= held_from && tu.span.start < known
                })
                .collect();
            mine.sort_by(|a, b| a.span.start.total_cmp(&b.span.start));
            let mut joined_at = known;
            for tu in mine.iter().rev() {
                if numberish(tu, cfg) {
                    if joined_at - tu.span.end > cfg.split_gap_s {
                        break;
                    }
                    joined_at = tu.span.start;
                    chain = chain.min(joined_at);
                } else if !filler(tu) {
                    break;
                }
            }
        }
        tracing::debug!(now, known, chain, "frontier");
        (known - cfg.lookback_s).min(chain) - FRONTIER_MARGIN_S
    }

    /// Releases the audio behind the frontier (see [`Self::frontier`]),
    /// masked, once a step of it is there; asks for the second listens the
    /// audio about to go needs first. Audio older than
    /// [`HoldConfig::max_hold_s`] goes whatever is unsettled: what in it is
    /// not settled is masked whole.
    fn advance_frontier(&mut self, jobs: &mut Vec<AsrJob>) {
        let now = self.now();
        if now < self.next_release {
            return;
        }
        self.next_release = now + self.cfg.hold.step_s.max(0.5) / 2.0;
        let from = self.hold.start_s();
        let mut upto = self.frontier();
        let cap = now - self.cfg.hold.max_hold_s;
        if upto.max(cap) - from < self.cfg.hold.step_s {
            return;
        }
        let tones: Vec<(Leg, f64, f64)> = match &self.pipeline {
            Some(p) => p.closed_tones().collect(),
            None => return,
        };
        for u in doubtful_utterances(&self.utterances, &tones, &self.cfg.detect) {
            let span = self.utterances[u].span;
            if span.start >= upto || self.utterances[u].relisten.is_some() {
                continue;
            }
            self.relisten_asked.resize(self.utterances.len(), false);
            let id = RELISTEN_BASE + u as u64;
            if !self.relisten_asked[u]
                && let Some(mut again) = self.hold.utterance(
                    &self.start.call_id.as_str().into(),
                    span.leg,
                    span.start,
                    span.end,
                )
            {
                self.relisten_asked[u] = true;
                again.prime_digits = true;
                self.relisten_out.insert(id);
                jobs.push(AsrJob {
                    id,
                    partial: false,
                    utterance: again,
                });
            }
            if self.relisten_out.contains(&id) {
                upto = upto.min(span.start - FRONTIER_MARGIN_S);
            }
        }
        let mut extra = Vec::new();
        if upto < cap {
            extra = self.unsettled_masks(from, cap);
            self.forced_s += cap - upto.max(from);
            telemetry::error("hold_limit");
            warn!(
                held_s = now - from,
                "audio left the hold before its redaction settled: masked whole where unsettled"
            );
            self.forced.extend(extra.iter().cloned());
            // Finals still waiting for whisper whose audio goes now are
            // given up: masked whole above, and with no transcript their
            // text is redacted whole too. Their queued jobs can go
            // ([`Self::take_abandoned`]), so an overloaded server does not
            // keep their audio either.
            let gone: Vec<u64> = self
                .pending
                .keys()
                .copied()
                .filter(|&id| self.utterances[id as usize].span.start < cap)
                .collect();
            for id in gone {
                self.pending.remove(&id);
                self.abandoned.push(id);
            }
            upto = cap;
        }
        if upto - from < self.cfg.hold.step_s && extra.is_empty() {
            return;
        }
        let cleared = release_cleared(
            &mut self.hold,
            upto,
            &self.utterances,
            &tones,
            self.forced.clone(),
            self.cfg.mask,
            &self.cfg.model_name,
            &self.cfg.detect,
        );
        self.cleared.push(cleared);
    }

    /// Masks for what in `[from, upto)` is not settled: utterances still
    /// being spoken or transcribed or waiting for a second listen, and those
    /// with a number or an unsure word.
    fn unsettled_masks(&self, from: f64, upto: f64) -> Vec<Mask> {
        let mask = |leg: Leg, start: f64, end: f64| Mask {
            kind: Kind::Pan,
            leg,
            start: (start - crate::redact::call::WORD_PAD_S).max(0.0),
            end: end + crate::redact::call::WORD_PAD_S,
            confidence: crate::redact::detect::Confidence::Low,
            model: self.cfg.model_name.clone(),
            rule: crate::redact::detect::Rule::NoTranscript,
        };
        let mut out = Vec::new();
        for (u, tu) in self.utterances.iter().enumerate() {
            if tu.span.end < from || tu.span.start >= upto {
                continue;
            }
            let id = u as u64;
            let open =
                self.pending.contains_key(&id) || self.relisten_out.contains(&(RELISTEN_BASE + id));
            let unsure = tu.transcript.as_ref().is_none_or(|t| {
                t.words
                    .iter()
                    .any(|w| w.confidence < self.cfg.detect.unsure_below)
            });
            if open || unsure || numberish(tu, &self.cfg.detect) {
                out.push(mask(tu.span.leg, tu.span.start, tu.span.end));
            }
        }
        if let Some(p) = self.pipeline.as_ref() {
            for leg in &Leg::BOTH[..self.start.legs] {
                if let Some((s, _)) = p.utterance_in_progress(*leg)
                    && s < upto
                {
                    out.push(mask(*leg, s, upto));
                }
            }
        }
        out
    }

    fn queue_finals(&mut self, jobs: &mut Vec<AsrJob>) {
        for u in self.utter_buf.drain(..) {
            let id = self.utterances.len() as u64;
            let span = UtteranceSpan {
                leg: u.leg,
                start: u.start_s,
                end: u.start_s + u.duration_s(),
            };
            self.utterances.push(TranscribedUtterance {
                span,
                transcript: None,
                relisten: None,
            });
            self.pending.insert(id, span.end);
            jobs.push(AsrJob {
                id,
                partial: false,
                utterance: u,
            });
        }
    }

    fn queue_partials(&mut self, now: f64, jobs: &mut Vec<AsrJob>) {
        if self.cfg.partial_every_s <= 0.0 {
            return;
        }
        let Some(p) = self.pipeline.as_ref() else {
            return;
        };
        for leg in &Leg::BOTH[..self.start.legs] {
            let i = leg.index();
            let Some((start, samples)) = p.utterance_in_progress(*leg) else {
                continue;
            };
            let dur = samples.len() as f64 / f64::from(crate::frame::SAMPLE_RATE);
            if self.partial_inflight[i].is_some()
                || dur < 1.0
                || now - self.last_partial_at[i] < self.cfg.partial_every_s
            {
                continue;
            }
            self.last_partial_at[i] = now;
            let id = self.next_partial;
            self.next_partial += 1;
            self.partial_inflight[i] = Some((id, start, start + dur));
            jobs.push(AsrJob {
                id,
                partial: true,
                utterance: Utterance {
                    call_id: self.start.call_id.as_str().into(),
                    leg: *leg,
                    start_s: start,
                    samples: samples.to_vec(),
                    prime_digits: false,
                },
            });
        }
    }

    fn check_lag(&mut self, now: f64, out: &mut Vec<LiveEvent>) {
        let lag = self.lag_s();
        if lag > self.cfg.max_lag_s {
            if self.lagging_since.is_none() {
                self.lagging_since = Some(now);
            }
            let defer = !self.deferred && self.cfg.defer_lag_s > 0.0 && lag > self.cfg.defer_lag_s;
            if defer {
                self.deferred = true;
                telemetry::deferred();
                warn!(
                    lag_s = lag,
                    "transcription deferred: whisper only when idle, the rest after the call"
                );
            }
            if defer || now - self.last_lag_notice >= 10.0 {
                self.last_lag_notice = now;
                telemetry::lagging();
                out.push(LiveEvent::Lagging {
                    lag_s: lag,
                    queued: self.pending.len(),
                    deferred: self.deferred,
                });
            }
        } else if lag < self.cfg.max_lag_s / 2.0 {
            self.lagging_since = None;
        }
    }

    /// Groups closed keypad tones into entries and announces each entry
    /// once it is over (or at the end of the call).
    fn track_keypad(&mut self, out: &mut Vec<LiveEvent>, at_end: bool) {
        let now = self.now();
        let tones: Vec<(Leg, f64, f64)> = match (&self.pipeline, &self.output) {
            (Some(p), _) => p.closed_tones().skip(self.tones_seen).collect(),
            (None, Some(o)) => o.tones.iter().skip(self.tones_seen).copied().collect(),
            _ => Vec::new(),
        };
        self.tones_seen += tones.len();
        for (leg, a, b) in tones {
            match &mut self.keypad {
                Some((l, _, end, keys)) if *l == leg && a - *end < KEYPAD_GAP_S => {
                    *end = b;
                    *keys += 1;
                }
                _ => {
                    self.flush_keypad(out);
                    self.keypad = Some((leg, a, b, 1));
                }
            }
        }
        if self
            .keypad
            .is_some_and(|(_, _, end, _)| at_end || now - end >= KEYPAD_GAP_S)
        {
            self.flush_keypad(out);
        }
    }

    fn flush_keypad(&mut self, out: &mut Vec<LiveEvent>) {
        if let Some((leg, start, end, keys)) = self.keypad.take() {
            out.push(LiveEvent::Redaction {
                kind: Kind::Dtmf,
                leg,
                start,
                end,
                keys,
            });
        }
    }

    /// A partial could not be queued (the pool is busy): forget it.
    pub fn partial_dropped(&mut self, id: u64) {
        telemetry::partial_skipped();
        for slot in &mut self.partial_inflight {
            if slot.is_some_and(|(x, ..)| x == id) {
                *slot = None;
            }
        }
    }

    /// Takes whisper's result for job `id`. A failed final is kept as
    /// "no transcript" and redacted whole when the call is stored. A final
    /// goes out once everything that started before its end is transcribed
    /// (see the module docs), perhaps with other finals it was holding up.
    pub fn on_transcript(
        &mut self,
        id: u64,
        result: Result<Transcript, AsrError>,
        out: &mut Vec<LiveEvent>,
    ) {
        if id >= PARTIAL_BASE {
            self.on_partial(id, result, out);
            return;
        }
        if id >= RELISTEN_BASE {
            if self.relisten_out.remove(&id) {
                let u = (id - RELISTEN_BASE) as usize;
                // A failed second listen leaves the utterance doubtful:
                // masked whole.
                self.utterances[u].relisten = result.ok();
            }
            return;
        }
        let u = id as usize;
        if u >= self.utterances.len() || self.pending.remove(&id).is_none() {
            return;
        }
        let span = self.utterances[u].span;
        telemetry::transcription_lag((self.now() - span.end).max(0.0));
        match result {
            Err(_) => telemetry::error("transcription"),
            Ok(t) => {
                if span.leg == Leg::Agent && !t.words.is_empty() {
                    let spoken = t.spoken_words();
                    self.kpis
                        .on_agent_words(span.end, spoken, span.end - span.start);
                    let (wpm, n) = self.kpis.recent_agent_wpm();
                    if n >= 20 {
                        out.push(LiveEvent::Pace { t: span.end, wpm });
                    }
                }
                if !t.words.is_empty() {
                    self.held.push(u);
                }
                self.utterances[u].transcript = Some(t);
            }
        }
        // A failed or wordless final releases nothing but may unblock others.
        self.release(out);
    }

    fn on_partial(
        &mut self,
        id: u64,
        result: Result<Transcript, AsrError>,
        out: &mut Vec<LiveEvent>,
    ) {
        let Some(i) = self
            .partial_inflight
            .iter()
            .position(|s| s.is_some_and(|(x, ..)| x == id))
        else {
            return;
        };
        let (_, start, end) = self.partial_inflight[i].take().expect("found above");
        let leg = Leg::BOTH[i];
        // Stale when the utterance has ended (its final is on its way).
        let current = self
            .pipeline
            .as_ref()
            .and_then(|p| p.utterance_in_progress(leg))
            .is_some_and(|(s, _)| s == start);
        let Ok(t) = result else { return };
        if !current || t.words.is_empty() {
            return;
        }
        if !self.settled_before(end, Some(leg)) {
            // Something that started before it is not transcribed yet:
            // partials are droppable, this one goes.
            telemetry::partial_skipped();
            return;
        }
        let span = UtteranceSpan { leg, start, end };
        if let Some(segment) = partial_of(&self.utterances, span, t, &self.cfg.detect) {
            out.push(LiveEvent::Transcript {
                segment,
                is_final: false,
                utterance: key(start),
            });
        }
    }

    /// Whether every utterance that started before `end` (on either leg) has
    /// been transcribed or has failed, and the call is far enough past `end`
    /// that no such utterance can still be unseen. The utterance in progress
    /// on `own` (a partial's own) does not count.
    fn settled_before(&self, end: f64, own: Option<Leg>) -> bool {
        if self
            .pending
            .keys()
            .any(|&id| self.utterances[id as usize].span.start < end)
        {
            return false;
        }
        let Some(p) = self.pipeline.as_ref() else {
            // Ended: every utterance is known.
            return true;
        };
        if self.now() < end + SEEN_AFTER_S {
            return false;
        }
        !Leg::BOTH[..self.start.legs].iter().any(|&leg| {
            Some(leg) != own && p.utterance_in_progress(leg).is_some_and(|(s, _)| s < end)
        })
    }

    /// Releases the held finals that nothing blocks any more, in order of
    /// start time (stopping at the first still blocked).
    fn release(&mut self, out: &mut Vec<LiveEvent>) {
        while let Some(pos) = (0..self.held.len()).min_by(|&a, &b| {
            let (a, b) = (
                self.utterances[self.held[a]].span,
                self.utterances[self.held[b]].span,
            );
            a.start
                .total_cmp(&b.start)
                .then(a.leg.index().cmp(&b.leg.index()))
        }) {
            let u = self.held[pos];
            if !self.settled_before(self.utterances[u].span.end, None) {
                return;
            }
            self.held.swap_remove(pos);
            self.emit_final(u, out);
        }
    }

    /// Sends the redacted final of utterance `u`, its redaction notices and
    /// the prompts it raises.
    fn emit_final(&mut self, u: usize, out: &mut Vec<LiveEvent>) {
        let span = self.utterances[u].span;
        let Some((segment, notices)) = final_of(&self.utterances, u, &self.cfg.detect) else {
            return;
        };
        for n in notices {
            out.push(LiveEvent::Redaction {
                kind: n.kind,
                leg: span.leg,
                start: n.start,
                end: n.end,
                keys: 0,
            });
        }
        let mut prompts = Vec::new();
        self.coach
            .on_segment(&segment, &mut self.prompter, &mut prompts);
        out.push(LiveEvent::Transcript {
            segment,
            is_final: true,
            utterance: key(span.start),
        });
        for pr in prompts {
            self.prompts.push(pr.clone());
            out.push(LiveEvent::Prompt(pr));
        }
    }

    /// Ends the audio: flushes the pipeline and returns the last utterances'
    /// jobs (finals only). Call [`Self::on_transcript`] for each, then
    /// [`Self::seal`].
    pub fn end(&mut self, out: &mut Vec<LiveEvent>, jobs: &mut Vec<AsrJob>) {
        let rest = self.inbuf.iter().map(Vec::len).max().unwrap_or(0);
        if rest > 0 && self.pipeline.is_some() {
            self.push_piece(rest, out, jobs);
        }
        let Some(p) = self.pipeline.take() else {
            return;
        };
        let mut signals = Vec::new();
        let mut output = p.finish_all(&mut signals);
        for e in &signals {
            self.kpis.on_signal(e);
            out.push(LiveEvent::Signal(e.clone()));
        }
        self.utter_buf.append(&mut output.utterances);
        self.output = Some(output);
        self.queue_finals(jobs);
        self.release(out);
        self.track_keypad(out, true);
    }

    /// Describes the source for the stored report when it is not a live
    /// stream: a file's name, its metadata and warnings about it.
    pub fn describe_source(&mut self, name: String, meta: report::CallMeta, warnings: Vec<String>) {
        self.source_name = Some(name);
        self.meta = Some(meta);
        self.warnings = warnings;
    }

    /// Redacts and seals the finished call for storage: `status` is
    /// `complete`, `interrupted` or `truncated`.
    ///
    /// Doubtful utterances still held get their second, digit-primed
    /// listen here, as the frontier gives the others
    /// ([`Self::take_cleared`]): this blocks on the whisper pool, so call
    /// it from a blocking thread.
    pub fn seal(self, status: &str, t: &Transcription) -> CallResult {
        let call_id: crate::frame::CallId = self.start.call_id.as_str().into();
        let u = self.unsealed(status);
        let spans: Vec<_> = u.utterances.iter().map(|u| u.span).collect();
        let hold = &u.hold;
        let utterances = super::seal::relisten(u.utterances, &u.tones, t, |k| {
            if spans[k].start < hold.start_s() {
                // Released: its second listen was had (or it was masked).
                return None;
            }
            hold.utterance(&call_id, spans[k].leg, spans[k].start, spans[k].end)
        });
        redact_and_seal(u.report, &utterances, &u.tones, u.hold, t, &u.forced)
    }

    /// [`Self::seal`] with the redaction settings alone.
    pub fn seal_with(self, status: &str, r: &Redaction<'_>) -> CallResult {
        let u = self.unsealed(status);
        redact_and_seal_with(u.report, &u.utterances, &u.tones, u.hold, r, &u.forced)
    }

    /// Ends the call and gathers what the redactor needs: the report of
    /// signals and signal prompts, the utterances, keypad tones and audio.
    fn unsealed(mut self, status: &str) -> Unsealed {
        let mut events = Vec::new();
        let mut jobs = Vec::new();
        self.end(&mut events, &mut jobs);
        let output = self.output.take().expect("ended");
        let source = SourceInfo {
            name: self
                .source_name
                .take()
                .unwrap_or_else(|| format!("live call, agent {}", self.start.agent_id)),
            codec: self.start.codec.clone(),
            sample_rate: self.start.sample_rate,
            channels: self.start.legs as u16,
            agent_channel: match (self.start.legs, self.start.agent_channel) {
                (1, _) => "mono",
                (_, 0) => "left",
                _ => "right",
            }
            .to_string(),
        };
        let mut report = Report::from_summary(&self.start.call_id, source, &output.summary);
        self.meta
            .take()
            .unwrap_or_else(|| report::CallMeta {
                agent_id: Some(self.start.agent_id.clone()),
                caller_id: Some(self.start.caller_id.clone()),
                started_at: Some(self.start.started_at),
            })
            .apply(&mut report);
        report.status = status.to_string();
        report.warnings.append(&mut self.warnings);
        if status == "interrupted" {
            report
                .warnings
                .push(format!("call {status}: stored up to where it stopped"));
        }
        if self.forced_s > 0.0 {
            report.warnings.push(format!(
                "{:.0} s of audio had to leave the hold before their transcription or redaction settled (hold limit {:.0} s): what in it was unsettled is masked whole",
                self.forced_s, self.cfg.hold.max_hold_s
            ));
        }
        // Only the signal prompts: the transcript prompts are derived again
        // from the final redacted segments (see `Redacted::with_insights`),
        // and the pace prompts from the finals at their media times, so
        // the report does not depend on how fast whisper was.
        let pace_kind = crate::rules::signal::KINDS[crate::rules::signal::PACE];
        let mut finals: Vec<(f64, u64, f64)> = self
            .utterances
            .iter()
            .filter(|u| u.span.leg == Leg::Agent)
            .filter_map(|u| {
                let t = u.transcript.as_ref().filter(|t| !t.words.is_empty())?;
                Some((u.span.end, t.spoken_words(), u.span.end - u.span.start))
            })
            .collect();
        finals.sort_by(|a, b| a.0.total_cmp(&b.0));
        let pace = super::kpi::pace_prompts(&self.cfg.rules, &finals, report.duration_s);
        let mut prompts: Vec<LivePrompt> = self
            .signal_prompts
            .into_iter()
            .filter(|p| p.kind != pace_kind)
            .chain(pace)
            .collect();
        prompts.sort_by(|a, b| a.t.total_cmp(&b.t));
        report.prompts = prompts.into_iter().map(report::Prompt::from).collect();
        Unsealed {
            report,
            utterances: self.utterances,
            tones: output.tones,
            hold: self.hold,
            forced: self.forced,
        }
    }
}

/// What a finished call leaves for the redactor.
struct Unsealed {
    report: Report,
    utterances: Vec<TranscribedUtterance>,
    tones: Vec<(Leg, f64, f64)>,
    hold: AudioHold,
    forced: Vec<Mask>,
}

/// The key of an utterance starting at `start` seconds: its start in ms.
fn key(start: f64) -> u64 {
    (start * 1000.0).round().max(0.0) as u64
}

/// Whether an utterance is short enough to be a filler between the groups
/// of a number read out ("okay", "hang on", "yes that's it"): at most three
/// words.
fn filler(tu: &TranscribedUtterance) -> bool {
    tu.transcript.as_ref().is_some_and(|t| t.words.len() <= 3)
}

/// Whether an utterance may be part of a number: a number word, a word
/// whisper gave digits most of its probability, or no transcript at all.
fn numberish(tu: &TranscribedUtterance, cfg: &DetectConfig) -> bool {
    tu.transcript.as_ref().is_none_or(|t| {
        t.words.iter().any(|w| {
            crate::redact::numbers::is_number_word(&w.text)
                || w.digit_p.is_some_and(|p| p >= cfg.hidden_digit_p)
        })
    })
}

#[cfg(test)]
mod tests {
    //! The live engine with a fake transcriber: synthetic voices make the
    //! utterances, a script says what each utterance "said", and results
    //! come back after a latency chosen per job, so in any order.

    use super::*;
    use crate::asr::Word;
    use crate::redact::audio::MaskMethod;
    use crate::redact::evidence::Evidence;
    use std::f64::consts::TAU;

    const RATE: u32 = 16_000;
    const BLOCK_S: f64 = 0.1;

    /// Who says what when: (leg, start s, end s, text).
    type Line = (Leg, f64, f64, &'static str);

    /// A harmonic "voice" (agent and customer at different pitches) over
    /// low noise.
    fn sample(script: &[Line], leg: Leg, t: f64, seed: &mut u32) -> f32 {
        *seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = ((*seed >> 8) as f64 / f64::from(1u32 << 24) - 0.5) * 0.002;
        let f0 = if leg == Leg::Agent { 120.0 } else { 190.0 };
        let talking = script
            .iter()
            .any(|&(l, a, b, _)| l == leg && (a..b).contains(&t));
        let voice = if talking {
            (1..=20)
                .map(|k| (TAU * f0 * f64::from(k) * t).sin() / f64::from(k))
                .sum::<f64>()
                * 0.06
        } else {
            0.0
        };
        (noise + voice) as f32
    }

    /// What whisper would say about `job`: the script's words on its leg
    /// within its audio, each line's words spread over the line.
    fn transcribe(script: &[Line], job: &AsrJob) -> Transcript {
        let u = &job.utterance;
        let (a, b) = (u.start_s, u.start_s + u.duration_s());
        let mut words = Vec::new();
        for &(leg, start, end, text) in script {
            if leg != u.leg || end <= a || start >= b {
                continue;
            }
            let n = text.split_whitespace().count() as f64;
            let step = (end - start) / n;
            for (i, w) in text.split_whitespace().enumerate() {
                let ws = start + step * i as f64;
                let we = ws + step * 0.9;
                if we <= b {
                    // "word^": whisper was unsure of it (no digit in the running).
                    let unsure = w.ends_with('^') && !job.utterance.prime_digits;
                    words.push(Word {
                        text: w.trim_end_matches('^').to_string(),
                        start: ws,
                        end: we,
                        confidence: if unsure { 0.2 } else { 0.9 },
                        digit_p: unsure.then_some(0.0),
                    });
                }
            }
        }
        Transcript {
            words,
            ..Transcript::default()
        }
    }

    fn call_with(cfg: LiveConfig) -> LiveCall {
        let start = LiveStart {
            call_id: "t".into(),
            agent_id: "a".into(),
            caller_id: String::new(),
            started_at: std::time::SystemTime::UNIX_EPOCH,
            legs: 2,
            sample_rate: RATE,
            codec: "PCM".into(),
            agent_channel: 0,
        };
        LiveCall::new(start, cfg).unwrap()
    }

    /// One run: the events in order, and which finals were delivered in
    /// which order (leg, utterance start).
    struct Run {
        call: LiveCall,
        events: Vec<LiveEvent>,
        delivered: Vec<(Leg, f64)>,
        /// Audio that left the hold during the call, per leg.
        cleared: Vec<Vec<f32>>,
        /// Most audio held at once, seconds.
        max_held_s: f64,
        /// Late masks the frontier needed.
        late: usize,
        /// Second listens asked for.
        relistens: usize,
        /// Finals given up at the hold limit.
        abandoned: usize,
    }

    impl Run {
        fn finals(&self) -> Vec<(Leg, f64, String)> {
            self.events
                .iter()
                .filter_map(|e| match e {
                    LiveEvent::Transcript {
                        segment,
                        is_final: true,
                        ..
                    } => Some((segment.speaker, segment.start, segment.text.clone())),
                    _ => None,
                })
                .collect()
        }

        fn texts(&self) -> Vec<String> {
            self.events
                .iter()
                .filter_map(|e| match e {
                    LiveEvent::Transcript { segment, .. } => Some(segment.text.clone()),
                    _ => None,
                })
                .collect()
        }

        fn assert_no_digits(&self) {
            for text in self.texts() {
                assert!(!text.chars().any(|c| c.is_ascii_digit()), "{text}");
                let words: Vec<&str> = text.split_whitespace().collect();
                assert!(
                    crate::redact::numbers::digit_runs(&words).is_empty(),
                    "{text}"
                );
            }
        }
    }

    /// Plays `script` for `length_s` into a call; each job's result comes
    /// back `latency(job)` media seconds after it was handed out.
    fn run(script: &[Line], length_s: f64, latency: impl Fn(&AsrJob) -> f64) -> Run {
        run_with(LiveConfig::default(), script, length_s, latency)
    }

    fn run_with(
        cfg: LiveConfig,
        script: &[Line],
        length_s: f64,
        latency: impl Fn(&AsrJob) -> f64,
    ) -> Run {
        let mut call = call_with(cfg);
        let relistens = std::cell::Cell::new(0);
        let mut cleared = vec![Vec::new(); 2];
        let (mut max_held_s, mut late, mut abandoned) = (0.0f64, 0, 0);
        let mut take = |call: &mut LiveCall| {
            abandoned += call.take_abandoned().len();
            for c in call.take_cleared() {
                late += c.late.len();
                for (i, leg) in cleared.iter_mut().enumerate() {
                    leg.extend_from_slice(c.audio.get().leg(i));
                }
            }
        };
        let mut events = Vec::new();
        let mut delivered = Vec::new();
        let mut waiting: Vec<(f64, u64, bool, Leg, f64, Transcript)> = Vec::new();
        let mut seed = [1u32, 2u32];
        let n = (BLOCK_S * f64::from(RATE)) as usize;
        let blocks = (length_s / BLOCK_S).round() as usize;
        let mut deliver = |call: &mut LiveCall,
                           waiting: &mut Vec<(f64, u64, bool, Leg, f64, Transcript)>,
                           now: f64,
                           events: &mut Vec<LiveEvent>| {
            waiting.sort_by(|a, b| a.0.total_cmp(&b.0));
            while waiting.first().is_some_and(|w| w.0 <= now) {
                let (_, id, partial, leg, start, t) = waiting.remove(0);
                if !partial {
                    delivered.push((leg, start));
                }
                call.on_transcript(id, Ok(t), events);
            }
        };
        // Each job's fake result, due `latency(job)` after `now`.
        let hand_out =
            |jobs: Vec<AsrJob>,
             now: f64,
             waiting: &mut Vec<(f64, u64, bool, Leg, f64, Transcript)>| {
                for job in jobs {
                    relistens.set(relistens.get() + usize::from(job.utterance.prime_digits));
                    let t = transcribe(script, &job);
                    let u = &job.utterance;
                    waiting.push((
                        now + latency(&job),
                        job.id,
                        job.partial,
                        u.leg,
                        u.start_s,
                        t,
                    ));
                }
            };
        for b in 0..blocks {
            let legs: Vec<Vec<f32>> = Leg::BOTH
                .iter()
                .map(|&leg| {
                    (0..n)
                        .map(|i| {
                            let t = (b * n + i) as f64 / f64::from(RATE);
                            sample(script, leg, t, &mut seed[leg.index()])
                        })
                        .collect()
                })
                .collect();
            let mut jobs = Vec::new();
            call.push(&[&legs[0], &legs[1]], &mut events, &mut jobs);
            let now = call.now();
            deliver(&mut call, &mut waiting, now, &mut events);
            call.settle(&mut jobs);
            hand_out(jobs, now, &mut waiting);
            max_held_s = max_held_s.max(call.held_s());
            take(&mut call);
        }
        let mut jobs = Vec::new();
        call.end(&mut events, &mut jobs);
        let now = call.now();
        hand_out(jobs, now, &mut waiting);
        deliver(&mut call, &mut waiting, f64::INFINITY, &mut events);
        take(&mut call);
        Run {
            call,
            events,
            delivered,
            cleared,
            max_held_s,
            late,
            relistens: relistens.get(),
            abandoned,
        }
    }

    /// Seals a run: the whole recording per leg (released audio, then the
    /// rest) and the stored report.
    fn seal_run(r: Run) -> (Vec<Vec<f32>>, Report, usize) {
        let rules = Arc::new(Rules::builtin());
        let mut audio = r.cleared;
        let result = r.call.seal_with(
            "complete",
            &Redaction {
                mask: MaskMethod::Silence,
                model_name: "fake",
                detect: &DetectConfig::default(),
                rules: &rules,
            },
        );
        let tail = result.audio.expect("transcribed");
        for (i, leg) in audio.iter_mut().enumerate() {
            leg.extend_from_slice(tail.get().leg(i));
        }
        (
            audio,
            result.report.into_inner(),
            r.late + result.late.len(),
        )
    }

    /// RMS of `[a, b)` seconds of a leg, dBFS.
    fn level_db(leg: &[f32], a: f64, b: f64) -> f64 {
        let r = f64::from(RATE);
        let x = &leg[(a * r) as usize..((b * r) as usize).min(leg.len())];
        let ms = x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len().max(1) as f64;
        10.0 * ms.max(1e-12).log10()
    }

    /// Small talk every `every` seconds on alternating legs for `length`
    /// seconds, avoiding `[quiet_from, quiet_to)`.
    fn chatter(length: f64, quiet_from: f64, quiet_to: f64) -> Vec<Line> {
        let mut out = Vec::new();
        let mut t = 0.5;
        let mut agent = true;
        while t + 3.0 < length {
            if t + 3.0 < quiet_from || t >= quiet_to {
                let leg = if agent { Leg::Agent } else { Leg::Customer };
                out.push((leg, t, t + 2.5, "that sounds fine to me then"));
            }
            agent = !agent;
            t += 4.0;
        }
        out
    }

    #[test]
    fn a_short_answer_transcribed_first_waits_for_the_question_before_it() {
        let script = [
            (
                Leg::Agent,
                0.5,
                3.5,
                "and the three digits on the back please",
            ),
            (Leg::Customer, 4.2, 5.2, "seven three seven"),
        ];
        // The agent's long final takes whisper 4 s, the customer's 0.2 s.
        let r = run(&script, 12.0, |job| {
            if job.utterance.leg == Leg::Agent {
                4.0
            } else {
                0.2
            }
        });
        assert_eq!(r.delivered.len(), 2, "{:?}", r.delivered);
        assert_eq!(r.delivered[0].0, Leg::Customer, "results out of order");
        let finals = r.finals();
        assert_eq!(finals.len(), 2, "{finals:?}");
        assert_eq!(finals[0].0, Leg::Agent, "{finals:?}");
        assert_eq!(finals[1].0, Leg::Customer, "{finals:?}");
        r.assert_no_digits();
        for text in r.texts() {
            assert!(!text.contains("seven"), "{text}");
        }
        // Redacted with the agent's question: the detector found it.
        assert!(
            r.events.iter().any(|e| matches!(
                e,
                LiveEvent::Redaction {
                    leg: Leg::Customer,
                    ..
                }
            )),
            "{finals:?}"
        );
        assert_eq!(r.call.held_finals(), 0);
    }

    #[test]
    fn a_card_number_in_four_groups_never_shows_a_digit() {
        let script = [
            (Leg::Agent, 0.5, 2.5, "can you read that out for me"),
            (Leg::Customer, 3.5, 5.0, "it's 4111"),
            (Leg::Customer, 7.0, 8.5, "one one one one"),
            (Leg::Customer, 10.5, 12.0, "and 1111,"),
            (Leg::Customer, 14.0, 15.5, "one one one one thanks"),
        ];
        let r = run(&script, 20.0, |_| 0.6);
        let finals = r.finals();
        assert_eq!(finals.len(), 5, "{finals:?}");
        assert!(
            r.events.iter().any(|e| matches!(
                e,
                LiveEvent::Transcript {
                    is_final: false,
                    ..
                }
            )),
            "partials too"
        );
        r.assert_no_digits();
        let joined: String = r.texts().join(" ");
        let digits: String = joined.chars().filter(char::is_ascii_digit).collect();
        assert!(digits.len() < 6, "{joined}");
        // The finals went out in time order.
        assert!(finals.windows(2).all(|w| w[0].1 <= w[1].1), "{finals:?}");
    }

    #[test]
    fn partials_wait_for_earlier_finals_or_are_dropped() {
        let script = [
            (
                Leg::Agent,
                0.5,
                2.5,
                "thanks for waiting I have your account here",
            ),
            (
                Leg::Customer,
                3.2,
                8.0,
                "I was calling about the bill that came last week and it looks wrong to me",
            ),
        ];
        // The agent's final takes whisper 3 s; partials 0.5 s.
        let r = run(&script, 12.0, |job| {
            if job.partial {
                0.5
            } else if job.utterance.leg == Leg::Agent {
                3.0
            } else {
                0.3
            }
        });
        let agent_final = r
            .events
            .iter()
            .position(|e| {
                matches!(e, LiveEvent::Transcript { segment, is_final: true, .. } if segment.speaker == Leg::Agent)
            })
            .expect("agent final");
        let partials: Vec<usize> = r
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                matches!(e, LiveEvent::Transcript { segment, is_final: false, .. } if segment.speaker == Leg::Customer)
            })
            .map(|(i, _)| i)
            .collect();
        assert!(
            partials.iter().all(|&i| i > agent_final),
            "a partial went out before the final before it: {partials:?} vs {agent_final}"
        );
        assert!(!partials.is_empty(), "partials resume once it is out");
        // Some were dropped while the agent's final was outstanding.
        let all = r
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    LiveEvent::Transcript {
                        is_final: false,
                        ..
                    }
                )
            })
            .count();
        let asked = r.call.next_partial - PARTIAL_BASE;
        assert!(asked as usize > all, "{asked} asked, {all} sent");
    }

    #[test]
    fn a_long_call_leaves_memory_as_its_redaction_settles_and_card_audio_is_masked() {
        let mut script = chatter(240.0, 100.0, 125.0);
        script.push((
            Leg::Agent,
            100.5,
            103.0,
            "can I take the card number please",
        ));
        script.push((Leg::Customer, 104.0, 108.0, "4111 1111 1111 1111"));
        script.push((Leg::Agent, 109.0, 111.0, "and the expiry date"));
        script.push((Leg::Customer, 112.0, 114.0, "oh nine twenty eight"));
        script.push((
            Leg::Agent,
            115.0,
            118.0,
            "and the three digit code on the back",
        ));
        script.push((Leg::Customer, 119.0, 121.0, "hammer^ type^ hero^"));
        let r = run(&script, 240.0, |_| 1.5);
        // The doubtful answer got its second listen before its audio left.
        assert_eq!(r.relistens, 1);
        // Held: the look-back (15 s), a step (10 s), margins, and the card
        // talk while its digit strings and second listen were open; never
        // the call.
        assert!(r.max_held_s < 60.0, "held {:.1} s", r.max_held_s);
        assert!(
            r.cleared[0].len() as f64 / f64::from(RATE) > 180.0,
            "most of the call left the hold during it"
        );
        let (audio, report, late) = seal_run(r);
        assert_eq!(late, 0, "no mask came after its audio left");
        assert!(
            level_db(&audio[1], 104.2, 107.8) < -90.0,
            "the card number is silent"
        );
        assert!(
            level_db(&audio[1], 112.2, 113.8) < -90.0,
            "the expiry is silent"
        );
        assert!(level_db(&audio[0], 16.7, 18.8) > -40.0, "small talk stays");
        assert!(report.redactions.len() >= 2, "{:?}", report.redactions);
    }

    #[test]
    fn a_number_read_slowly_holds_the_frontier_back_to_its_first_group() {
        // No cue word: only the groups together (12 s apart) make a card
        // number, so the first group's audio must wait for the last.
        let mut script = chatter(120.0, 30.0, 80.0);
        for (k, t) in [31.0, 43.0, 55.0, 67.0].into_iter().enumerate() {
            let leg = Leg::Customer;
            script.push((leg, t, t + 2.0, ["4111", "1111", "1111", "1111"][k]));
            script.push((Leg::Agent, t + 4.0, t + 6.0, "okay go on then"));
        }
        let r = run(&script, 120.0, |_| 1.0);
        let (audio, _, late) = seal_run(r);
        assert_eq!(late, 0);
        for t in [31.0, 43.0, 55.0, 67.0] {
            assert!(
                level_db(&audio[1], t + 0.2, t + 1.8) < -90.0,
                "group at {t} s audible"
            );
        }
    }

    #[test]
    fn transcription_far_behind_the_hold_limit_masks_what_is_unsettled() {
        let cfg = LiveConfig {
            hold: HoldConfig {
                step_s: 5.0,
                max_hold_s: 30.0,
            },
            ..LiveConfig::default()
        };
        let script = chatter(120.0, 0.0, 0.0);
        // Whisper answers after 80 s: the hold limit is reached first.
        let r = run_with(cfg, &script, 120.0, |_| 80.0);
        assert!(r.max_held_s <= 36.0, "held {:.1} s", r.max_held_s);
        // Their finals were given up: the driver may drop the queued jobs.
        assert!(r.abandoned > 0);
        let (audio, report, _) = seal_run(r);
        // What left unsettled was speech not yet transcribed: masked whole.
        assert!(level_db(&audio[0], 0.7, 2.8) < -90.0);
        assert!(
            report.warnings.iter().any(|w| w.contains("hold limit")),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn the_stored_reports_prompts_quote_its_final_redacted_segments() {
        let script = [
            (Leg::Agent, 0.5, 2.5, "how can I help you today"),
            (
                Leg::Customer,
                3.5,
                7.0,
                "I have called 3 times can I speak to a manager please",
            ),
        ];
        let r = run(&script, 10.0, |_| 0.4);
        let live: Vec<&LivePrompt> = r
            .events
            .iter()
            .filter_map(|e| match e {
                LiveEvent::Prompt(p) if p.kind == "escalation_request" => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(live.len(), 1);
        // Live, the evidence is the released final, numbers masked.
        let ev = live[0].evidence.to_string();
        assert!(matches!(live[0].evidence, Evidence::Quote(_)), "{ev}");
        assert!(ev.contains(crate::redact::live::DIGITS_PLACEHOLDER), "{ev}");
        let stored = seal_run(r).1;
        let quoted: Vec<&report::Prompt> = stored
            .prompts
            .iter()
            .filter(|p| !p.evidence.is_measurement())
            .collect();
        assert_eq!(quoted.len(), 1, "{:?}", stored.prompts);
        assert_eq!(quoted[0].kind, "escalation_request");
        // Derived in the final pass, from the stored segment: its number stays.
        let seg = stored
            .segments
            .iter()
            .find(|s| s.speaker == Leg::Customer)
            .unwrap();
        assert_eq!(
            quoted[0].evidence.to_string(),
            crate::rules::coach::evidence(seg)
        );
        assert!(seg.text.contains('3'), "{}", seg.text);
    }
}
