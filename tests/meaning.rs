//! The payment-talk cue by meaning with the real all-MiniLM-L6-v2 model
//! (installed by `scripts/test.sh`): wordings that are in no example list
//! and no cue list.

use callscope::embed::{DIM, Embedder};
use callscope::redact::detect::Kind;
use callscope::redact::meaning::{PaymentMeaning, context_text};

fn cue(m: &PaymentMeaning, e: &Embedder, text: &str) -> Option<(Kind, bool)> {
    let ctx = context_text(text.split_whitespace())?;
    let v = e.embed(&[&ctx]).unwrap().pop().unwrap();
    m.cue(&v)
}

#[test]
fn payment_talk_is_recognised_by_meaning() {
    let e = Embedder::load(&callscope::embed::default_dir())
        .expect("run `callscope model install minilm` (scripts/test.sh does)");
    let m = PaymentMeaning::builtin(&e).unwrap();
    let v = e.embed(&["hello there", "the card"]).unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].len(), DIM);
    let norm: f32 = v[0].iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-4, "{norm}");

    let payment = [
        ("Whenever you're set, the sixteen on the front.", Kind::Pan),
        (
            "Right, now what's embossed across the middle of it?",
            Kind::Pan,
        ),
        (
            "And what month does the plastic stop working?",
            Kind::Expiry,
        ),
        (
            "Flip it over for me, there's a short code by the white panel.",
            Kind::Cvv,
        ),
        (
            "Could you tap the numbers on your handset's dial pad?",
            Kind::Pan,
        ),
    ];
    let mut found = 0;
    for (text, kind) in payment {
        let got = cue(&m, &e, text);
        eprintln!("{got:?} <- {text}");
        found += usize::from(got.is_some());
        if let Some((k, _)) = got {
            assert!(
                k == kind || kind == Kind::Pan || k == Kind::Pan,
                "{text}: {k:?}"
            );
        }
    }
    // Measured 3/5 when written (the cue adds to the cue words; it does not
    // replace them): a regression guard, not a goal.
    assert!(found >= 3, "{found}/5 payment requests recognised");

    let others = [
        "What year were you born in?",
        "Could you read me the number on your meter?",
        "Which flat number is it?",
        "The invoice number is at the top of the letter.",
        "I'll call you back on this number tomorrow.",
        "That comes to sixty pounds a month.",
        "Thanks ever so much, bye now.",
        "Sorry, could you say that again?",
    ];
    let mut false_cues = 0;
    for text in others {
        let got = cue(&m, &e, text);
        eprintln!("{got:?} <- {text}");
        false_cues += usize::from(got.is_some());
    }
    // Measured 1/8 when written ("which flat number is it?" sounds like
    // card talk to the model). A false cue only opens a window: numbers
    // after it are masked (fail closed), ordinary words are not.
    assert!(false_cues <= 1, "{false_cues}/8 false cues");
}
