//! Security over real TLS on loopback: a test CA made here (rcgen), the
//! server with an access file, and each role doing what it may and being
//! refused what it may not; the stream and watcher limits; a server that
//! will not listen in clear off loopback. A fake transcriber stands in for
//! whisper (this is about the gates, not the words).

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use callscope::asr::{AsrError, AsrPool, Reply, Transcript, Utterance, Word};
use callscope::engine::call::LiveConfig;
use callscope::engine::seal::Transcription;
use callscope::grpc::client::{Client, Endpoint, connect, open_call};
use callscope::grpc::pb;
use callscope::grpc::policy::{Limits, Policy};
use callscope::grpc::server::{Hub, serve_tls};
use callscope::redact::audio::MaskMethod;
use callscope::redact::detect::DetectConfig;
use callscope::rules::Rules;
use callscope::security::auth::{Access, AccessFile, Role};
use callscope::security::tls::{ClientTlsFiles, ServerTlsFiles};
use common::pki::{Pki, pki};
use common::*;
use tonic::Code;

/// Says "thank you for calling" for every utterance, a little later.
struct Polite;

impl AsrPool for Polite {
    fn try_submit_with(&self, u: Utterance, reply: Reply) -> Result<(), (AsrError, Utterance)> {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            let words = ["thank", "you", "for", "calling"]
                .iter()
                .enumerate()
                .map(|(i, w)| Word {
                    text: (*w).into(),
                    start: u.start_s + 0.1 * i as f64,
                    end: u.start_s + 0.1 * i as f64 + 0.08,
                    confidence: 0.9,
                    digit_p: None,
                })
                .collect();
            reply(Ok(Transcript {
                words,
                ..Transcript::default()
            }));
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

struct Setup {
    _dir: tempfile::TempDir,
    data: PathBuf,
    url: String,
    pki: Pki,
    tokens: std::collections::HashMap<&'static str, String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Setup {
    fn as_(&self, who: &str) -> Endpoint {
        Endpoint {
            url: self.url.clone(),
            tls: ClientTlsFiles {
                ca: Some(self.pki.ca.clone()),
                ..Default::default()
            },
            token: (!who.is_empty()).then(|| self.tokens[who].clone()),
        }
    }

    async fn client(&self, who: &str) -> Client {
        connect(self.as_(who)).await.expect("connects over TLS")
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

/// A TLS server with tokens for every role (agents a1 and a2) and the
/// `known` client certificate registered as a supervisor.
async fn setup(limits: Limits) -> Setup {
    setup_with(limits, Arc::new(Polite)).await
}

/// [`setup`] with another transcriber.
async fn setup_with(limits: Limits, pool: Arc<dyn AsrPool>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let access_path = dir.path().join("access.toml");
    let mut file = AccessFile::default();
    let mut tokens = std::collections::HashMap::new();
    for (who, role, agent) in [
        ("ingest", Role::Ingest, None),
        ("a1", Role::Agent, Some("a1")),
        ("a2", Role::Agent, Some("a2")),
        ("supervisor", Role::Supervisor, None),
        ("qa", Role::Qa, None),
        ("compliance", Role::Compliance, None),
        ("admin", Role::Admin, None),
    ] {
        let t = file
            .add_token(&access_path, who, role, agent.map(str::to_string))
            .unwrap();
        tokens.insert(who, t);
    }
    file.add_cert(
        &access_path,
        "floor-wall",
        Role::Supervisor,
        None,
        &pki.known.0,
    )
    .unwrap();
    file.save(&access_path).unwrap();
    let access = Access::from_file(&AccessFile::load(&access_path).unwrap());
    let tls = ServerTlsFiles {
        cert: pki.server_cert.clone(),
        key: pki.server_key.clone(),
        client_ca: Some(pki.ca.clone()),
    }
    .grpc()
    .unwrap();
    let data = dir.path().join("data");
    let t = Arc::new(Transcription {
        pool,
        model_name: "fake".into(),
        mask: MaskMethod::Silence,
        detect: DetectConfig::default(),
        rules: Arc::new(Rules::builtin()),
    });
    let (down_tx, down_rx) = tokio::sync::watch::channel(false);
    let hub = Hub::with_policy(
        data.clone(),
        t,
        LiveConfig::default(),
        8,
        down_rx,
        Policy { access, limits },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve_tls(listener, Some(tls), hub, down_tx, async {
            let _ = stop_rx.await;
        })
        .await
        .unwrap();
    });
    Setup {
        _dir: dir,
        data,
        url,
        pki,
        tokens,
        stop: Some(stop),
        task,
    }
}

fn start(call_id: &str, agent: &str, rate: u32) -> pb::CallStart {
    pb::CallStart {
        agent_id: agent.into(),
        ..start_msg(call_id, rate)
    }
}

fn end() -> pb::CallInput {
    pb::CallInput {
        msg: Some(pb::call_input::Msg::End(pb::CallEnd {})),
    }
}

/// Streams `chunks` with `gap` between them, then ends; returns the final event.
async fn stream(
    ep: Endpoint,
    start: pb::CallStart,
    chunks: Vec<pb::CallInput>,
    gap: Duration,
) -> Result<pb::CallEvent, tonic::Status> {
    let (tx, mut events) = open_call(ep, start).await.map_err(|e| match e {
        callscope::grpc::client::ClientError::Status(s) => s,
        e => tonic::Status::unknown(e.to_string()),
    })?;
    let feeder = tokio::spawn(async move {
        for c in chunks {
            if tx.send(c).await.is_err() {
                return;
            }
            tokio::time::sleep(gap).await;
        }
        let _ = tx.send(end()).await;
    });
    let mut last = None;
    while let Some(ev) = events.message().await? {
        if matches!(ev.event, Some(pb::call_event::Event::Ended(_))) {
            last = Some(ev);
        }
    }
    feeder.abort();
    last.ok_or_else(|| tonic::Status::unknown("no CallEnded"))
}

fn code<T>(r: Result<T, tonic::Status>) -> Code {
    match r {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_sees_what_it_may_over_tls() {
    let s = setup(Limits::unpaced()).await;
    // Plain HTTP/2 to the TLS port gets nowhere.
    let plain = s.url.replace("https://", "http://");
    assert!(
        connect(plain.as_str()).await.is_err()
            || connect(plain.as_str())
                .await
                .unwrap()
                .list_calls(pb::ListCallsRequest::default())
                .await
                .is_err()
    );
    // A wrong CA: the certificate is not trusted.
    let mut wrong = s.as_("qa");
    wrong.tls.ca = Some(s.pki.known.0.clone());
    assert!(connect(wrong).await.is_err());
    // No token, a made-up token: UNAUTHENTICATED.
    let mut anon = s.client("").await;
    let e = anon
        .list_calls(pb::ListCallsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("Bearer"), "{}", e.message());
    let mut forged = s.as_("qa");
    forged.token = Some("cs_0000".into());
    let e = connect(forged)
        .await
        .unwrap()
        .watch_floor(pb::WatchFloorRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    // Only ingest (and admin) may stream a call.
    let (rate, chunks) = chunks_of("dev-002", 20.0);
    for who in ["qa", "supervisor", "a1", "compliance"] {
        let r = stream(
            s.as_(who),
            start("denied", "a1", rate),
            vec![],
            Duration::ZERO,
        )
        .await;
        assert_eq!(code(r), Code::PermissionDenied, "{who} streamed a call");
    }
    // Agent a1's call, streamed at 4x (20 s in 5 s).
    let call = tokio::spawn(stream(
        s.as_("ingest"),
        start("call-a1", "a1", rate),
        chunks.clone(),
        Duration::from_millis(12),
    ));
    // The supervisor's floor shows it.
    let mut floor = s
        .client("supervisor")
        .await
        .watch_floor(pb::WatchFloorRequest {})
        .await
        .unwrap()
        .into_inner();
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(u) = floor.message().await.unwrap() {
            // Three media seconds in, so the call has a history.
            if u.call_id == "call-a1" && u.kpi.is_some_and(|k| k.duration_s >= 3.0) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(seen, "the floor lists the live call");
    // Its agent may watch it; the other agent may not, nor may QA watch the floor.
    let mut own = s
        .client("a1")
        .await
        .watch_call(pb::WatchCallRequest {
            call_id: "call-a1".into(),
        })
        .await
        .expect("a1 watches its own call")
        .into_inner();
    // Opened late, it gets the call so far (signals at least), then the KPIs.
    let mut before_kpi = 0;
    while let Some(ev) = own.message().await.unwrap() {
        if matches!(ev.event, Some(pb::call_event::Event::Kpi(_))) {
            break;
        }
        before_kpi += 1;
    }
    assert!(before_kpi > 0, "a late watcher gets the call's history");
    let e = s
        .client("a2")
        .await
        .watch_call(pb::WatchCallRequest {
            call_id: "call-a1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // An agent's floor is its own calls only, without the floor's figures:
    // a1 sees its call, a2 sees nothing of it.
    for (agent, sees) in [("a1", true), ("a2", false)] {
        let mut floor = s
            .client(agent)
            .await
            .watch_floor(pb::WatchFloorRequest {})
            .await
            .unwrap()
            .into_inner();
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_millis(1500), async {
            while let Some(u) = floor.message().await.unwrap() {
                got.push(u);
            }
        })
        .await;
        assert!(
            got.iter().all(|u| u.agent_id == agent && u.stats.is_none()),
            "{agent}: {got:?}"
        );
        assert_eq!(got.iter().any(|u| u.call_id == "call-a1"), sees, "{agent}");
    }
    let e = s
        .client("qa")
        .await
        .watch_floor(pb::WatchFloorRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // A registered client certificate (mutual TLS, no token) is a supervisor.
    let cert_ep = Endpoint {
        url: s.url.clone(),
        tls: ClientTlsFiles {
            ca: Some(s.pki.ca.clone()),
            cert: Some(s.pki.known.0.clone()),
            key: Some(s.pki.known.1.clone()),
        },
        token: None,
    };
    connect(cert_ep)
        .await
        .unwrap()
        .watch_floor(pb::WatchFloorRequest {})
        .await
        .expect("the registered certificate watches the floor");
    let stranger_ep = Endpoint {
        url: s.url.clone(),
        tls: ClientTlsFiles {
            ca: Some(s.pki.ca.clone()),
            cert: Some(s.pki.stranger.0.clone()),
            key: Some(s.pki.stranger.1.clone()),
        },
        token: None,
    };
    let e = connect(stranger_ep)
        .await
        .unwrap()
        .watch_floor(pb::WatchFloorRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let ended = call.await.unwrap().expect("the call is stored");
    assert!(matches!(ended.event, Some(pb::call_event::Event::Ended(_))));

    // Stored: a1 reads its report, a2 may not and lists nothing.
    let get = |id: &str| pb::GetReportRequest { call_id: id.into() };
    s.client("a1")
        .await
        .get_report(get("call-a1"))
        .await
        .expect("a1 reads its own report");
    let e = s
        .client("a2")
        .await
        .get_report(get("call-a1"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let listed = s
        .client("a2")
        .await
        .list_calls(pb::ListCallsRequest {
            agent_id: "a1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.calls.is_empty(), "a2 lists only its own calls");
    let listed = s
        .client("a1")
        .await
        .list_calls(pb::ListCallsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.calls.len(), 1);
    // QA reads reports but no audio and no audit trail.
    s.client("qa")
        .await
        .get_report(get("call-a1"))
        .await
        .expect("qa reads reports");
    let e = s
        .client("qa")
        .await
        .get_recording(pb::GetRecordingRequest {
            call_id: "call-a1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = s
        .client("qa")
        .await
        .get_audit_trail(pb::GetAuditTrailRequest {
            call_id: "call-a1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // Compliance fetches the redacted recording and verifies its trail.
    let mut rec = s
        .client("compliance")
        .await
        .get_recording(pb::GetRecordingRequest {
            call_id: "call-a1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut wav = Vec::new();
    while let Some(c) = rec.message().await.unwrap() {
        wav.extend_from_slice(&c.data);
    }
    let stored = std::fs::read(callscope::store::recording::recording_path(
        &s.data, "call-a1",
    ))
    .unwrap();
    assert_eq!(wav, stored, "the recording arrives whole");
    assert!(wav.starts_with(b"RIFF"));
    let trail = s
        .client("compliance")
        .await
        .get_audit_trail(pb::GetAuditTrailRequest {
            call_id: "call-a1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(trail.verified, "{}", trail.problem);
    assert!(!trail.lines.is_empty());
    // Replacing a stored call is for admins only.
    let mut again = start("call-a1", "a1", rate);
    again.replace = true;
    let r = stream(s.as_("ingest"), again.clone(), vec![], Duration::ZERO).await;
    assert_eq!(code(r), Code::PermissionDenied);
    // A stored call id is refused, not overwritten...
    let e = stream(
        s.as_("ingest"),
        start("call-a1", "a1", rate),
        vec![],
        Duration::ZERO,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
    // ...unless an admin replaces it; the new call verifies.
    stream(
        s.as_("admin"),
        again,
        chunks[..40].to_vec(),
        Duration::from_millis(5),
    )
    .await
    .expect("an admin replaces the call");
    let verify = || async {
        s.client("compliance")
            .await
            .get_audit_trail(pb::GetAuditTrailRequest {
                call_id: "call-a1".into(),
            })
            .await
            .unwrap()
            .into_inner()
    };
    let trail = verify().await;
    assert!(trail.verified, "{}", trail.problem);
    // One byte of the recording changed: compliance sees it named.
    let rec = callscope::store::recording::recording_path(&s.data, "call-a1");
    let mut bytes = std::fs::read(&rec).unwrap();
    bytes[1000] ^= 0x01;
    std::fs::write(&rec, bytes).unwrap();
    let trail = verify().await;
    assert!(!trail.verified);
    assert!(trail.problem.contains("recording"), "{}", trail.problem);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_end_the_offending_request_and_the_server_keeps_serving() {
    // The server reads a stream no faster than the call engine takes it
    // (backpressure), about 13x real time in a debug build: the pace limit
    // here is 4x so that a 50x sender breaks it whatever the build.
    let s = setup(Limits {
        start_timeout_s: 1.0,
        max_watchers: 100,
        max_speed: 4.0,
        burst_s: 5.0,
        ..Limits::default()
    })
    .await;
    let (rate, chunks) = chunks_of("dev-002", 60.0);
    // 50x real time: stopped once past the pace plus the burst allowance,
    // and stored as far as it got.
    let r = stream(
        s.as_("ingest"),
        start("too-fast", "a1", rate),
        chunks.clone(),
        Duration::from_millis(1),
    )
    .await;
    let e = r.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("real time"), "{}", e.message());
    // A 1 MiB agent id: the message is over the 256 KiB message limit.
    let mut huge = start("huge-id", "a1", rate);
    huge.agent_id = "x".repeat(1 << 20);
    let e = stream(s.as_("ingest"), huge, vec![], Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");
    assert!(e.message().len() < 200, "the message does not echo the id");
    // One of 1,000 characters fits in a message but not the id limit.
    let mut long = start("long-id", "a1", rate);
    long.agent_id = "x".repeat(1000);
    let e = stream(s.as_("ingest"), long, vec![], Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().len() < 200, "the message does not echo the id");
    // A control character in the caller id.
    let mut ctl = start("ctl-id", "a1", rate);
    ctl.caller_id = "+1555\u{1b}[2J".into();
    let e = stream(s.as_("ingest"), ctl, vec![], Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // A stream that never sends its CallStart.
    let (_tx, rx) = tokio::sync::mpsc::channel::<pb::CallInput>(1);
    let e = s
        .client("ingest")
        .await
        .stream_call(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
    // 1,000 watchers: the first 100 (the limit here) get in, the rest are told.
    let sup = s.client("supervisor").await;
    let mut open = Vec::new();
    let mut refused = 0;
    for _ in 0..1000 {
        match sup.clone().watch_floor(pb::WatchFloorRequest {}).await {
            Ok(r) => open.push(r.into_inner()),
            Err(e) => {
                assert_eq!(e.code(), Code::ResourceExhausted);
                refused += 1;
            }
        }
    }
    assert_eq!((open.len(), refused), (100, 900));
    drop(open);
    // Places come back when watchers leave.
    tokio::time::sleep(Duration::from_millis(300)).await;
    sup.clone()
        .watch_floor(pb::WatchFloorRequest {})
        .await
        .expect("a place again");
    // And an ordinary call still goes through, at real-time pace.
    let ok = stream(
        s.as_("ingest"),
        start("fine", "a1", rate),
        chunks[..100].to_vec(),
        Duration::from_millis(50),
    )
    .await
    .expect("a well-behaved call is stored");
    assert!(matches!(ok.event, Some(pb::call_event::Event::Ended(_))));
    // The fast call was stored as far as it got.
    let mut listed = s
        .client("admin")
        .await
        .list_calls(pb::ListCallsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .calls;
    listed.sort_by(|a, b| a.call_id.cmp(&b.call_id));
    let ids: Vec<_> = listed
        .iter()
        .map(|c| (c.call_id.as_str(), c.status.as_str()))
        .collect();
    assert_eq!(ids, [("fine", "complete"), ("too-fast", "interrupted")]);
    s.shutdown().await;
}

#[test]
fn serve_refuses_plain_tcp_or_no_auth_off_loopback() {
    let (code, _, err) = callscope(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--tls-cert"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let p = pki(dir.path());
    let (code, _, err) = callscope(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--tls-cert",
        p.server_cert.to_str().unwrap(),
        "--tls-key",
        p.server_key.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--auth"), "{err}");
    // A key that does not belong to the certificate is named at start.
    let (code, _, err) = callscope(&[
        "serve",
        "--tls-cert",
        p.server_cert.to_str().unwrap(),
        "--tls-key",
        p.known.1.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("TLS"), "{err}");
}

#[test]
fn auth_add_token_prints_it_once_and_keeps_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("access.toml");
    let f = file.to_str().unwrap();
    let (code, out, err) = callscope(&[
        "auth",
        "add-token",
        "--role",
        "agent",
        "--agent-id",
        "a7",
        "--file",
        f,
    ]);
    assert_eq!(code, 0, "{err}");
    let token = out.trim();
    assert!(token.starts_with("cs_") && token.len() == 67, "{token}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(token));
    let (code, _, err) = callscope(&["auth", "add-token", "--role", "agent", "--file", f]);
    assert_ne!(code, 0, "an agent token needs --agent-id: {err}");
    let (code, out, _) = callscope(&["auth", "list", "--file", f]);
    assert_eq!(code, 0);
    assert!(out.contains("agent-a7") && !out.contains(token));
    let (code, _, _) = callscope(&["auth", "revoke", "agent-a7", "--file", f]);
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_python_health_and_reflection_clients_work_over_tls() {
    let s = setup(Limits::default()).await;
    let mut cmd = std::process::Command::new(python());
    cmd.arg("tests/python/reflect_tls.py")
        .arg(s.url.trim_start_matches("https://"))
        .arg(&s.pki.ca)
        .arg(&s.tokens["qa"]);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("run python (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["health:"], "SERVING", "{got}");
    assert_eq!(got["health:callscope.v1.CallScope"], "SERVING", "{got}");
    let services: Vec<&str> = got["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for want in [
        "callscope.v1.CallScope",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(services.contains(&want), "{want} not listed: {services:?}");
    }
    assert!(
        got["methods"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "GetAuditTrail"),
        "{got}"
    );
    assert_eq!(got["anonymous"], "UNAUTHENTICATED", "{got}");
    assert_eq!(got["with_token"], "OK", "{got}");
    s.shutdown().await;
}

/// Panics on the first utterance handed to it, inside the call's task
/// (submitting runs on the actor): a stand-in for any bug in a call.
struct PanicsOnce(std::sync::atomic::AtomicBool);

impl AsrPool for PanicsOnce {
    fn try_submit_with(&self, u: Utterance, reply: Reply) -> Result<(), (AsrError, Utterance)> {
        if !self.0.swap(true, std::sync::atomic::Ordering::SeqCst) {
            panic!("a bug in the call's analysis");
        }
        Polite.try_submit_with(u, reply)
    }

    fn submit_with(&self, u: Utterance, reply: Reply) -> Result<(), AsrError> {
        self.try_submit_with(u, reply).map_err(|(e, _)| e)
    }

    fn waiting(&self) -> usize {
        0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_call_is_stored_interrupted_at_once_and_the_server_goes_on() {
    let s = setup_with(
        Limits::unpaced(),
        Arc::new(PanicsOnce(std::sync::atomic::AtomicBool::new(false))),
    )
    .await;
    let (rate, chunks) = chunks_of("dev-002", 20.0);
    let e = stream(
        s.as_("ingest"),
        start("broken", "a1", rate),
        chunks.clone(),
        Duration::from_millis(2),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::Internal, "{e:?}");
    assert!(e.message().contains("interrupted"), "{}", e.message());
    assert!(
        !e.message().contains("bug"),
        "the panic's text stays in the server"
    );
    // Stored as interrupted without a restart, within moments.
    let mut admin = s.client("admin").await;
    let mut status = None;
    for _ in 0..50 {
        let calls = admin
            .list_calls(pb::ListCallsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .calls;
        if let Some(c) = calls.iter().find(|c| c.call_id == "broken") {
            status = Some(c.status.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status.as_deref(), Some("interrupted"));
    assert!(
        !callscope::store::open::journal_path(&s.data, "broken").exists(),
        "the journal is closed"
    );
    // The next call is served normally, and shutdown does not wait for the broken one.
    let ok = stream(
        s.as_("ingest"),
        start("after", "a1", rate),
        chunks,
        Duration::from_millis(2),
    )
    .await
    .expect("the next call is stored");
    assert!(matches!(ok.event, Some(pb::call_event::Event::Ended(_))));
    tokio::time::timeout(Duration::from_secs(10), s.shutdown())
        .await
        .expect("shutdown is not held up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_serves_and_replays_over_tls_with_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let p = pki(dir.path());
    let access = dir.path().join("access.toml");
    let a = access.to_str().unwrap();
    let (code, ingest, err) = callscope(&["auth", "add-token", "--role", "ingest", "--file", a]);
    assert_eq!(code, 0, "{err}");
    let ingest = ingest.trim().to_string();
    // A 3 s stereo call: a tone on each leg in turn.
    let wav = dir.path().join("short.wav");
    write_tone_call(&wav);
    let (port, mport) = (free_port(), free_port());
    let data = dir.path().join("data");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_callscope"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--metrics", &format!("127.0.0.1:{mport}")])
        .arg("--tls-cert")
        .arg(&p.server_cert)
        .arg("--tls-key")
        .arg(&p.server_key)
        .arg("--auth")
        .arg(&access)
        .arg("--data-dir")
        .arg(&data)
        // No sentence model: it only slows the start here.
        .arg("--keywords-only")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start callscope serve");
    let url = format!("https://127.0.0.1:{port}");
    let ep = Endpoint {
        url: url.clone(),
        tls: ClientTlsFiles {
            ca: Some(p.ca.clone()),
            ..Default::default()
        },
        token: Some(ingest.clone()),
    };
    let mut up = false;
    for _ in 0..300 {
        if connect(ep.clone()).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(up, "serve came up over TLS");
    let ca = p.ca.to_str().unwrap();
    let w = wav.to_str().unwrap();
    let replay = |token: Option<&str>| {
        let env: Vec<(&str, &str)> = token.map(|t| ("CALLSCOPE_TOKEN", t)).into_iter().collect();
        callscope_env(
            &[
                "replay",
                w,
                "--server",
                &url,
                "--ca",
                ca,
                "--call-id",
                "cli-tls",
            ],
            &env,
        )
    };
    let (code, _, err) = replay(None);
    assert_eq!(code, 1);
    assert!(err.contains("no credential"), "{err}");
    let (code, out, err) = replay(Some(&ingest));
    assert_eq!(code, 0, "{out}\n{err}");
    // Without --ca the private CA is not trusted.
    let (code, _, err) = callscope_env(
        &["replay", w, "--server", &url, "--call-id", "x"],
        &[("CALLSCOPE_TOKEN", &ingest)],
    );
    assert_eq!(code, 1, "{err}");
    // The metrics listener speaks TLS too.
    let scrape = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import ssl,sys,urllib.request;\
             c=ssl.create_default_context(cafile=sys.argv[1]);\
             print(urllib.request.urlopen(sys.argv[2],context=c).read().decode())",
        )
        .arg(ca)
        .arg(format!("https://127.0.0.1:{mport}/metrics"))
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&scrape.stdout);
    assert!(
        scrape.status.success(),
        "{}",
        String::from_utf8_lossy(&scrape.stderr)
    );
    assert!(body.contains("callscope_calls_total"), "{body}");
    assert!(
        body.contains("callscope_requests_denied_total{reason=\"unauthenticated\"}"),
        "{body}"
    );
    // Revoked, then SIGHUP: the token stops working without a restart.
    let (code, _, err) = callscope(&["auth", "revoke", "ingest-1", "--file", a]);
    assert_eq!(code, 0, "{err}");
    let _ = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status();
    let mut refused = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (code, _, err) = replay(Some(&ingest));
        if code == 1 && err.contains("revoked") {
            refused = true;
            break;
        }
    }
    assert!(refused, "a revoked token is refused after SIGHUP");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// A gRPC-Web unary call over TLS (HTTP/2) as a browser makes it, with
/// curl: (HTTP headers, body bytes).
fn grpc_web(s: &Setup, method: &str, who: &str) -> (String, Vec<u8>) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "--http2", "-D", "-", "-o", "-", "--cacert"])
        .arg(&s.pki.ca)
        .args(["-H", "content-type: application/grpc-web+proto"])
        .args(["-H", "x-grpc-web: 1"]);
    if !who.is_empty() {
        cmd.args(["-H", &format!("authorization: Bearer {}", s.tokens[who])]);
    }
    // An empty request message: flag 0, length 0.
    let out = cmd
        .args(["--data-binary", "@-"])
        .arg(format!("{}/callscope.v1.CallScope/{method}", s.url))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&[0, 0, 0, 0, 0])?;
            c.wait_with_output()
        })
        .expect("curl runs");
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    (
        String::from_utf8_lossy(&out.stdout[..split]).to_lowercase(),
        out.stdout[split + 4..].to_vec(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_api_answers_each_role_and_browsers_reach_it_over_grpc_web() {
    let s = setup(Limits::unpaced()).await;
    let (rate, chunks) = chunks_of("dev-002", 20.0);
    let done = stream(
        s.as_("ingest"),
        pb::CallStart {
            caller_id: "+15550100".into(),
            ..start("web-1", "a1", rate)
        },
        chunks,
        Duration::ZERO,
    )
    .await
    .unwrap();
    assert!(matches!(done.event, Some(pb::call_event::Event::Ended(_))));

    // WhoAmI: the console's views per role.
    for (who, views) in [
        ("supervisor", vec!["floor", "call", "review"]),
        ("a1", vec!["call", "review"]),
        ("qa", vec!["review"]),
        ("compliance", vec!["review", "compliance"]),
        ("ingest", vec![]),
    ] {
        let me = s
            .client(who)
            .await
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(me.views, views, "{who}");
        assert_eq!(me.name, who);
    }
    // The floor starts with its figures.
    let mut floor = s
        .client("supervisor")
        .await
        .watch_floor(pb::WatchFloorRequest {})
        .await
        .unwrap()
        .into_inner();
    let first = floor.message().await.unwrap().unwrap();
    assert_eq!(first.kind, pb::floor_update::Kind::FloorStats as i32);
    let stats = first.stats.unwrap();
    // The caller hears CallEnded just before the floor counts the call.
    assert!(stats.calls_live + stats.ended_last_hour == 1, "{stats:?}");
    assert!(first.sent_unix_ms > 0);
    drop(floor);

    // Search by phrase: QA finds the call; agent a2 searches only its own.
    let phrase = |who: &'static str| {
        let s = &s;
        async move {
            s.client(who)
                .await
                .search_segments(pb::SearchSegmentsRequest {
                    filter: Some(pb::ListCallsRequest {
                        phrase: "thank you for calling".into(),
                        ..Default::default()
                    }),
                    like: String::new(),
                })
                .await
        }
    };
    let hits = phrase("qa").await.unwrap().into_inner().hits;
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h.call_id == "web-1"));
    assert!(phrase("a2").await.unwrap().into_inner().hits.is_empty());
    assert_eq!(code(phrase("ingest").await), Code::PermissionDenied);
    // Meaning needs the sentence model, which this server was not given.
    let like = s
        .client("qa")
        .await
        .search_segments(pb::SearchSegmentsRequest {
            filter: None,
            like: "the customer wants a refund".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(like.code(), Code::FailedPrecondition, "{}", like.message());

    // Trends: every agent's figures, so not for agents.
    let trends = s
        .client("qa")
        .await
        .get_trends(pb::GetTrendsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let v: serde_json::Value = serde_json::from_str(&trends.trends_json).unwrap();
    assert_eq!(v["calls"], 1);
    let denied = s
        .client("a1")
        .await
        .get_trends(pb::GetTrendsRequest::default())
        .await;
    assert_eq!(code(denied), Code::PermissionDenied);

    // Export: compliance only; the archive holds the stored files.
    let export = |who: &'static str| {
        let s = &s;
        async move {
            let mut st = s
                .client(who)
                .await
                .export_call(pb::ExportCallRequest {
                    call_id: "web-1".into(),
                })
                .await?
                .into_inner();
            let mut bytes = Vec::new();
            while let Some(c) = st.message().await? {
                bytes.extend(c.data);
            }
            Ok::<_, tonic::Status>(bytes)
        }
    };
    assert_eq!(code(export("qa").await), Code::PermissionDenied);
    let zip_bytes = export("compliance").await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut names: Vec<String> = zip.file_names().map(str::to_string).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "web-1/audit.jsonl",
            "web-1/recording.wav",
            "web-1/report.json",
            "web-1/verification.json"
        ]
    );
    let mut wav = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name("web-1/recording.wav").unwrap(), &mut wav).unwrap();
    let stored = std::fs::read(s.data.join("recordings/web-1.wav")).unwrap();
    assert!(wav == stored, "the archive's recording is the stored one");
    let mut verification = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("web-1/verification.json").unwrap(),
        &mut verification,
    )
    .unwrap();
    assert!(
        verification.contains("\"verified\": true"),
        "{verification}"
    );

    // The purge log: compliance sees the purge that removed the call.
    // (Ages are whole seconds: let one pass since the call was stored.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    callscope::store::purge::purge(&s.data, Duration::ZERO).unwrap();
    let purges = |who: &'static str| {
        let s = &s;
        async move {
            s.client(who)
                .await
                .list_purges(pb::ListPurgesRequest {})
                .await
        }
    };
    assert_eq!(code(purges("supervisor").await), Code::PermissionDenied);
    let log = purges("compliance").await.unwrap().into_inner();
    assert!(log.chain_verified, "{}", log.problem);
    assert_eq!(log.purges.len(), 1);
    assert_eq!(log.purges[0].call_ids, ["web-1"]);

    // A browser's gRPC-Web over the same TLS port, with the same roles.
    let (head, body) = grpc_web(&s, "WhoAmI", "qa");
    assert!(head.starts_with("http/2 200"), "{head}");
    assert!(head.contains("application/grpc-web"), "{head}");
    assert!(body.windows(2).any(|w| w == b"qa"), "{body:?}");
    assert!(
        String::from_utf8_lossy(&body).contains("grpc-status:0"),
        "{body:?}"
    );
    let (head, _) = grpc_web(&s, "ListPurges", "");
    assert!(head.contains("grpc-status: 16"), "{head}");
    let (head, _) = grpc_web(&s, "ListPurges", "qa");
    assert!(head.contains("grpc-status: 7"), "{head}");
    // The page itself, with its content security policy.
    let page = std::process::Command::new("curl")
        .args(["-s", "-D", "-", "--cacert"])
        .arg(&s.pki.ca)
        .arg(format!("{}/", s.url))
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&page.stdout).to_lowercase();
    assert!(page.starts_with("http/2 200"), "{page}");
    assert!(
        page.contains("content-security-policy: default-src 'self'"),
        "{page}"
    );
    assert!(page.contains("/assets/app.js"), "{page}");
    let missing = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(&s.pki.ca)
        .arg(format!("{}/etc/passwd", s.url))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&missing.stdout), "404");
    s.shutdown().await;
}
