//! Fuzzing the gRPC intake: arbitrary sequences of `CallInput` messages —
//! starts with any field values, audio chunks of any size and content
//! (garbage, noise, silence, real speech), ends, empty messages, in any
//! order, streams left open or dropped half-read — sent one after another
//! to one real server in process (over `tokio::io::duplex`, with a fake
//! transcriber that reads a card number out of every customer utterance).
//!
//! Each sequence must get events or a clean `Status`, within a time bound;
//! no event may carry a run of 13 or more digits; the call must leave the
//! floor; nothing may panic; and the same server takes the next sequence.
//! See `docs/fuzzing.md` for the long run (`CALLSCOPE_FUZZ_CASES`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use callscope::engine::call::LiveConfig;
use callscope::grpc::pb;
use callscope::grpc::pb::call_input::Msg;
use common::grpc::{FakeWhisper, InProcess};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

/// Longest a sequence may take, end to end.
const CASE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a finished sequence's call may stay on the floor.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Panics anywhere in the process (actor tasks, blocking threads), counted
/// by a hook: tokio would otherwise swallow a panicking task.
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// The one server every sequence goes to.
struct Shared {
    rt: tokio::runtime::Runtime,
    server: InProcess,
    /// The first minute of a dev call, PCM16 mono 8 kHz, for real speech.
    speech: Vec<u8>,
    data: tempfile::TempDir,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default_hook(info);
        }));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // tmpfs when there is one: every call is stored (journal fsyncs).
        let data = tempfile::Builder::new()
            .prefix("callscope-fuzz-grpc")
            .tempdir_in(if std::path::Path::new("/dev/shm").is_dir() {
                "/dev/shm"
            } else {
                "/tmp"
            })
            .unwrap();
        let cfg = LiveConfig {
            idle_timeout_s: 0.2,
            ..LiveConfig::default()
        };
        let server = rt.block_on(InProcess::start(
            data.path(),
            Arc::new(FakeWhisper {
                base_delay: Duration::ZERO,
            }),
            cfg,
            4,
        ));
        Shared {
            rt,
            server,
            speech: speech(),
            data,
        }
    })
}

/// A minute of the customer leg of a dev call as PCM16 bytes, or a
/// synthetic voice-band signal when the corpus is absent.
fn speech() -> Vec<u8> {
    let path = common::corpus_dir().join("dev-002.wav");
    let samples: Vec<f32> = if path.is_file() {
        let (rate, legs) = common::read_legs(&path);
        let leg = legs.last().unwrap();
        leg.iter()
            .take(rate as usize * 60)
            .step_by((rate / 8_000).max(1) as usize)
            .copied()
            .collect()
    } else {
        (0..8_000 * 10)
            .map(|i| {
                let t = i as f32 / 8_000.0;
                let envelope = if ((t * 2.0) as u32).is_multiple_of(2) {
                    0.5
                } else {
                    0.0
                };
                envelope * (t * 440.0 * std::f32::consts::TAU).sin()
            })
            .collect()
    };
    samples
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32_767.0) as i16).to_le_bytes())
        .collect()
}

/// What an audio chunk holds (generated when sent, to keep cases small).
#[derive(Debug, Clone)]
enum Audio {
    /// These bytes.
    Bytes(Vec<u8>),
    /// `len` zero bytes.
    Zeros(usize),
    /// `len` bytes of PCM16 white noise of amplitude `amp`.
    Noise { len: usize, amp: i16, seed: u64 },
    /// `len` bytes of the speech recording from byte `at`.
    Speech { at: usize, len: usize },
}

#[derive(Debug, Clone)]
enum Step {
    Start(pb::CallStart),
    /// Audio, its leg, and whether to cut it to whole samples (a multiple
    /// of 4 bytes: whole PCM16 stereo frames) so that it gets past the
    /// deframer into the engine.
    Audio(Audio, i32, bool),
    End,
    Empty,
}

#[derive(Debug, Clone)]
struct Sequence {
    steps: Vec<Step>,
    /// Leave the request stream open after the steps (the server's idle
    /// timeout must end the call).
    hold_open: bool,
    /// Drop the response stream after this many events (a client gone).
    read_limit: Option<usize>,
}

fn call_start() -> impl Strategy<Value = pb::CallStart> {
    let id = prop_oneof![
        24 => (0..4u8).prop_map(|i| format!("fz-{i}")),
        1 => Just(String::new()),
        1 => Just(".hidden".to_string()),
        1 => Just("../up".to_string()),
        1 => "[a-zA-Z0-9._-]{1,130}",
        1 => "\\PC{0,12}",
    ];
    (
        id,
        "[a-z0-9 +]{0,12}",
        "[a-z0-9 +]{0,12}",
        prop_oneof![16 => 1i32..=3, 1 => any::<i32>()],
        prop_oneof![
            12 => prop_oneof![Just(8_000u32), Just(16_000u32), Just(48_000u32)],
            4 => 8_000u32..=48_000,
            1 => any::<u32>(),
        ],
        prop_oneof![16 => 1u32..=2, 1 => any::<u32>()],
        prop_oneof![16 => 0u32..=1, 1 => any::<u32>()],
        prop::bool::weighted(0.25),
    )
        .prop_map(
            |(
                call_id,
                agent_id,
                caller_id,
                encoding,
                sample_rate,
                channels,
                agent_channel,
                separate_legs,
            )| pb::CallStart {
                call_id,
                agent_id,
                encoding,
                sample_rate,
                channels,
                agent_channel,
                separate_legs,
                caller_id,
                // Ids repeat on purpose (is the last call's place given
                // back?), so each replaces the stored one of its id.
                replace: true,
            },
        )
}

fn audio() -> impl Strategy<Value = Audio> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..600).prop_map(Audio::Bytes),
        1 => (0usize..8_000).prop_map(Audio::Zeros),
        2 => (0usize..16_000, any::<i16>(), any::<u64>())
            .prop_map(|(len, amp, seed)| Audio::Noise { len, amp, seed }),
        3 => (any::<usize>(), 0usize..32_000).prop_map(|(at, len)| Audio::Speech { at, len }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        14 => (
            audio(),
            prop_oneof![16 => 1i32..=2, 1 => any::<i32>()],
            prop::bool::weighted(0.9),
        )
            .prop_map(|(a, leg, whole)| Step::Audio(a, leg, whole)),
        2 => Just(Step::End),
        1 => call_start().prop_map(Step::Start),
        1 => Just(Step::Empty),
    ]
}

fn sequence() -> impl Strategy<Value = Sequence> {
    (
        prop_oneof![9 => call_start().prop_map(Step::Start), 1 => step()],
        prop::collection::vec(step(), 0..12),
        prop::bool::weighted(0.03),
        prop::option::weighted(0.05, 0usize..6),
    )
        .prop_map(|(first, rest, hold_open, read_limit)| {
            let mut steps = vec![first];
            steps.extend(rest);
            Sequence {
                steps,
                hold_open,
                read_limit,
            }
        })
}

fn bytes_of(a: &Audio, speech: &[u8]) -> Vec<u8> {
    match a {
        Audio::Bytes(b) => b.clone(),
        Audio::Zeros(n) => vec![0; *n],
        Audio::Noise { len, amp, seed } => {
            let mut x = *seed | 1;
            let mut out = Vec::with_capacity(*len + 1);
            while out.len() < *len {
                // xorshift64
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let s = ((x >> 48) as i16 as i32 * i32::from(*amp) / 32_768) as i16;
                out.extend_from_slice(&s.to_le_bytes());
            }
            out.truncate(*len);
            out
        }
        Audio::Speech { at, len } => {
            if speech.is_empty() {
                return Vec::new();
            }
            let at = at % speech.len();
            speech[at..(at + len).min(speech.len())].to_vec()
        }
    }
}

fn messages(seq: &Sequence, speech: &[u8]) -> Vec<pb::CallInput> {
    seq.steps
        .iter()
        .map(|s| pb::CallInput {
            msg: match s {
                Step::Start(st) => Some(Msg::Start(st.clone())),
                Step::Audio(a, leg, whole) => {
                    let mut data = bytes_of(a, speech);
                    if *whole {
                        data.truncate(data.len() / 4 * 4);
                    }
                    Some(Msg::Audio(pb::AudioChunk { data, leg: *leg }))
                }
                Step::End => Some(Msg::End(pb::CallEnd {})),
                Step::Empty => None,
            },
        })
        .collect()
}

/// The longest run of digits in `s`, single spaces and dashes between
/// digits allowed ("4111 1111-1111").
fn longest_digit_run(s: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    let mut sep = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            run += 1;
            sep = false;
            best = best.max(run);
        } else if (c == ' ' || c == '-') && run > 0 && !sep {
            sep = true;
        } else {
            run = 0;
            sep = false;
        }
    }
    best
}

/// Every string in a JSON value except hex digests (the audit seal).
fn json_strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => {
            let digest = s.len() >= 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
            if !digest {
                out.push(s);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| json_strings(x, out)),
        _ => {}
    }
}

/// The texts of an event that could carry what was said.
fn event_texts(ev: &pb::CallEvent) -> Vec<String> {
    use pb::call_event::Event;
    match &ev.event {
        Some(Event::Transcript(t)) => vec![t.text.clone()],
        Some(Event::Prompt(p)) => vec![p.message.clone(), p.evidence.clone(), p.kind.clone()],
        Some(Event::Redaction(r)) => vec![r.kind.clone()],
        Some(Event::Ended(e)) => {
            let v: serde_json::Value = serde_json::from_str(&e.report_json)
                .unwrap_or(serde_json::Value::String(e.report_json.clone()));
            let mut out = Vec::new();
            json_strings(&v, &mut out);
            out.into_iter().map(str::to_string).collect()
        }
        _ => Vec::new(),
    }
}

/// What a sequence got back.
#[derive(Debug, Default)]
struct Outcome {
    accepted: bool,
    ended: Option<String>,
    statuses: Vec<tonic::Status>,
    events: usize,
    transcripts: usize,
    redactions: usize,
    longest_run: usize,
}

/// What the whole run got back, to show the fuzz reaches the engine.
#[derive(Debug, Default)]
struct Tally {
    sequences: usize,
    accepted: usize,
    ended: std::collections::BTreeMap<String, usize>,
    statuses: std::collections::BTreeMap<String, usize>,
    transcripts: usize,
    redactions: usize,
}

static TALLY: std::sync::Mutex<Tally> = std::sync::Mutex::new(Tally {
    sequences: 0,
    accepted: 0,
    ended: std::collections::BTreeMap::new(),
    statuses: std::collections::BTreeMap::new(),
    transcripts: 0,
    redactions: 0,
});

fn tally(out: &Outcome) {
    let mut t = TALLY.lock().unwrap();
    t.sequences += 1;
    t.accepted += usize::from(out.accepted);
    if let Some(e) = &out.ended {
        *t.ended.entry(e.clone()).or_default() += 1;
    }
    for s in &out.statuses {
        *t.statuses.entry(format!("{:?}", s.code())).or_default() += 1;
    }
    t.transcripts += out.transcripts;
    t.redactions += out.redactions;
}

async fn run_sequence(
    client: &mut pb::call_scope_client::CallScopeClient<tonic::transport::Channel>,
    seq: &Sequence,
    speech: &[u8],
) -> Outcome {
    use tokio_stream::StreamExt;
    let msgs = messages(seq, speech);
    let input: std::pin::Pin<Box<dyn tokio_stream::Stream<Item = pb::CallInput> + Send>> =
        if seq.hold_open {
            Box::pin(tokio_stream::iter(msgs).chain(tokio_stream::pending()))
        } else {
            Box::pin(tokio_stream::iter(msgs))
        };
    let mut out = Outcome::default();
    let mut events = match client.stream_call(input).await {
        Ok(r) => r.into_inner(),
        Err(s) => {
            out.statuses.push(s);
            return out;
        }
    };
    loop {
        if seq.read_limit.is_some_and(|n| out.events >= n) {
            break;
        }
        match events.message().await {
            Ok(Some(ev)) => {
                out.events += 1;
                for t in event_texts(&ev) {
                    out.longest_run = out.longest_run.max(longest_digit_run(&t));
                }
                match ev.event {
                    Some(pb::call_event::Event::Accepted(_)) => out.accepted = true,
                    Some(pb::call_event::Event::Ended(e)) => out.ended = Some(e.status),
                    Some(pb::call_event::Event::Transcript(_)) => out.transcripts += 1,
                    Some(pb::call_event::Event::Redaction(_)) => out.redactions += 1,
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(s) => {
                out.statuses.push(s);
                break;
            }
        }
    }
    out
}

/// Sends `seq` and checks what came back, and that the call left the floor.
fn check_sequence(seq: &Sequence) -> Result<(), TestCaseError> {
    let sh = shared();
    let mut client = sh.server.client.clone();
    let started = Instant::now();
    let out = sh
        .rt
        .block_on(async {
            tokio::time::timeout(CASE_TIMEOUT, run_sequence(&mut client, seq, &sh.speech)).await
        })
        .map_err(|_| TestCaseError::fail(format!("no answer within {CASE_TIMEOUT:?}")))?;
    tally(&out);
    prop_assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a panic: {:?}", out);
    prop_assert!(
        out.longest_run < 13,
        "a run of {} digits on the wire",
        out.longest_run
    );
    for s in &out.statuses {
        prop_assert!(
            !matches!(s.code(), tonic::Code::Unknown | tonic::Code::Internal),
            "not a clean status: {s:?}"
        );
        prop_assert!(!s.message().trim().is_empty(), "status without a message");
        prop_assert!(
            !matches!(
                s.code(),
                tonic::Code::ResourceExhausted | tonic::Code::AlreadyExists
            ),
            "a previous call still holds its place: {s:?}"
        );
    }
    if out.accepted && seq.read_limit.is_none() {
        prop_assert!(
            out.ended.is_some() || !out.statuses.is_empty(),
            "the stream ended with neither CallEnded nor a status: {out:?}"
        );
    }
    // The call leaves the floor (a dropped client's call finishes behind).
    while sh.server.hub.live_calls() > 0 {
        prop_assert!(
            started.elapsed() < CASE_TIMEOUT + LEAVE_TIMEOUT,
            "a call stayed on the floor: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// A well-formed call; each gets its own id (a stored id is refused).
fn good_call() -> Sequence {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut steps = vec![Step::Start(pb::CallStart {
        call_id: format!("fz-good-{n}"),
        agent_id: "agent".into(),
        encoding: pb::AudioEncoding::Pcm16le as i32,
        sample_rate: 8_000,
        channels: 1,
        agent_channel: 0,
        separate_legs: false,
        caller_id: String::new(),
        replace: false,
    })];
    steps.extend((0..20).map(|i| {
        Step::Audio(
            Audio::Speech {
                at: i * 8_000,
                len: 8_000,
            },
            0,
            true,
        )
    }));
    steps.push(Step::End);
    Sequence {
        steps,
        hold_open: false,
        read_limit: None,
    }
}

/// A well-formed call, to show the server still serves.
fn check_good_call() {
    let sh = shared();
    let mut client = sh.server.client.clone();
    let out = sh.rt.block_on(async {
        tokio::time::timeout(
            CASE_TIMEOUT,
            run_sequence(&mut client, &good_call(), &sh.speech),
        )
        .await
        .expect("the good call is answered")
    });
    assert!(out.accepted && out.statuses.is_empty(), "{out:?}");
    assert_eq!(out.ended.as_deref(), Some("complete"), "{out:?}");
}

/// The odd sequences a fuzz run might take long to hit.
fn odd_sequences() -> Vec<Sequence> {
    let seq = |steps, hold_open, read_limit| Sequence {
        steps,
        hold_open,
        read_limit,
    };
    vec![
        seq(vec![Step::End], false, None),
        seq(vec![Step::Empty, Step::Empty], false, None),
        seq(Vec::new(), false, None),
        seq(good_call().steps[..3].to_vec(), true, None),
        seq(good_call().steps, false, Some(1)),
    ]
}

/// One test, so that nothing else runs on the server meanwhile: a good
/// call, the odd sequences, the fuzz, and a good call again.
#[test]
fn grpc_intake_answers_any_sequence_and_keeps_serving() {
    check_good_call();
    for seq in &odd_sequences() {
        if let Err(e) = check_sequence(seq) {
            panic!("{seq:?}: {e}");
        }
    }
    let mut runner = TestRunner::new(Config {
        cases: common::fuzz_cases(150),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/fuzz_grpc.txt",
        ))),
        ..Config::default()
    });
    let started = Instant::now();
    if let Err(e) = runner.run(&sequence(), |seq| check_sequence(&seq)) {
        panic!("{e}");
    }
    eprintln!(
        "gRPC fuzz: {} cases in {:.1} s; {:?}",
        runner.config().cases,
        started.elapsed().as_secs_f64(),
        TALLY.lock().unwrap()
    );
    check_good_call();
    // The shared server lives in a static, never dropped: remove what it stored.
    let _ = std::fs::remove_dir_all(shared().data.path());
}

#[test]
fn the_digit_check_sees_a_card_number_read_out() {
    assert_eq!(longest_digit_run("sure it's 4111 1111 1111 1111"), 16);
    assert_eq!(longest_digit_run("4111-1111-1111-1"), 13);
    assert_eq!(longest_digit_run("call 0800 123 456, at 12:30"), 10);
    assert_eq!(longest_digit_run("[card number]"), 0);
}

/// Found by fuzzing: a `StreamCall` whose client opens the stream and never
/// sends its first message was never answered — the server awaited the
/// `CallStart` with no time limit (the idle timeout started only after it),
/// so each such stream held a handler for ever. Now the CallStart is due
/// within `--start-timeout` (DEADLINE_EXCEEDED).
#[test]
fn regression_stream_without_a_first_message_is_answered() {
    let seq = Sequence {
        steps: Vec::new(),
        hold_open: true,
        read_limit: None,
    };
    if let Err(e) = check_sequence(&seq) {
        panic!("{e}");
    }
}
