//! The gRPC adapter over the call engine, in process and without whisper:
//! the server and its client talk over an in-memory `tokio::io::duplex`
//! pipe (as in tonic's mock example) and a fake transcriber answers from a
//! script, late and out of order, so the whole path — wire audio, engine,
//! ordered release, redaction, the recording written as it clears, storing —
//! runs in seconds.

mod common;

use std::sync::Arc;
use std::time::Duration;

use callscope::engine::call::LiveConfig;
use callscope::grpc::pb;
use common::grpc::{FakeWhisper, InProcess};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_an_in_memory_pipe_is_redacted_live_and_stored() {
    let data = tempfile::tempdir().unwrap();
    let server = InProcess::start(
        data.path(),
        Arc::new(FakeWhisper {
            base_delay: Duration::from_millis(5),
        }),
        LiveConfig::default(),
        4,
    )
    .await;
    let mut client = server.client.clone();
    // dev-002's first 75 s, 50 ms chunks, as fast as the pipe takes them.
    let (rate, chunks) = chunks_of("dev-002", 75.0);
    let mut msgs = vec![pb::CallInput {
        msg: Some(pb::call_input::Msg::Start(start_msg("duplex", rate))),
    }];
    msgs.extend(chunks);
    msgs.push(pb::CallInput {
        msg: Some(pb::call_input::Msg::End(pb::CallEnd {})),
    });
    let mut events = client
        .stream_call(tokio_stream::iter(msgs))
        .await
        .unwrap()
        .into_inner();
    let (mut finals, mut redactions, mut ended) = (0, 0, None);
    while let Some(ev) = events.message().await.unwrap() {
        match ev.event {
            Some(pb::call_event::Event::Transcript(tr)) => {
                assert!(
                    !tr.text.chars().any(|c| c.is_ascii_digit()),
                    "digits on the wire: {}",
                    tr.text
                );
                finals += usize::from(tr.is_final);
            }
            Some(pb::call_event::Event::Redaction(_)) => redactions += 1,
            Some(pb::call_event::Event::Ended(e)) => ended = Some(e),
            _ => {}
        }
    }
    let ended = ended.expect("CallEnded");
    assert_eq!(ended.status, "complete");
    assert!(finals >= 5, "{finals} finals");
    assert!(redactions >= 3, "{redactions} redactions");
    let report = read_json(&data.path().join("reports/duplex.json"));
    assert!(report["redactions"].as_array().unwrap().len() >= 3);
    assert!(!report.to_string().contains("4111"));
    assert!(data.path().join("recordings/duplex.wav").is_file());
    assert!(!data.path().join("recordings/duplex.wav.part").exists());
    assert!(!data.path().join("open/duplex.jsonl").exists());
    server.shutdown().await;
}
