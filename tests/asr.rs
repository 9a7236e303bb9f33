//! Real whisper inference on a real model (base by default; `CALLSCOPE_MODEL`
//! picks another). `scripts/test.sh` installs the model first.

mod common;

use std::path::PathBuf;

use callscope::asr::whisper::{WhisperConfig, WhisperPool};
use callscope::asr::{Transcriber, Utterance};
use callscope::eval::wer;
use callscope::frame::Leg;
use callscope::source::WavSource;

fn model() -> PathBuf {
    let path = std::env::var_os("CALLSCOPE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(callscope::model::default_model);
    assert!(
        path.is_file(),
        "no whisper model at {}: run `cargo run --release -- model install base` (scripts/test.sh does)",
        path.display()
    );
    path
}

fn jfk() -> Vec<f32> {
    mono16k("../shared/corpus/real/jfk.wav")
}

#[test]
fn real_speech_is_transcribed_with_word_times() {
    let pool = WhisperPool::start(WhisperConfig::for_machine(model())).expect("model loads");
    let samples = jfk();
    let u = Utterance {
        call_id: "jfk".into(),
        leg: Leg::Agent,
        start_s: 100.0,
        samples,
        prime_digits: false,
    };
    let t = pool.transcribe(&u).expect("transcribes");
    let reference = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";
    let w = wer(reference, &t.text());
    eprintln!("jfk: WER {:.3}, {} words", w, t.words.len());
    assert!(w <= 0.1, "WER {w}");
    // Word times are media times (offset by the utterance start), in order, inside the clip.
    let mut last = 100.0;
    for word in &t.words {
        assert!(
            word.start >= last - 0.05 && word.end >= word.start,
            "{word:?}"
        );
        assert!(word.end <= 100.0 + u.duration_s() + 0.5, "{word:?}");
        last = word.start;
    }
    // Debug output never carries the words.
    assert!(
        !format!("{t:?} {:?}", t.words)
            .to_lowercase()
            .contains("country")
    );
}

#[test]
fn silence_and_noise_give_no_words() {
    let pool = WhisperPool::start(WhisperConfig::for_machine(model())).expect("model loads");
    let mut seed = 9u32;
    let noise: Vec<f32> = (0..16_000 * 3)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.002
        })
        .collect();
    for samples in [vec![0.0f32; 16_000 * 2], noise] {
        let t = pool
            .transcribe(&Utterance {
                call_id: "quiet".into(),
                leg: Leg::Customer,
                start_s: 0.0,
                samples,
                prime_digits: false,
            })
            .unwrap();
        assert!(
            t.words.len() <= 1,
            "{} words from non-speech",
            t.words.len()
        );
    }
}

#[test]
fn a_missing_model_says_what_to_do() {
    let err = WhisperPool::start(WhisperConfig::for_machine(
        "/nonexistent/ggml-base.bin".into(),
    ))
    .err()
    .expect("fails");
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/ggml-base.bin") && msg.contains("model install"),
        "{msg}"
    );
}

/// Regression: a mono recording went through the VAD and signals but never
/// reached the utterance cutter, so it was stored neither transcribed nor
/// redacted. A mono mix of a corpus call must come out with its card
/// number, expiry date and security code masked.
#[test]
fn a_mono_recording_is_transcribed_and_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let src = common::corpus_dir().join("dev-001.pcm16.wav");
    let mut r = hound::WavReader::open(&src).expect("corpus call");
    let spec = r.spec();
    assert_eq!(spec.channels, 2);
    let s: Vec<i32> = r.samples::<i16>().map(|x| i32::from(x.unwrap())).collect();
    let mono = dir.path().join("mono-call.wav");
    let mut w = hound::WavWriter::create(
        &mono,
        hound::WavSpec {
            channels: 1,
            ..spec
        },
    )
    .unwrap();
    for pair in s.chunks_exact(2) {
        w.write_sample((pair[0] + pair[1]).clamp(-32768, 32767) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    let data = dir.path().join("data");
    let (code, _, err) = common::callscope(&[
        "analyze",
        "--data-dir",
        data.to_str().unwrap(),
        mono.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let report = common::read_json(&data.join("reports/mono-call.json"));
    assert!(report["speakers"]["agent"]["words"].as_u64().unwrap() > 100);
    let kinds: Vec<&str> = report["redactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    for k in ["pan", "expiry", "cvv"] {
        assert!(kinds.contains(&k), "{k} not redacted: {kinds:?}");
    }
    let pan = "6011000990139424";
    let digits: String = report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["text"].as_str().unwrap().chars())
        .filter(char::is_ascii_digit)
        .collect();
    for w in 0..=pan.len() - 6 {
        assert!(
            !digits.contains(&pan[w..w + 6]),
            "PAN digits in the mono transcript"
        );
    }
}

/// A 16 kHz mono WAV file's samples.
fn mono16k(path: &str) -> Vec<f32> {
    let mut src = WavSource::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(src.info().sample_rate, 16_000);
    let mut out = Vec::new();
    let mut buf = vec![Vec::new()];
    while src.read(16_000, &mut buf).unwrap() > 0 {
        out.extend_from_slice(&buf[0]);
    }
    out
}

#[test]
fn whisper_weights_for_numbers_are_measured_per_word() {
    // Real digits (a man reading three five-digit groups) against real
    // ordinary speech: number words carry a high digit weight, ordinary
    // words a low one, plain or primed for digits.
    let pool = WhisperPool::start(WhisperConfig::for_machine(model())).expect("model loads");
    for prime_digits in [false, true] {
        let digits = pool
            .transcribe(&Utterance {
                call_id: "digits".into(),
                leg: Leg::Customer,
                start_s: 0.0,
                samples: mono16k("../shared/corpus/real/digits/vosk-test.wav"),
                prime_digits,
            })
            .unwrap();
        let numbers: Vec<f32> = digits
            .words
            .iter()
            .filter(|w| callscope::redact::numbers::is_number_word(&w.text))
            .map(|w| w.digit_p.expect("measured"))
            .collect();
        assert!(
            numbers.len() >= 3,
            "prime {prime_digits}: {} number words",
            numbers.len()
        );
        assert!(
            numbers.iter().all(|&p| p > 0.5),
            "prime {prime_digits}: digit weights {numbers:?}"
        );
        let speech = pool
            .transcribe(&Utterance {
                call_id: "jfk".into(),
                leg: Leg::Agent,
                start_s: 0.0,
                samples: jfk(),
                prime_digits,
            })
            .unwrap();
        let low = speech
            .words
            .iter()
            .filter(|w| w.digit_p.expect("measured") < 0.05)
            .count();
        assert!(
            low * 10 >= speech.words.len() * 9,
            "prime {prime_digits}: only {low} of {} ordinary words weigh numbers under 5 %",
            speech.words.len()
        );
        // Primed or not, ordinary speech decodes to no number.
        assert!(
            !speech
                .words
                .iter()
                .any(|w| callscope::redact::numbers::is_number_word(&w.text)),
            "prime {prime_digits}: a number in jfk"
        );
    }
}
