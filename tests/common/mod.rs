//! Shared helpers of the integration tests: the dev corpus, its truth files
//! and the scoring rules of `../shared/corpus/README.md`.
#![allow(dead_code)]

pub mod grpc;
pub mod pki;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The dev corpus, by relative path from the crate root (cargo runs tests
/// there; a compile-time path would go stale when the build cache is shared
/// between checkouts).
pub fn corpus_dir() -> PathBuf {
    PathBuf::from("../shared/corpus/dev")
}

/// The call ids of the dev corpus, or an empty list (with a note) if it is absent.
pub fn corpus_calls() -> Vec<String> {
    let dir = corpus_dir();
    let mut ids: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".truth.json")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Parses a JSON file.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The truth file of a call.
pub fn truth(call: &str) -> Value {
    read_json(&corpus_dir().join(format!("{call}.truth.json")))
}

/// Runs the `callscope` binary with `args`; returns (exit code, stdout, stderr).
pub fn callscope(args: &[&str]) -> (i32, String, String) {
    callscope_env(args, &[])
}

/// [`callscope`] with extra environment variables.
pub fn callscope_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_callscope"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run callscope");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A free local TCP port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub use callscope::eval::Counts;

/// The Python with grpcio-tools, -reflection and -health-checking:
/// `CALLSCOPE_PYTHON`, or the venv scripts/test.sh makes.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CALLSCOPE_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME");
    let p = PathBuf::from(home).join(".cache/callscope/venv/bin/python");
    assert!(
        p.is_file(),
        "no Python with grpcio-tools: run scripts/test.sh (it makes {}) or set CALLSCOPE_PYTHON",
        p.display()
    );
    p
}

/// Interruptions matched within 0.5 s of `t` with the same interrupter, one to one.
pub fn score_interruptions(truth: &[Value], found: &[Value]) -> Counts {
    callscope::eval::score_timed(truth, found, 0.5)
}

/// A truth silence is found when a reported silence covers at least half of it.
pub fn silence_found(truth: &Value, found: &[Value]) -> bool {
    let (ts, te) = (
        truth["start"].as_f64().unwrap(),
        truth["end"].as_f64().unwrap(),
    );
    found.iter().any(|f| {
        let (fs, fe) = (f["start"].as_f64().unwrap(), f["end"].as_f64().unwrap());
        (fe.min(te) - fs.max(ts)) >= 0.5 * (te - ts)
    })
}

/// Every leg of a WAV file as floats, and its rate.
pub fn read_legs(path: &std::path::Path) -> (u32, Vec<Vec<f32>>) {
    let mut src = callscope::source::WavSource::open(path).unwrap();
    let rate = src.info().sample_rate;
    let ch = usize::from(src.info().channels);
    let mut legs = vec![Vec::new(); ch];
    let mut bufs = vec![Vec::new(); ch];
    while src.read(8192, &mut bufs).unwrap() > 0 {
        for (l, b) in legs.iter_mut().zip(&bufs) {
            l.extend_from_slice(b);
        }
    }
    (rate, legs)
}

/// RMS of a stretch of samples, dBFS.
pub fn frame_db(x: &[f32]) -> f64 {
    let ms = x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * ms.max(1e-12).log10()
}

/// Frames (20 ms) of `[start, end)` on `leg` and how many are loud (> −45 dBFS).
pub fn loud_frames(rate: u32, leg: &[f32], start: f64, end: f64) -> (usize, usize) {
    let n = (rate / 50) as usize;
    let (mut total, mut loud) = (0, 0);
    let mut t = start;
    while t + 0.02 <= end + 1e-9 {
        let a = (t * f64::from(rate)) as usize;
        if a + n <= leg.len() {
            total += 1;
            loud += usize::from(frame_db(&leg[a..a + n]) > -45.0);
        }
        t += 0.02;
    }
    (total, loud)
}

/// The first `seconds` of a dev call as wire messages of 50 ms (PCM16),
/// and its rate.
pub fn chunks_of(call: &str, seconds: f64) -> (u32, Vec<callscope::grpc::pb::CallInput>) {
    let mut src =
        callscope::source::WavSource::open(corpus_dir().join(format!("{call}.wav"))).unwrap();
    let rate = src.info().sample_rate;
    let chunk = rate as usize / 20;
    let mut bufs = vec![Vec::new(); 2];
    let mut out = Vec::new();
    let mut left = (seconds * f64::from(rate)) as usize;
    while left > 0 {
        let n = src.read(chunk.min(left), &mut bufs).unwrap();
        if n == 0 {
            break;
        }
        left -= n;
        out.push(callscope::grpc::client::audio_message(
            callscope::grpc::Encoding::Pcm16,
            &bufs,
            n,
        ));
    }
    (rate, out)
}

/// A stereo PCM16 `CallStart` of `call_id` at `rate`.
pub fn start_msg(call_id: &str, rate: u32) -> callscope::grpc::pb::CallStart {
    callscope::grpc::pb::CallStart {
        call_id: call_id.into(),
        agent_id: "agent-9".into(),
        encoding: callscope::grpc::pb::AudioEncoding::Pcm16le as i32,
        sample_rate: rate,
        channels: 2,
        agent_channel: 0,
        separate_legs: false,
        caller_id: String::new(),
        replace: false,
    }
}

/// Cases per fuzz target: `default` (the CI bound), or
/// `CALLSCOPE_FUZZ_CASES` for a long run (see `docs/fuzzing.md`).
pub fn fuzz_cases(default: u32) -> u32 {
    match std::env::var("CALLSCOPE_FUZZ_CASES") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("CALLSCOPE_FUZZ_CASES={v:?} is not a number")),
        Err(_) => default,
    }
}

/// Whether `bytes` holds any of `cards`, as written or with spaces or
/// dashes between the digit groups.
pub fn holds_card(bytes: &[u8], cards: &[String]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let squeezed: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    cards
        .iter()
        .any(|c| text.contains(c.as_str()) || squeezed.contains(c.as_str()))
}

/// The card numbers (PAN digits) the dev corpus calls `files` read out.
pub fn card_numbers(files: &[&str]) -> Vec<String> {
    files
        .iter()
        .flat_map(|file| {
            truth(file.trim_end_matches(".wav"))["sensitive"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["kind"] == "pan")
                .filter_map(|s| s["digits"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Writes a 3 s stereo call to `wav`: a tone on each leg in turn (8 kHz,
/// 16-bit), for tests that need a call but not speech.
pub fn write_tone_call(wav: &Path) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(wav, spec).unwrap();
    for i in 0..24_000 {
        let v = ((i as f32 * 0.1).sin() * 6000.0) as i16;
        let (l, r) = if i < 12_000 { (v, 0) } else { (0, v) };
        w.write_sample(l).unwrap();
        w.write_sample(r).unwrap();
    }
    w.finalize().unwrap();
}

/// Adds a token for `role` (and `agent` for the agent role) named `name`
/// to the access file; returns the token.
pub fn add_token(access: &Path, name: &str, role: &str, agent: Option<&str>) -> String {
    let a = access.to_str().unwrap();
    let mut args = vec![
        "auth",
        "add-token",
        "--role",
        role,
        "--name",
        name,
        "--file",
        a,
    ];
    if let Some(agent) = agent {
        args.extend(["--agent-id", agent]);
    }
    let (code, out, err) = callscope(&args);
    assert_eq!(code, 0, "{err}");
    out.trim().to_string()
}

/// Every file under `dir`, recursively (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}
