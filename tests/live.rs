//! The live engine end to end: a real gRPC server on a local port, real
//! whisper, a corpus call replayed through `StreamCall`; plus bad streams,
//! watchers, health and reflection.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use callscope::cli::{AsrArgs, Mask};
use callscope::grpc::client::{ReplayOptions, connect, replay};
use callscope::grpc::pb;
use callscope::grpc::server::{Hub, serve};
use callscope::live::call::LiveConfig;
use common::*;
use tokio::sync::{oneshot, watch};

struct Server {
    url: String,
    data: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

async fn start_server(max_calls: usize) -> Server {
    let asr = AsrArgs {
        model: std::env::var_os("CALLSCOPE_MODEL").map(PathBuf::from),
        language: "en".into(),
        mask: Mask::Silence,
    };
    let t = Arc::new(
        asr.start()
            .expect("model installed (scripts/test.sh does it)"),
    );
    let data = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (down_tx, down_rx) = watch::channel(false);
    let hub = Hub::new(
        data.path().to_path_buf(),
        t,
        LiveConfig::default(),
        max_calls,
        down_rx,
    );
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
        speed: 0.0,
        chunk_ms: 50,
        agent_channel: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_call_streams_redacted_events_and_is_stored() {
    let server = start_server(4).await;
    let call = "dev-002";
    let wav = corpus_dir().join(format!("{call}.wav"));
    let mut events = Vec::new();
    let ended = replay(&server.url, &wav, &opts(call), |e| events.push(e.clone()))
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
    let list = client
        .list_calls(pb::ListCallsRequest { limit: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.calls.len(), 1);
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
    let server = start_server(1).await;
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
}
