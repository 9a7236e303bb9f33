//! The gRPC server in process, without whisper: the server and its client
//! talk over an in-memory `tokio::io::duplex` pipe (as in tonic's mock
//! example) and a fake transcriber answers from a script, late and out of
//! order.

use std::sync::Arc;
use std::time::Duration;

use callscope::asr::{AsrError, AsrPool, Reply, Transcript, Utterance, Word};
use callscope::engine::call::LiveConfig;
use callscope::engine::seal::Transcription;
use callscope::frame::Leg;
use callscope::grpc::pb::call_scope_client::CallScopeClient;
use callscope::grpc::server::{Hub, serve_incoming};
use callscope::redact::audio::MaskMethod;
use callscope::redact::detect::DetectConfig;
use callscope::rules::Rules;
use tonic::transport::Channel;

/// Answers every utterance after `base_delay` plus a delay that grows with
/// its length (so results come back out of order): the agent asks for the
/// card, the customer reads one out.
pub struct FakeWhisper {
    /// The shortest answer time.
    pub base_delay: Duration,
}

impl FakeWhisper {
    /// The words the fake hears in `u`, spread over its duration.
    pub fn transcript(u: &Utterance) -> Transcript {
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
        let delay = self.base_delay + Duration::from_millis((u.samples.len() / 4_000) as u64);
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

/// A server running in process on one in-memory connection, and its client.
pub struct InProcess {
    /// A client on the server's one connection (clone it freely).
    pub client: CallScopeClient<Channel>,
    /// The hub, to look at the live calls.
    pub hub: Arc<Hub>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl InProcess {
    /// Starts a server storing into `data_dir`, transcribing with `pool`,
    /// taking at most `max_calls` calls at once. Call from a tokio runtime.
    pub async fn start(
        data_dir: &std::path::Path,
        pool: Arc<dyn AsrPool>,
        cfg: LiveConfig,
        max_calls: usize,
    ) -> InProcess {
        let t = Arc::new(Transcription {
            pool,
            model_name: "fake".into(),
            mask: MaskMethod::Silence,
            detect: DetectConfig::default(),
            rules: Arc::new(Rules::builtin()),
        });
        let (down_tx, down_rx) = tokio::sync::watch::channel(false);
        // Open access, no pace limit; a CallStart is due within the idle
        // timeout (10 s at most).
        let policy = callscope::grpc::policy::Policy {
            limits: callscope::grpc::policy::Limits {
                start_timeout_s: cfg.idle_timeout_s.min(10.0),
                ..callscope::grpc::policy::Limits::unpaced()
            },
            ..Default::default()
        };
        let hub = Hub::with_policy(data_dir.to_path_buf(), t, cfg, max_calls, down_rx, policy);
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        // One connection, then an incoming stream that stays open (a finished
        // one would start the server's graceful shutdown).
        use tokio_stream::StreamExt;
        let incoming =
            tokio_stream::once(Ok::<_, std::io::Error>(server_io)).chain(tokio_stream::pending());
        let server = tokio::spawn(serve_incoming(
            incoming,
            None,
            Arc::clone(&hub),
            down_tx,
            async {
                let _ = stop_rx.await;
            },
        ));
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
        InProcess {
            client: CallScopeClient::new(channel),
            hub,
            stop,
            server,
        }
    }

    /// Stops the server and waits for it to finish its calls.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}
