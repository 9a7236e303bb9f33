//! `callscope load`: many concurrent calls against a server, and how late
//! their events arrive.
//!
//! Each call is a [`replay`] of a recording at real-time pace (staggered
//! starts, files taken in turn). Latency is measured on the media clock, as
//! a telephony platform sees it: when an event arrives, the media time of
//! the audio sent so far, minus the media time at which the audio made the
//! event certain:
//!
//! * final transcript: the utterance's end, so the latency includes the
//!   end-pointing pause, queueing, whisper and the network;
//! * interruption and silence started/ended: the media time the server had
//!   analysed when it sent the event (`emitted_at`: the overlap or the
//!   silence reached its threshold within that last chunk), so the latency
//!   is queueing, processing and the network. The decision itself adds the
//!   VAD's onset confirmation (0.1 s) on top, by design, not by load.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::analyze::call_id_for;
use crate::grpc::client::{ReplayOptions, replay};
use crate::grpc::pb;

/// Arguments of `callscope load`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Recordings to stream (taken in turn by the calls).
    #[arg(long, required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// The server.
    #[arg(
        long,
        default_value = "http://127.0.0.1:50051",
        env = "CALLSCOPE_SERVER"
    )]
    pub server: String,
    /// Concurrent calls.
    #[arg(long, default_value_t = 1)]
    pub calls: usize,
    /// 1 = real time (latencies are only meaningful at 1).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Stop each call after this many media seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seconds between call starts.
    #[arg(long, default_value_t = 1.0)]
    pub stagger: f64,
    /// Chunk length, milliseconds (20–100).
    #[arg(long, default_value_t = 50)]
    pub chunk_ms: u32,
    /// The server's process id, for its CPU time and peak memory (Linux, same machine).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// TLS and token.
    #[command(flatten)]
    pub creds: super::commands::Credentials,
}

/// Latencies of one kind of event, seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lags(Vec<f64>);

impl Lags {
    fn push(&mut self, x: f64) {
        self.0.push(x.max(0.0));
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// None measured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `q` quantile (0–1), nearest rank; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Some(v[rank - 1])
    }

    fn extend(&mut self, other: &Lags) {
        self.0.extend_from_slice(&other.0);
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "n": self.len(),
            "p50_s": self.quantile(0.5),
            "p95_s": self.quantile(0.95),
            "max_s": self.quantile(1.0),
        })
    }

    fn cell(&self) -> String {
        match (self.quantile(0.5), self.quantile(0.95)) {
            (Some(a), Some(b)) => format!("{a:.2}/{b:.2}"),
            _ => "-".to_string(),
        }
    }
}

/// What one call saw.
#[derive(Debug, Clone, Default)]
pub struct CallLoad {
    /// The call id used.
    pub call_id: String,
    /// The recording.
    pub file: String,
    /// Media seconds sent.
    pub media_s: f64,
    /// Events received.
    pub events: usize,
    /// Final transcript latency.
    pub finals: Lags,
    /// Interruption latency.
    pub interruptions: Lags,
    /// Silence started/ended latency.
    pub silences: Lags,
    /// Largest transcription lag the server reported, seconds.
    pub max_backlog_s: f64,
    /// `transcription_lagging` events.
    pub lagging_events: usize,
    /// Whether the server deferred the call's transcription (a lagging
    /// event with `deferred`): its finals came when whisper was idle or
    /// after the call.
    pub deferred: bool,
    /// How the call ended ("complete", …) or what went wrong.
    pub outcome: String,
    /// Whether it went wrong.
    pub failed: bool,
}

impl CallLoad {
    /// Takes one event that arrived when `media_s` had been sent.
    pub fn on_event(&mut self, ev: &pb::CallEvent, media_s: f64) {
        use pb::call_event::Event;
        use pb::signal_event::Kind;
        self.events += 1;
        self.media_s = self.media_s.max(media_s);
        match &ev.event {
            Some(Event::Transcript(s)) if s.is_final => self.finals.push(media_s - s.end),
            Some(Event::Signal(s)) => match Kind::try_from(s.kind) {
                Ok(Kind::Interruption) => self.interruptions.push(media_s - ev.emitted_at),
                Ok(Kind::SilenceStarted | Kind::SilenceEnded) => {
                    self.silences.push(media_s - ev.emitted_at)
                }
                _ => {}
            },
            Some(Event::Kpi(k)) => {
                self.max_backlog_s = self.max_backlog_s.max(k.transcription_lag_s)
            }
            Some(Event::Lagging(l)) => {
                self.lagging_events += 1;
                self.deferred |= l.deferred;
            }
            Some(Event::Ended(e)) => self.outcome = e.status.clone(),
            _ => {}
        }
    }
}

/// CPU seconds and peak resident memory of a process, from `/proc`.
fn proc_usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // utime and stime are in USER_HZ ticks, 100 per second on Linux.
    let cpu_s = ticks / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse::<u64>()
        .ok()?;
    Some((cpu_s, hwm_kb * 1024))
}

/// The whole run.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Per call.
    pub calls: Vec<CallLoad>,
    /// Wall time of the run, seconds.
    pub wall_s: f64,
    /// Server CPU use over the run, in cores (1.0 = one core busy), if known.
    pub server_cores: Option<f64>,
    /// Server peak resident memory, bytes, if known.
    pub server_peak_bytes: Option<u64>,
}

impl LoadReport {
    /// All calls' latencies of one kind together.
    pub fn all(&self, pick: impl Fn(&CallLoad) -> &Lags) -> Lags {
        let mut all = Lags::default();
        for c in &self.calls {
            all.extend(pick(c));
        }
        all
    }

    /// Calls that went wrong.
    pub fn failures(&self) -> usize {
        self.calls.iter().filter(|c| c.failed).count()
    }

    /// Calls whose transcription the server deferred.
    pub fn deferred(&self) -> usize {
        self.calls.iter().filter(|c| c.deferred).count()
    }

    /// The report as JSON.
    pub fn json(&self) -> serde_json::Value {
        let calls: Vec<serde_json::Value> = self
            .calls
            .iter()
            .map(|c| {
                json!({
                    "call_id": c.call_id,
                    "file": c.file,
                    "media_s": c.media_s,
                    "events": c.events,
                    "final_transcript_lag": c.finals.json(),
                    "interruption_lag": c.interruptions.json(),
                    "silence_lag": c.silences.json(),
                    "max_transcription_backlog_s": c.max_backlog_s,
                    "lagging_events": c.lagging_events,
                    "deferred": c.deferred,
                    "outcome": c.outcome,
                    "failed": c.failed,
                })
            })
            .collect();
        json!({
            "calls": calls,
            "concurrent_calls": self.calls.len(),
            "wall_s": self.wall_s,
            "final_transcript_lag": self.all(|c| &c.finals).json(),
            "interruption_lag": self.all(|c| &c.interruptions).json(),
            "silence_lag": self.all(|c| &c.silences).json(),
            "max_transcription_backlog_s": self.calls.iter().map(|c| c.max_backlog_s).fold(0.0, f64::max),
            "server_cpu_cores": self.server_cores,
            "server_peak_bytes": self.server_peak_bytes,
            "failures": self.failures(),
            "deferred_calls": self.deferred(),
        })
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<28} {:>7} {:>6} {:>16} {:>16} {:>16} {:>8}  outcome\n",
            "call",
            "media s",
            "events",
            "final p50/p95 s",
            "interr. p50/p95",
            "silence p50/p95",
            "backlog"
        );
        for c in &self.calls {
            s += &format!(
                "{:<28} {:>7.1} {:>6} {:>16} {:>16} {:>16} {:>7.1}s  {}\n",
                c.call_id,
                c.media_s,
                c.events,
                c.finals.cell(),
                c.interruptions.cell(),
                c.silences.cell(),
                c.max_backlog_s,
                if c.deferred {
                    format!("{} (transcription deferred)", c.outcome)
                } else {
                    c.outcome.clone()
                }
            );
        }
        s += "\nall calls          n     p50 s   p95 s   max s\n";
        for (name, l) in [
            ("final transcript", self.all(|c| &c.finals)),
            ("interruption", self.all(|c| &c.interruptions)),
            ("silence", self.all(|c| &c.silences)),
        ] {
            let f = |q: f64| l.quantile(q).map_or("-".to_string(), |x| format!("{x:.2}"));
            s += &format!(
                "{name:<16} {:>5} {:>9} {:>7} {:>7}\n",
                l.len(),
                f(0.5),
                f(0.95),
                f(1.0)
            );
        }
        s += &format!(
            "\n{} call(s), {} failed, {} deferred, {:.0} s wall",
            self.calls.len(),
            self.failures(),
            self.deferred(),
            self.wall_s
        );
        if let (Some(c), Some(m)) = (self.server_cores, self.server_peak_bytes) {
            s += &format!(
                "; server CPU {c:.2} cores, peak memory {:.0} MiB",
                m as f64 / (1024.0 * 1024.0)
            );
        }
        s
    }
}

/// Runs the load: `args.calls` concurrent replays.
pub async fn run(args: &LoadArgs, server: &crate::grpc::client::Endpoint) -> LoadReport {
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let before = args.server_pid.and_then(proc_usage);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..args.calls {
        let file = args.files[i % args.files.len()].clone();
        let opts = ReplayOptions {
            call_id: format!("load-{run_id}-{i}-{}", call_id_for(&file)),
            agent_id: format!("load-agent-{i}"),
            caller_id: String::new(),
            speed: args.speed,
            chunk_ms: args.chunk_ms,
            agent_channel: 0,
            max_s: args.duration,
            replace: false,
        };
        let server = server.clone();
        let delay = Duration::from_secs_f64(args.stagger.max(0.0) * i as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut c = CallLoad {
                call_id: opts.call_id.clone(),
                file: file.display().to_string(),
                ..CallLoad::default()
            };
            match replay(&server, &file, &opts, |ev, media| c.on_event(ev, media)).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    c.failed = true;
                    c.outcome = "ended without storing".to_string();
                }
                Err(e) => {
                    c.failed = true;
                    c.outcome = e.to_string();
                }
            }
            c
        }));
    }
    let mut report = LoadReport::default();
    for t in tasks {
        match t.await {
            Ok(c) => report.calls.push(c),
            Err(e) => report.calls.push(CallLoad {
                outcome: format!("task failed: {e}"),
                failed: true,
                ..CallLoad::default()
            }),
        }
    }
    report.wall_s = t0.elapsed().as_secs_f64();
    if let (Some((c0, _)), Some((c1, peak))) = (before, args.server_pid.and_then(proc_usage)) {
        report.server_cores = Some((c1 - c0) / report.wall_s.max(1e-9));
        report.server_peak_bytes = Some(peak);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let mut l = Lags::default();
        for x in [0.5, 0.1, 0.3, 0.2, 0.4] {
            l.push(x);
        }
        assert_eq!(l.quantile(0.5), Some(0.3));
        assert_eq!(l.quantile(0.95), Some(0.5));
        assert_eq!(l.quantile(0.0), Some(0.1));
        assert_eq!(Lags::default().quantile(0.5), None);
    }

    #[test]
    fn latency_counts_from_when_the_event_was_known_or_the_utterance_ended() {
        let mut c = CallLoad::default();
        let signal = |kind: pb::signal_event::Kind, t: f64, d: f64| pb::CallEvent {
            call_id: "x".into(),
            t,
            emitted_at: t + d + 0.1,
            event: Some(pb::call_event::Event::Signal(pb::SignalEvent {
                kind: kind as i32,
                duration_s: d,
                ..Default::default()
            })),
        };
        // Interrupter started at 10 s, known at 10.4 s, arrived at 10.52 s.
        c.on_event(
            &signal(pb::signal_event::Kind::Interruption, 10.0, 0.3),
            10.52,
        );
        // Silence from 20 s, known at 22.1 s, arrived at 22.2 s.
        c.on_event(
            &signal(pb::signal_event::Kind::SilenceStarted, 20.0, 2.0),
            22.2,
        );
        let fin = pb::CallEvent {
            call_id: "x".into(),
            t: 30.0,
            emitted_at: 31.5,
            event: Some(pb::call_event::Event::Transcript(pb::TranscriptSegment {
                end: 31.0,
                is_final: true,
                ..Default::default()
            })),
        };
        c.on_event(&fin, 31.8);
        assert!((c.interruptions.quantile(0.5).unwrap() - 0.12).abs() < 1e-9);
        assert!((c.silences.quantile(0.5).unwrap() - 0.1).abs() < 1e-9);
        assert!((c.finals.quantile(0.5).unwrap() - 0.8).abs() < 1e-9);
        assert_eq!(c.events, 3);
        // A lagging call, then deferred: counted once as deferred.
        let lagging = |deferred: bool| pb::CallEvent {
            call_id: "x".into(),
            t: 40.0,
            emitted_at: 40.0,
            event: Some(pb::call_event::Event::Lagging(pb::TranscriptionLagging {
                deferred,
                ..Default::default()
            })),
        };
        c.on_event(&lagging(false), 40.0);
        assert!(!c.deferred);
        c.on_event(&lagging(true), 41.0);
        let report = LoadReport {
            calls: vec![c, CallLoad::default()],
            ..Default::default()
        };
        assert_eq!(report.deferred(), 1);
        assert_eq!(report.json()["deferred_calls"], 1);
        assert_eq!(report.json()["calls"][0]["deferred"], true);
    }
}
