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

use crate::analyze::{CallResult, Redaction, Transcription, redact_and_seal, redact_and_seal_with};
use crate::asr::{AsrError, Transcript, Utterance};
use crate::convert::ConvertError;
use crate::frame::{FRAME_SECONDS, Leg};
use crate::pipeline::{CallOutput, CallPipeline, PipelineConfig};
use crate::redact::Redacted;
use crate::redact::audio::AudioHold;
use crate::redact::call::TranscribedUtterance;
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
}

/// Partial tickets live above this, so they never clash with final ids.
const PARTIAL_BASE: u64 = 1 << 48;

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

    /// Redacts and seals the finished call for storage: `status` is
    /// `complete` or `interrupted`.
    ///
    /// Doubtful utterances get their second, digit-primed listen here, as
    /// in offline analysis, from the held audio: this blocks on the whisper
    /// pool, so call it from a blocking thread.
    pub fn seal(self, status: &str, t: &Transcription) -> CallResult {
        let call_id: crate::frame::CallId = self.start.call_id.as_str().into();
        let (report, utterances, tones, hold) = self.unsealed(status);
        let spans: Vec<_> = utterances.iter().map(|u| u.span).collect();
        let utterances = crate::analyze::relisten(utterances, &tones, t, |u| {
            hold.utterance(&call_id, spans[u].leg, spans[u].start, spans[u].end)
        });
        redact_and_seal(report, &utterances, &tones, hold, t)
    }

    /// [`Self::seal`] with the redaction settings alone.
    pub fn seal_with(self, status: &str, r: &Redaction<'_>) -> CallResult {
        let (report, utterances, tones, hold) = self.unsealed(status);
        redact_and_seal_with(report, &utterances, &tones, hold, r)
    }

    /// Ends the call and gathers what the redactor needs: the report of
    /// signals and signal prompts, the utterances, keypad tones and audio.
    #[allow(clippy::type_complexity)]
    fn unsealed(
        mut self,
        status: &str,
    ) -> (
        Report,
        Vec<TranscribedUtterance>,
        Vec<(Leg, f64, f64)>,
        AudioHold,
    ) {
        let mut events = Vec::new();
        let mut jobs = Vec::new();
        self.end(&mut events, &mut jobs);
        let output = self.output.take().expect("ended");
        let source = SourceInfo {
            name: format!("live call, agent {}", self.start.agent_id),
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
        report::CallMeta {
            agent_id: Some(self.start.agent_id.clone()),
            caller_id: Some(self.start.caller_id.clone()),
            started_at: Some(self.start.started_at),
        }
        .apply(&mut report);
        report.status = status.to_string();
        if status != "complete" {
            report
                .warnings
                .push(format!("call {status}: stored up to where it stopped"));
        }
        // Only the signal prompts: the transcript prompts are derived again
        // from the final redacted segments (see `Redacted::with_insights`).
        report.prompts = self
            .signal_prompts
            .into_iter()
            .map(report::Prompt::from)
            .collect();
        (report, self.utterances, output.tones, self.hold)
    }
}

/// The key of an utterance starting at `start` seconds: its start in ms.
fn key(start: f64) -> u64 {
    (start * 1000.0).round().max(0.0) as u64
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
                    words.push(Word {
                        text: w.to_string(),
                        start: ws,
                        end: we,
                        confidence: 0.9,
                        digit_p: None,
                    });
                }
            }
        }
        Transcript {
            words,
            ..Transcript::default()
        }
    }

    fn call() -> LiveCall {
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
        LiveCall::new(start, LiveConfig::default()).unwrap()
    }

    /// One run: the events in order, and which finals were delivered in
    /// which order (leg, utterance start).
    struct Run {
        call: LiveCall,
        events: Vec<LiveEvent>,
        delivered: Vec<(Leg, f64)>,
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
        let mut call = call();
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
            hand_out(jobs, now, &mut waiting);
            deliver(&mut call, &mut waiting, now, &mut events);
        }
        let mut jobs = Vec::new();
        call.end(&mut events, &mut jobs);
        let now = call.now();
        hand_out(jobs, now, &mut waiting);
        deliver(&mut call, &mut waiting, f64::INFINITY, &mut events);
        Run {
            call,
            events,
            delivered,
        }
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
        let rules = Arc::new(Rules::builtin());
        let stored = r
            .call
            .seal_with(
                "complete",
                &Redaction {
                    mask: MaskMethod::Silence,
                    model_name: "fake",
                    detect: &DetectConfig::default(),
                    rules: &rules,
                },
            )
            .report
            .into_inner();
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
