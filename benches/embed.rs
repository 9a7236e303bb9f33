//! The payment-talk cue by meaning: one sentence embedded with
//! all-MiniLM-L6-v2 (as each whisper worker does after decoding an
//! utterance) and scored against the built-in examples. Needs
//! `callscope model install minilm`; without it, says so and measures
//! nothing.

use callscope::embed::Embedder;
use callscope::redact::meaning::{PaymentMeaning, context_text};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let embedder = match Embedder::load(&callscope::embed::default_dir()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("skipping the embedding benchmark: {e}");
            return;
        }
    };
    let meaning = PaymentMeaning::builtin(&embedder).expect("built-in examples");
    let sentence =
        "Okay so whenever you're ready could you read me the number on the front of the card";
    let ctx = context_text(sentence.split_whitespace()).expect("long enough");
    c.bench_function("embed one utterance (17 words)", |b| {
        b.iter(|| embedder.embed(&[&ctx]).expect("embeds"))
    });
    let v = embedder.embed(&[&ctx]).expect("embeds").pop().expect("one");
    c.bench_function("score against the examples", |b| b.iter(|| meaning.cue(&v)));
}

criterion_group!(benches, bench);
criterion_main!(benches);
