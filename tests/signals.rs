//! Conversation signals on real voices: the real two-person call of
//! `../shared/corpus/real/calls`, against its hand-made annotation
//! (`tests/data/auto-repairs-40.signals.json`), and the same call with line
//! echo and background talk mixed onto the agent's leg.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn real_call() -> PathBuf {
    corpus_dir()
        .parent()
        .unwrap()
        .join("real/calls/auto-repairs-40.wav")
}

fn fixture() -> Value {
    read_json(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/auto-repairs-40.signals.json"),
    )
}

/// `callscope analyze --no-transcribe --agent-channel right FILE`, the report.
fn analyze(file: &Path) -> Value {
    let data = tempfile::tempdir().unwrap();
    let (code, _out, err) = callscope(&[
        "analyze",
        "--no-transcribe",
        "--agent-channel",
        "right",
        "--data-dir",
        data.path().to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "analyze failed: {err}");
    let stem = file.file_stem().unwrap().to_str().unwrap();
    read_json(&data.path().join(format!("reports/{stem}.json")))
}

fn talk(report: &Value, who: &str) -> f64 {
    report["speakers"][who]["talk_time_s"].as_f64().unwrap()
}

#[test]
fn the_real_call_has_no_interruptions_and_its_backchannel_is_one() {
    let truth = fixture();
    let report = analyze(&real_call());
    let ints = score_interruptions(
        truth["interruptions"].as_array().unwrap(),
        report["interruptions"].as_array().unwrap(),
    );
    let bcs = callscope::eval::score_timed(
        truth["backchannels"].as_array().unwrap(),
        report["backchannels"].as_array().unwrap(),
        0.5,
    );
    eprintln!(
        "real call: interruptions {:?}, backchannels {:?}",
        report["interruptions"], report["backchannels"]
    );
    assert_eq!(ints.fp + ints.fn_, 0, "interruptions {ints:?}");
    assert_eq!(bcs.fn_, 0, "backchannels {bcs:?}");
    for who in ["agent", "customer"] {
        let want = truth["speakers"][who]["talk_time_s"].as_f64().unwrap();
        let got = talk(&report, who);
        let rel = (got - want) / want;
        eprintln!(
            "real call {who}: talk {got:.1} s vs {want:.1} s ({:+.1} %)",
            rel * 100.0
        );
        // The annotation gates at -45 dBFS RMS; ours follows the talker's level.
        assert!(rel.abs() <= 0.06, "{who} talk time {got} vs {want}");
    }
}

/// Mean power of 20 ms frames above -45 dBFS.
fn active_power(x: &[f32]) -> f32 {
    let frames: Vec<f32> = x
        .chunks(160)
        .map(|c| c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32)
        .filter(|&p| p > 10f32.powf(-4.5))
        .collect();
    frames.iter().sum::<f32>() / frames.len().max(1) as f32
}

#[test]
fn echo_and_background_talk_on_the_agent_leg_do_not_count_as_the_agent() {
    // The real call (left = customer, right = agent), 8 kHz.
    let mut r = hound::WavReader::open(real_call()).unwrap();
    let spec = r.spec();
    let s: Vec<f32> = r
        .samples::<i16>()
        .map(|v| f32::from(v.unwrap()) / 32768.0)
        .collect();
    let customer: Vec<f32> = s.iter().step_by(2).copied().collect();
    let mut agent: Vec<f32> = s.iter().skip(1).step_by(2).copied().collect();
    // Background talk: the JFK speech (16 kHz, taken every other sample),
    // looped, 27 dB under the agent's voice.
    let mut jr =
        hound::WavReader::open(corpus_dir().parent().unwrap().join("real/jfk.wav")).unwrap();
    let jfk: Vec<f32> = jr
        .samples::<i16>()
        .step_by(2)
        .map(|v| f32::from(v.unwrap()) / 32768.0)
        .collect();
    let gain = (active_power(&agent) / active_power(&jfk) * 10f32.powf(-2.7)).sqrt();
    // Line echo: the customer, 20 dB down and 55 ms late.
    let delay = 440;
    for (i, a) in agent.iter_mut().enumerate() {
        *a += gain * jfk[i % jfk.len()];
        if i >= delay {
            *a += 0.1 * customer[i - delay];
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mixed = dir.path().join("echo-babble.wav");
    let mut w = hound::WavWriter::create(&mixed, spec).unwrap();
    for (c, a) in customer.iter().zip(&agent) {
        w.write_sample((c.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
        w.write_sample((a.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();

    let clean = analyze(&real_call());
    let dirty = analyze(&mixed);
    for who in ["agent", "customer"] {
        let (want, got) = (talk(&clean, who), talk(&dirty, who));
        let rel = (got - want) / want;
        eprintln!(
            "echo+babble {who}: talk {got:.1} s vs clean {want:.1} s ({:+.1} %)",
            rel * 100.0
        );
        assert!(rel.abs() <= 0.05, "{who} talk time {got} vs {want} clean");
    }
    // No interruption invented once the background level is learnt (the
    // first seconds of a call, before the talker has been heard against
    // it, may still count a murmur behind them).
    let late = |r: &Value| {
        r["interruptions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["t"].as_f64().unwrap() > 10.0)
            .count()
    };
    assert_eq!(late(&dirty), late(&clean), "{:?}", dirty["interruptions"]);
}
