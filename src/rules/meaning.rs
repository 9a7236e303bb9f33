//! Analytics by meaning: complaint, categories, flags and transcript
//! prompts scored with sentence embeddings instead of phrase lists.
//!
//! Each item of the rules file's `[meaning]` section (the complaint, the
//! agent's acknowledgement and apology, each complaint category, and each
//! `[[phrase]]` prompt kind) has a short description and example
//! phrasings, optional counter-examples (`not`: negations, questions, near
//! misses) and a threshold. An utterance's score for an item is 0.7 × its
//! cosine to the centre of the description and examples plus 0.3 × its
//! cosine to the nearest of them (all-MiniLM-L6-v2, [`crate::embed`]);
//! it matches when the score reaches the threshold and
//! beats its nearest counter-example, and the nearest ordinary sentence
//! (`ordinary`), by at least `margin`. Counter-examples are how negation
//! and questions are handled: "I'm not cancelling, I just want it fixed"
//! sits nearer "I'm not going to cancel" than any threat.
//!
//! The segment's embedding is computed once: live, by the whisper worker
//! (shared with the payment-talk cue, see
//! [`crate::redact::meaning::attach`]); for a stored report, here, from its
//! redacted text. Without the model (`--keywords-only`) the phrase lists
//! of the rules file are used instead.

use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::embed::{EmbedError, Embedder, Embedding, cosine};
use crate::report::Segment;

// ------------------------------------------------------------ file format

/// The `[meaning]` section of the rules file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MeaningFile {
    margin: Spanned<f64>,
    ordinary: Vec<String>,
    complaint: ItemFile,
    acknowledgement: ItemFile,
    apology: ItemFile,
    #[serde(default)]
    category: std::collections::BTreeMap<String, Spanned<ItemFile>>,
    #[serde(default)]
    phrase: std::collections::BTreeMap<String, Spanned<ItemFile>>,
}

impl MeaningFile {
    /// Whether a `[[phrase]]` kind is described here.
    pub(super) fn has_phrase(&self, kind: &str) -> bool {
        self.phrase.contains_key(kind)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemFile {
    description: String,
    examples: Vec<String>,
    #[serde(default)]
    not: Vec<String>,
    threshold: Spanned<f64>,
}

// ------------------------------------------------------------ compiled

/// One thing recognised by meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// What it is, in a sentence (scored like an example).
    pub description: String,
    /// Ways of saying it.
    pub examples: Vec<String>,
    /// Near misses that are not it (negations, questions).
    pub not: Vec<String>,
    /// Least cosine to match.
    pub threshold: f32,
}

/// The `[meaning]` section, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct MeaningRules {
    /// Least lead of an item's score over its nearest counter-example or
    /// ordinary sentence.
    pub margin: f32,
    /// Ordinary call talk: counter-examples of every item.
    pub ordinary: Vec<String>,
    /// The customer voices a complaint.
    pub complaint: Item,
    /// The agent acknowledges the problem.
    pub acknowledgement: Item,
    /// The agent apologises for it.
    pub apology: Item,
    /// Per complaint category, in [`super::CATEGORIES`] order (`None`:
    /// that category only by its patterns).
    pub categories: Vec<Option<Item>>,
    /// Per `[[phrase]]` kind.
    pub phrases: Vec<(String, Item)>,
}

impl MeaningRules {
    /// Checks the section; `phrase_kinds` are the kinds of the file's
    /// `[[phrase]]` rules.
    pub(super) fn check(
        f: MeaningFile,
        cx: &super::Ctx<'_>,
        phrase_kinds: &[&str],
    ) -> Result<Self, super::RulesError> {
        let margin = *f.margin.get_ref();
        if !(0.0..1.0).contains(&margin) {
            return cx.err(
                f.margin.span(),
                format!("margin must be from 0 to below 1, not {margin}"),
            );
        }
        let item = |i: ItemFile, what: &str| -> Result<Item, super::RulesError> {
            let t = *i.threshold.get_ref();
            if !(0.0..1.0).contains(&t) || t == 0.0 {
                return cx.err(
                    i.threshold.span(),
                    format!("threshold of {what} must be above 0 and below 1, not {t}"),
                );
            }
            if i.examples.is_empty() {
                return cx.err(
                    i.threshold.span(),
                    format!("{what} needs at least one example"),
                );
            }
            Ok(Item {
                description: i.description,
                examples: i.examples,
                not: i.not,
                threshold: t as f32,
            })
        };
        let mut categories: Vec<Option<Item>> = vec![None; super::CATEGORIES.len()];
        for (name, i) in f.category {
            let span = i.span();
            let Some(k) = super::CATEGORIES.iter().position(|c| *c == name) else {
                return cx.err(
                    span,
                    format!(
                        "unknown category {name:?}: use one of {}",
                        super::CATEGORIES.join(", ")
                    ),
                );
            };
            categories[k] = Some(item(i.into_inner(), &format!("category {name}"))?);
        }
        let mut phrases = Vec::new();
        for (kind, i) in f.phrase {
            if !phrase_kinds.contains(&kind.as_str()) {
                let span = i.span();
                return cx.err(
                    span,
                    format!("[meaning.phrase.{kind}] has no [[phrase]] rule of kind {kind:?}"),
                );
            }
            phrases.push((
                kind.clone(),
                item(i.into_inner(), &format!("phrase {kind}"))?,
            ));
        }
        Ok(MeaningRules {
            margin: margin as f32,
            ordinary: f.ordinary,
            complaint: item(f.complaint, "complaint")?,
            acknowledgement: item(f.acknowledgement, "acknowledgement")?,
            apology: item(f.apology, "apology")?,
            categories,
            phrases,
        })
    }

    /// Every sentence to embed, in a fixed order ([`MeaningModel::build`]).
    fn items(&self) -> impl Iterator<Item = &Item> {
        [&self.complaint, &self.acknowledgement, &self.apology]
            .into_iter()
            .chain(self.categories.iter().flatten())
            .chain(self.phrases.iter().map(|(_, i)| i))
    }
}

/// An item with its sentences embedded.
#[derive(Clone)]
struct Scorer {
    yes: Vec<Vec<f32>>,
    /// The unit mean of `yes`.
    centre: Vec<f32>,
    no: Vec<(Vec<f32>, Form)>,
    threshold: f32,
}

/// Whether a sentence is negated or a question: a counter-example that is
/// one only counts against an utterance that is one too, so "I don't want
/// to close my account" keeps "I'm closing my account" from nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Form {
    /// Has a negation ("not", "never", "n't", "no").
    pub negated: bool,
    /// Is a question (ends with "?", opens with an auxiliary or a question
    /// word, or has a question word before an auxiliary, as a recogniser's
    /// unpunctuated text does).
    pub question: bool,
}

const NEGATORS: [&str; 9] = [
    "not", "no", "never", "nothing", "nobody", "none", "nor", "neither", "without",
];
const CONTRACTED: [&str; 12] = [
    "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "cant", "cannot", "wont",
    "wouldnt", "havent",
];
const QUESTION_OPENERS: [&str; 21] = [
    "can", "could", "would", "will", "do", "does", "did", "is", "are", "was", "were", "how",
    "what", "when", "where", "why", "which", "who", "should", "shall", "may",
];

impl Form {
    /// The form of a text.
    pub fn of(text: &str) -> Form {
        let words: Vec<String> = text
            .split_whitespace()
            .map(|w| {
                w.chars()
                    .filter(|c| c.is_alphanumeric() || *c == '\'' || *c == '’')
                    .collect::<String>()
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .collect();
        let negated = words.iter().any(|w| {
            let bare: String = w.chars().filter(|c| c.is_alphanumeric()).collect();
            NEGATORS.contains(&bare.as_str())
                || CONTRACTED.contains(&bare.as_str())
                || w.ends_with("n't")
                || w.ends_with("n’t")
        });
        let opener = words.iter().map(String::as_str).find(|w| {
            !matches!(
                *w,
                "um" | "uh" | "so" | "and" | "but" | "oh" | "well" | "sorry"
            )
        });
        // "sorry just to be clear when did that happen": a question word
        // followed by an auxiliary anywhere.
        let wh_aux = words.windows(2).any(|p| {
            matches!(
                p[0].as_str(),
                "what" | "when" | "where" | "why" | "how" | "which" | "who"
            ) && QUESTION_OPENERS[..11].contains(&p[1].as_str())
        });
        let question = text.trim_end().ends_with('?')
            || wh_aux
            || opener.is_some_and(|w| QUESTION_OPENERS.contains(&w));
        Form { negated, question }
    }

    /// Whether a counter-example of this form counts against `utterance`.
    fn counts_against(self, utterance: Form) -> bool {
        (!self.negated || utterance.negated) && (!self.question || utterance.question)
    }
}

/// An utterance to score: its embedding and its [`Form`].
#[derive(Debug, Clone, Copy)]
pub struct Probe<'a> {
    /// The segment's embedding.
    pub e: &'a [f32],
    /// Its form.
    pub form: Form,
}

impl<'a> Probe<'a> {
    /// The probe of a segment with an embedding. Only segments with at
    /// least two words besides numbers and placeholders have one
    /// ([`crate::redact::meaning::embed_context`]): a lone "Bye!" or
    /// "Right." means too little to score, and the phrase lists judge it.
    pub fn of(seg: &'a Segment) -> Option<Probe<'a>> {
        Some(Probe {
            e: seg.embedding.as_ref()?.as_slice(),
            form: Form::of(&seg.text),
        })
    }
}

/// Weight of the cosine to an item's centre in its score; the rest is the
/// cosine to its nearest example. The centre generalises over the
/// examples' wording, the nearest example keeps a rare way of saying it.
/// (On the tuning half of the evaluation set, category accuracy: nearest
/// example alone 0.75, centre alone 0.83, 0.7/0.3 0.86.)
const CENTRE_WEIGHT: f32 = 0.7;

impl Scorer {
    fn new(yes: Vec<Vec<f32>>, no: Vec<(Vec<f32>, Form)>, threshold: f32) -> Self {
        let mut centre = vec![0.0f32; yes.first().map_or(0, Vec::len)];
        for v in &yes {
            for (c, x) in centre.iter_mut().zip(v) {
                *c += x;
            }
        }
        let norm = centre.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        centre.iter_mut().for_each(|c| *c /= norm);
        Scorer {
            yes,
            centre,
            no,
            threshold,
        }
    }

    fn score(&self, e: &[f32]) -> f32 {
        CENTRE_WEIGHT * cosine(&self.centre, e) + (1.0 - CENTRE_WEIGHT) * best(&self.yes, e)
    }
}

fn best(list: &[Vec<f32>], e: &[f32]) -> f32 {
    list.iter().map(|v| cosine(v, e)).fold(-1.0, f32::max)
}

/// Best cosine to the counter-examples that count against the probe.
fn best_against(list: &[(Vec<f32>, Form)], p: Probe<'_>) -> f32 {
    list.iter()
        .filter(|(_, f)| f.counts_against(p.form))
        .map(|(v, _)| cosine(v, p.e))
        .fold(-1.0, f32::max)
}

/// How an utterance scored against one item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The item's score: 0.7 × cosine to the centre of its description
    /// and examples + 0.3 × cosine to the nearest of them.
    pub score: f32,
    /// Best cosine to its counter-examples and the ordinary sentences.
    pub against: f32,
}

/// The rules' `[meaning]` items with their sentences embedded: built once
/// per rules file and model ([`super::Rules::with_embedder`]).
#[derive(Clone)]
pub struct MeaningModel {
    embedder: Arc<Embedder>,
    margin: f32,
    ordinary: Vec<(Vec<f32>, Form)>,
    complaint: Scorer,
    acknowledgement: Scorer,
    apology: Scorer,
    categories: Vec<Option<Scorer>>,
    phrases: Vec<(String, Scorer)>,
}

impl std::fmt::Debug for MeaningModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeaningModel")
            .field("margin", &self.margin)
            .field("phrases", &self.phrases.len())
            .finish_non_exhaustive()
    }
}

/// Which item to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Of<'a> {
    /// The customer voices a complaint.
    Complaint,
    /// The agent acknowledges it.
    Acknowledgement,
    /// The agent apologises.
    Apology,
    /// A `[[phrase]]` kind.
    Phrase(&'a str),
}

/// Texts per embedding batch when building the model.
const BATCH: usize = 32;

impl MeaningModel {
    /// The sentence-embedding model it scores with.
    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.embedder
    }

    /// Embeds every description, example, counter-example and ordinary
    /// sentence of `rules` (a few seconds for the built-in rules).
    pub fn build(rules: &MeaningRules, embedder: Arc<Embedder>) -> Result<Self, EmbedError> {
        let mut texts: Vec<&str> = rules.ordinary.iter().map(String::as_str).collect();
        let forms: Vec<Form> = texts.iter().map(|t| Form::of(t)).collect();
        for i in rules.items() {
            texts.push(&i.description);
            texts.extend(i.examples.iter().map(String::as_str));
            texts.extend(i.not.iter().map(String::as_str));
        }
        let mut vecs = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            vecs.extend(embedder.embed(chunk)?);
        }
        let mut it = vecs.into_iter();
        let ordinary: Vec<(Vec<f32>, Form)> =
            it.by_ref().take(rules.ordinary.len()).zip(forms).collect();
        let mut scorer = |i: &Item| {
            let yes: Vec<Vec<f32>> = it.by_ref().take(1 + i.examples.len()).collect();
            let no: Vec<(Vec<f32>, Form)> = it
                .by_ref()
                .take(i.not.len())
                .zip(i.not.iter().map(|t| Form::of(t)))
                .collect();
            Scorer::new(yes, no, i.threshold)
        };
        let complaint = scorer(&rules.complaint);
        let acknowledgement = scorer(&rules.acknowledgement);
        let apology = scorer(&rules.apology);
        let categories = rules
            .categories
            .iter()
            .map(|c| c.as_ref().map(&mut scorer))
            .collect();
        let phrases = rules
            .phrases
            .iter()
            .map(|(k, i)| (k.clone(), scorer(i)))
            .collect();
        Ok(MeaningModel {
            embedder,
            margin: rules.margin,
            ordinary,
            complaint,
            acknowledgement,
            apology,
            categories,
            phrases,
        })
    }

    fn scorer(&self, of: Of<'_>) -> Option<&Scorer> {
        match of {
            Of::Complaint => Some(&self.complaint),
            Of::Acknowledgement => Some(&self.acknowledgement),
            Of::Apology => Some(&self.apology),
            Of::Phrase(kind) => self.phrases.iter().find(|(k, _)| k == kind).map(|(_, s)| s),
        }
    }

    /// The raw scores of a probe against an item (`None`: the item has no
    /// `[meaning]` entry).
    pub fn hit(&self, of: Of<'_>, p: Probe<'_>) -> Option<Hit> {
        Some(self.hit_on(self.scorer(of)?, p))
    }

    fn hit_on(&self, s: &Scorer, p: Probe<'_>) -> Hit {
        Hit {
            score: s.score(p.e),
            against: best_against(&s.no, p).max(best_against(&self.ordinary, p)),
        }
    }

    /// The score when the probe passes a scorer: at its threshold and ahead
    /// of its counter-examples and the ordinary sentences by the margin.
    fn passes(&self, s: &Scorer, p: Probe<'_>) -> Option<f32> {
        let h = self.hit_on(s, p);
        (h.score >= s.threshold && h.score - h.against >= self.margin).then_some(h.score)
    }

    /// The score when the probe matches the item, else `None` (also when
    /// the item has no `[meaning]` entry).
    pub fn matches(&self, of: Of<'_>, p: Probe<'_>) -> Option<f32> {
        self.passes(self.scorer(of)?, p)
    }

    /// Each category's raw score (as for an item, whatever its
    /// threshold), in [`super::CATEGORIES`] order.
    pub fn category_scores(&self, e: &[f32]) -> Vec<Option<f32>> {
        self.categories
            .iter()
            .map(|c| c.as_ref().map(|s| s.score(e)))
            .collect()
    }

    /// Best cosine to the ordinary sentences that count against the probe.
    pub fn ordinary(&self, p: Probe<'_>) -> f32 {
        best_against(&self.ordinary, p)
    }

    /// Raw category scores ([`Self::category_scores`]) with those below
    /// their category's threshold taken out.
    pub fn at_threshold(&self, raw: &[Option<f32>]) -> Vec<Option<f32>> {
        self.categories
            .iter()
            .zip(raw)
            .map(|(c, v)| v.filter(|v| c.as_ref().is_some_and(|s| *v >= s.threshold)))
            .collect()
    }

    /// Whether the probe voices a complaint: its [`Of::Complaint`] match,
    /// or its best category score when that passes the category (its
    /// threshold, and ahead of its counter-examples and the ordinary
    /// sentences by the margin).
    pub fn complaint(&self, p: Probe<'_>) -> Option<f32> {
        let said = self.matches(Of::Complaint, p);
        let category = self
            .categories
            .iter()
            .flatten()
            .filter_map(|s| self.passes(s, p))
            .reduce(f32::max);
        match (said, category) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The embedding of a segment: the one it carries, else one computed
    /// from its redacted text (blocking, a few ms: not on the async
    /// runtime). `None` for a segment with no words left to embed.
    pub fn embedding(&self, seg: &Segment) -> Option<Embedding> {
        if seg.embedding.is_some() {
            return seg.embedding.clone();
        }
        crate::redact::meaning::embed_context(&self.embedder, seg.text.split_whitespace())
            .map(Embedding::new)
    }

    /// Gives every segment without one its embedding ([`Self::embedding`]).
    pub fn fill(&self, segments: &mut [Segment]) {
        for s in segments.iter_mut().filter(|s| s.embedding.is_none()) {
            s.embedding = self.embedding(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{DEFAULT_RULES, Rules};

    #[test]
    fn negations_and_questions_are_recognised_in_recogniser_text() {
        let f = Form::of;
        assert!(f("I'm not cancelling anything").negated);
        assert!(f("i dont want to close it").negated);
        assert!(f("No, it came on time.").negated);
        assert!(!f("I'm closing my account today").negated);
        assert!(f("how do i cancel the add-on").question);
        assert!(f("Um, can I change the slot?").question);
        assert!(f("sorry just to be clear when did that happen").question);
        assert!(!f("I want to speak to your manager.").question);
        // A negated counter-example does not count against a plain threat.
        let neg = Form {
            negated: true,
            question: false,
        };
        assert!(!neg.counts_against(f("I'm closing my account")));
        assert!(neg.counts_against(f("I'm not closing my account")));
        assert!(Form::default().counts_against(f("anything at all?")));
    }

    #[test]
    fn the_built_in_rules_describe_every_item_by_meaning() {
        let m = Rules::builtin().meaning.expect("built-in [meaning]");
        assert!(m.categories.iter().all(Option::is_some));
        for kind in [
            "escalation_request",
            "cancellation_risk",
            "deflection",
            "vague_promise",
        ] {
            assert!(m.phrases.iter().any(|(k, _)| k == kind), "{kind}");
        }
        assert!(m.apology.not.iter().any(|t| t.contains("Sorry")));
    }

    #[test]
    fn bad_meaning_entries_name_their_line() {
        let bad = DEFAULT_RULES.replacen(
            "[meaning.category.overpricing]",
            "[meaning.category.pricing]",
            1,
        );
        let e = Rules::parse(&bad, "r.toml").unwrap_err().to_string();
        assert!(e.contains("unknown category \"pricing\""), "{e}");
        let line = bad
            .lines()
            .position(|l| l == "[meaning.category.pricing]")
            .unwrap()
            + 1;
        assert!(e.starts_with("r.toml:"), "{e}");
        let at: usize = e.split(':').nth(1).unwrap().parse().unwrap();
        assert!(at >= line, "{e} (table at {line})");

        let bad = DEFAULT_RULES.replacen(
            "[meaning.phrase.deflection]",
            "[meaning.phrase.rudeness]",
            1,
        );
        let e = Rules::parse(&bad, "r.toml").unwrap_err().to_string();
        assert!(e.contains("no [[phrase]] rule of kind \"rudeness\""), "{e}");

        let i = DEFAULT_RULES.find("[meaning.apology]").unwrap();
        let j = i + DEFAULT_RULES[i..].find("threshold = ").unwrap();
        let k = j + DEFAULT_RULES[j..].find('\n').unwrap();
        let bad = format!(
            "{}threshold = 1.5{}",
            &DEFAULT_RULES[..j],
            &DEFAULT_RULES[k..]
        );
        let e = Rules::parse(&bad, "r.toml").unwrap_err().to_string();
        assert!(e.contains("threshold of apology"), "{e}");
    }
}
