//! `callscope analyze` end to end on small synthetic recordings made with
//! hound: report layout and location, options, and how bad inputs in a batch
//! are reported (exit codes, messages, partial reports).

mod common;

use std::f32::consts::TAU;
use std::path::{Path, PathBuf};

use common::{callscope, read_json};
use serde_json::Value;

const RATE: u32 = 8_000;

/// Who talks when in the stereo fixture: (start s, end s, channel).
/// Left talks 4 s in all, right 2 s, so swapping the channels is visible.
const BURSTS: [(f32, f32, usize); 4] = [(0.5, 2.5, 0), (3.0, 4.0, 1), (4.5, 6.5, 0), (7.0, 8.0, 1)];
/// Length of the fixtures, seconds.
const LENGTH_S: f32 = 8.5;

/// A harmonic "voice": harmonics of 150 Hz up to 3 kHz, peak around 0.1.
fn voice(t: f32) -> f32 {
    let sum: f32 = (1..=20)
        .map(|k| (TAU * 150.0 * k as f32 * t).sin() / k as f32)
        .sum();
    sum * 0.06
}

/// Low white noise, deterministic.
struct Noise(u32);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        ((self.0 >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.002
    }
}

/// Sample of `channel` at `t`: voice during its bursts, noise always.
fn sample(channel: usize, t: f32, noise: &mut Noise) -> i16 {
    let talking = BURSTS
        .iter()
        .any(|&(s, e, c)| c == channel && (s..e).contains(&t));
    let x = noise.next() + if talking { voice(t) } else { 0.0 };
    (x * 32767.0).round() as i16
}

/// Writes a 16-bit 8 kHz file with `channels` channels (channel 0 and 1 follow
/// [`BURSTS`], any further channel only carries noise).
fn write_wav(path: &Path, channels: u16) -> PathBuf {
    let spec = hound::WavSpec {
        channels,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let mut noise = Noise(12_345);
    for i in 0..(LENGTH_S * RATE as f32) as usize {
        let t = i as f32 / RATE as f32;
        for ch in 0..usize::from(channels) {
            w.write_sample(sample(ch, t, &mut noise)).unwrap();
        }
    }
    w.finalize().unwrap();
    path.to_path_buf()
}

fn stereo(dir: &Path, name: &str) -> PathBuf {
    write_wav(&dir.join(name), 2)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn report(data: &Path, call_id: &str) -> Value {
    read_json(&data.join("reports").join(format!("{call_id}.json")))
}

fn talk(r: &Value, who: &str) -> f64 {
    r["speakers"][who]["talk_time_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("no {who} talk time in {r}"))
}

#[test]
fn analyze_writes_a_report_with_the_contract_keys() {
    let dir = tempfile::tempdir().unwrap();
    let wav = stereo(dir.path(), "a.wav");
    let data = dir.path().join("D");
    let (code, out, err) = callscope(&["analyze", s(&wav), "--data-dir", s(&data)]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let path = data.join("reports/a.json");
    assert!(path.is_file(), "{} missing", path.display());
    assert!(out.contains("a.json"), "summary names the report: {out}");

    let r = read_json(&path);
    for key in [
        "call_id",
        "duration_s",
        "speakers",
        "interruptions",
        "silences",
        "segments",
        "redactions",
        "prompts",
    ] {
        assert!(r.get(key).is_some(), "report lacks {key}: {r}");
    }
    assert_eq!(r["call_id"], "a");
    assert_eq!(r["status"], "complete");
    assert_eq!(r["channel_layout"], "stereo");
    assert!(
        (r["duration_s"].as_f64().unwrap() - f64::from(LENGTH_S)).abs() < 0.05,
        "{r}"
    );
    assert!(r["speakers"]["customer"].is_object(), "{r}");
    assert!(r["interruptions"].is_array(), "{r}");
    for key in ["silences", "segments", "redactions", "prompts"] {
        assert!(r[key].is_array(), "{key} is not a list: {r}");
    }

    // Left (agent) talks 4 s, right (customer) 2 s.
    let (agent, customer) = (talk(&r, "agent"), talk(&r, "customer"));
    assert!((agent - 4.0).abs() < 0.5, "agent talk {agent}");
    assert!((customer - 2.0).abs() < 0.5, "customer talk {customer}");
    // Transcribed and redacted: the recording and a verifiable audit trail are stored.
    assert!(data.join("recordings/a.wav").is_file());
    let summary =
        callscope::store::audit::verify(&data.join("audit/a.jsonl")).expect("audit chain verifies");
    assert!(summary.recording_sha256.is_some());
}

#[test]
fn json_flag_prints_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let wav = stereo(dir.path(), "b.wav");
    let data = dir.path().join("D");
    let (code, out, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        "--json",
        s(&wav),
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(code, 0, "{err}");
    let printed: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(printed["call_id"], "b");
    assert_eq!(
        printed,
        report(&data, "b"),
        "printed and stored reports differ"
    );
}

#[test]
fn call_id_names_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let wav = stereo(dir.path(), "c.wav");
    let data = dir.path().join("D");
    let (code, _, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        s(&wav),
        "--call-id",
        "X",
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(report(&data, "X")["call_id"], "X");
    assert!(!data.join("reports/c.json").exists());
}

#[test]
fn agent_channel_right_swaps_the_parties() {
    let dir = tempfile::tempdir().unwrap();
    let wav = stereo(dir.path(), "d.wav");
    let data = dir.path().join("D");
    let (code, _, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        s(&wav),
        "--call-id",
        "left",
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        s(&wav),
        "--call-id",
        "right",
        "--agent-channel",
        "right",
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(code, 0, "{err}");
    let (l, r) = (report(&data, "left"), report(&data, "right"));
    assert_eq!(l["source"]["agent_channel"], "left");
    assert_eq!(r["source"]["agent_channel"], "right");
    assert!(talk(&l, "agent") > talk(&l, "customer") + 1.0, "{l}");
    assert!(
        (talk(&r, "agent") - talk(&l, "customer")).abs() < 0.05,
        "{l}\n{r}"
    );
    assert!(
        (talk(&r, "customer") - talk(&l, "agent")).abs() < 0.05,
        "{l}\n{r}"
    );
}

#[test]
fn bad_file_in_a_batch_is_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let good = stereo(dir.path(), "good.wav");
    let good2 = stereo(dir.path(), "good2.wav");
    let garbage = dir.path().join("garbage.wav");
    let mut noise = Noise(7);
    let bytes: Vec<u8> = (0..4096)
        .map(|_| (noise.next() * 1e5) as i64 as u8)
        .collect();
    std::fs::write(&garbage, bytes).unwrap();
    let data = dir.path().join("D");
    let (code, out, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        s(&good),
        s(&garbage),
        s(&good2),
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("garbage.wav"), "{err}");
    assert!(
        !err.contains("good.wav") && !err.contains("good2.wav"),
        "{err}"
    );
    assert!(err.contains("1 of 3"), "{err}");
    assert!(data.join("reports/good.json").is_file());
    assert!(data.join("reports/good2.json").is_file());
    assert!(!data.join("reports/garbage.json").exists());
}

#[test]
fn truncated_file_stores_a_partial_report_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let wav = stereo(dir.path(), "cut.wav");
    // Drop the last 2 s (2 s × 8000 frames × 4 bytes).
    let len = std::fs::metadata(&wav).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&wav).unwrap();
    f.set_len(len - 64_000).unwrap();
    drop(f);
    let data = dir.path().join("D");
    let (code, out, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        s(&wav),
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("truncated"), "{err}");
    assert!(err.contains("cut.wav"), "{err}");
    let r = report(&data, "cut");
    assert_eq!(r["status"], "truncated");
    assert!(
        (r["duration_s"].as_f64().unwrap() - 6.5).abs() < 0.05,
        "{r}"
    );
    assert!(
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("truncated")),
        "{r}"
    );
    assert!(out.contains("truncated"), "partial summary is shown: {out}");
}

#[test]
fn mono_file_has_no_customer_and_no_interruptions() {
    let dir = tempfile::tempdir().unwrap();
    let wav = write_wav(&dir.path().join("mono.wav"), 1);
    let data = dir.path().join("D");
    let (code, out, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        s(&wav),
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let r = report(&data, "mono");
    assert_eq!(r["channel_layout"], "mono");
    assert!(r["speakers"]["customer"].is_null(), "{r}");
    assert!(r["interruptions"].is_null(), "{r}");
    assert!(r["talk_listen_ratio"].is_null(), "{r}");
    // Channel 0's bursts: 4 s.
    assert!((talk(&r, "agent") - 4.0).abs() < 0.5, "{r}");
}

#[test]
fn three_channels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wav = write_wav(&dir.path().join("three.wav"), 3);
    let data = dir.path().join("D");
    let (code, out, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        s(&wav),
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("three.wav"), "{err}");
    assert!(err.contains("channels"), "{err}");
    assert!(!data.join("reports/three.json").exists());
}

#[test]
fn call_id_with_two_files_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let a = stereo(dir.path(), "one.wav");
    let b = stereo(dir.path(), "two.wav");
    let data = dir.path().join("D");
    let (code, _, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        s(&a),
        s(&b),
        "--call-id",
        "X",
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--call-id"), "{err}");
    assert!(!data.join("reports").exists(), "nothing is analysed");
}

#[test]
fn a_missing_embedding_model_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("D");
    let wav = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo-call.wav");
    let (code, _, err) = callscope(&[
        "analyze",
        s(&wav),
        "--embed-model",
        s(&dir.path().join("no-model")),
        "--data-dir",
        s(&data),
    ]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("callscope model install minilm"), "{err}");
    assert!(err.contains("--keywords-only"), "{err}");
    assert!(!data.join("reports").exists(), "nothing is analysed");
}

#[test]
fn missing_file_fails_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-there.wav");
    let data = dir.path().join("D");
    let (code, out, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        s(&missing),
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(err.contains(s(&missing)), "{err}");
}

#[test]
fn a_bad_rules_file_is_refused_with_its_line_and_the_default_is_printable() {
    let (code, out, _) = callscope(&["rules"]);
    assert_eq!(code, 0);
    assert!(out.contains("[signals.dead_air]") && out.contains("[[scorecard]]"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        out.replacen("after_s = 10.0", "after_s = 10.0\nbogus = 1", 1),
    )
    .unwrap();
    let line = std::fs::read_to_string(&bad)
        .unwrap()
        .lines()
        .position(|l| l == "bogus = 1")
        .unwrap()
        + 1;
    let wav = stereo(dir.path(), "call");
    let (code, _, err) = callscope(&[
        "analyze",
        "--rules",
        s(&bad),
        "--data-dir",
        s(dir.path()),
        s(&wav),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("bad.toml:{line}:")), "{err}");
    assert!(err.contains("bogus"), "{err}");
}
