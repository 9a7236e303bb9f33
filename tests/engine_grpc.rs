//! The gRPC adapter over the call engine, in process and without whisper:
//! the server and its client talk over an in-memory `tokio::io::duplex`
//! pipe (as in tonic's mock example) and a fake transcriber answers from a
//! script, late and out of order, so the whole path — wire audio, engine,
//! ordered release, redaction, the recording written as it clears, storing —
//! runs in seconds.

mod common;

use std::sync::Arc;
use std::time::Duration;

use callscope::asr::{AsrError, AsrPool, Reply, Transcript, Utterance, Word};
use callscope::engine::call::LiveConfig;
use callscope::engine::seal::Transcription;
use callscope::frame::Leg;
use callscope::grpc::pb;
use callscope::grpc::pb::call_scope_client::CallScopeClient;
use callscope::grpc::server::{Hub, serve_incoming};
use callscope::redact::audio::MaskMethod;
use callscope::redact::detect::DetectConfig;
use callscope::rules::Rules;
use common::*;

/// Answers every utterance after a delay that depends on its length (so
/// results come back out of order): the agent asks for the card, the
/// customer reads one out.
struct FakeWhisper;

impl FakeWhisper {
    fn transcript(u: &Utterance) -> Transcript {
        let text = match u.leg {
            Leg::Agent => "can I take the long card number please",
            Leg::Customer => "sure it's 4111 1111 1111 1111",
        };
        let n = text.split_whitespace().count();
        let step = u.duration_s() / n as f64;
        let words = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| Word {
                text: w.to_string(),
                start: u.start_s + step * i as f64,
                end: u.start_s + step * (i as f64 + 0.9),
                confidence: 0.9,
                digit_p: None,
            })
            .collect();
        Transcript {
            words,
            ..Transcript::default()
        }
    }
}

impl AsrPool for FakeWhisper {
    fn try_submit_with(&self, u: Utterance, reply: Reply) -> Result<(), (AsrError, Utterance)> {
        let delay = Duration::from_millis(5 + (u.samples.len() / 4_000) as u64);
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            reply(Ok(FakeWhisper::transcript(&u)));
        });
        Ok(())
    }

    fn submit_with(&self, u: Utterance, reply: Reply) -> Result<(), AsrError> {
        self.try_submit_with(u, reply).map_err(|(e, _)| e)
    }

    fn waiting(&self) -> usize {
        0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_an_in_memory_pipe_is_redacted_live_and_stored() {
    let data = tempfile::tempdir().unwrap();
    let t = Arc::new(Transcription {
        pool: Arc::new(FakeWhisper),
        model_name: "fake".into(),
        mask: MaskMethod::Silence,
        detect: DetectConfig::default(),
        rules: Arc::new(Rules::builtin()),
    });
    let (down_tx, down_rx) = tokio::sync::watch::channel(false);
    let hub = Hub::new(
        data.path().to_path_buf(),
        t,
        LiveConfig::default(),
        4,
        down_rx,
    );
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // One connection, then an incoming stream that stays open (a finished
    // one would start the server's graceful shutdown).
    use tokio_stream::StreamExt;
    let incoming =
        tokio_stream::once(Ok::<_, std::io::Error>(server_io)).chain(tokio_stream::pending());
    let server = tokio::spawn(serve_incoming(incoming, hub, down_tx, async {
        let _ = stop_rx.await;
    }));
    let mut client_io = Some(client_io);
    let channel = tonic::transport::Endpoint::try_from("http://in-memory")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| {
            let io = client_io.take();
            async move {
                io.map(hyper_util::rt::TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("one connection only"))
            }
        }))
        .await
        .unwrap();
    let mut client = CallScopeClient::new(channel);
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
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
