//! Diagnostic: transcribes one stretch of one leg of a call with the
//! production whisper worker (plain, then digit-primed) and prints each word
//! with its confidence and `digit_p`. Prints transcript text: for test
//! material only.
//!
//! `cargo run --release --example digit_weights -- CALL.wav LEG START END [MODEL]`
use callscope::asr::whisper::{WhisperConfig, WhisperPool};
use callscope::asr::{Transcriber, Utterance};
use callscope::convert::LegConverter;
use callscope::frame::Leg;
use callscope::source::WavSource;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (path, leg, start, end) = (
        &a[1],
        &a[2],
        a[3].parse::<f64>().unwrap(),
        a[4].parse::<f64>().unwrap(),
    );
    let model = a
        .get(5)
        .cloned()
        .unwrap_or("models/ggml-base-q8_0.bin".into());
    let leg = if leg == "agent" {
        Leg::Agent
    } else {
        Leg::Customer
    };
    let mut src = WavSource::open(std::path::Path::new(path)).unwrap();
    let info = src.info().clone();
    let mut conv = LegConverter::new("x".into(), leg, info.sample_rate).unwrap();
    let mut out = Vec::new();
    let mut bufs = vec![Vec::new(), Vec::new()];
    while src.read(4096, &mut bufs).unwrap() > 0 {
        conv.push(&bufs[leg.index()], &mut |f| {
            out.extend_from_slice(&f.samples)
        });
    }
    let s = (start * 16000.0) as usize;
    let e = ((end * 16000.0) as usize).min(out.len());
    let pool = WhisperPool::start(WhisperConfig::for_machine(model.into())).unwrap();
    for prime in [false, true] {
        let u = Utterance {
            call_id: "x".into(),
            leg,
            start_s: start,
            samples: out[s..e].to_vec(),
            prime_digits: prime,
        };
        let t = pool.transcribe(&u).unwrap();
        println!("prime={prime} dropped={}", t.dropped_words);
        for w in &t.words {
            println!(
                "  {:>6.2} {:<16} p={:.2} digit_p={:?}",
                w.start, w.text, w.confidence, w.digit_p
            );
        }
    }
}
