//! `callscope serve`: the live engine behind the gRPC API.
//!
//! One tokio task (the call actor, [`run_call`]) per call drives a
//! synchronous [`LiveCall`]; whisper runs on the shared worker pool's own
//! threads and answers through a channel, never on the runtime. Events go
//! to the caller through a bounded channel (a slow reader loses events, the
//! call never waits) and to watchers through broadcast channels (a slow
//! watcher skips ahead). When the call ends — or the stream breaks, or the
//! server shuts down — the actor transcribes what is left, redacts, and
//! stores the call exactly as `analyze` does.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::{Instrument, info, info_span, warn};

use super::cluster::{BusConfig, BusError, Cluster};
use super::console::{self, FloorLog, Mood, unix_ms};
use super::pb::call_scope_server::{CallScope, CallScopeServer};
use super::policy::Meter;
pub use super::policy::Policy;
use super::{Encoding, event, kpi, pb, prompt};
use crate::analyze::{AnalyzeError, validate_call_id};
use crate::asr::{AsrError, Transcript};
use crate::engine::call::{AsrJob, LiveCall, LiveConfig, LiveEvent, LiveStart};
use crate::engine::kpi::{KpiSnapshot, LivePrompt};
use crate::engine::seal::{CallResult, Transcription};
use crate::redact::call::Cleared;
use crate::security::auth::Action;
use crate::store::db::{IfExists, StoreError};
use crate::store::open::{OpenCall, OpenStart};
use crate::telemetry;

/// Events buffered per caller stream before events are dropped.
const CALLER_BUFFER: usize = 1024;
/// Events a live call keeps for late watchers (finals, prompts, signals,
/// redactions; at most a few hundred KiB).
const HISTORY: usize = 4096;
/// Events buffered per watcher before it skips ahead.
const WATCH_BUFFER: usize = 256;
/// Audio messages buffered between the gRPC stream and the actor (with
/// [`MAX_MESSAGE`], at most 16 MiB of decoded audio per call).
const INPUT_BUFFER: usize = 16;
/// Largest message a client may send: 256 KiB, over a second of 48 kHz
/// stereo PCM (20–100 ms chunks are what the API asks for).
pub const MAX_MESSAGE: usize = 256 << 10;
/// One leg may run this far ahead of the other (separate legs) before the
/// quiet one is padded with silence, seconds.
const LEG_SKEW_S: f64 = 2.0;
/// How soon an ended call retries handing its last utterances to a whisper
/// pool whose queue was full.
const FLUSH_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// How long a node retries storing a lost node's call while the store is
/// away (transient errors).
const LOST_RECORD_RETRY: std::time::Duration = std::time::Duration::from_secs(300);

/// What feeds a call actor.
#[derive(Debug)]
pub enum Input {
    /// Samples per leg (agent first), at the call's rate.
    Audio(Vec<Vec<f32>>),
    /// The call ended normally.
    End,
}

/// A live call as the floor sees it.
struct Entry {
    agent_id: String,
    watchers: Arc<AtomicUsize>,
    events: broadcast::Sender<pb::CallEvent>,
    snapshot: KpiSnapshot,
    prompts: VecDeque<LivePrompt>,
    /// The customer's sentiment over their last final turns.
    mood: Mood,
    /// Wall clock at the start, unix seconds.
    started_at: i64,
    /// The call's events so far but KPIs and partials (newest
    /// [`HISTORY`]), for a watcher who opens the call late.
    history: VecDeque<pb::CallEvent>,
}

impl Entry {
    /// What a watcher who opens the call late gets first: the call so far,
    /// then its KPIs now.
    fn so_far(&self, call_id: &str) -> Vec<pb::CallEvent> {
        let mut v: Vec<pb::CallEvent> = self.history.iter().cloned().collect();
        v.push(pb::CallEvent {
            call_id: call_id.to_string(),
            t: self.snapshot.duration_s,
            emitted_at: self.snapshot.duration_s,
            event: Some(pb::call_event::Event::Kpi(kpi(&self.snapshot))),
        });
        v
    }

    /// The call's row on the floor; `node_id` is this node's id in
    /// cluster mode, else empty.
    fn floor_message(
        &self,
        kind: pb::floor_update::Kind,
        call_id: &str,
        node_id: String,
    ) -> pb::FloorUpdate {
        pb::FloorUpdate {
            kind: kind as i32,
            call_id: call_id.to_string(),
            agent_id: self.agent_id.clone(),
            kpi: Some(kpi(&self.snapshot)),
            latest_prompts: self.prompts.iter().map(prompt).collect(),
            sentiment: self.mood.now(),
            sentiment_turns: self.mood.turns(),
            started_at: self.started_at,
            stats: None,
            sent_unix_ms: unix_ms(),
            node_id,
        }
    }
}

/// Shared state of the server: live calls, the floor feed, the whisper pool.
pub struct Hub {
    calls: Mutex<HashMap<String, Entry>>,
    floor: broadcast::Sender<pb::FloorUpdate>,
    data_dir: PathBuf,
    transcription: Arc<Transcription>,
    cfg: LiveConfig,
    max_calls: usize,
    shutdown: watch::Receiver<bool>,
    policy: Policy,
    watchers: Arc<AtomicUsize>,
    /// Prompts and ended calls, for the floor's figures (locked after
    /// `calls` when both are).
    floor_log: Mutex<FloorLog>,
    /// The cluster bus, when this node is one of many (`--bus`).
    cluster: std::sync::OnceLock<Arc<Cluster>>,
    /// How often calls kept while the store was away are retried, ms.
    store_retry_ms: std::sync::atomic::AtomicU64,
}

/// Whether a node takes a new call now, and its figures (`GET /ready`,
/// `cluster status`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Readiness {
    /// Whether a new call would be taken.
    pub ready: bool,
    /// Why not, when not.
    pub reason: String,
    /// Live calls now.
    pub live_calls: usize,
    /// `--max-calls`.
    pub max_calls: usize,
    /// Whisper worker threads.
    pub asr_workers: usize,
    /// Utterances waiting for a whisper worker.
    pub asr_queue: usize,
    /// Room in whisper's queue.
    pub asr_queue_max: usize,
}

impl Hub {
    /// A hub storing into `data_dir`, transcribing with `transcription`,
    /// taking at most `max_calls` calls at once; actors finish their calls
    /// when `shutdown` turns true. The redaction settings (detector, mask,
    /// model name, rules) come from `transcription`, whatever `cfg` says,
    /// so the audio released during a call and the stored call are
    /// redacted alike.
    ///
    /// Every caller is let in as admin and streams are not paced
    /// ([`Policy::default`]): for a hub inside one process (`capture`) and
    /// tests. `serve` uses [`Hub::with_policy`].
    pub fn new(
        data_dir: PathBuf,
        transcription: Arc<Transcription>,
        cfg: LiveConfig,
        max_calls: usize,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        Self::with_policy(
            data_dir,
            transcription,
            cfg,
            max_calls,
            shutdown,
            Policy::default(),
        )
    }

    /// [`Hub::new`] with access rules and limits.
    pub fn with_policy(
        data_dir: PathBuf,
        transcription: Arc<Transcription>,
        cfg: LiveConfig,
        max_calls: usize,
        shutdown: watch::Receiver<bool>,
        policy: Policy,
    ) -> Arc<Self> {
        let cfg = LiveConfig {
            detect: transcription.detect.clone(),
            rules: Arc::clone(&transcription.rules),
            mask: transcription.mask,
            model_name: transcription.model_name.clone(),
            ..cfg
        };
        Arc::new(Hub {
            calls: Mutex::new(HashMap::new()),
            floor: broadcast::channel(WATCH_BUFFER).0,
            data_dir,
            transcription,
            cfg,
            max_calls,
            shutdown,
            policy,
            watchers: Arc::new(AtomicUsize::new(0)),
            floor_log: Mutex::new(FloorLog::default()),
            cluster: std::sync::OnceLock::new(),
            store_retry_ms: std::sync::atomic::AtomicU64::new(
                crate::store::pending::RETRY_EVERY.as_millis() as u64,
            ),
        })
    }

    /// How often calls kept on local disk while the store was away are
    /// retried (`serve --store-retry`; default
    /// [`crate::store::pending::RETRY_EVERY`]).
    pub fn set_store_retry(&self, every: std::time::Duration) {
        self.store_retry_ms
            .store(every.as_millis().max(100) as u64, Ordering::Relaxed);
    }

    /// Joins the cluster bus: from now on this node's calls are published
    /// and the other nodes' calls are on its floor.
    pub async fn join(self: &Arc<Self>, cfg: &BusConfig) -> Result<(), BusError> {
        let client = super::cluster::connect(cfg).await?;
        let cluster = Cluster::start(self, client, cfg).await?;
        let _ = self.cluster.set(cluster);
        Ok(())
    }

    /// Whether this node takes a new call now: room under `--max-calls`,
    /// whisper's queue less than half full (else new calls would only add
    /// lag), the bus connected (cluster mode), not shutting down.
    pub fn readiness(&self) -> Readiness {
        let live_calls = self.live_calls();
        let (asr_workers, asr_queue_max) = self.transcription.pool.capacity();
        let asr_queue = self.transcription.pool.waiting();
        let reason = if *self.shutdown.borrow() {
            "shutting down".to_string()
        } else if live_calls >= self.max_calls {
            format!("{live_calls} live calls, the limit (--max-calls)")
        } else if asr_queue_max > 0 && asr_queue * 2 >= asr_queue_max {
            format!("whisper is behind: {asr_queue} of {asr_queue_max} queue places taken")
        } else if self.cluster.get().is_some_and(|c| !c.connected()) {
            "the cluster bus is not connected".to_string()
        } else {
            String::new()
        };
        Readiness {
            ready: reason.is_empty(),
            reason,
            live_calls,
            max_calls: self.max_calls,
            asr_workers,
            asr_queue,
            asr_queue_max,
        }
    }

    /// What this node says of itself (`cluster status`, the bus).
    pub(super) fn node_status(&self, node_id: &str, listen: &str) -> pb::NodeStatus {
        let r = self.readiness();
        let (load1, cores) = super::cluster::load();
        pb::NodeStatus {
            node_id: node_id.to_string(),
            version: env!("CARGO_PKG_VERSION").into(),
            listen: listen.to_string(),
            live_calls: r.live_calls as u32,
            max_calls: r.max_calls as u32,
            asr_workers: r.asr_workers as u32,
            asr_queue: r.asr_queue as u32,
            asr_queue_max: r.asr_queue_max as u32,
            ready: r.ready,
            not_ready_reason: r.reason,
            load1,
            cores,
            sent_unix_ms: unix_ms(),
            call_ids: self.live_call_ids(),
            lost: false,
            last_seen_s: 0.0,
        }
    }

    /// This node's live call ids.
    pub fn live_call_ids(&self) -> Vec<String> {
        let calls = self.calls.lock().expect("hub lock");
        let mut ids: Vec<String> = calls.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// This node's id on the bus (empty without one).
    fn node_id(&self) -> String {
        self.cluster
            .get()
            .map_or_else(String::new, |c| c.node_id.clone())
    }

    /// A live call's events so far (for another node's late watcher).
    pub(super) fn history(&self, call_id: &str) -> Option<Vec<pb::CallEvent>> {
        let calls = self.calls.lock().expect("hub lock");
        calls.get(call_id).map(|e| e.so_far(call_id))
    }

    /// Another node's floor update, onto this node's floor; `ended` is the
    /// length of a call that ended there.
    pub(super) fn remote_floor_update(&self, u: pb::FloorUpdate, ended: Option<f64>) {
        let calls = self.calls.lock().expect("hub lock");
        let _ = self.floor.send(u);
        match ended {
            Some(d) => self.count_ended(&calls, d),
            None => self.send_floor_stats(&calls, false),
        }
    }

    /// A call of a lost node: off the floor as interrupted, and stored as
    /// such with what the floor knew (shared store only; the first node to
    /// store it wins, the others find it stored).
    pub(super) fn remote_call_lost(&self, node: &str, u: pb::FloorUpdate) {
        let duration = u.kpi.as_ref().map_or(0.0, |k| k.duration_s);
        let note = pb::FloorUpdate {
            kind: pb::floor_update::Kind::CallInterrupted as i32,
            sent_unix_ms: unix_ms(),
            ..u.clone()
        };
        self.remote_floor_update(note, Some(duration));
        if !crate::store::shared() {
            return;
        }
        let data_dir = self.data_dir.clone();
        let node = node.to_string();
        let report = match super::cluster::lost_call_report(&node, &u) {
            Ok(r) => Arc::new(r),
            Err(e) => {
                warn!(call_id = %u.call_id, error = %e, "cannot make the lost call's record");
                return;
            }
        };
        // A store away for a while (transient errors) is retried for
        // LOST_RECORD_RETRY, waiting on the runtime (no thread held); after
        // that the lost node's own recovery stores the call when it restarts.
        tokio::spawn(async move {
            let until = std::time::Instant::now() + LOST_RECORD_RETRY;
            loop {
                let (dir, report) = (data_dir.clone(), Arc::clone(&report));
                let put = tokio::task::spawn_blocking(move || {
                    crate::store::open(&dir).and_then(|mut db| {
                        db.put(
                            &report,
                            &crate::store::db::StoredFiles::default(),
                            IfExists::Refuse,
                        )
                    })
                })
                .await;
                let Ok(put) = put else { return };
                match put {
                    Ok(()) => {
                        info!(call_id = %u.call_id, node = %node, "a lost node's call stored as interrupted")
                    }
                    Err(StoreError::AlreadyExists { .. }) => {}
                    Err(e) if e.is_transient() && std::time::Instant::now() < until => {
                        tracing::debug!(call_id = %u.call_id, error = %e, "the store is away; the lost node's call is retried");
                        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                        continue;
                    }
                    Err(e) => {
                        warn!(call_id = %u.call_id, error = %e, "cannot store the lost node's call; its node's recovery stores it when it restarts")
                    }
                }
                break;
            }
        });
    }

    /// Takes a watcher's place (for one call's `counter` too, if given),
    /// or RESOURCE_EXHAUSTED when the limit is reached.
    fn watch_slot(&self, call: Option<&Arc<AtomicUsize>>) -> Result<WatchSlot, Status> {
        let l = &self.policy.limits;
        let mut slot = WatchSlot(Vec::new());
        for (counter, max, what) in [
            (
                Some(&self.watchers),
                l.max_watchers,
                "watch streams on this server",
            ),
            (call, l.max_watchers_per_call, "watchers of this call"),
        ] {
            let Some(counter) = counter else { continue };
            if counter.fetch_add(1, Ordering::SeqCst) >= max {
                counter.fetch_sub(1, Ordering::SeqCst);
                telemetry::denied("limit");
                return Err(Status::resource_exhausted(format!(
                    "{max} {what} already (--max-watchers); close one or try later"
                )));
            }
            slot.0.push(Arc::clone(counter));
        }
        Ok(slot)
    }

    /// Number of live calls.
    pub fn live_calls(&self) -> usize {
        self.calls.lock().expect("hub lock").len()
    }

    fn floor_update(&self, kind: pb::floor_update::Kind, call_id: &str, e: &Entry) {
        let u = e.floor_message(kind, call_id, self.node_id());
        if let Some(c) = self.cluster.get() {
            c.floor(&u);
        }
        let _ = self.floor.send(u);
    }

    /// The floor's figures over `calls` (the locked live calls).
    fn floor_stats(&self, calls: &HashMap<String, Entry>) -> pb::FloorUpdate {
        let stats = self
            .floor_log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stats(
                calls.values().map(|e| e.snapshot.duration_s).chain(
                    self.cluster
                        .get()
                        .map(|c| c.remote_durations())
                        .unwrap_or_default(),
                ),
            );
        pb::FloorUpdate {
            kind: pb::floor_update::Kind::FloorStats as i32,
            stats: Some(stats),
            sent_unix_ms: unix_ms(),
            ..Default::default()
        }
    }

    /// Sends the floor's figures when due (at most once a second unless
    /// `force`: a call started or ended).
    fn send_floor_stats(&self, calls: &HashMap<String, Entry>, force: bool) {
        let due = self
            .floor_log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .due(force);
        if due {
            let _ = self.floor.send(self.floor_stats(calls));
        }
    }

    /// Registers a call; refused when it is already live or the floor is
    /// full. `accepted` (the call's first event) starts its history.
    fn register(&self, accepted: &pb::CallEvent) -> Result<(), Status> {
        let call_id = accepted.call_id.as_str();
        let agent_id = match &accepted.event {
            Some(pb::call_event::Event::Accepted(a)) => a.agent_id.as_str(),
            _ => "",
        };
        let mut calls = self.calls.lock().expect("hub lock");
        if calls.contains_key(call_id) {
            telemetry::rejected("duplicate");
            return Err(Status::already_exists(format!(
                "call {call_id} is already live; use another call_id"
            )));
        }
        if calls.len() >= self.max_calls {
            telemetry::rejected("capacity");
            return Err(Status::resource_exhausted(format!(
                "{} live calls, the configured limit (--max-calls); try again later or add capacity",
                calls.len()
            )));
        }
        let e = Entry {
            agent_id: agent_id.to_string(),
            watchers: Arc::new(AtomicUsize::new(0)),
            events: broadcast::channel(WATCH_BUFFER).0,
            snapshot: KpiSnapshot::default(),
            prompts: VecDeque::new(),
            mood: Mood::default(),
            started_at: unix_ms() / 1000,
            history: VecDeque::from([accepted.clone()]),
        };
        self.floor_update(pb::floor_update::Kind::CallStarted, call_id, &e);
        calls.insert(call_id.to_string(), e);
        self.send_floor_stats(&calls, true);
        Ok(())
    }

    /// Tells a call's watchers it ended and takes it off the floor.
    fn finish(&self, call_id: &str, ended: &pb::CallEvent) {
        let mut calls = self.calls.lock().expect("hub lock");
        if let Some(e) = calls.remove(call_id) {
            self.emit(&e, ended);
            self.call_ended(&calls, call_id, &e);
        }
    }

    /// Sends a call's event to its watchers here and, in cluster mode, on
    /// the bus to watchers on other nodes.
    fn emit(&self, e: &Entry, ev: &pb::CallEvent) {
        let _ = e.events.send(ev.clone());
        if let Some(c) = self.cluster.get() {
            c.event(ev);
        }
    }

    /// Takes an ended call off the floor and counts it in the figures.
    fn call_ended(&self, calls: &HashMap<String, Entry>, call_id: &str, e: &Entry) {
        self.floor_update(pb::floor_update::Kind::CallEnded, call_id, e);
        self.count_ended(calls, e.snapshot.duration_s);
    }

    /// Counts a call of `duration_s` that ended (here or on another node)
    /// in the floor's figures and sends them.
    fn count_ended(&self, calls: &HashMap<String, Entry>, duration_s: f64) {
        self.floor_log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .ended(duration_s);
        self.send_floor_stats(calls, true);
    }

    fn unregister(&self, call_id: &str) {
        // Also while a panicking actor unwinds: a poisoned lock still frees the place.
        let mut calls = self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(e) = calls.remove(call_id) {
            self.call_ended(&calls, call_id, &e);
        }
    }

    /// Sends an event to a live call's watchers and keeps the floor's view current.
    fn publish(&self, call_id: &str, ev: &pb::CallEvent, live: &LiveEvent) {
        let mut calls = self.calls.lock().expect("hub lock");
        let Some(e) = calls.get_mut(call_id) else {
            return;
        };
        self.emit(e, ev);
        let kept = !matches!(
            live,
            LiveEvent::Kpi(_)
                | LiveEvent::Transcript {
                    is_final: false,
                    ..
                }
        );
        if kept {
            if e.history.len() == HISTORY {
                e.history.pop_front();
            }
            e.history.push_back(ev.clone());
        }
        match live {
            LiveEvent::Kpi(s) => {
                e.snapshot = s.clone();
                self.floor_update(pb::floor_update::Kind::CallUpdate, call_id, e);
                self.send_floor_stats(&calls, false);
            }
            LiveEvent::Prompt(p) => {
                e.prompts.push_back(p.clone());
                while e.prompts.len() > 3 {
                    e.prompts.pop_front();
                }
                self.floor_log
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .prompt(&p.kind);
            }
            LiveEvent::Transcript {
                segment,
                is_final: true,
                ..
            } if segment.get().speaker == crate::frame::Leg::Customer => {
                e.mood.add(&self.transcription.rules, &segment.get().text);
            }
            _ => {}
        }
    }
}

/// Runs one call: audio from `input`, events to `out` (try-send: a slow
/// reader loses events, never stalls the call) and to watchers. Stores the
/// call when the input ends; returns the final event.
pub async fn run_call(
    hub: Arc<Hub>,
    start: LiveStart,
    if_exists: IfExists,
    mut input: mpsc::Receiver<Input>,
    out: mpsc::Sender<Result<pb::CallEvent, Status>>,
) -> Result<pb::CallEvent, Status> {
    let call_id = start.call_id.clone();
    let _live = LiveGauge::new();
    let open_start = OpenStart {
        call_id: start.call_id.clone(),
        agent_id: Some(start.agent_id.clone()),
        caller_id: Some(start.caller_id.clone()),
        started_at: start
            .started_at
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs_f64()),
        source: crate::report::SourceInfo {
            name: format!("live call, agent {}", start.agent_id),
            codec: start.codec.clone(),
            sample_rate: start.sample_rate,
            channels: start.legs as u16,
            agent_channel: match (start.legs, start.agent_channel) {
                (1, _) => "mono",
                (_, 0) => "left",
                _ => "right",
            }
            .to_string(),
        },
        legs: start.legs,
        agent_channel: start.agent_channel,
    };
    let mut call = LiveCall::new(start, hub.cfg.clone())
        .map_err(|e| Status::invalid_argument(format!("cannot set up the call: {e}")))?;
    // The recording is written as its audio clears, on a blocking thread:
    // the actor hands it over through a bounded channel.
    let (disk_tx, disk_rx) = mpsc::channel::<ToDisk>(DISK_BUFFER);
    let data_dir = hub.data_dir.clone();
    let writer =
        tokio::task::spawn_blocking(move || write_call(&data_dir, &open_start, if_exists, disk_rx));
    let pool = Arc::clone(&hub.transcription);
    let (res_tx, mut res_rx) = mpsc::unbounded_channel::<(u64, Result<Transcript, AsrError>)>();
    let mut backlog: VecDeque<AsrJob> = VecDeque::new();
    let mut in_flight = 0usize;
    let mut events: Vec<LiveEvent> = Vec::new();
    let mut jobs: Vec<AsrJob> = Vec::new();
    let mut dropped = 0u64;
    let mut shutdown = hub.shutdown.clone();
    let emit = |call: &LiveCall, events: &mut Vec<LiveEvent>, dropped: &mut u64| {
        for e in events.drain(..) {
            let ev = event(&call_id, call.now(), &e);
            hub.publish(&call_id, &ev, &e);
            if out.try_send(Ok(ev)).is_err() {
                *dropped += 1;
            }
        }
    };
    // Queues work on the pool: finals wait in the backlog when it is full
    // (or, once the call is deferred, while other work waits), partials are
    // dropped.
    let submit = |call: &mut LiveCall,
                  ending: bool,
                  jobs: &mut Vec<AsrJob>,
                  backlog: &mut VecDeque<AsrJob>,
                  in_flight: &mut usize| {
        let before = backlog.len();
        backlog.extend(jobs.drain(..).filter(|j| !j.partial));
        telemetry::asr_backlog((backlog.len() - before) as f64);
        let partials: Vec<AsrJob> = std::mem::take(jobs);
        let mut try_one = |job: AsrJob| -> Option<AsrJob> {
            let tx = res_tx.clone();
            let id = job.id;
            let partial = job.partial;
            match pool.pool.try_submit_with(
                job.utterance,
                Box::new(move |r| {
                    let _ = tx.send((id, r));
                }),
            ) {
                Ok(()) => {
                    *in_flight += 1;
                    telemetry::asr_queue(1.0);
                    None
                }
                Err((_, utterance)) => Some(AsrJob {
                    id,
                    partial,
                    utterance,
                }),
            }
        };
        // A deferred call's finals go to whisper only when nothing else
        // waits for it: calls within bounds first, the deferred one on
        // otherwise idle workers, and all of it once the call has ended.
        let deferred = call.deferred() && !ending;
        let held = || deferred && pool.pool.waiting() > 0;
        while !held()
            && let Some(job) = backlog.pop_front()
        {
            if let Some(job) = try_one(job) {
                backlog.push_front(job);
                break;
            }
            telemetry::asr_backlog(-1.0);
        }
        // Partials only when no final waits, here or on the pool: finals
        // first, partials on otherwise idle workers.
        for p in partials {
            if !deferred && backlog.is_empty() && pool.pool.waiting() == 0 {
                if let Some(p) = try_one(p) {
                    call.partial_dropped(p.id);
                }
            } else {
                call.partial_dropped(p.id);
            }
        }
    };
    let status = loop {
        tokio::select! {
            msg = input.recv() => match msg {
                Some(Input::Audio(legs)) => {
                    let blocks: Vec<&[f32]> = legs.iter().map(Vec::as_slice).collect();
                    call.push(&blocks, &mut events, &mut jobs);
                    submit(&mut call, false, &mut jobs, &mut backlog, &mut in_flight);
                    emit(&call, &mut events, &mut dropped);
                }
                Some(Input::End) => break "complete",
                None => break "interrupted",
            },
            Some((id, r)) = res_rx.recv() => {
                in_flight -= 1;
                telemetry::asr_queue(-1.0);
                call.on_transcript(id, r, &mut events);
                call.settle(&mut jobs);
                submit(&mut call, false, &mut jobs, &mut backlog, &mut in_flight);
                emit(&call, &mut events, &mut dropped);
            }
            _ = shutdown.changed() => break "interrupted",
        }
        for cleared in call.take_cleared() {
            // A writer that failed has said why; the call goes on live.
            let _ = disk_tx.send(ToDisk::Cleared(Box::new(cleared))).await;
        }
        let abandoned = call.take_abandoned();
        if !abandoned.is_empty() {
            let before = backlog.len();
            backlog.retain(|j| !abandoned.contains(&j.id));
            telemetry::asr_backlog(-((before - backlog.len()) as f64));
        }
    };
    // Flush: the last utterances, then everything still queued.
    call.end(&mut events, &mut jobs);
    emit(&call, &mut events, &mut dropped);
    loop {
        submit(&mut call, true, &mut jobs, &mut backlog, &mut in_flight);
        if in_flight == 0 && backlog.is_empty() {
            break;
        }
        // Nothing of this call's on the pool, yet some left over: the
        // pool's queue is full of other calls' work, so try again shortly
        // (waiting for an answer here would wait for ever).
        if in_flight == 0 {
            tokio::time::sleep(FLUSH_RETRY).await;
            continue;
        }
        match res_rx.recv().await {
            Some((id, r)) => {
                in_flight -= 1;
                telemetry::asr_queue(-1.0);
                call.on_transcript(id, r, &mut events);
                emit(&call, &mut events, &mut dropped);
            }
            None => break,
        }
    }
    // Whatever the pool never answered (it stopped) leaves the gauges too.
    telemetry::asr_backlog(-(backlog.len() as f64));
    telemetry::asr_queue(-(in_flight as f64));
    if dropped > 0 {
        telemetry::events_dropped(dropped);
        warn!(
            dropped,
            "the caller read events too slowly; some were dropped"
        );
    }
    let t = Arc::clone(&hub.transcription);
    let status_s = status.to_string();
    let sealed = tokio::task::spawn_blocking(move || {
        let cleared = call.take_cleared();
        (cleared, call.seal(&status_s, &t))
    })
    .await;
    let stored = match sealed {
        Ok((cleared, result)) => {
            for c in cleared {
                let _ = disk_tx.send(ToDisk::Cleared(Box::new(c))).await;
            }
            let _ = disk_tx.send(ToDisk::Finish(Box::new(result))).await;
            drop(disk_tx);
            writer
                .await
                .map_err(|e| Status::internal(format!("storing the call failed: {e}")))?
        }
        Err(e) => {
            hub.unregister(&call_id);
            return Err(Status::internal(format!("storing the call failed: {e}")));
        }
    };
    let result = match stored {
        Ok(r) => r,
        Err(e) => {
            telemetry::error("store");
            hub.unregister(&call_id);
            return Err(Status::internal(format!("storing the call failed: {e}")));
        }
    };
    info!(status, "call stored");
    let report = result.report.get();
    telemetry::call_stored(status, report.redactions.iter().map(|r| r.kind.clone()));
    let ended = pb::CallEvent {
        call_id: call_id.clone(),
        t: report.duration_s,
        emitted_at: report.duration_s,
        event: Some(pb::call_event::Event::Ended(pb::CallEnded {
            status: status.to_string(),
            report_json: serde_json::to_string(report).expect("reports serialise"),
        })),
    };
    // Watchers see the end too, then their streams close.
    hub.finish(&call_id, &ended);
    Ok(ended)
}

/// Cleared audio and the sealed call, on their way to the call's writer.
enum ToDisk {
    /// Audio that left the hold.
    Cleared(Box<Cleared>),
    /// The sealed call: store it.
    Finish(Box<CallResult>),
}

/// Cleared audio chunks buffered between a call's actor and its writer.
const DISK_BUFFER: usize = 16;

/// A call's writer (a blocking thread): opens the call on disk, appends
/// its cleared audio and stores it at the end. When the actor goes away
/// without finishing (a panic), the writer closes the call as
/// `interrupted` at once (after a crash of the whole process,
/// [`crate::store::open::recover`] does at the next start).
fn write_call(
    data_dir: &std::path::Path,
    start: &OpenStart,
    if_exists: IfExists,
    mut rx: mpsc::Receiver<ToDisk>,
) -> Result<CallResult, AnalyzeError> {
    let mut open = OpenCall::create_with(data_dir, start, if_exists)?;
    while let Some(m) = rx.blocking_recv() {
        match m {
            ToDisk::Cleared(c) => open.append(&c)?,
            ToDisk::Finish(result) => {
                open.finish(&result)?;
                return Ok(*result);
            }
        }
    }
    // The actor went away without sealing the call (it panicked): close
    // it now as `interrupted`, with what was written.
    let id = open.close_interrupted("the call's analysis failed on the server")?;
    warn!(call_id = %id, "call stored as interrupted after its analysis failed");
    Err(AnalyzeError::Output(
        "the call ended without being sealed; it was stored as interrupted".into(),
    ))
}

/// A call's place on the hub, given up when dropped (after its end was
/// announced, or when its actor panicked).
struct Registered {
    hub: Arc<Hub>,
    call_id: String,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.hub.unregister(&self.call_id);
    }
}

/// Counts a live call in the metrics for as long as it lives.
struct LiveGauge;

impl LiveGauge {
    fn new() -> Self {
        telemetry::live_calls(1.0);
        LiveGauge
    }
}

impl Drop for LiveGauge {
    fn drop(&mut self) {
        telemetry::live_calls(-1.0);
    }
}

/// A watcher's place, given back when its stream ends.
struct WatchSlot(Vec<Arc<AtomicUsize>>);

impl Drop for WatchSlot {
    fn drop(&mut self) {
        for c in &self.0 {
            c.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Reads a StreamCall's first message and checks it.
#[allow(clippy::type_complexity)]
fn check_start(
    msg: Option<pb::CallInput>,
    limits: &super::policy::Limits,
) -> Result<(LiveStart, Encoding, usize, bool, bool), Status> {
    let Some(pb::CallInput {
        msg: Some(pb::call_input::Msg::Start(s)),
    }) = msg
    else {
        return Err(Status::invalid_argument(
            "the first message of StreamCall must be a CallStart (call_id, encoding, sample_rate, channels)",
        ));
    };
    validate_call_id(&s.call_id).map_err(|e| Status::invalid_argument(e.to_string()))?;
    limits.check_id("agent_id", &s.agent_id)?;
    limits.check_id("caller_id", &s.caller_id)?;
    let enc = Encoding::from_wire(s.encoding)
        .ok_or_else(|| Status::invalid_argument("encoding must be PCM16LE, MULAW or ALAW"))?;
    if !(8_000..=48_000).contains(&s.sample_rate) {
        return Err(Status::invalid_argument(format!(
            "sample_rate {} Hz is outside 8000–48000 Hz",
            s.sample_rate
        )));
    }
    let (legs, channels) = if s.separate_legs {
        (2, 1)
    } else {
        match s.channels {
            1 => (1, 1),
            2 => (2, 2),
            n => {
                return Err(Status::invalid_argument(format!(
                    "channels must be 1 or 2, not {n} (or set separate_legs)"
                )));
            }
        }
    };
    if s.agent_channel > 1 {
        return Err(Status::invalid_argument("agent_channel must be 0 or 1"));
    }
    Ok((
        LiveStart {
            call_id: s.call_id,
            agent_id: s.agent_id,
            caller_id: s.caller_id,
            started_at: std::time::SystemTime::now(),
            legs,
            sample_rate: s.sample_rate,
            codec: enc.name().to_string(),
            agent_channel: s.agent_channel as usize,
        },
        enc,
        channels,
        s.separate_legs,
        s.replace,
    ))
}

/// Turns wire audio into per-leg blocks, keeping separate legs in step.
struct Deframer {
    enc: Encoding,
    channels: usize,
    separate: bool,
    agent_channel: usize,
    legs: usize,
    pending: [Vec<f32>; 2],
    max_skew: usize,
}

impl Deframer {
    fn blocks(&mut self, chunk: pb::AudioChunk) -> Result<Option<Vec<Vec<f32>>>, Status> {
        let mut dec = vec![Vec::new(); self.channels];
        if !self.enc.decode(&chunk.data, self.channels, &mut dec) {
            return Err(Status::invalid_argument(format!(
                "audio chunk of {} bytes is not whole samples ({} bytes per frame)",
                chunk.data.len(),
                self.enc.width() * self.channels
            )));
        }
        if !self.separate {
            if self.legs == 2 && self.agent_channel == 1 {
                dec.swap(0, 1);
            }
            return Ok(Some(dec));
        }
        let leg = match pb::Speaker::try_from(chunk.leg) {
            Ok(pb::Speaker::Agent) => 0,
            Ok(pb::Speaker::Customer) => 1,
            _ => {
                return Err(Status::invalid_argument(
                    "with separate_legs every AudioChunk needs leg AGENT or CUSTOMER",
                ));
            }
        };
        self.pending[leg].extend_from_slice(&dec[0]);
        let (a, c) = (self.pending[0].len(), self.pending[1].len());
        // A quiet leg far behind is padded with silence.
        if a.abs_diff(c) > self.max_skew {
            let n = a.max(c);
            for p in &mut self.pending {
                p.resize(n, 0.0);
            }
        }
        let n = self.pending[0].len().min(self.pending[1].len());
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(
            self.pending
                .iter_mut()
                .map(|p| p.drain(..n).collect())
                .collect(),
        ))
    }
}

/// The gRPC service.
pub struct Service {
    hub: Arc<Hub>,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::CallEvent, Status>> + Send>>;
type FloorStream = Pin<Box<dyn Stream<Item = Result<pb::FloorUpdate, Status>> + Send>>;

#[tonic::async_trait]
impl CallScope for Service {
    type StreamCallStream = ReceiverStream<Result<pb::CallEvent, Status>>;
    type WatchCallStream = EventStream;
    type WatchFloorStream = FloorStream;
    type GetRecordingStream = ReceiverStream<Result<pb::RecordingChunk, Status>>;
    type ExportCallStream = ReceiverStream<Result<pb::ExportChunk, Status>>;

    async fn stream_call(
        &self,
        request: Request<Streaming<pb::CallInput>>,
    ) -> Result<Response<Self::StreamCallStream>, Status> {
        let who = self.hub.policy.access.identify("StreamCall", &request)?;
        who.require("StreamCall", Action::StreamCall)?;
        let limits = self.hub.policy.limits.clone();
        let mut inbound = request.into_inner();
        let start_timeout = std::time::Duration::from_secs_f64(limits.start_timeout_s.max(0.1));
        let first = match tokio::time::timeout(start_timeout, inbound.message()).await {
            Ok(m) => m?,
            Err(_) => {
                telemetry::rejected("invalid");
                return Err(Status::deadline_exceeded(format!(
                    "no CallStart within {} s of opening the stream; send it first",
                    start_timeout.as_secs_f64()
                )));
            }
        };
        let (start, enc, channels, separate, replace) =
            check_start(first, &limits).inspect_err(|_| {
                telemetry::rejected("invalid");
            })?;
        if replace {
            who.require("StreamCall", Action::ReplaceCall)?;
        }
        // A stored call is never overwritten by accident: ALREADY_EXISTS
        // unless an admin asked to replace it (recorded in the anchor chain).
        let (dir, id) = (self.hub.data_dir.clone(), start.call_id.clone());
        tokio::task::spawn_blocking(move || crate::analyze::check_new_call(&dir, &id, replace))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| {
                telemetry::rejected("duplicate");
                Status::from(e)
            })?;
        if replace {
            warn!(call_id = %start.call_id, by = %who.name, "replacing a stored call");
        }
        let if_exists = if replace {
            IfExists::Replace
        } else {
            IfExists::Refuse
        };
        let accepted = pb::CallEvent {
            call_id: start.call_id.clone(),
            t: 0.0,
            emitted_at: 0.0,
            event: Some(pb::call_event::Event::Accepted(pb::CallAccepted {
                agent_id: start.agent_id.clone(),
                legs: start.legs as u32,
            })),
        };
        self.hub.register(&accepted)?;
        let span = info_span!("call", call_id = %start.call_id);
        span.in_scope(|| info!(agent = %start.agent_id, by = %who.name, rate = start.sample_rate, legs = start.legs, "live call started"));
        let (out_tx, out_rx) = mpsc::channel(CALLER_BUFFER);
        let (in_tx, in_rx) = mpsc::channel(INPUT_BUFFER);
        let _ = out_tx.send(Ok(accepted)).await;
        let mut deframer = Deframer {
            enc,
            channels,
            separate,
            agent_channel: start.agent_channel,
            legs: start.legs,
            pending: [Vec::new(), Vec::new()],
            max_skew: (LEG_SKEW_S * f64::from(start.sample_rate)) as usize,
        };
        let mut meter = Meter::new(&limits);
        // Seconds of audio per byte of a chunk (both legs of separate legs
        // arrive as their own chunks, so each counts half).
        let media_per_byte = 1.0
            / (f64::from(start.sample_rate) * (enc.width() * channels) as f64)
            / if separate { 2.0 } else { 1.0 };
        // Reader: wire messages → actor input. A bad message ends the call
        // (what was received is still stored) and tells the caller why.
        let reader_out = out_tx.clone();
        let idle = std::time::Duration::from_secs_f64(self.hub.cfg.idle_timeout_s.max(0.1));
        tokio::spawn(
            async move {
                loop {
                    let msg = match tokio::time::timeout(idle, inbound.message()).await {
                        Ok(Ok(Some(m))) => m,
                        Ok(Ok(None)) => break,
                        Ok(Err(e)) => {
                            warn!(error = %e, "call stream broke; storing what arrived");
                            break;
                        }
                        Err(_) => {
                            warn!("no audio for {idle:?}; ending the call");
                            let _ = reader_out.try_send(Err(Status::deadline_exceeded(format!(
                                "no audio for {} s: the call was ended and stored as interrupted; send audio (silence on hold) at least that often",
                                idle.as_secs()
                            ))));
                            break;
                        }
                    };
                    if let Some(pb::call_input::Msg::Audio(chunk)) = &msg.msg {
                        let n = chunk.data.len();
                        if let Err(status) = meter.add(n, n as f64 * media_per_byte) {
                            warn!(error = %status.message(), "a stream limit was broken; ending the call");
                            telemetry::denied("limit");
                            let _ = reader_out.try_send(Err(status));
                            break;
                        }
                    }
                    match msg.msg {
                        Some(pb::call_input::Msg::Audio(chunk)) => match deframer.blocks(chunk) {
                            Ok(Some(b)) => {
                                if in_tx.send(Input::Audio(b)).await.is_err() {
                                    break;
                                }
                            }
                            Ok(None) => {}
                            Err(status) => {
                                warn!(error = %status.message(), "bad audio; ending the call");
                                let _ = reader_out.try_send(Err(status));
                                break;
                            }
                        },
                        Some(pb::call_input::Msg::End(_)) => {
                            let _ = in_tx.send(Input::End).await;
                            break;
                        }
                        Some(pb::call_input::Msg::Start(_)) | None => {
                            let _ = reader_out.try_send(Err(Status::invalid_argument(
                                "only audio chunks and one CallEnd may follow the CallStart",
                            )));
                            break;
                        }
                    }
                }
            }
            .instrument(span.clone()),
        );
        let hub = Arc::clone(&self.hub);
        // Unregistered however the actor ends, a panic included, so a
        // broken call never holds up shutdown or a place on the floor.
        let registered = Registered {
            hub: Arc::clone(&hub),
            call_id: start.call_id.clone(),
        };
        let actor = tokio::spawn(
            run_call(hub, start, if_exists, in_rx, out_tx.clone()).instrument(span.clone()),
        );
        tokio::spawn(
            async move {
                let _registered = registered;
                let last = match actor.await {
                    Ok(last) => last,
                    Err(e) => {
                        // The payload is not logged: it could quote call data.
                        tracing::error!(panic = e.is_panic(), "the call's task failed; what arrived is stored as interrupted");
                        telemetry::error("call_task");
                        Err(Status::internal(
                            "the call's analysis failed on the server; what arrived was stored as interrupted (the server log says more)",
                        ))
                    }
                };
                let _ = out_tx.send(last).await;
            }
            .instrument(span),
        );
        Ok(Response::new(ReceiverStream::new(out_rx)))
    }

    async fn watch_call(
        &self,
        request: Request<pb::WatchCallRequest>,
    ) -> Result<Response<Self::WatchCallStream>, Status> {
        let who = self.hub.policy.access.identify("WatchCall", &request)?;
        let call_id = request.into_inner().call_id;
        let remote = {
            let calls = self.hub.calls.lock().expect("hub lock");
            if calls.contains_key(&call_id) {
                None
            } else {
                self.hub
                    .cluster
                    .get()
                    .and_then(|c| Some((Arc::clone(c), c.remote_agent(&call_id)?)))
            }
        };
        if let Some((cluster, agent)) = remote {
            who.require("WatchCall", Action::WatchCall(&agent))?;
            let slot = self.hub.watch_slot(None)?;
            let rx = cluster
                .follow_remote(&call_id)
                .await
                .map_err(Status::unavailable)?;
            return Ok(Response::new(Box::pin(forward(
                rx,
                self.hub.shutdown.clone(),
                slot,
            ))));
        }
        let (rx, first, slot) = {
            let calls = self.hub.calls.lock().expect("hub lock");
            let e = calls.get(&call_id);
            // An agent learns nothing about other agents' calls, not even
            // whether they are live.
            who.require(
                "WatchCall",
                Action::WatchCall(e.map_or("", |e| e.agent_id.as_str())),
            )?;
            let Some(e) = e else {
                return Err(Status::not_found(
                    "no such live call; finished calls are read with GetReport",
                ));
            };
            let slot = self.hub.watch_slot(Some(&e.watchers))?;
            // The call so far, then its KPIs now, then what happens next.
            (e.events.subscribe(), e.so_far(&call_id), slot)
        };
        Ok(Response::new(Box::pin(follow(
            first,
            rx,
            self.hub.shutdown.clone(),
            slot,
            |_| true,
        ))))
    }

    async fn watch_floor(
        &self,
        request: Request<pb::WatchFloorRequest>,
    ) -> Result<Response<Self::WatchFloorStream>, Status> {
        let who = self.hub.policy.access.identify("WatchFloor", &request)?;
        who.require("WatchFloor", Action::WatchFloor)?;
        let slot = self.hub.watch_slot(None)?;
        // An agent's floor is its own calls, without the floor's figures.
        let own = who.only_agent().map(str::to_string);
        let keep = move |u: &pb::FloorUpdate| match &own {
            Some(own) => u.agent_id == *own && u.stats.is_none(),
            None => true,
        };
        let (rx, now) = {
            let calls = self.hub.calls.lock().expect("hub lock");
            let rx = self.hub.floor.subscribe();
            let node = self.hub.node_id();
            let now: Vec<pb::FloorUpdate> = std::iter::once(self.hub.floor_stats(&calls))
                .chain(calls.iter().map(|(id, e)| {
                    e.floor_message(pb::floor_update::Kind::CallUpdate, id, node.clone())
                }))
                .chain(
                    self.hub
                        .cluster
                        .get()
                        .map(|c| c.remote_floor())
                        .unwrap_or_default()
                        .into_iter()
                        .map(|u| pb::FloorUpdate {
                            kind: pb::floor_update::Kind::CallUpdate as i32,
                            ..u
                        }),
                )
                .filter(|u| keep(u))
                .collect();
            (rx, now)
        };
        Ok(Response::new(Box::pin(follow(
            now,
            rx,
            self.hub.shutdown.clone(),
            slot,
            keep,
        ))))
    }

    async fn get_report(
        &self,
        request: Request<pb::GetReportRequest>,
    ) -> Result<Response<pb::GetReportResponse>, Status> {
        let who = self.hub.policy.access.identify("GetReport", &request)?;
        let call_id = request.into_inner().call_id;
        validate_call_id(&call_id).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let dir = self.hub.data_dir.clone();
        let id = call_id.clone();
        let found = tokio::task::spawn_blocking(move || {
            crate::store::open_existing(&dir).and_then(|db| db.report_json(&id))
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        let report_json = match found {
            Ok(Some(j)) => Some(j),
            Ok(None) | Err(StoreError::Missing(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let agent = report_json
            .as_deref()
            .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
            .and_then(|v| v.get("agent_id")?.as_str().map(str::to_string))
            .unwrap_or_default();
        // Checked before "not found", so an agent cannot probe other ids.
        who.require("GetReport", Action::ReadReport(&agent))?;
        match report_json {
            Some(report_json) => Ok(Response::new(pb::GetReportResponse { report_json })),
            None => Err(Status::not_found(format!(
                "no stored report for call {call_id}"
            ))),
        }
    }

    async fn list_calls(
        &self,
        request: Request<pb::ListCallsRequest>,
    ) -> Result<Response<pb::ListCallsResponse>, Status> {
        let who = self.hub.policy.access.identify("ListCalls", &request)?;
        who.require("ListCalls", Action::ListCalls)?;
        // An agent lists its own calls, whatever it asks for.
        let filter = console::filter(request.into_inner(), &who, 100);
        let dir = self.hub.data_dir.clone();
        let rows = tokio::task::spawn_blocking(move || {
            crate::store::open_existing(&dir).and_then(|db| db.list(&filter))
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        let rows = match rows {
            Err(StoreError::Missing(_)) => Vec::new(),
            r => r?,
        };
        let calls = rows
            .into_iter()
            .map(|c| pb::CallSummary {
                call_id: c.call_id,
                duration_s: c.duration_s,
                status: c.status,
                stored_at: c.stored_at,
                started_at: c.started_at,
                agent_id: c.agent_id.unwrap_or_default(),
                caller_id: c.caller_id.unwrap_or_default(),
                category: c.category.unwrap_or_default(),
                score: c.score,
                prompts: c.prompts as u32,
                redactions: c.redactions as u32,
            })
            .collect();
        Ok(Response::new(pb::ListCallsResponse { calls }))
    }

    async fn get_recording(
        &self,
        request: Request<pb::GetRecordingRequest>,
    ) -> Result<Response<Self::GetRecordingStream>, Status> {
        let who = self.hub.policy.access.identify("GetRecording", &request)?;
        who.require("GetRecording", Action::Recording)?;
        let call_id = request.into_inner().call_id;
        validate_call_id(&call_id).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let data_dir = self.hub.data_dir.clone();
        let id = call_id.clone();
        let path = tokio::task::spawn_blocking(move || {
            crate::store::objects::local_files(&data_dir, &id).recording
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        let file = std::fs::File::open(&path)
            .map_err(|_| Status::not_found(format!("no stored recording for call {call_id}")))?;
        info!(call_id = %call_id, by = %who.name, "recording fetched");
        let (tx, rx) = mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut file = file;
            loop {
                let mut buf = vec![0u8; RECORDING_CHUNK];
                match file.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx
                            .blocking_send(Ok(pb::RecordingChunk { data: buf }))
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(Status::internal(format!(
                            "reading the recording failed: {e}"
                        ))));
                        return;
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn get_audit_trail(
        &self,
        request: Request<pb::GetAuditTrailRequest>,
    ) -> Result<Response<pb::GetAuditTrailResponse>, Status> {
        let who = self.hub.policy.access.identify("GetAuditTrail", &request)?;
        who.require("GetAuditTrail", Action::AuditTrail)?;
        let call_id = request.into_inner().call_id;
        validate_call_id(&call_id).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let dir = self.hub.data_dir.clone();
        let found = tokio::task::spawn_blocking(move || audit_trail(&dir, &call_id))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(found))
    }

    async fn search_segments(
        &self,
        request: Request<pb::SearchSegmentsRequest>,
    ) -> Result<Response<pb::SearchSegmentsResponse>, Status> {
        let who = self
            .hub
            .policy
            .access
            .identify("SearchSegments", &request)?;
        who.require("SearchSegments", Action::ListCalls)?;
        let r = request.into_inner();
        let filter = console::filter(r.filter.unwrap_or_default(), &who, 50);
        let embedder = self
            .hub
            .transcription
            .rules
            .model
            .as_ref()
            .map(|m| Arc::clone(m.embedder()));
        let dir = self.hub.data_dir.clone();
        let hits =
            blocking(move || console::search(&dir, embedder.as_deref(), filter, &r.like)).await?;
        Ok(Response::new(pb::SearchSegmentsResponse { hits }))
    }

    async fn get_trends(
        &self,
        request: Request<pb::GetTrendsRequest>,
    ) -> Result<Response<pb::GetTrendsResponse>, Status> {
        let who = self.hub.policy.access.identify("GetTrends", &request)?;
        who.require("GetTrends", Action::Trends)?;
        let filter = console::filter(request.into_inner().filter.unwrap_or_default(), &who, 0);
        let dir = self.hub.data_dir.clone();
        let trends_json = blocking(move || console::trends(&dir, filter)).await?;
        Ok(Response::new(pb::GetTrendsResponse { trends_json }))
    }

    async fn export_call(
        &self,
        request: Request<pb::ExportCallRequest>,
    ) -> Result<Response<Self::ExportCallStream>, Status> {
        let who = self.hub.policy.access.identify("ExportCall", &request)?;
        who.require("ExportCall", Action::Recording)?;
        who.require("ExportCall", Action::AuditTrail)?;
        let call_id = request.into_inner().call_id;
        validate_call_id(&call_id).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let dir = self.hub.data_dir.clone();
        let id = call_id.clone();
        let archive = blocking(move || console::export(&dir, &id)).await?;
        info!(call_id = %call_id, by = %who.name, bytes = archive.len(), "call exported");
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            for piece in archive.chunks(RECORDING_CHUNK) {
                let chunk = pb::ExportChunk {
                    data: piece.to_vec(),
                };
                if tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn list_purges(
        &self,
        request: Request<pb::ListPurgesRequest>,
    ) -> Result<Response<pb::ListPurgesResponse>, Status> {
        let who = self.hub.policy.access.identify("ListPurges", &request)?;
        who.require("ListPurges", Action::AuditTrail)?;
        let dir = self.hub.data_dir.clone();
        let found = blocking(move || console::purges(&dir)).await?;
        Ok(Response::new(found))
    }

    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let who = self.hub.policy.access.identify("WhoAmI", &request)?;
        Ok(Response::new(console::whoami(&who)))
    }

    async fn cluster_status(
        &self,
        request: Request<pb::ClusterStatusRequest>,
    ) -> Result<Response<pb::ClusterStatusResponse>, Status> {
        let who = self.hub.policy.access.identify("ClusterStatus", &request)?;
        who.require("ClusterStatus", Action::Cluster)?;
        let nodes = match self.hub.cluster.get() {
            Some(c) => std::iter::once(c.own_status(&self.hub))
                .chain(c.peers())
                .collect(),
            None => vec![self.hub.node_status("local", "")],
        };
        Ok(Response::new(pb::ClusterStatusResponse { nodes }))
    }
}

/// Runs store work off the runtime; a panic in it is INTERNAL.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| Status::internal("the query failed; see the server log"))?
}

/// The trail's chain, the recording's hash and the anchor chain, as
/// `callscope audit verify --call` checks them; the problems named.
fn verify_trail(data_dir: &std::path::Path, call_id: &str) -> Result<(), String> {
    let report = crate::store::verify::verify(data_dir, crate::store::verify::Which::Call(call_id))
        .map_err(|e| e.to_string())?;
    if report.ok() {
        return Ok(());
    }
    Err(crate::store::commands::verify_text(&report)
        .trim()
        .to_string())
}

/// Bytes per `RecordingChunk`.
const RECORDING_CHUNK: usize = 64 * 1024;

/// A stored call's audit trail and whether it verifies.
fn audit_trail(
    data_dir: &std::path::Path,
    call_id: &str,
) -> Result<pb::GetAuditTrailResponse, Status> {
    let path = crate::store::objects::local_files(data_dir, call_id).trail;
    let text = std::fs::read_to_string(&path)
        .map_err(|_| Status::not_found(format!("no stored audit trail for call {call_id}")))?;
    let lines = text.lines().map(str::to_string).collect();
    let (verified, problem) = match verify_trail(data_dir, call_id) {
        Ok(()) => (true, String::new()),
        Err(problem) => (false, problem),
    };
    Ok(pb::GetAuditTrailResponse {
        lines,
        verified,
        problem,
    })
}

/// A watcher's stream: `first`, then what `rx` carries (skipping ahead when
/// the watcher falls behind) until the channel closes, the watcher goes, or
/// the server shuts down (so a dashboard never holds shutdown up).
fn follow<T: Clone + Send + 'static>(
    first: Vec<T>,
    mut rx: broadcast::Receiver<T>,
    mut shutdown: watch::Receiver<bool>,
    slot: WatchSlot,
    keep: impl Fn(&T) -> bool + Send + 'static,
) -> ReceiverStream<Result<T, Status>> {
    let (tx, out) = mpsc::channel(WATCH_BUFFER);
    tokio::spawn(async move {
        let _slot = slot;
        for x in first {
            if tx.send(Ok(x)).await.is_err() {
                return;
            }
        }
        while !*shutdown.borrow() {
            let next = tokio::select! {
                r = rx.recv() => r,
                _ = shutdown.changed() => return,
                _ = tx.closed() => return,
            };
            match next {
                Ok(x) if !keep(&x) => continue,
                Ok(x) => {
                    if tx.send(Ok(x)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    ReceiverStream::new(out)
}

/// A watcher's stream of another node's call (see [`follow`]): what the
/// bus relay in `rx` carries, until it ends or the server shuts down; the
/// watcher's place is held as long as the stream.
fn forward(
    rx: mpsc::Receiver<pb::CallEvent>,
    mut shutdown: watch::Receiver<bool>,
    slot: WatchSlot,
) -> impl tokio_stream::Stream<Item = Result<pb::CallEvent, Status>> + Send + 'static {
    use futures_util::StreamExt as _;
    let stopping = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    ReceiverStream::new(rx)
        .map(move |ev| {
            let _held = &slot;
            Ok(ev)
        })
        .take_until(stopping)
}

/// Serves the API on `listener` until `stop` resolves; then tells every live
/// call to finish (stored as `interrupted`) and waits for them.
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: Arc<Hub>,
    shutdown: watch::Sender<bool>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    serve_tls(listener, None, hub, shutdown, stop).await
}

/// [`serve`] over TLS when `tls` is given (the caller checks that plain
/// TCP is only used on loopback: [`crate::security::tls::plain_allowed`]).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Option<tonic::transport::ServerTlsConfig>,
    hub: Arc<Hub>,
    shutdown: watch::Sender<bool>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    serve_incoming(incoming, tls, hub, shutdown, stop).await
}

/// [`serve_tls`] over any stream of connections (e.g. in-memory
/// `tokio::io::duplex` pipes in tests).
pub async fn serve_incoming<I, IO, IE>(
    incoming: I,
    tls: Option<tonic::transport::ServerTlsConfig>,
    hub: Arc<Hub>,
    shutdown: watch::Sender<bool>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error>
where
    I: tokio_stream::Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    let data_dir = hub.data_dir.clone();
    let closed = tokio::task::spawn_blocking(move || crate::store::open::recover(&data_dir))
        .await
        .unwrap_or_default();
    if !closed.is_empty() {
        warn!(
            calls = closed.len(),
            "calls left open by a crash were stored as interrupted"
        );
    }
    // Calls kept while the store was away: stored as soon as it is back.
    let data_dir = hub.data_dir.clone();
    let retry_hub = Arc::downgrade(&hub);
    tokio::spawn(async move {
        loop {
            let dir = data_dir.clone();
            if let Ok((r, left)) = tokio::task::spawn_blocking(move || {
                // Calls a crash left open while the store was away, then
                // calls kept while it was away.
                let closed = crate::store::open::recover_waiting(&dir);
                if !closed.is_empty() {
                    warn!(
                        calls = closed.len(),
                        "calls left open by a crash were stored as interrupted"
                    );
                }
                let r = crate::store::pending::retry(&dir);
                (r, crate::store::pending::count(&dir))
            })
            .await
            {
                telemetry::calls_kept(left);
                if !r.stored.is_empty() {
                    info!(
                        calls = r.stored.len(),
                        left, "calls kept while the store was away are stored"
                    );
                }
                if !r.uploaded.is_empty() || !r.deleted.is_empty() {
                    info!(
                        uploaded = r.uploaded.len(),
                        deleted = r.deleted.len(),
                        waiting = r.objects_waiting,
                        "object storage took uploads or deletes it refused earlier"
                    );
                }
            }
            let Some(every) = retry_hub
                .upgrade()
                .map(|h| h.store_retry_ms.load(Ordering::Relaxed))
            else {
                return;
            };
            tokio::time::sleep(std::time::Duration::from_millis(every)).await;
        }
    });
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<CallScopeServer<Service>>().await;
    // Both reflection versions: grpcurl speaks v1, many stock clients
    // (Python's grpcio-reflection among them) still speak v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .expect("the descriptor set is built in");
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .expect("the descriptor set is built in");
    let service = CallScopeServer::new(Service {
        hub: Arc::clone(&hub),
    })
    .max_decoding_message_size(MAX_MESSAGE);
    let hub2 = Arc::clone(&hub);
    let stopping = async move {
        stop.await;
        info!(
            live = hub2.live_calls(),
            "shutting down: finishing live calls"
        );
        let _ = shutdown.send(true);
        // Let actors store their calls; the server closes once streams end.
        while hub2.live_calls() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    // gRPC-Web (the console in a browser) on the API and health services
    // only: wrapping everything would turn the page's plain GETs into 400s.
    // No CORS layer: only the console's own origin can call with a token.
    use tower_layer::Layer as _;
    let grpc_web = tonic_web::GrpcWebLayer::new();
    let routes = tonic::service::Routes::new(grpc_web.layer(health_service))
        .add_service(grpc_web.layer(service))
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .into_axum_router();
    let routes = tonic::service::Routes::from(super::web::with_console(routes));
    // HTTP/1.1 for browsers on a plain loopback server (TLS is h2 only).
    let mut builder = tonic::transport::Server::builder().accept_http1(true);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    builder
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, stopping)
        .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Where `serve` listens by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";

/// Parses a listen address.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|e| format!("--listen {s}: not an address like 127.0.0.1:50051 ({e})"))
}
