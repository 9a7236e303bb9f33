//! The redaction path: detector and live per-segment redaction over a
//! synthetic 10-minute call's words (no whisper involved).

use callscope::asr::{Transcript, Word};
use callscope::frame::Leg;
use callscope::redact::call::{TranscribedUtterance, call_words};
use callscope::redact::detect::{DetectConfig, detect};
use callscope::redact::live::segment_of;
use callscope::redact::text::UtteranceSpan;
use criterion::{Criterion, criterion_group, criterion_main};

const LINES: [&str; 6] = [
    "thank you for calling how can I help you today",
    "I was charged twice for my order number 5895 1035 7131",
    "I'm sorry about that can I take the long number on the front of the card",
    "yes it's 4111 1111 1111 1111 and the expiry is oh nine twenty seven",
    "and the three digits on the back please",
    "it's 737 thank you that payment has been accepted",
];

/// 200 utterances alternating legs, ~10 minutes.
fn call() -> Vec<TranscribedUtterance> {
    let mut t = 0.0;
    (0..200)
        .map(|i| {
            let leg = if i % 2 == 0 {
                Leg::Agent
            } else {
                Leg::Customer
            };
            let words: Vec<Word> = LINES[i % LINES.len()]
                .split_whitespace()
                .enumerate()
                .map(|(k, w)| Word {
                    text: w.to_string(),
                    start: t + 0.3 * k as f64,
                    end: t + 0.3 * k as f64 + 0.25,
                    confidence: if k % 7 == 3 { 0.4 } else { 0.9 },
                    digit_p: None,
                })
                .collect();
            let end = words.last().map_or(t, |w| w.end);
            let u = TranscribedUtterance {
                span: UtteranceSpan { leg, start: t, end },
                transcript: Some(Transcript {
                    words,
                    ..Transcript::default()
                }),
                relisten: None,
            };
            t = end + 0.5;
            u
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let utts = call();
    let (words, _) = call_words(&utts);
    let cfg = DetectConfig::default();
    c.bench_function("detect: 10-minute call, all words", |b| {
        b.iter(|| detect(&words, &cfg))
    });
    c.bench_function("live: redact the latest final of a 10-minute call", |b| {
        b.iter(|| segment_of(&utts, utts.len() - 1, &cfg))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
