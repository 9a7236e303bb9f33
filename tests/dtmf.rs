//! Keypad tones through the whole DSP pipeline (no transcription): every true
//! tone of the dev corpus is masked, and no stretch of speech is taken for a
//! tone, neither in the dev corpus, nor on the real two-person call (where
//! the Goertzel detector muted ordinary speech), nor in the real digit
//! recordings and the espeak demo call.

mod common;

use std::path::Path;

use callscope::frame::Leg;
use callscope::pipeline::{CallPipeline, PipelineConfig};
use callscope::source::WavSource;
use serde_json::Value;

/// The real call: left = customer, right = agent.
const REAL_CALL: &str = "../shared/corpus/real/calls/auto-repairs-40.wav";
/// Padding the redactor adds around each tone span (`redact::call::TONE_PAD_S`).
const PAD_S: f64 = 0.04;

/// Runs the pipeline over a file; `agent` is the agent's channel index.
/// Returns the keypad-tone spans.
fn tones(path: &Path, agent: usize) -> Vec<(Leg, f64, f64)> {
    tones_at_gain(path, agent, 0.0)
}

/// Like [`tones`], with the audio amplified by `gain_db` (clipped at full scale).
fn tones_at_gain(path: &Path, agent: usize, gain_db: f32) -> Vec<(Leg, f64, f64)> {
    let mut src = WavSource::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let info = src.info().clone();
    let legs = usize::from(info.channels);
    let mut p = CallPipeline::new(
        "dtmf".into(),
        legs,
        info.sample_rate,
        &PipelineConfig::default(),
    )
    .expect("pipeline");
    let mut bufs = vec![Vec::new(); legs];
    let mut events = Vec::new();
    let gain = 10f32.powf(gain_db / 20.0);
    while src.read(4096, &mut bufs).expect("reads") > 0 {
        if gain_db != 0.0 {
            for s in bufs.iter_mut().flatten() {
                *s = (*s * gain).clamp(-1.0, 1.0);
            }
        }
        let blocks: Vec<&[f32]> = if legs == 2 {
            vec![&bufs[agent], &bufs[1 - agent]]
        } else {
            vec![&bufs[0]]
        };
        p.push(&blocks, &mut events);
        events.clear();
    }
    p.finish_all(&mut events).tones
}

fn verbose() -> bool {
    std::env::var_os("CALLSCOPE_DTMF_VERBOSE").is_some()
}

#[test]
fn no_keypad_tones_in_the_real_two_person_call() {
    let path = Path::new(REAL_CALL);
    if !path.exists() {
        eprintln!("note: {REAL_CALL} is absent; skipping");
        return;
    }
    // As recorded, and 12 dB quieter or 6 dB louder.
    let mut found = Vec::new();
    for gain in [0.0, -12.0, 6.0] {
        for (leg, a, b) in tones_at_gain(path, 1, gain) {
            found.push(format!("{gain:+} dB: {leg} {a:.2}–{b:.2} s"));
        }
    }
    assert!(
        found.is_empty(),
        "{} stretches of speech taken for keypad tones:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn no_keypad_tones_in_real_voices_saying_digits_or_the_espeak_sample() {
    let dirs = [
        "samples",
        "../shared/corpus/real",
        "../shared/corpus/real/digits",
        "../shared/corpus/real/digits/allison",
    ];
    let mut files: Vec<_> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    if files.is_empty() {
        eprintln!("note: ../shared/corpus/real is absent; skipping");
        return;
    }
    files.sort();
    let mut found = Vec::new();
    for f in &files {
        for (leg, a, b) in tones(f, 0) {
            found.push(format!("{}: {leg} {a:.2}–{b:.2} s", f.display()));
        }
    }
    assert!(
        found.is_empty(),
        "{} of {} files:\n{}",
        found.len(),
        files.len(),
        found.join("\n")
    );
}

/// The true keypad tones of a dev call: `(start, end)` of each key press.
fn true_tones(truth: &Value) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for s in truth["sensitive"].as_array().into_iter().flatten() {
        if s["kind"] == "dtmf" {
            for t in s["tones"].as_array().into_iter().flatten() {
                out.push((t["start"].as_f64().unwrap(), t["end"].as_f64().unwrap()));
            }
        }
    }
    out
}

#[test]
fn dev_corpus_tones_are_all_masked_and_speech_never_is() {
    let calls = common::corpus_calls();
    if calls.is_empty() {
        eprintln!("note: dev corpus absent; skipping");
        return;
    }
    let (mut keys, mut covered, mut false_spans) = (0, 0, 0);
    let (mut true_s, mut masked_s) = (0.0, 0.0);
    let mut problems = Vec::new();
    for call in &calls {
        let truth = common::truth(call);
        let want = true_tones(&truth);
        let found = tones(&common::corpus_dir().join(format!("{call}.wav")), 0);
        true_s += want.iter().map(|(a, b)| b - a).sum::<f64>();
        masked_s += found
            .iter()
            .map(|(_, a, b)| b - a + 2.0 * PAD_S)
            .sum::<f64>();
        for &(a, b) in &want {
            keys += 1;
            // Masked when one padded span, or a chain of touching ones, covers it.
            let mut reach = a;
            for &(_, s, e) in &found {
                if s - PAD_S <= reach + 1e-6 && e + PAD_S > reach {
                    reach = reach.max(e + PAD_S);
                }
            }
            if reach >= b - 1e-6 {
                covered += 1;
            } else {
                problems.push(format!(
                    "{call}: tone {a:.3}–{b:.3} s masked only to {reach:.3}"
                ));
            }
        }
        for &(leg, s, e) in &found {
            let on_a_tone = want.iter().any(|&(a, b)| s < b + PAD_S && e > a - PAD_S);
            if !on_a_tone {
                false_spans += 1;
                problems.push(format!("{call}: false tone {leg} {s:.2}–{e:.2} s"));
            }
        }
    }
    if verbose() {
        eprintln!(
            "dev corpus: {covered}/{keys} key tones masked, {false_spans} false tone spans; \
             {masked_s:.2} s masked (with padding) for {true_s:.2} s of tones"
        );
    }
    assert!(keys > 0, "the dev corpus has DTMF calls");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
