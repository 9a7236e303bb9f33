//! The live engine end to end: a real gRPC server on a local port, real
//! whisper, a corpus call replayed through `StreamCall`; plus bad streams,
//! watchers, health and reflection.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use callscope::cli::{AsrArgs, Mask};
use callscope::engine::call::LiveConfig;
use callscope::grpc::client::{ClientError, ReplayOptions, connect, open_call, replay};
use callscope::grpc::pb;
use callscope::grpc::server::{Hub, serve};
use callscope::live::load::{LoadArgs, run as run_load};
use common::*;
use tokio::sync::{oneshot, watch};

/// One whisper server at a time: two on two cores slow each other down
/// several times over (whisper's threads spin), which only tests patience.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Server {
    url: String,
    data: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

async fn start_server(max_calls: usize, cfg: LiveConfig) -> Server {
    start_server_with_queue(max_calls, cfg, None).await
}

/// A server whose whisper pool takes at most `queue` waiting utterances
/// (default: as `serve` sets it).
async fn start_server_with_queue(
    max_calls: usize,
    cfg: LiveConfig,
    queue: Option<usize>,
) -> Server {
    start_server_with(transcription(queue), max_calls, cfg).await
}

/// The transcription settings `serve` would use (pool queue `queue`, or
/// the default).
fn transcription(queue: Option<usize>) -> Arc<callscope::engine::seal::Transcription> {
    let asr = AsrArgs {
        model: std::env::var_os("CALLSCOPE_MODEL").map(PathBuf::from),
        language: "en".into(),
        mask: Mask::Silence,
        rules: None,
        embed_model: None,
        keywords_only: false,
        join_gap: callscope::utter::CutConfig::default().join_gap_s,
    };
    let t = asr
        .start_with(|wc| {
            if let Some(queue) = queue {
                wc.queue = queue;
            }
        })
        .expect("models installed (scripts/test.sh does it)");
    Arc::new(t)
}

/// A server over `t`.
async fn start_server_with(
    t: Arc<callscope::engine::seal::Transcription>,
    max_calls: usize,
    cfg: LiveConfig,
) -> Server {
    let data = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (down_tx, down_rx) = watch::channel(false);
    let hub = Hub::new(data.path().to_path_buf(), t, cfg, max_calls, down_rx);
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(listener, hub, down_tx, async {
            let _ = stop_rx.await;
        })
        .await
        .unwrap();
    });
    Server {
        url,
        data,
        stop: Some(stop),
        task,
    }
}

impl Server {
    async fn shutdown(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
        self.data
    }
}

fn opts(call_id: &str) -> ReplayOptions {
    ReplayOptions {
        call_id: call_id.into(),
        agent_id: "agent-7".into(),
        caller_id: "+15550100".into(),
        speed: 0.0,
        chunk_ms: 50,
        agent_channel: 0,
        max_s: None,
        replace: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_call_streams_redacted_events_and_is_stored() {
    let _serial = SERIAL.lock().await;
    let server = start_server(4, LiveConfig::default()).await;
    let call = "dev-002";
    let wav = corpus_dir().join(format!("{call}.wav"));
    let mut events = Vec::new();
    let ended = replay(&server.url, &wav, &opts(call), |e, _| {
        events.push(e.clone())
    })
    .await
    .expect("replay");
    let ended = ended.expect("a CallEnded event");
    use pb::call_event::Event;
    let finals: Vec<&pb::TranscriptSegment> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::Transcript(s)) if s.is_final => Some(s),
            _ => None,
        })
        .collect();
    assert!(finals.len() > 10, "{} final segments", finals.len());
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.event, Some(Event::Accepted(_))))
    );
    let kpis = events
        .iter()
        .filter(|e| matches!(&e.event, Some(Event::Kpi(_))))
        .count();
    assert!(kpis > 30, "one KPI snapshot per media second, got {kpis}");
    let truth = truth(call);
    // Interruptions arrive as signals, with who cut off whom.
    let interruptions = events
        .iter()
        .filter(|e| {
            matches!(&e.event, Some(Event::Signal(s)) if s.kind == pb::signal_event::Kind::Interruption as i32)
        })
        .count();
    assert_eq!(
        interruptions,
        truth["interruptions"].as_array().unwrap().len(),
        "interruption events"
    );
    // Redaction notices, never digits, and no PAN digits in any event.
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.event, Some(Event::Redaction(_))))
    );
    // Live text fails closed on numbers: no digit in any transcript event,
    // partial or final, on either leg.
    for e in &events {
        if let Some(Event::Transcript(s)) = &e.event {
            assert!(
                !s.text.chars().any(|c| c.is_ascii_digit()),
                "a digit in a live transcript: {:?}",
                s.text
            );
        }
    }
    // A number streamed in groups is still a number: every transcript text
    // (partials and finals), per leg, joined in time order, holds no digit
    // run at all (live text shows numbers as a placeholder).
    for speaker in [pb::Speaker::Agent as i32, pb::Speaker::Customer as i32] {
        let mut texts: Vec<(f64, String)> = events
            .iter()
            .filter_map(|e| match &e.event {
                Some(Event::Transcript(s)) if s.speaker == speaker => {
                    Some((s.start, s.text.clone()))
                }
                _ => None,
            })
            .collect();
        texts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let joined: Vec<String> = texts.into_iter().map(|(_, t)| t).collect();
        let joined = joined.join(" ");
        let words: Vec<&str> = joined.split_whitespace().collect();
        let runs = callscope::redact::numbers::digit_runs(&words);
        assert!(
            runs.is_empty(),
            "{} digit run(s) in the joined live text of speaker {speaker}",
            runs.len()
        );
    }
    let all_text: String = events.iter().map(|e| format!("{e:?}")).collect();
    for s in truth["sensitive"].as_array().unwrap() {
        if let Some(pan) = s["pan"].as_str() {
            for w in 0..=pan.len() - 6 {
                assert!(
                    !all_text.contains(&pan[w..w + 6]),
                    "six PAN digits in the event stream"
                );
            }
        }
    }
    let Some(Event::Ended(end)) = &ended.event else {
        unreachable!()
    };
    assert_eq!(end.status, "complete");
    // Stored exactly as analyze stores it, and served back by GetReport.
    let mut client = connect(&server.url).await.unwrap();
    let got = client
        .get_report(pb::GetReportRequest {
            call_id: call.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let report: serde_json::Value = serde_json::from_str(&got.report_json).unwrap();
    assert_eq!(report["call_id"], call);
    assert!(!report["segments"].as_array().unwrap().is_empty());
    assert_eq!(report["caller_id"], "+15550100");
    // ListCalls reads the store, with its filters.
    let list = client
        .list_calls(pb::ListCallsRequest {
            agent_id: "agent-7".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.calls.len(), 1);
    assert_eq!(list.calls[0].caller_id, "+15550100");
    assert!(list.calls[0].score.is_some());
    let none = client
        .list_calls(pb::ListCallsRequest {
            agent_id: "someone-else".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.calls.is_empty());
    let bad = client
        .list_calls(pb::ListCallsRequest {
            since: "last week".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad.code(),
        tonic::Code::InvalidArgument,
        "{}",
        bad.message()
    );
    let data = server.shutdown().await;
    for sub in ["reports", "recordings", "audit"] {
        assert_eq!(
            std::fs::read_dir(data.path().join(sub)).unwrap().count(),
            1,
            "{sub}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_streams_get_clear_errors_and_the_server_stays_up() {
    let _serial = SERIAL.lock().await;
    let cfg = LiveConfig {
        idle_timeout_s: 1.0,
        ..LiveConfig::default()
    };
    let server = start_server(1, cfg).await;
    let mut client = connect(&server.url).await.unwrap();
    // No CallStart first.
    let s = tokio_stream::iter(vec![pb::CallInput {
        msg: Some(pb::call_input::Msg::End(pb::CallEnd {})),
    }]);
    let err = client.stream_call(s).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("CallStart"), "{}", err.message());
    // A bad rate.
    let start = |id: &str, rate: u32| pb::CallInput {
        msg: Some(pb::call_input::Msg::Start(pb::CallStart {
            call_id: id.into(),
            agent_id: "a".into(),
            encoding: pb::AudioEncoding::Pcm16le as i32,
            sample_rate: rate,
            channels: 2,
            agent_channel: 0,
            separate_legs: false,
            caller_id: String::new(),
            replace: false,
        })),
    };
    let err = client
        .stream_call(tokio_stream::iter(vec![start("x", 1234)]))
        .await
        .unwrap_err();
    assert!(err.message().contains("sample_rate"), "{}", err.message());
    // Half a sample: the call ends with an error, what came before is stored.
    let audio = |bytes: Vec<u8>| pb::CallInput {
        msg: Some(pb::call_input::Msg::Audio(pb::AudioChunk {
            data: bytes,
            leg: 0,
        })),
    };
    let msgs = vec![
        start("garbled", 8000),
        audio(vec![0; 3200]),
        audio(vec![0; 3]),
    ];
    let mut events = client
        .stream_call(tokio_stream::iter(msgs))
        .await
        .unwrap()
        .into_inner();
    let mut saw_error = false;
    let mut status = String::new();
    loop {
        match events.message().await {
            Ok(Some(ev)) => {
                if let Some(pb::call_event::Event::Ended(e)) = ev.event {
                    status = e.status;
                }
            }
            Ok(None) => break,
            Err(e) => {
                assert_eq!(e.code(), tonic::Code::InvalidArgument);
                assert!(e.message().contains("whole samples"), "{}", e.message());
                saw_error = true;
            }
        }
    }
    assert!(saw_error || status == "interrupted", "status {status}");
    // A caller that goes quiet without closing: ended after the idle timeout.
    // The garbled call holds the only slot until it is stored, which may be
    // a moment after its client saw the stream end.
    let (_keep_open, mut quiet) = open_when_free(&server.url, "quiet", 8000).await;
    let err = loop {
        match quiet.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended without saying why"),
            Err(e) => break e,
        }
    };
    assert_eq!(
        err.code(),
        tonic::Code::DeadlineExceeded,
        "{}",
        err.message()
    );
    assert!(err.message().contains("no audio"), "{}", err.message());
    // Unknown live call.
    let err = client
        .watch_call(pb::WatchCallRequest {
            call_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    // Health and reflection answer.
    let channel = tonic::transport::Channel::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let h = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "callscope.v1.CallScope".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let data = server.shutdown().await;
    // The garbled call was stored up to where it broke.
    let r = read_json(&data.path().join("reports/garbled.json"));
    assert_eq!(r["status"], "interrupted");
    let r = read_json(&data.path().join("reports/quiet.json"));
    assert_eq!(r["status"], "interrupted");
}

/// Opens a call, retrying while the server is at its call limit because an
/// earlier call is still being stored (at most 30 s).
async fn open_when_free(
    url: &str,
    call: &str,
    rate: u32,
) -> (
    tokio::sync::mpsc::Sender<pb::CallInput>,
    tonic::Streaming<pb::CallEvent>,
) {
    for _ in 0..300 {
        match open_call(url, start_msg(call, rate)).await {
            Ok(opened) => return opened,
            Err(ClientError::Status(s)) if s.code() == tonic::Code::ResourceExhausted => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the call slot was not freed within 30 s");
}

/// The first `seconds` of a corpus call as 50 ms PCM16 messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_watchers_get_the_state_and_a_vanished_caller_is_still_stored() {
    let _serial = SERIAL.lock().await;
    let server = start_server(4, LiveConfig::default()).await;
    let call = "late-join";
    let (rate, chunks) = chunks_of("dev-003", 12.0);
    let mut floor = connect(&server.url)
        .await
        .unwrap()
        .watch_floor(pb::WatchFloorRequest {})
        .await
        .unwrap()
        .into_inner();
    let (tx, mut events) = open_call(&server.url, start_msg(call, rate)).await.unwrap();
    for c in chunks {
        tx.send(c).await.unwrap();
    }
    // Wait until the server has analysed some audio.
    loop {
        let ev = events
            .message()
            .await
            .unwrap()
            .expect("events until the end");
        if matches!(&ev.event, Some(pb::call_event::Event::Kpi(k)) if k.duration_s >= 5.0) {
            break;
        }
    }
    // A late watcher starts with the state so far.
    let mut client = connect(&server.url).await.unwrap();
    let mut watch = client
        .watch_call(pb::WatchCallRequest {
            call_id: call.into(),
        })
        .await
        .unwrap()
        .into_inner();
    // First the call so far (from CallAccepted on), then a KPI snapshot.
    let first = watch.message().await.unwrap().unwrap();
    assert!(
        matches!(first.event, Some(pb::call_event::Event::Accepted(_))),
        "{first:?}"
    );
    loop {
        let ev = watch.message().await.unwrap().unwrap();
        if let Some(pb::call_event::Event::Kpi(k)) = ev.event {
            assert!(k.duration_s >= 5.0, "{k:?}");
            break;
        }
    }
    // The floor saw the call start (after the floor's figures).
    let mut started = floor.message().await.unwrap().unwrap();
    while started.kind == pb::floor_update::Kind::FloorStats as i32 {
        started = floor.message().await.unwrap().unwrap();
    }
    assert_eq!(started.call_id, call);
    assert_eq!(started.kind, pb::floor_update::Kind::CallStarted as i32);
    // The same id again while live is refused.
    match open_call(&server.url, start_msg(call, rate)).await {
        Err(ClientError::Status(s)) => {
            assert_eq!(s.code(), tonic::Code::AlreadyExists, "{}", s.message())
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a second live call with the same id was accepted"),
    }
    // The caller vanishes without a CallEnd.
    drop(tx);
    drop(events);
    // The watcher sees the call end, stored as interrupted.
    let mut status = String::new();
    while let Ok(Some(ev)) = watch.message().await {
        if let Some(pb::call_event::Event::Ended(e)) = ev.event {
            status = e.status;
            break;
        }
    }
    assert_eq!(status, "interrupted");
    let data = server.shutdown().await;
    let r = read_json(&data.path().join(format!("reports/{call}.json")));
    assert_eq!(r["status"], "interrupted");
    assert!(r["duration_s"].as_f64().unwrap() > 5.0);
    assert!(data.path().join(format!("recordings/{call}.wav")).is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_call_says_it_is_lagging_then_deferred_and_loses_no_final() {
    let _serial = SERIAL.lock().await;
    // Lag and defer bounds far below what whisper can do on audio sent 20x
    // faster than real time.
    let cfg = LiveConfig {
        max_lag_s: 1.0,
        defer_lag_s: 3.0,
        ..LiveConfig::default()
    };
    let server = start_server(2, cfg).await;
    let wav = corpus_dir().join("dev-001.wav");
    let o = ReplayOptions {
        speed: 20.0,
        max_s: Some(40.0),
        ..opts("overload")
    };
    let mut events = Vec::new();
    replay(&server.url, &wav, &o, |e, _| events.push(e.clone()))
        .await
        .unwrap()
        .expect("stored");
    use pb::call_event::Event;
    let lagging: Vec<bool> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(Event::Lagging(l)) => Some(l.deferred),
            _ => None,
        })
        .collect();
    // First lagging (partials paused), then deferred to after the call.
    assert_eq!(lagging.first(), Some(&false), "{lagging:?}");
    assert!(lagging.contains(&true), "{lagging:?}");
    let deferred_at = events
        .iter()
        .position(|e| matches!(&e.event, Some(Event::Lagging(l)) if l.deferred))
        .unwrap();
    // After the deferral, no partials.
    assert!(
        !events[deferred_at..]
            .iter()
            .any(|e| matches!(&e.event, Some(Event::Transcript(s)) if !s.is_final)),
        "a partial after the deferral"
    );
    // Signals and KPIs went on every media second.
    let kpis = events
        .iter()
        .filter(|e| matches!(e.event, Some(Event::Kpi(_))))
        .count();
    assert!(kpis >= 39, "{kpis} KPI snapshots for 40 s");
    // Every utterance got its final, late (after the call's end for the
    // deferred ones) but complete.
    let finals = events
        .iter()
        .filter(|e| matches!(&e.event, Some(Event::Transcript(s)) if s.is_final))
        .count();
    let data = server.shutdown().await;
    let r = read_json(&data.path().join("reports/overload.json"));
    assert_eq!(r["status"], "complete");
    let segments = r["segments"].as_array().unwrap().len();
    assert!(
        finals >= segments,
        "{finals} finals for {segments} stored segments"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_ending_while_the_whisper_queue_is_full_are_still_finished() {
    let _serial = SERIAL.lock().await;
    // A one-slot queue and three calls sent 20x faster than real time: when
    // a call ends, the queue is mostly full of the others' work. An ended
    // call used to wait for an answer to work it had not been able to
    // queue, for ever.
    let cfg = LiveConfig {
        max_lag_s: 1.0,
        defer_lag_s: 3.0,
        ..LiveConfig::default()
    };
    let server = start_server_with_queue(3, cfg, Some(1)).await;
    let calls = ["dev-001", "dev-002", "dev-003"];
    let mut runs = tokio::task::JoinSet::new();
    for c in calls {
        let url = server.url.clone();
        let wav = corpus_dir().join(format!("{c}.wav"));
        let o = ReplayOptions {
            speed: 20.0,
            max_s: Some(30.0),
            ..opts(&format!("full-queue-{c}"))
        };
        runs.spawn(async move { replay(&url, &wav, &o, |_, _| {}).await.map(|r| r.is_some()) });
    }
    let done = tokio::time::timeout(Duration::from_secs(600), runs.join_all())
        .await
        .expect("every call finished (none waits for ever on a full queue)");
    for r in done {
        assert!(r.unwrap(), "stored");
    }
    let data = server.shutdown().await;
    for c in calls {
        let r = read_json(&data.path().join(format!("reports/full-queue-{c}.json")));
        assert_eq!(r["status"], "complete");
        assert!(!r["segments"].as_array().unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_measures_two_concurrent_calls() {
    let _serial = SERIAL.lock().await;
    let server = start_server(4, LiveConfig::default()).await;
    let args = LoadArgs {
        files: vec![
            corpus_dir().join("dev-001.wav"),
            corpus_dir().join("dev-002.wav"),
        ],
        server: server.url.clone(),
        calls: 2,
        speed: 1.0,
        duration: Some(12.0),
        stagger: 0.5,
        chunk_ms: 50,
        server_pid: Some(std::process::id()),
        json: true,
        creds: Default::default(),
    };
    let report = run_load(&args, &(&server.url).into()).await;
    assert_eq!(report.failures(), 0, "{}", report.table());
    assert!(report.calls.iter().all(|c| c.outcome == "complete"));
    assert!(report.all(|c| &c.finals).len() >= 2, "{}", report.table());
    let j = report.json();
    assert_eq!(j["concurrent_calls"], 2);
    assert!(j["server_cpu_cores"].as_f64().unwrap() > 0.0);
    server.shutdown().await;
}

/// Starts `callscope serve` as its own process on a free port.
async fn spawn_server(data: &std::path::Path, extra: &[&str]) -> (std::process::Child, String) {
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_callscope"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .args(extra)
        .spawn()
        .expect("start callscope serve");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..300 {
        if connect(&url).await.is_ok() {
            return (child, url);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("callscope serve did not come up on {url}");
}

/// `GET /metrics` from a Prometheus endpoint, the body.
fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("metrics endpoint");
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

/// The value of an unlabelled metric in a scrape.
fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stores_live_calls_as_interrupted() {
    let _serial = SERIAL.lock().await;
    let wav = corpus_dir().join("dev-002.wav");
    // SIGTERM: the live call is finished, stored as interrupted, and the
    // server exits cleanly.
    // With --metrics, the Prometheus endpoint shows the call.
    let data = tempfile::tempdir().unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let (mut child, url) = spawn_server(data.path(), &["--metrics", &metrics]).await;
    let o = ReplayOptions {
        speed: 1.0,
        ..opts("term-call")
    };
    let (w, u) = (wav.clone(), url.clone());
    let call = tokio::spawn(async move { replay(&u, &w, &o, |_, _| {}).await });
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let body = scrape(&metrics);
    assert_eq!(metric(&body, "callscope_live_calls"), 1.0, "{body}");
    assert!(
        metric(&body, "callscope_frames_total") >= 2.0 * 150.0,
        "{body}"
    );
    assert!(body.contains("callscope_asr_queue_depth"), "{body}");
    signal(&child, "-TERM");
    let ended = call.await.unwrap().expect("replay").expect("CallEnded");
    let Some(pb::call_event::Event::Ended(e)) = ended.event else {
        unreachable!()
    };
    assert_eq!(e.status, "interrupted");
    assert!(child.wait().unwrap().success(), "clean exit on SIGTERM");
    let r = read_json(&data.path().join("reports/term-call.json"));
    assert_eq!(r["status"], "interrupted");
    assert!(data.path().join("recordings/term-call.wav").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_and_the_same_audio_streamed_give_the_same_report() {
    let _serial = SERIAL.lock().await;
    let t = transcription(None);
    let wav = corpus_dir().join("dev-002.wav");
    // Offline, the batch policy.
    let opts_offline = callscope::analyze::AnalyzeOptions {
        call_id: Some("same".into()),
        transcription: Some((*t).clone()),
        ..Default::default()
    };
    let w = wav.clone();
    let offline = tokio::task::spawn_blocking(move || {
        callscope::analyze::analyze_file(&w, &opts_offline).expect("offline analysis")
    })
    .await
    .unwrap();
    let offline = serde_json::to_value(offline.report.get()).unwrap();
    // Streamed in 20 ms chunks as fast as the server reads: the real-time
    // policy (lag, partials, deferral, ordered release).
    let server = start_server_with(Arc::clone(&t), 1, LiveConfig::default()).await;
    let o = ReplayOptions {
        chunk_ms: 20,
        ..opts("same")
    };
    replay(&server.url, &wav, &o, |_, _| {})
        .await
        .expect("replay")
        .expect("CallEnded");
    let data = server.shutdown().await;
    let streamed = read_json(&data.path().join("reports/same.json"));
    let strip = |mut v: serde_json::Value| {
        let m = v.as_object_mut().unwrap();
        for k in ["source", "agent_id", "caller_id", "started_at"] {
            m.remove(k);
        }
        v
    };
    let (offline, streamed) = (strip(offline), strip(streamed));
    for (k, a) in offline.as_object().unwrap() {
        assert_eq!(
            Some(a),
            streamed.get(k),
            "{k} differs between the file and the stream"
        );
    }
    assert_eq!(offline, streamed);
    assert!(!offline["redactions"].as_array().unwrap().is_empty());
    assert!(!offline["segments"].as_array().unwrap().is_empty());
}

/// Five minutes of stereo 16-bit PCM: dev calls back to back, with their
/// sensitive spans `(leg, start, end)` moved to the joined timeline.
fn five_minute_call(out: &std::path::Path) -> (f64, Vec<(usize, f64, f64)>) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(out, spec).unwrap();
    let (mut offset, mut spans) = (0.0, Vec::new());
    for call in ["dev-002", "dev-003", "dev-004", "dev-005"] {
        let mut r = hound::WavReader::open(corpus_dir().join(format!("{call}.pcm16.wav"))).unwrap();
        let n = r.len() as f64 / 2.0;
        for s in r.samples::<i16>() {
            w.write_sample(s.unwrap()).unwrap();
        }
        for s in truth(call)["sensitive"].as_array().unwrap() {
            spans.push((
                usize::from(s["speaker"] == "customer"),
                offset + s["start"].as_f64().unwrap(),
                offset + s["end"].as_f64().unwrap(),
            ));
        }
        offset += n / 8_000.0;
    }
    w.finalize().unwrap();
    (offset, spans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_call_keeps_the_cleared_recording_and_restart_stores_it_interrupted() {
    let _serial = SERIAL.lock().await;
    let data = tempfile::tempdir().unwrap();
    let wav = data.path().join("five-minutes.wav");
    let (length, spans) = five_minute_call(&wav);
    assert!(length > 300.0);
    let store = data.path().join("store");
    let (mut child, url) = spawn_server(&store, &[]).await;
    // Twice real time: whisper on two cores keeps up with a busy call at
    // that pace, as it must for the frontier to follow the call.
    let o = ReplayOptions {
        speed: 2.0,
        ..opts("kill-call")
    };
    let media = Arc::new(std::sync::Mutex::new(0.0f64));
    let seen = Arc::clone(&media);
    let call = tokio::spawn(async move {
        replay(&url, &wav, &o, move |ev, _| {
            let mut m = seen.lock().unwrap();
            *m = m.max(ev.t);
        })
        .await
    });
    // Kill -9 once two and a half minutes of the call went in.
    let waited = std::time::Instant::now();
    let killed_at = loop {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let m = *media.lock().unwrap();
        if m >= 150.0 {
            break m;
        }
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(300),
            "the call got to {m:.1} s only"
        );
    };
    signal(&child, "-KILL");
    let _ = child.wait();
    assert!(call.await.unwrap().is_err(), "the stream broke");
    assert!(store.join("recordings/kill-call.wav.part").is_file());
    assert!(store.join("open/kill-call.jsonl").is_file());
    // Garbage of another crash, in the store this time.
    std::fs::write(store.join("open/garbage.jsonl"), b"{not json").unwrap();
    std::fs::write(store.join("recordings/garbage.wav.part"), b"RIFF").unwrap();
    // Restart: the call is closed as interrupted with what was written.
    let (mut child, _url) = spawn_server(&store, &[]).await;
    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success());
    let r = read_json(&store.join("reports/kill-call.json"));
    assert_eq!(r["status"], "interrupted");
    assert!(!store.join("open/kill-call.jsonl").exists());
    let leftovers: Vec<PathBuf> = files_under(&store)
        .into_iter()
        .filter(|p| {
            let name = p.to_string_lossy();
            name.contains("kill-call") && (name.ends_with(".part") || name.ends_with(".tmp"))
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let (rate, stored) = read_legs(&store.join("recordings/kill-call.wav"));
    let kept = stored[0].len() as f64 / f64::from(rate);
    eprintln!("killed at {killed_at:.1} s of media; recording kept {kept:.1} s");
    assert!(
        kept >= killed_at - 60.0,
        "kept {kept:.1} s of {killed_at:.1} s"
    );
    let mut checked = 0;
    for &(leg, a, b) in spans.iter().filter(|s| s.2 <= kept) {
        let (total, loud) = loud_frames(rate, &stored[leg], a, b);
        assert!(
            total > 0 && loud * 10 <= total,
            "span {a:.1}-{b:.1} s audible: {loud}/{total} loud frames"
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "only {checked} sensitive spans in the kept audio"
    );
    // The calls list still works and shows the call.
    let (code, out, err) = callscope(&["calls", "list", "--data-dir", store.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("kill-call") && out.contains("interrupted"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_streams_two_calls_at_once_and_matches_offline_analysis() {
    let _serial = SERIAL.lock().await;
    let server = start_server(4, LiveConfig::default()).await;
    let stubs = tempfile::tempdir().unwrap();
    let files = ["dev-004.wav", "dev-005.pcm16.wav"].map(|f| corpus_dir().join(f));
    // Four times real time: the server keeps its media clock from the samples.
    let mut cmd = std::process::Command::new(python());
    cmd.arg("tests/python/stream_calls.py")
        .arg(server.url.trim_start_matches("http://"))
        .arg(stubs.path())
        .arg("4")
        .args(&files);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("run python");
    assert!(
        out.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let offline = tempfile::tempdir().unwrap();
    for (file, call) in files.iter().zip(["dev-004", "dev-005"]) {
        let id = format!("py-{}", file.file_stem().unwrap().to_str().unwrap());
        let events = got["calls"][&id]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: no events"));
        let has = |k: &str| events.iter().filter(|e| e.get(k).is_some()).count();
        assert_eq!(has("accepted"), 1, "{id}");
        assert!(has("kpi") > 20, "{id}: KPI snapshots");
        let finals = events
            .iter()
            .filter(|e| e["transcript"]["is_final"] == true)
            .count();
        assert!(finals > 5, "{id}: {finals} final transcripts");
        // No digit in any live transcript text, and no run of six card
        // digits anywhere in what the client saw.
        for e in events {
            if let Some(t) = e["transcript"]["text"].as_str() {
                assert!(
                    !t.chars().any(|c| c.is_ascii_digit()),
                    "{id}: a digit in a live transcript: {t:?}"
                );
            }
        }
        let text = serde_json::to_string(events).unwrap();
        for s in truth(call)["sensitive"].as_array().unwrap() {
            if let Some(pan) = s["pan"].as_str() {
                for w in 0..=pan.len() - 6 {
                    assert!(!text.contains(&pan[w..w + 6]), "{id}: PAN digits");
                }
            }
        }
        // The live report agrees with offline analysis of the same file.
        let ended = events.last().unwrap();
        assert_eq!(ended["ended"]["status"], "complete", "{id}");
        let live: serde_json::Value =
            serde_json::from_str(ended["ended"]["report_json"].as_str().unwrap()).unwrap();
        let (code, stdout, stderr) = callscope(&[
            "analyze",
            "--no-transcribe",
            "--json",
            "--data-dir",
            offline.path().to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{stderr}");
        let off: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let close = |a: &serde_json::Value, b: &serde_json::Value, tol: f64| {
            (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() <= tol
        };
        assert!(
            close(&live["duration_s"], &off["duration_s"], 0.1),
            "{id}: duration"
        );
        for who in ["agent", "customer"] {
            let (l, o) = (
                &live["speakers"][who]["talk_time_s"],
                &off["speakers"][who]["talk_time_s"],
            );
            assert!(
                close(l, o, 0.05 * o.as_f64().unwrap() + 0.2),
                "{id}: {who} talk time live {l} vs offline {o}"
            );
        }
        for list in ["interruptions", "silences"] {
            assert_eq!(
                live[list].as_array().unwrap().len(),
                off[list].as_array().unwrap().len(),
                "{id}: {list}"
            );
        }
        assert!(
            got["listed"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == &serde_json::json!(id)),
            "{id} in ListCalls"
        );
    }
    server.shutdown().await;
}
