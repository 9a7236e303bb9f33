//! Payment talk by meaning: a sentence-embedding cue.
//!
//! The cue words of [`super::detect`] miss requests worded in ways nobody
//! listed ("pop the long one in for me", "what does it say after valid
//! thru"). Here every utterance's sentence embedding
//! ([`crate::asr::Transcript::embedding`], all-MiniLM-L6-v2) is compared
//! with example sentences of each kind of payment talk and of other talk
//! that mentions numbers, dates or the account (`payment_talk.toml`,
//! written for this purpose, not taken from test calls). An utterance whose
//! nearest example is a card example, at cosine ≥ [`MeaningConfig::min`]
//! and ahead of the nearest `other` example by ≥ [`MeaningConfig::margin`],
//! opens the payment window like a cue word, with the same look-back.
//!
//! The cue only ever adds payment talk (fail closed): it never closes a
//! window and never excuses a number.

use std::sync::Arc;

use serde::Deserialize;

use super::detect::Kind;
use crate::asr::{SentenceEmbed, Transcript};
use crate::embed::{EmbedError, Embedder, Embedding, cosine};
use crate::report::Segment;

/// Fewest words an utterance needs for its embedding, and fewest left once
/// its numbers are taken out: shorter ones ("yes", "go on") carry no
/// request, and are covered by the window around them.
pub const MIN_WORDS: (usize, usize) = (3, 2);

/// An utterance's words without its numbers, month names and redaction
/// placeholders: what it says about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The kept words, joined by spaces.
    pub text: String,
    /// Words in the utterance.
    pub words: usize,
    /// Words kept.
    pub kept: usize,
}

impl Context {
    /// Long enough for the payment-talk cue ([`MIN_WORDS`]).
    pub fn cue_worthy(&self) -> bool {
        self.words >= MIN_WORDS.0 && self.kept >= MIN_WORDS.1
    }
}

fn placeholder(w: &str) -> bool {
    let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '[' && c != ']');
    w.starts_with('[') && w.ends_with(']')
}

/// An utterance's [`Context`]; `None` when no word is left. Digits and
/// dates are not meaning here: a string of them looks like card talk to
/// the model whatever they are (a phone number, a birthday), so the cue
/// looks only at the words around them (card numbers themselves are found
/// by the detector). Placeholders are left out too, so a segment's
/// redacted text has the same context as its transcript whenever the
/// redactor only replaced numbers and dates ([`attach`]).
pub fn context<'a>(words: impl IntoIterator<Item = &'a str>) -> Option<Context> {
    let mut total = 0;
    let mut kept = Vec::new();
    for w in words {
        total += 1;
        if !super::numbers::is_number_word(w)
            && super::numbers::month(w).is_none()
            && !placeholder(w)
            && w.chars().any(char::is_alphabetic)
        {
            kept.push(w);
        }
    }
    (!kept.is_empty()).then(|| Context {
        text: kept.join(" "),
        words: total,
        kept: kept.len(),
    })
}

/// The text of a [`Context`] long enough for the payment-talk cue
/// (shorter utterances, "yes", "go on", carry no request and are covered
/// by the window around them).
pub fn context_text<'a>(words: impl IntoIterator<Item = &'a str>) -> Option<String> {
    context(words).filter(Context::cue_worthy).map(|c| c.text)
}

/// The whisper pool's [`SentenceEmbed`]: the embedding of an utterance's
/// [`context`], shared by the payment-talk cue and the analytics
/// ([`attach`]).
#[derive(Debug)]
pub struct ContextEmbed(pub Arc<Embedder>);

impl SentenceEmbed for ContextEmbed {
    fn embed(&self, t: &Transcript) -> Option<Vec<f32>> {
        embed_context(&self.0, t.words.iter().map(|w| w.text.as_str()))
    }
}

/// The embedding of the [`context`] of some words, as every consumer
/// scores it: `None` with fewer than [`MIN_WORDS`]`.1` words kept (a lone
/// "yes" means nothing to score) or when the model fails (logged without
/// its detail: a tokenizer's message may quote its input).
pub fn embed_context<'a>(
    embedder: &Embedder,
    words: impl IntoIterator<Item = &'a str>,
) -> Option<Vec<f32>> {
    let c = context(words).filter(|c| c.kept >= MIN_WORDS.1)?;
    match embedder.embed(&[&c.text]) {
        Ok(mut v) => v.pop(),
        Err(_) => {
            tracing::warn!("no sentence embedding for an utterance");
            None
        }
    }
}

/// Gives a redacted segment its utterance's embedding when the redacted
/// text has the same [`context`] as the transcript (the redactor replaced
/// only numbers and dates, or nothing): then the embedding is that of the
/// redacted text, and sharing it leaks nothing. Otherwise the segment gets
/// none; the analytics embed its redacted text when they need to.
pub(crate) fn attach(segment: &mut Segment, transcript: &Transcript) {
    segment.embedding = None;
    let Some(e) = transcript.embedding.as_ref() else {
        return;
    };
    let said = context(transcript.words.iter().map(|w| w.text.as_str()));
    let kept = context(segment.text.split_whitespace());
    if said.is_some() && said == kept {
        segment.embedding = Some(Embedding::new(e.clone()));
    }
}

/// The built-in example sentences.
pub const EXAMPLES: &str = include_str!("payment_talk.toml");

/// What a class of examples stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// A card number is asked for or given.
    Pan,
    /// An expiry date.
    Expiry,
    /// A security code.
    Cvv,
    /// Card details keyed on the phone's keypad.
    Keypad,
    /// Other talk (identity, amounts, dates, the rest of the call).
    Other,
}

impl Class {
    /// The kind of card data a payment class opens a window for.
    pub fn kind(self) -> Option<Kind> {
        match self {
            Class::Pan | Class::Keypad => Some(Kind::Pan),
            Class::Expiry => Some(Kind::Expiry),
            Class::Cvv => Some(Kind::Cvv),
            Class::Other => None,
        }
    }
}

#[derive(Debug, Deserialize)]
struct ExampleFile {
    class: Vec<ExampleClass>,
}

#[derive(Debug, Deserialize)]
struct ExampleClass {
    kind: Class,
    examples: Vec<String>,
}

/// Thresholds of the cue: it fires at cosine ≥ [`Self::sure`] to a card
/// example, or at ≥ [`Self::min`] when that is also ahead of every `other`
/// example by [`Self::margin`]. Such a cue counts only inside payment talk
/// found otherwise, unless it is *strong*: cosine ≥ [`Self::alone`] and
/// ahead by [`Self::alone_margin`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeaningConfig {
    /// Least cosine of a strong cue.
    pub alone: f32,
    /// Least lead of a strong cue.
    pub alone_margin: f32,
    /// Least cosine to the nearest card example.
    pub min: f32,
    /// Least lead of the nearest card example over the nearest `other` one.
    pub margin: f32,
    /// Cosine to a card example at which no lead is needed ("could you give
    /// me your credit card number" is also close to "can you give me your
    /// account number").
    pub sure: f32,
}

impl Default for MeaningConfig {
    /// Chosen on the tuning half of 410 labelled sentences written apart
    /// from the examples (`docs/redaction-eval.md`): 96 % of card requests
    /// and mentions fire, 6 % of hard negatives (other numbers, codes and
    /// expiry dates) do.
    fn default() -> Self {
        MeaningConfig {
            alone: 0.6,
            alone_margin: 0.1,
            min: 0.45,
            margin: 0.1,
            sure: 0.65,
        }
    }
}

/// How an utterance scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// The nearest card example's class.
    pub class: Class,
    /// Cosine to the nearest card example.
    pub card: f32,
    /// Cosine to the nearest `other` example.
    pub other: f32,
}

/// The embedded example sentences and the thresholds.
#[derive(Debug)]
pub struct PaymentMeaning {
    examples: Vec<(Class, Vec<f32>)>,
    /// Thresholds.
    pub cfg: MeaningConfig,
}

/// Why the examples could not be used. Stop: fix the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeaningError {
    /// The examples file is not valid.
    #[error("payment-talk examples: {0}")]
    Parse(String),
    /// The model failed on them.
    #[error(transparent)]
    Embed(#[from] EmbedError),
}

impl PaymentMeaning {
    /// Embeds the built-in examples.
    pub fn builtin(embedder: &Embedder) -> Result<Arc<Self>, MeaningError> {
        Self::from_toml(EXAMPLES, embedder, MeaningConfig::default())
    }

    /// Embeds the examples of a `payment_talk.toml`-shaped text.
    pub fn from_toml(
        text: &str,
        embedder: &Embedder,
        cfg: MeaningConfig,
    ) -> Result<Arc<Self>, MeaningError> {
        let file: ExampleFile =
            toml::from_str(text).map_err(|e| MeaningError::Parse(e.to_string()))?;
        let mut examples = Vec::new();
        for c in &file.class {
            let texts: Vec<&str> = c.examples.iter().map(String::as_str).collect();
            for v in embedder.embed(&texts)? {
                examples.push((c.kind, v));
            }
        }
        for need in [Class::Other, Class::Pan] {
            if !examples.iter().any(|(c, _)| *c == need) {
                return Err(MeaningError::Parse(format!(
                    "no examples of class {need:?}"
                )));
            }
        }
        Ok(Arc::new(PaymentMeaning { examples, cfg }))
    }

    /// Scores one sentence embedding against the examples.
    pub fn score(&self, embedding: &[f32]) -> Score {
        let mut class = Class::Pan;
        let (mut card, mut other) = (f32::MIN, f32::MIN);
        for (c, v) in &self.examples {
            let cos = cosine(embedding, v);
            if *c == Class::Other {
                other = other.max(cos);
            } else if cos > card {
                (class, card) = (*c, cos);
            }
        }
        Score { class, card, other }
    }

    /// The kind of payment talk an utterance is, and whether the cue is
    /// strong, if it fires.
    pub fn cue(&self, embedding: &[f32]) -> Option<(Kind, bool)> {
        let s = self.score(embedding);
        let c = &self.cfg;
        let lead = s.card - s.other;
        let strong = s.card >= c.alone && lead >= c.alone_margin;
        (s.card >= c.sure || (s.card >= c.min && lead >= c.margin))
            .then(|| s.class.kind().map(|k| (k, strong)))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_examples_parse() {
        let file: ExampleFile = toml::from_str(EXAMPLES).unwrap();
        assert!(file.class.iter().any(|c| c.kind == Class::Other));
        for kind in [Class::Pan, Class::Expiry, Class::Cvv, Class::Keypad] {
            let n = file
                .class
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.examples.len())
                .sum::<usize>();
            assert!(n >= 5, "{kind:?}: {n} examples");
        }
    }

    #[test]
    fn the_context_leaves_out_numbers_and_months() {
        let words = |s: &'static str| s.split_whitespace();
        assert_eq!(
            context_text(words("that's 4111 1111, the front of my card")).as_deref(),
            Some("that's the front of my card")
        );
        assert_eq!(
            context_text(words("tenth of February, nineteen forty-five")),
            None
        );
        assert_eq!(
            context_text(words("Yeah, it's three four two one")).as_deref(),
            Some("Yeah, it's")
        );
        assert_eq!(context_text(words("go on")), None);
    }

    #[test]
    fn the_nearest_class_decides() {
        let m = PaymentMeaning {
            examples: vec![
                (Class::Cvv, vec![1.0, 0.0, 0.0]),
                (Class::Other, vec![0.0, 1.0, 0.0]),
            ],
            cfg: MeaningConfig::default(),
        };
        assert_eq!(m.cue(&[0.9, 0.436, 0.0]), Some((Kind::Cvv, true)));
        assert_eq!(m.cue(&[0.5, 0.3, 0.812]), Some((Kind::Cvv, false)));
        // Close to both: no cue, unless very close to the card example.
        assert_eq!(m.cue(&[0.5, 0.5, 0.707]), None);
        assert_eq!(m.cue(&[0.7, 0.7, 0.141]), Some((Kind::Cvv, false)));
        // Far from everything: no cue.
        assert_eq!(m.cue(&[0.3, 0.0, 0.954]), None);
    }
}
