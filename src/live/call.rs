//! One live call, synchronously: audio in, events and transcription jobs out.
//!
//! [`LiveCall`] owns the call's DSP pipeline, the in-memory audio hold and
//! the transcripts so far. It never blocks and never runs whisper: it hands
//! out [`AsrJob`]s and takes their results back, so the actor that drives it
//! (`grpc::server`, or `live::capture` in process) decides what the shared worker pool can take.
//! Signals, KPIs and prompts come from the frames alone and never wait for
//! transcription.

use std::collections::BTreeMap;
use tracing::warn;

use crate::analyze::{CallResult, Transcription, redact_and_seal};
use crate::asr::{AsrError, Transcript, Utterance};
use crate::convert::ConvertError;
use crate::frame::{FRAME_SECONDS, Leg};
use crate::pipeline::{CallOutput, CallPipeline, PipelineConfig};
use crate::redact::Redacted;
use crate::redact::audio::AudioHold;
use crate::redact::call::TranscribedUtterance;
use crate::redact::detect::{DetectConfig, Kind};
use crate::redact::live::{partial_of, segment_of};
use crate::redact::text::UtteranceSpan;
use crate::report::{self, Report, Segment, SourceInfo};
use crate::signals::SignalEvent;
use crate::telemetry;

use super::kpi::{KpiSnapshot, Kpis, LivePrompt, Prompter};
use crate::rules::Rules;
use crate::rules::coach::Coach;
use std::sync::Arc;

/// Keypad tones closer than this belong to one entry, seconds.
const KEYPAD_GAP_S: f64 = 3.0;

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
    /// Partials in flight per leg: (ticket, utterance start).
    partial_inflight: [Option<(u64, f64)>; 2],
    next_partial: u64,
    last_partial_at: [f64; 2],
    kpis: Kpis,
    prompter: Prompter,
    coach: Coach,
    prompts: Vec<LivePrompt>,
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
            partial_inflight: [None, None],
            next_partial: PARTIAL_BASE,
            last_partial_at: [0.0; 2],
            kpis: Kpis::default(),
            prompts: Vec::new(),
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
        self.track_keypad(out, false);
        let now = self.now();
        while now >= self.next_kpi {
            self.next_kpi += 1.0;
            let snap = self.snapshot();
            let mut prompts = Vec::new();
            self.prompter
                .check(now, &mut self.kpis, &snap, &mut prompts);
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
            self.partial_inflight[i] = Some((id, start));
            jobs.push(AsrJob {
                id,
                partial: true,
                utterance: Utterance {
                    call_id: self.start.call_id.as_str().into(),
                    leg: *leg,
                    start_s: start,
                    samples: samples.to_vec(),
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
            if slot.is_some_and(|(x, _)| x == id) {
                *slot = None;
            }
        }
    }

    /// Takes whisper's result for job `id`. A failed final is kept as
    /// "no transcript" and redacted whole when the call is stored.
    pub fn on_transcript(
        &mut self,
        id: u64,
        result: Result<Transcript, AsrError>,
        out: &mut Vec<LiveEvent>,
    ) {
        if id >= PARTIAL_BASE {
            let Some(i) = self
                .partial_inflight
                .iter()
                .position(|s| s.is_some_and(|(x, _)| x == id))
            else {
                return;
            };
            let (_, start) = self.partial_inflight[i].take().expect("found above");
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
            let end = t.words.last().map_or(start, |w| w.end);
            let span = UtteranceSpan { leg, start, end };
            if let Some(segment) = partial_of(&self.utterances, span, t, &self.cfg.detect) {
                out.push(LiveEvent::Transcript {
                    segment,
                    is_final: false,
                    utterance: key(start),
                });
            }
            return;
        }
        let u = id as usize;
        if u >= self.utterances.len() || self.pending.remove(&id).is_none() {
            return;
        }
        let span = self.utterances[u].span;
        telemetry::transcription_lag((self.now() - span.end).max(0.0));
        let Ok(t) = result else {
            telemetry::error("transcription");
            return;
        };
        if span.leg == Leg::Agent && !t.words.is_empty() {
            self.kpis
                .on_agent_words(span.end, t.words.len() as u64, span.end - span.start);
            let (wpm, n) = self.kpis.recent_agent_wpm();
            if n >= 20 {
                out.push(LiveEvent::Pace { t: span.end, wpm });
            }
        }
        self.utterances[u].transcript = Some(t);
        // Redact over the utterances transcribed so far.
        if let Some((segment, notices)) = segment_of(&self.utterances, u, &self.cfg.detect) {
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
        self.track_keypad(out, true);
    }

    /// Redacts and seals the finished call for storage: `status` is
    /// `complete` or `interrupted`.
    pub fn seal(mut self, status: &str, t: &Transcription) -> CallResult {
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
        report.prompts = self.prompts.into_iter().map(report::Prompt::from).collect();
        redact_and_seal(report, &self.utterances, &output.tones, self.hold, t)
    }
}

/// The key of an utterance starting at `start` seconds: its start in ms.
fn key(start: f64) -> u64 {
    (start * 1000.0).round().max(0.0) as u64
}
