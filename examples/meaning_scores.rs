//! Scores the utterances of generated payment calls against the
//! payment-talk examples (`src/redact/payment_talk.toml`), to choose the
//! cue's thresholds on a tuning half.
//!
//! ```text
//! cargo run --release --example meaning_scores -- DIR [DIR…] > scores.tsv
//! ```
//!
//! With `--tsv FILE` instead, FILE holds `label<TAB>sentence` lines and a
//! line per sentence is printed the same way (call `-`, id the line number).
//!
//! Each `*.truth.json` (scripts/gen-payment-calls.py) gives its utterances'
//! texts; a line per utterance: call, id, speaker, label, nearest class,
//! card cosine, other cosine, text. Labels: `request` (an agent utterance
//! right before a customer's card data), `carries` (an utterance with card
//! data in it), `near` (other payment talk), `other` (the rest).

use callscope::embed::{EmbedError, Embedder};
use callscope::redact::meaning::{PaymentMeaning, Score, context_text};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    let embedder = Embedder::load(&callscope::embed::default_dir())?;
    let meaning = PaymentMeaning::builtin(&embedder)?;
    // How a text scores, if enough of it is left without its numbers.
    let score_of = |text: &str| -> Result<Option<Score>, EmbedError> {
        let Some(ctx) = context_text(text.split_whitespace()) else {
            return Ok(None);
        };
        let e = embedder.embed(&[&ctx])?.pop().unwrap_or_default();
        Ok(Some(meaning.score(&e)))
    };
    println!("call\tid\tspeaker\tlabel\tclass\tcard\tother\ttext");
    if dirs.first().map(String::as_str) == Some("--tsv") {
        let text = std::fs::read_to_string(dirs.get(1).ok_or("--tsv FILE")?)?;
        for (i, line) in text.lines().enumerate() {
            let Some((label, sentence)) = line.split_once('\t') else {
                continue;
            };
            let (class, card, other) = match score_of(sentence)? {
                Some(s) => (format!("{:?}", s.class), s.card, s.other),
                None => ("-".to_string(), 0.0, 0.0),
            };
            println!("-\t{i}\t-\t{label}\t{class}\t{card:.3}\t{other:.3}\t{sentence}");
        }
        return Ok(());
    }
    for dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".truth.json"))
            .collect();
        files.sort();
        for f in files {
            let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f)?)?;
            let call = truth["call_id"].as_str().unwrap_or("?");
            let utts = truth["utterances"].as_array().cloned().unwrap_or_default();
            for (i, u) in utts.iter().enumerate() {
                let text = u["text"].as_str().unwrap_or("");
                let speaker = u["speaker"].as_str().unwrap_or("");
                let sensitive = u["sensitive"].as_bool().unwrap_or(false);
                let near = u["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|x| x == "near_payment"));
                let next_customer = utts[i + 1..].iter().find(|v| v["speaker"] == "customer");
                let label = if sensitive {
                    "carries"
                } else if speaker == "agent"
                    && next_customer.is_some_and(|v| v["sensitive"].as_bool() == Some(true))
                {
                    "request"
                } else if near {
                    "near"
                } else {
                    "other"
                };
                let Some(s) = score_of(text)? else {
                    continue;
                };
                println!(
                    "{call}\t{}\t{speaker}\t{label}\t{:?}\t{:.3}\t{:.3}\t{text}",
                    u["id"], s.class, s.card, s.other
                );
            }
        }
    }
    Ok(())
}
