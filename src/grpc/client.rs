//! Command-line clients of the API: `replay` (a telephony platform pushing
//! a recording) and `watch` (an agent desktop or a supervisor's floor view).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use super::pb::call_scope_client::CallScopeClient;
use super::{Encoding, pb};
use crate::security::tls::ClientTlsFiles;
use crate::source::{Codec, WavSource};

/// What went wrong in a client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server cannot be reached. Retry once it runs.
    #[error(
        "cannot reach callscope at {url}: {detail}; start it with `callscope serve` or check --server"
    )]
    Connect {
        /// The URL tried.
        url: String,
        /// Why.
        detail: String,
    },
    /// The server refused or ended the call.
    #[error("server: {0}")]
    Status(#[from] tonic::Status),
    /// The recording cannot be read.
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
}

/// How to reach a server: its URL (`https://host:port`, or `http://` on
/// loopback only), the TLS files and the bearer token.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// `https://host:port` (or `http://127.0.0.1:port`).
    pub url: String,
    /// CA, and client certificate for mutual TLS.
    pub tls: ClientTlsFiles,
    /// Bearer token sent with every request.
    pub token: Option<String>,
}

impl From<&str> for Endpoint {
    fn from(url: &str) -> Self {
        Endpoint {
            url: url.to_string(),
            ..Default::default()
        }
    }
}

impl From<&String> for Endpoint {
    fn from(url: &String) -> Self {
        Endpoint::from(url.as_str())
    }
}

impl From<&Endpoint> for Endpoint {
    fn from(e: &Endpoint) -> Self {
        e.clone()
    }
}

/// Adds `authorization: Bearer <token>` to every request.
#[derive(Debug, Clone)]
pub struct Bearer(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A connected client.
pub type Client = CallScopeClient<InterceptedService<Channel, Bearer>>;

/// Connects to a server: TLS for `https://` URLs; plain `http://` only to
/// a loopback host, since audio and transcripts would cross in clear.
pub async fn connect(ep: impl Into<Endpoint>) -> Result<Client, ClientError> {
    let ep = ep.into();
    let fail = |detail: String| ClientError::Connect {
        url: ep.url.clone(),
        detail,
    };
    let uri: tonic::codegen::http::Uri = ep
        .url
        .parse()
        .map_err(|e| fail(format!("not a URL like https://host:50051 ({e})")))?;
    let host = uri
        .host()
        .unwrap_or("")
        .trim_matches(|c| c == '[' || c == ']');
    let mut endpoint = Channel::from_shared(ep.url.clone()).map_err(|e| fail(e.to_string()))?;
    match uri.scheme_str() {
        Some("https") => {
            let tls = ep.tls.channel(host).map_err(|e| fail(e.to_string()))?;
            endpoint = endpoint.tls_config(tls).map_err(|e| fail(e.to_string()))?;
        }
        Some("http") => {
            if !crate::security::tls::loopback_host(host) {
                return Err(fail(
                    "plain http:// is only allowed to a loopback address; use https:// (and --ca for a private CA)".into(),
                ));
            }
            if ep.tls.cert.is_some() || ep.tls.ca.is_some() {
                return Err(fail("--ca/--cert need an https:// URL".into()));
            }
        }
        _ => return Err(fail("the URL must start with https:// or http://".into())),
    }
    let bearer = match &ep.token {
        Some(t) => Some(
            format!("Bearer {}", t.trim())
                .parse()
                .map_err(|_| fail("the token holds characters a header cannot carry".into()))?,
        ),
        None => None,
    };
    let channel = endpoint.connect().await.map_err(|e| {
        let mut detail = error_chain(&e);
        if detail.contains("CaUsedAsEndEntity") {
            detail.push_str(
                " (the server's certificate is a CA certificate, e.g. made by `openssl req -x509`: give serve a certificate issued by a CA, and that CA to --ca; see docs/security.md)",
            );
        } else if detail.contains("UnknownIssuer") {
            detail.push_str(" (give the CA that issued the server's certificate with --ca)");
        }
        fail(detail)
    })?;
    Ok(CallScopeClient::with_interceptor(channel, Bearer(bearer)))
}

/// An error and its causes, joined (tonic's transport errors hide the
/// useful part, e.g. a certificate problem, in the source chain).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Replay settings.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Call id sent in the CallStart.
    pub call_id: String,
    /// Agent id sent in the CallStart.
    pub agent_id: String,
    /// Caller id sent in the CallStart (empty: unknown).
    pub caller_id: String,
    /// 1.0 = real time; 0 = as fast as the server reads.
    pub speed: f64,
    /// Chunk length, milliseconds (20–100).
    pub chunk_ms: u32,
    /// Which channel of a stereo file is the agent.
    pub agent_channel: u32,
    /// Stop after this much media (seconds), as a caller hanging up.
    pub max_s: Option<f64>,
    /// Replace a stored call with the same id (admin only).
    pub replace: bool,
}

/// Opens a `StreamCall` and sends `start`: audio goes in through the
/// sender (finish with a `CallEnd`), events come back on the stream.
pub async fn open_call(
    url: impl Into<Endpoint>,
    start: pb::CallStart,
) -> Result<(mpsc::Sender<pb::CallInput>, tonic::Streaming<pb::CallEvent>), ClientError> {
    let mut client = connect(url).await?;
    let (tx, rx) = mpsc::channel::<pb::CallInput>(16);
    tx.send(pb::CallInput {
        msg: Some(pb::call_input::Msg::Start(start)),
    })
    .await
    .expect("the receiver is held below");
    let events = client
        .stream_call(ReceiverStream::new(rx))
        .await?
        .into_inner();
    Ok((tx, events))
}

/// The first `n` samples of each leg, interleaved and encoded as one chunk.
pub fn audio_message(enc: Encoding, legs: &[Vec<f32>], n: usize) -> pb::CallInput {
    let mut data = Vec::with_capacity(n * legs.len() * enc.width());
    let mut frame = Vec::with_capacity(legs.len());
    for i in 0..n {
        frame.clear();
        frame.extend(legs.iter().map(|l| l[i]));
        enc.encode(&frame, &mut data);
    }
    pb::CallInput {
        msg: Some(pb::call_input::Msg::Audio(pb::AudioChunk { data, leg: 0 })),
    }
}

/// Streams a recording to `StreamCall` at real-time pace and hands every
/// event to `on_event` with the media clock at its arrival (seconds of
/// audio sent so far); returns the final `CallEnded` event.
pub async fn replay(
    url: impl Into<Endpoint>,
    path: &Path,
    opts: &ReplayOptions,
    mut on_event: impl FnMut(&pb::CallEvent, f64),
) -> Result<Option<pb::CallEvent>, ClientError> {
    let mut src = WavSource::open(path)?;
    let info = src.info().clone();
    let enc = match info.codec {
        Codec::MuLaw => Encoding::G711(crate::source::g711::Law::MuLaw),
        Codec::ALaw => Encoding::G711(crate::source::g711::Law::ALaw),
        _ => Encoding::Pcm16,
    };
    let channels = usize::from(info.channels);
    let (tx, mut events) = open_call(
        url,
        pb::CallStart {
            call_id: opts.call_id.clone(),
            agent_id: opts.agent_id.clone(),
            caller_id: opts.caller_id.clone(),
            encoding: enc.to_wire() as i32,
            sample_rate: info.sample_rate,
            channels: u32::from(info.channels),
            agent_channel: opts.agent_channel,
            separate_legs: false,
            replace: opts.replace,
        },
    )
    .await?;
    let chunk = (info.sample_rate as usize * opts.chunk_ms.clamp(20, 100) as usize / 1000).max(1);
    let speed = opts.speed;
    let limit = opts
        .max_s
        .map_or(u64::MAX, |s| (s * f64::from(info.sample_rate)) as u64);
    let sent = Arc::new(AtomicU64::new(0));
    let sent_by_feeder = Arc::clone(&sent);
    let feeder = tokio::spawn(async move {
        let mut bufs = vec![Vec::new(); channels];
        let period = Duration::from_secs_f64(chunk as f64 / f64::from(info.sample_rate));
        let mut tick = (speed > 0.0).then(|| tokio::time::interval(period.div_f64(speed)));
        let mut total = 0u64;
        while total < limit {
            let want = chunk.min(usize::try_from(limit - total).unwrap_or(usize::MAX));
            let n = match src.read(want, &mut bufs) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => return Err(ClientError::Source(e)),
            };
            let msg = audio_message(enc, &bufs, n);
            if let Some(t) = tick.as_mut() {
                t.tick().await;
            }
            if tx.send(msg).await.is_err() {
                return Ok(());
            }
            total += n as u64;
            sent_by_feeder.store(total, Ordering::Relaxed);
        }
        let _ = tx
            .send(pb::CallInput {
                msg: Some(pb::call_input::Msg::End(pb::CallEnd {})),
            })
            .await;
        Ok(())
    });
    let rate = f64::from(info.sample_rate);
    let mut last = None;
    while let Some(ev) = events.message().await? {
        on_event(&ev, sent.load(Ordering::Relaxed) as f64 / rate);
        if matches!(ev.event, Some(pb::call_event::Event::Ended(_))) {
            last = Some(ev);
        }
    }
    if let Ok(Err(e)) = feeder.await {
        return Err(e);
    }
    Ok(last)
}

fn who(v: i32) -> &'static str {
    match pb::Speaker::try_from(v) {
        Ok(pb::Speaker::Agent) => "agent",
        Ok(pb::Speaker::Customer) => "customer",
        _ => "-",
    }
}

/// One line for a call event, or `None` for events too frequent to print
/// (KPI snapshots, speaking started/stopped) unless `verbose`.
pub fn describe(ev: &pb::CallEvent, verbose: bool) -> Option<String> {
    use pb::call_event::Event;
    use pb::signal_event::Kind as K;
    let t = ev.t;
    let line = match ev.event.as_ref()? {
        Event::Accepted(a) => format!(
            "call {} accepted (agent {}, {} leg(s))",
            ev.call_id, a.agent_id, a.legs
        ),
        Event::Transcript(s) => {
            if !s.is_final && !verbose {
                return None;
            }
            format!(
                "{:>7.1}s {:<8} {}{}",
                s.start,
                who(s.speaker),
                if s.is_final { "" } else { "… " },
                s.text
            )
        }
        Event::Signal(s) => match K::try_from(s.kind).ok()? {
            K::Interruption => format!(
                "{t:>7.1}s interruption: {} cut off {} ({:.1} s overlap)",
                who(s.speaker),
                who(s.other),
                s.duration_s
            ),
            K::Backchannel if verbose => format!(
                "{t:>7.1}s backchannel: {} listening to {} ({:.1} s)",
                who(s.speaker),
                who(s.other),
                s.duration_s
            ),
            K::SilenceStarted => format!("{t:>7.1}s silence started"),
            K::SilenceEnded => format!("{t:>7.1}s silence ended ({:.1} s)", s.duration_s),
            K::Pace => format!("{t:>7.1}s agent pace {:.0} wpm", s.wpm),
            K::SpeakingStarted | K::SpeakingStopped if verbose => {
                format!(
                    "{t:>7.1}s {} {:?}",
                    who(s.speaker),
                    K::try_from(s.kind).ok()?
                )
            }
            _ => return None,
        },
        Event::Prompt(p) => format!(
            "{t:>7.1}s PROMPT [{}] {}: {} ({})",
            p.severity, p.kind, p.message, p.evidence
        ),
        Event::Kpi(k) => {
            if !verbose {
                return None;
            }
            kpi_line(k)
        }
        Event::Redaction(r) => {
            if r.kind == "dtmf" {
                format!(
                    "{t:>7.1}s redacted keypad entry, {} keys ({})",
                    r.keys,
                    who(r.speaker)
                )
            } else {
                format!(
                    "{t:>7.1}s redacted {} ({}, {:.1}–{:.1} s)",
                    r.kind,
                    who(r.speaker),
                    r.start,
                    r.end
                )
            }
        }
        Event::Lagging(l) => format!(
            "{t:>7.1}s transcription lagging {:.1} s ({} utterances queued); {}",
            l.lag_s,
            l.queued_utterances,
            if l.deferred {
                "transcripts deferred (when whisper is idle, the rest after the call)"
            } else {
                "partials paused"
            }
        ),
        Event::Ended(e) => format!("call {} ended: {}", ev.call_id, e.status),
    };
    Some(line)
}

/// A KPI snapshot on one line.
pub fn kpi_line(k: &pb::KpiSnapshot) -> String {
    format!(
        "{:>7.1}s talk agent {:.0}s / customer {:.0}s (ratio {:.2})  speaking {}  pace {:.0} wpm  interruptions {}/{}  backchannels {}/{}  silence {:.0}s  lag {:.1}s",
        k.duration_s,
        k.agent_talk_s,
        k.customer_talk_s,
        k.talk_ratio,
        who(k.current_speaker),
        k.agent_wpm,
        k.interruptions_by_agent,
        k.interruptions_by_customer,
        k.backchannels_by_agent,
        k.backchannels_by_customer,
        k.silence_s,
        k.transcription_lag_s
    )
}

/// Follows one live call, printing its events.
pub async fn watch_call(
    url: impl Into<Endpoint>,
    call_id: &str,
    verbose: bool,
) -> Result<(), ClientError> {
    let mut client = connect(url).await?;
    let mut s = client
        .watch_call(pb::WatchCallRequest {
            call_id: call_id.to_string(),
        })
        .await?
        .into_inner();
    let mut last_kpi = 0.0;
    while let Some(ev) = s.message().await? {
        // Once every 5 s, the KPIs; everything notable as it happens.
        if let Some(pb::call_event::Event::Kpi(k)) = &ev.event {
            if k.duration_s - last_kpi >= 5.0 || last_kpi == 0.0 {
                last_kpi = k.duration_s;
                println!("{}", kpi_line(k));
            }
            continue;
        }
        if let Some(line) = describe(&ev, verbose) {
            println!("{line}");
        }
    }
    Ok(())
}

/// Prints the cluster's nodes (`callscope cluster status`): a table, or
/// JSON with `json`.
pub async fn cluster_status(url: impl Into<Endpoint>, json: bool) -> Result<(), ClientError> {
    let mut client = connect(url).await?;
    let nodes = client
        .cluster_status(pb::ClusterStatusRequest {})
        .await?
        .into_inner()
        .nodes;
    if json {
        let v: Vec<serde_json::Value> = nodes
            .iter()
            .map(|n| {
                serde_json::json!({
                    "node_id": n.node_id, "version": n.version, "listen": n.listen,
                    "live_calls": n.live_calls, "max_calls": n.max_calls,
                    "asr_workers": n.asr_workers, "asr_queue": n.asr_queue,
                    "asr_queue_max": n.asr_queue_max, "ready": n.ready,
                    "not_ready_reason": n.not_ready_reason, "load1": n.load1,
                    "cores": n.cores, "call_ids": n.call_ids, "lost": n.lost,
                    "last_seen_s": n.last_seen_s,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let mut t = crate::store::commands::table(&[
        "node", "state", "calls", "whisper", "load", "listen", "seen",
    ]);
    for n in &nodes {
        let state = if n.lost {
            "LOST".to_string()
        } else if n.ready {
            "ready".to_string()
        } else {
            format!("full: {}", n.not_ready_reason)
        };
        t.add_row([
            n.node_id.clone(),
            state,
            format!("{}/{}", n.live_calls, n.max_calls),
            format!(
                "{} workers, {}/{} queued",
                n.asr_workers, n.asr_queue, n.asr_queue_max
            ),
            format!("{:.2} on {} cores", n.load1, n.cores),
            n.listen.clone(),
            format!("{:.1} s ago", n.last_seen_s),
        ]);
    }
    println!("{t}");
    let live: u32 = nodes.iter().filter(|n| !n.lost).map(|n| n.live_calls).sum();
    let room: u32 = nodes
        .iter()
        .filter(|n| !n.lost && n.ready)
        .map(|n| n.max_calls.saturating_sub(n.live_calls))
        .sum();
    println!(
        "{} nodes ({} lost), {live} live calls, room for {room} more on ready nodes",
        nodes.len(),
        nodes.iter().filter(|n| n.lost).count()
    );
    Ok(())
}

/// Follows the whole floor, printing one line per call update.
pub async fn watch_floor(url: impl Into<Endpoint>) -> Result<(), ClientError> {
    let mut client = connect(url).await?;
    let mut s = client
        .watch_floor(pb::WatchFloorRequest {})
        .await?
        .into_inner();
    while let Some(u) = s.message().await? {
        let kind =
            pb::floor_update::Kind::try_from(u.kind).unwrap_or(pb::floor_update::Kind::Unspecified);
        let k = u.kpi.unwrap_or_default();
        let prompt = u
            .latest_prompts
            .last()
            .map(|p| format!("  last prompt: {}", p.message))
            .unwrap_or_default();
        match kind {
            pb::floor_update::Kind::CallStarted => {
                println!("{} started (agent {})", u.call_id, u.agent_id)
            }
            pb::floor_update::Kind::CallEnded => {
                println!("{} ended after {:.0} s", u.call_id, k.duration_s)
            }
            pb::floor_update::Kind::CallInterrupted => println!(
                "{} INTERRUPTED after {:.0} s: node {} stopped answering",
                u.call_id, k.duration_s, u.node_id
            ),
            pb::floor_update::Kind::FloorStats => {
                let st = u.stats.unwrap_or_default();
                let prompts: Vec<String> = st
                    .prompts_15m
                    .iter()
                    .map(|(kind, n)| format!("{kind} {n}"))
                    .collect();
                println!(
                    "floor: {} live (mean {:.0} s so far), {} ended in the last hour (mean {:.0} s), prompts in 15 min: {}",
                    st.calls_live,
                    st.avg_live_s,
                    st.ended_last_hour,
                    st.avg_handle_s,
                    if prompts.is_empty() {
                        "none".to_string()
                    } else {
                        prompts.join(", ")
                    }
                )
            }
            _ => println!(
                "{:<20} {:<10} {}{prompt}",
                u.call_id,
                u.agent_id,
                kpi_line(&k)
            ),
        }
    }
    Ok(())
}
