//! The rules file: prompts, phrase lists, complaint categories, sentiment
//! lexicon, commitments and the QA scorecard.
//!
//! A sensible default is built in (`src/rules/default.toml`, printed by
//! `callscope rules`); `--rules FILE` replaces it. The file is checked when it
//! is loaded: unknown keys, bad thresholds and bad patterns are errors that
//! name the line. Patterns are regular expressions over normalised redacted
//! text (see [`normalise`]).

pub mod coach;
pub mod insights;
pub mod meaning;

use std::path::Path;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::engine::kpi::PromptRules;

/// The built-in rules file.
pub const DEFAULT_RULES: &str = include_str!("default.toml");

/// A rules file that cannot be used. Stop: fix the file.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file cannot be read.
    #[error("{path}: cannot read the rules file: {detail}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The file is not valid: `line` is 1-based.
    #[error("{origin}:{line}: {message}")]
    Invalid {
        /// The file (or "built-in rules").
        origin: String,
        /// Line of the problem.
        line: usize,
        /// What is wrong and what is expected.
        message: String,
    },
}

// ------------------------------------------------------------ file format

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Spanned<u32>,
    signals: SignalsFile,
    complaint_not_acknowledged: UnackFile,
    #[serde(default)]
    phrase: Vec<PhraseFile>,
    acknowledgement: PatternsFile,
    apology: ApologyFile,
    complaint: PatternsFile,
    categories: CategoriesFile,
    sentiment: SentimentFile,
    commitments: PatternsFile,
    #[serde(default)]
    scorecard: Vec<ScoreFile>,
    meaning: Option<meaning::MeaningFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalsFile {
    dead_air: SignalFile,
    interrupting: SignalFile,
    pace: SignalFile,
    monologue: SignalFile,
    hold: SignalFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalFile {
    after_s: Option<Spanned<f64>>,
    count: Option<Spanned<i64>>,
    within_s: Option<Spanned<f64>>,
    max_wpm: Option<Spanned<f64>>,
    severity: Spanned<String>,
    message: String,
    cooldown_s: Spanned<f64>,
    #[serde(default)]
    starts: Vec<Spanned<String>>,
    #[serde(default)]
    ends: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnackFile {
    within_s: Spanned<f64>,
    severity: Spanned<String>,
    message: String,
    cooldown_s: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhraseFile {
    kind: Spanned<String>,
    speaker: Spanned<String>,
    severity: Spanned<String>,
    message: String,
    cooldown_s: Spanned<f64>,
    #[serde(default)]
    supervisor: bool,
    patterns: Vec<Spanned<String>>,
    #[serde(default)]
    unless: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternsFile {
    patterns: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApologyFile {
    patterns: Vec<Spanned<String>>,
    #[serde(default)]
    not_apology: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoriesFile {
    product_quality: Vec<Spanned<String>>,
    service_quality: Vec<Spanned<String>>,
    safety_concern: Vec<Spanned<String>>,
    delivery_timing: Vec<Spanned<String>>,
    wrong_size_colour: Vec<Spanned<String>>,
    overpricing: Vec<Spanned<String>>,
    double_charge: Vec<Spanned<String>>,
    shipping_error: Vec<Spanned<String>>,
    broken_promise: Vec<Spanned<String>>,
    misleading_advertising: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SentimentFile {
    positive: Vec<Spanned<String>>,
    negative: Vec<Spanned<String>>,
    negators: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreFile {
    name: String,
    weight: Spanned<f64>,
    check: Spanned<String>,
    within_s: Option<Spanned<f64>>,
    last_s: Option<Spanned<f64>>,
    #[serde(default)]
    patterns: Vec<Spanned<String>>,
    prompt: Option<String>,
    applies_if: Option<Spanned<String>>,
    max: Option<Spanned<f64>>,
}

// ------------------------------------------------------------ compiled

/// Who a phrase rule listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The agent's leg.
    Agent,
    /// The customer's leg.
    Customer,
    /// Either.
    Any,
}

/// Compiled patterns, each with a weight.
#[derive(Debug, Clone, Default)]
pub struct Patterns(Vec<(Regex, f64)>);

impl Patterns {
    /// Whether any pattern occurs in normalised text.
    pub fn matches(&self, text: &str) -> bool {
        self.0.iter().any(|(r, _)| r.is_match(text))
    }

    /// The summed weight of the patterns that occur.
    pub fn weight(&self, text: &str) -> f64 {
        self.0
            .iter()
            .filter(|(r, _)| r.is_match(text))
            .map(|(_, w)| w)
            .sum()
    }

    /// Every match, as byte ranges (for sentiment counting).
    pub fn find_all<'a>(&'a self, text: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
        self.0
            .iter()
            .flat_map(move |(r, _)| r.find_iter(text).map(|m| (m.start(), m.end())))
    }

    /// Removes every match from the text.
    pub fn strip(&self, text: &str) -> String {
        let mut s = text.to_string();
        for (r, _) in &self.0 {
            s = r.replace_all(&s, " ").into_owned();
        }
        s
    }
}

/// A prompt raised from the signals.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalPrompt {
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// What the agent is told.
    pub message: String,
    /// Least time between two of these, seconds.
    pub cooldown_s: f64,
}

/// A prompt raised by phrases in the transcript.
#[derive(Debug, Clone)]
pub struct PhraseRule {
    /// Prompt kind, e.g. `deflection`.
    pub kind: String,
    /// Whose words.
    pub who: Who,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// What the agent is told.
    pub message: String,
    /// Least time between two of these, seconds.
    pub cooldown_s: f64,
    /// Flag the call for supervisors too.
    pub supervisor: bool,
    /// What triggers it.
    pub patterns: Patterns,
    /// What cancels it in the same utterance.
    pub unless: Patterns,
}

impl PhraseRule {
    /// Whether normalised text matches the rule's patterns and none of its
    /// `unless` patterns.
    pub fn heard(&self, norm: &str) -> bool {
        self.patterns.matches(norm) && !self.unless.matches(norm)
    }
}

/// The complaint categories of the report, in file order.
pub const CATEGORIES: [&str; 10] = [
    "product_quality",
    "service_quality",
    "safety_concern",
    "delivery_timing",
    "wrong_size_colour",
    "overpricing",
    "double_charge",
    "shipping_error",
    "broken_promise",
    "misleading_advertising",
];

/// A scorecard check.
#[derive(Debug, Clone)]
pub enum Check {
    /// The agent says one of the patterns (in the first `within_s` or the last `last_s` seconds).
    AgentSays {
        /// What counts.
        patterns: Patterns,
        /// Only this early, seconds from the start.
        within_s: Option<f64>,
        /// Only this late, seconds before the end.
        last_s: Option<f64>,
    },
    /// The agent acknowledged a complaint (applies when there was one).
    Acknowledged,
    /// The agent apologised (applies when there was a complaint).
    Apologised,
    /// No prompt of this kind was raised (applies always, or when the call has commitments).
    NoPrompt {
        /// The prompt kind.
        kind: String,
        /// Only when the agent made commitments.
        if_commitment: bool,
    },
    /// Agent/customer talk ratio at most this.
    TalkRatioBelow(f64),
    /// Agent interruptions at most this.
    AgentInterruptionsBelow(f64),
    /// Longest silence at most this, seconds.
    LongestSilenceBelow(f64),
}

/// One scorecard item.
#[derive(Debug, Clone)]
pub struct ScoreItem {
    /// Its name in the report.
    pub name: String,
    /// Its weight in the total.
    pub weight: f64,
    /// What it checks.
    pub check: Check,
}

/// The sentiment lexicon.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    /// Words and phrases that count +1.
    pub positive: Patterns,
    /// Words and phrases that count −1.
    pub negative: Patterns,
    /// Words that flip the next two words' polarity.
    pub negators: Vec<String>,
}

/// The rules in force.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Signal prompt thresholds.
    pub signals: PromptRules,
    /// Dead air, interrupting, pace, monologue, hold: how each is said.
    pub signal_prompts: [SignalPrompt; 5],
    /// A hold runs long after this, seconds.
    pub hold_after_s: f64,
    /// What starts a hold (agent).
    pub hold_starts: Patterns,
    /// What ends a hold (agent).
    pub hold_ends: Patterns,
    /// Seconds the agent has to acknowledge a complaint.
    pub unack_within_s: f64,
    /// How "complaint not acknowledged" is said.
    pub unack: SignalPrompt,
    /// Phrase prompts.
    pub phrases: Vec<PhraseRule>,
    /// Acknowledgement phrases.
    pub acknowledgement: Patterns,
    /// Apology phrases.
    pub apology: Patterns,
    /// "Sorry"s that are not apologies.
    pub not_apology: Patterns,
    /// Complaint phrases.
    pub complaint: Patterns,
    /// Category patterns, in [`CATEGORIES`] order.
    pub categories: Vec<Patterns>,
    /// Sentiment lexicon.
    pub sentiment: Lexicon,
    /// Commitment phrases.
    pub commitments: Patterns,
    /// Scorecard items.
    pub scorecard: Vec<ScoreItem>,
    /// What is recognised by meaning (`None`: phrase lists only).
    pub meaning: Option<meaning::MeaningRules>,
    /// [`Self::meaning`] with its sentences embedded, once a model is
    /// given ([`Rules::with_embedder`]); without it the phrase lists are used.
    pub model: Option<std::sync::Arc<meaning::MeaningModel>>,
}

/// Signal prompt indices into [`Rules::signal_prompts`].
pub mod signal {
    /// Dead air.
    pub const DEAD_AIR: usize = 0;
    /// The agent keeps interrupting.
    pub const INTERRUPTING: usize = 1;
    /// The agent talks too fast.
    pub const PACE: usize = 2;
    /// The agent talks too long.
    pub const MONOLOGUE: usize = 3;
    /// A hold runs long.
    pub const HOLD: usize = 4;
    /// Prompt kinds, by index.
    pub const KINDS: [&str; 5] = ["dead_air", "interrupting", "pace", "monologue", "hold"];
}

/// Lower-cases and keeps letters, digits, apostrophes and the brackets of
/// redaction placeholders; everything else becomes one space.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for c in text.chars() {
        let c = if c == '’' { '\'' } else { c };
        if c.is_alphanumeric() || matches!(c, '\'' | '[' | ']') {
            out.extend(c.to_lowercase());
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

struct Ctx<'a> {
    origin: &'a str,
    src: &'a str,
}

impl Ctx<'_> {
    fn line(&self, span: std::ops::Range<usize>) -> usize {
        self.src[..span.start.min(self.src.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1
    }

    fn err<T>(&self, span: std::ops::Range<usize>, message: String) -> Result<T, RulesError> {
        Err(RulesError::Invalid {
            origin: self.origin.to_string(),
            line: self.line(span),
            message,
        })
    }

    fn patterns(&self, list: &[Spanned<String>]) -> Result<Patterns, RulesError> {
        let mut out = Vec::with_capacity(list.len());
        for p in list {
            let (pat, weight) = match p.get_ref().rsplit_once("=>") {
                Some((a, w)) => match w.trim().parse::<f64>() {
                    Ok(w) if w.is_finite() && w > 0.0 => (a.trim(), w),
                    _ => {
                        return self.err(
                            p.span(),
                            format!("bad weight in {:?}: write \"pattern => 2\"", p.get_ref()),
                        );
                    }
                },
                None => (p.get_ref().as_str(), 1.0),
            };
            if pat.trim().is_empty() {
                return self.err(p.span(), "empty pattern".to_string());
            }
            // Whole words: text is normalised to single spaces with one at each end.
            let re = format!("(?: )(?:{pat})(?: )");
            match Regex::new(&re) {
                Ok(r) => out.push((r, weight)),
                Err(e) => {
                    return self.err(
                        p.span(),
                        format!("pattern {pat:?} is not a valid regex: {e}"),
                    );
                }
            }
        }
        Ok(Patterns(out))
    }

    fn positive(&self, v: &Spanned<f64>, what: &str) -> Result<f64, RulesError> {
        let x = *v.get_ref();
        if x.is_finite() && x > 0.0 {
            Ok(x)
        } else {
            self.err(
                v.span(),
                format!("{what} must be a number above 0, not {x}"),
            )
        }
    }

    fn severity(&self, v: &Spanned<String>) -> Result<String, RulesError> {
        match v.get_ref().as_str() {
            "info" | "warning" | "critical" => Ok(v.get_ref().clone()),
            s => self.err(
                v.span(),
                format!("severity {s:?} must be info, warning or critical"),
            ),
        }
    }

    fn need<'v, T>(
        &self,
        v: &'v Option<Spanned<T>>,
        table: &str,
        key: &str,
    ) -> Result<&'v Spanned<T>, RulesError> {
        match v {
            Some(x) => Ok(x),
            None => {
                let at = self.src.find(table).unwrap_or(0);
                self.err(at..at, format!("{table} needs {key}"))
            }
        }
    }

    fn signal(&self, f: &SignalFile) -> Result<SignalPrompt, RulesError> {
        Ok(SignalPrompt {
            severity: self.severity(&f.severity)?,
            message: f.message.clone(),
            cooldown_s: self.positive(&f.cooldown_s, "cooldown_s")?,
        })
    }
}

impl Rules {
    /// The built-in rules.
    pub fn builtin() -> Rules {
        Rules::parse(DEFAULT_RULES, "built-in rules").expect("the built-in rules are valid")
    }

    /// Rules from a file.
    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let src = std::fs::read_to_string(path).map_err(|e| RulesError::Read {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Rules::parse(&src, &path.display().to_string())
    }

    /// Rules from TOML text; `origin` names it in errors.
    pub fn parse(src: &str, origin: &str) -> Result<Rules, RulesError> {
        let cx = Ctx { origin, src };
        let f: File = toml::from_str(src).map_err(|e| RulesError::Invalid {
            origin: origin.to_string(),
            line: e.span().map_or(1, |s| cx.line(s)),
            message: e.message().to_string(),
        })?;
        if *f.version.get_ref() != 1 {
            return cx.err(f.version.span(), "version must be 1".to_string());
        }
        let s = &f.signals;
        let count = cx.need(&s.interrupting.count, "[signals.interrupting]", "count")?;
        if *count.get_ref() < 1 {
            return cx.err(count.span(), "count must be at least 1".to_string());
        }
        let signals = PromptRules {
            dead_air_s: cx.positive(
                cx.need(&s.dead_air.after_s, "[signals.dead_air]", "after_s")?,
                "after_s",
            )?,
            interruptions_per_min: *count.get_ref() as usize,
            interruptions_window_s: cx.positive(
                cx.need(
                    &s.interrupting.within_s,
                    "[signals.interrupting]",
                    "within_s",
                )?,
                "within_s",
            )?,
            max_wpm: cx.positive(
                cx.need(&s.pace.max_wpm, "[signals.pace]", "max_wpm")?,
                "max_wpm",
            )?,
            monologue_s: cx.positive(
                cx.need(&s.monologue.after_s, "[signals.monologue]", "after_s")?,
                "after_s",
            )?,
            cooldown_s: 60.0,
        };
        let signal_prompts = [
            cx.signal(&s.dead_air)?,
            cx.signal(&s.interrupting)?,
            cx.signal(&s.pace)?,
            cx.signal(&s.monologue)?,
            cx.signal(&s.hold)?,
        ];
        let hold_after_s = cx.positive(
            cx.need(&s.hold.after_s, "[signals.hold]", "after_s")?,
            "after_s",
        )?;
        let u = &f.complaint_not_acknowledged;
        let mut phrases = Vec::new();
        for p in &f.phrase {
            let who = match p.speaker.get_ref().as_str() {
                "agent" => Who::Agent,
                "customer" => Who::Customer,
                "any" => Who::Any,
                w => {
                    return cx.err(
                        p.speaker.span(),
                        format!("speaker {w:?} must be agent, customer or any"),
                    );
                }
            };
            let kind = p.kind.get_ref();
            if kind.is_empty()
                || !kind
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return cx.err(
                    p.kind.span(),
                    format!("kind {kind:?}: use lower_case letters, digits and _"),
                );
            }
            let by_meaning = f.meaning.as_ref().is_some_and(|m| m.has_phrase(kind));
            if p.patterns.is_empty() && !by_meaning {
                return cx.err(
                    p.kind.span(),
                    format!("phrase {kind} has no patterns and no [meaning.phrase.{kind}]"),
                );
            }
            phrases.push(PhraseRule {
                kind: kind.clone(),
                who,
                severity: cx.severity(&p.severity)?,
                message: p.message.clone(),
                cooldown_s: cx.positive(&p.cooldown_s, "cooldown_s")?,
                supervisor: p.supervisor,
                patterns: cx.patterns(&p.patterns)?,
                unless: cx.patterns(&p.unless)?,
            });
        }
        let c = &f.categories;
        let categories = [
            &c.product_quality,
            &c.service_quality,
            &c.safety_concern,
            &c.delivery_timing,
            &c.wrong_size_colour,
            &c.overpricing,
            &c.double_charge,
            &c.shipping_error,
            &c.broken_promise,
            &c.misleading_advertising,
        ]
        .iter()
        .map(|l| cx.patterns(l))
        .collect::<Result<Vec<_>, _>>()?;
        let mut scorecard = Vec::new();
        for item in &f.scorecard {
            let opt = |v: &Option<Spanned<f64>>, what: &str| {
                v.as_ref().map(|x| cx.positive(x, what)).transpose()
            };
            let max = |what: &str| -> Result<f64, RulesError> {
                let at = item.check.span();
                match &item.max {
                    Some(m) if m.get_ref().is_finite() && *m.get_ref() >= 0.0 => Ok(*m.get_ref()),
                    Some(m) => cx.err(m.span(), format!("max must be 0 or more for {what}")),
                    None => cx.err(at, format!("check {what} needs max")),
                }
            };
            let check = match item.check.get_ref().as_str() {
                "agent_says" => {
                    if item.patterns.is_empty() {
                        return cx.err(
                            item.check.span(),
                            format!("scorecard item {} (agent_says) needs patterns", item.name),
                        );
                    }
                    Check::AgentSays {
                        patterns: cx.patterns(&item.patterns)?,
                        within_s: opt(&item.within_s, "within_s")?,
                        last_s: opt(&item.last_s, "last_s")?,
                    }
                }
                "acknowledged" => Check::Acknowledged,
                "apologised" => Check::Apologised,
                "no_prompt" => Check::NoPrompt {
                    kind: match &item.prompt {
                        Some(p) => p.clone(),
                        None => {
                            return cx.err(
                                item.check.span(),
                                format!("scorecard item {} (no_prompt) needs prompt", item.name),
                            );
                        }
                    },
                    if_commitment: match &item.applies_if {
                        None => false,
                        Some(a) if a.get_ref() == "commitment" => true,
                        Some(a) => {
                            return cx.err(
                                a.span(),
                                format!(
                                    "applies_if {:?}: only \"commitment\" is known",
                                    a.get_ref()
                                ),
                            );
                        }
                    },
                },
                "talk_ratio_below" => Check::TalkRatioBelow(max("talk_ratio_below")?),
                "agent_interruptions_below" => {
                    Check::AgentInterruptionsBelow(max("agent_interruptions_below")?)
                }
                "longest_silence_below" => {
                    Check::LongestSilenceBelow(max("longest_silence_below")?)
                }
                other => {
                    return cx.err(
                        item.check.span(),
                        format!(
                            "unknown check {other:?}: use agent_says, acknowledged, apologised, no_prompt, talk_ratio_below, agent_interruptions_below or longest_silence_below"
                        ),
                    );
                }
            };
            scorecard.push(ScoreItem {
                name: item.name.clone(),
                weight: cx.positive(&item.weight, "weight")?,
                check,
            });
        }
        let kinds: Vec<&str> = phrases.iter().map(|p| p.kind.as_str()).collect();
        let meaning = f
            .meaning
            .map(|m| meaning::MeaningRules::check(m, &cx, &kinds))
            .transpose()?;
        Ok(Rules {
            meaning,
            model: None,
            signals,
            signal_prompts,
            hold_after_s,
            hold_starts: cx.patterns(&s.hold.starts)?,
            hold_ends: cx.patterns(&s.hold.ends)?,
            unack_within_s: cx.positive(&u.within_s, "within_s")?,
            unack: SignalPrompt {
                severity: cx.severity(&u.severity)?,
                message: u.message.clone(),
                cooldown_s: cx.positive(&u.cooldown_s, "cooldown_s")?,
            },
            phrases,
            acknowledgement: cx.patterns(&f.acknowledgement.patterns)?,
            apology: cx.patterns(&f.apology.patterns)?,
            not_apology: cx.patterns(&f.apology.not_apology)?,
            complaint: cx.patterns(&f.complaint.patterns)?,
            categories,
            sentiment: Lexicon {
                positive: cx.patterns(&f.sentiment.positive)?,
                negative: cx.patterns(&f.sentiment.negative)?,
                negators: f.sentiment.negators.clone(),
            },
            commitments: cx.patterns(&f.commitments.patterns)?,
            scorecard,
        })
    }

    /// These rules with their `[meaning]` sentences embedded by `embedder`,
    /// so the analytics go by meaning; unchanged when the file has no
    /// `[meaning]` section.
    pub fn with_embedder(
        mut self,
        embedder: std::sync::Arc<crate::embed::Embedder>,
    ) -> Result<Rules, crate::embed::EmbedError> {
        if let Some(m) = &self.meaning {
            self.model = Some(std::sync::Arc::new(meaning::MeaningModel::build(
                m, embedder,
            )?));
        }
        Ok(self)
    }

    /// The phrase rule of a kind.
    pub fn phrase(&self, kind: &str) -> Option<&PhraseRule> {
        self.phrases.iter().find(|p| p.kind == kind)
    }

    /// The meaning model and the segment's embedding, when both are there
    /// (then the analytics go by meaning for this segment).
    pub fn by_meaning<'a>(
        &'a self,
        seg: &'a crate::report::Segment,
    ) -> Option<(&'a meaning::MeaningModel, meaning::Probe<'a>)> {
        Some((self.model.as_deref()?, meaning::Probe::of(seg)?))
    }

    /// Whether normalised agent text is an apology ("sorry to jump in" is not).
    pub fn is_apology(&self, norm: &str) -> bool {
        self.apology.matches(&self.not_apology.strip(norm))
    }
}

/// A two-second segment for the rules' unit tests.
#[cfg(test)]
pub(crate) fn test_segment(
    speaker: crate::frame::Leg,
    start: f64,
    text: &str,
) -> crate::report::Segment {
    crate::report::Segment {
        speaker,
        start,
        end: start + 2.0,
        text: text.to_string(),
        embedding: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_rules_load() {
        let r = Rules::builtin();
        assert_eq!(r.categories.len(), CATEGORIES.len());
        assert!(r.phrase("deflection").is_some());
        assert!(r.scorecard.len() >= 9);
        assert_eq!(r.signals.dead_air_s, 10.0);
    }

    #[test]
    fn normalising_keeps_words_apostrophes_and_placeholders() {
        assert_eq!(
            normalise("I'm SO sorry, that's [PAN]!"),
            " i'm so sorry that's [pan] "
        );
        assert_eq!(normalise("Don’t"), " don't ");
    }

    #[test]
    fn patterns_match_whole_words_only() {
        let r = Rules::builtin();
        let p = &r.phrase("escalation_request").unwrap().patterns;
        assert!(p.matches(&normalise("Can I speak to a manager, please?")));
        assert!(!p.matches(&normalise("I spoke to a man")));
        let sizes = &r.categories[4];
        assert!(sizes.matches(&normalise("It's the wrong size")));
        assert!(!sizes.matches(&normalise("downsized")));
    }

    #[test]
    fn unknown_keys_are_errors_with_their_line() {
        let bad = DEFAULT_RULES.replacen("after_s = 10.0", "after_s = 10.0\nafter = 3", 1);
        let e = Rules::parse(&bad, "r.toml").unwrap_err().to_string();
        let line = bad.lines().position(|l| l == "after = 3").unwrap() + 1;
        assert!(e.starts_with(&format!("r.toml:{line}:")), "{e}");
        assert!(e.contains("after"), "{e}");
    }

    #[test]
    fn bad_thresholds_severities_and_patterns_name_the_line() {
        let bad = DEFAULT_RULES.replacen("after_s = 10.0", "after_s = -1.0", 1);
        let e = Rules::parse(&bad, "r.toml").unwrap_err().to_string();
        let line = bad.lines().position(|l| l == "after_s = -1.0").unwrap() + 1;
        assert!(e.starts_with(&format!("r.toml:{line}:")), "{e}");
        assert!(e.contains("above 0"), "{e}");
        let bad = DEFAULT_RULES.replacen("severity = \"warning\"", "severity = \"loud\"", 1);
        let e = Rules::parse(&bad, "r.toml").unwrap_err().to_string();
        assert!(e.contains("info, warning or critical"), "{e}");
        let bad = DEFAULT_RULES.replacen("\"unacceptable\"", "\"unaccept(able\"", 1);
        let e = Rules::parse(&bad, "r.toml").unwrap_err().to_string();
        let line = bad
            .lines()
            .position(|l| l.contains("unaccept(able"))
            .unwrap()
            + 1;
        assert!(e.starts_with(&format!("r.toml:{line}:")), "{e}");
        assert!(e.contains("not a valid regex"), "{e}");
    }

    #[test]
    fn apologies_are_told_from_other_sorries() {
        let r = Rules::builtin();
        let yes = [
            "I'm so sorry, that shouldn't have happened.",
            "I do apologise, I completely understand why you're frustrated.",
            "I'm really sorry about that.",
            "My apologies for the delay.",
        ];
        let no = [
            "Sorry to jump in, can I just check something?",
            "Sorry, just to be clear, when did that happen?",
            "Sorry to keep you waiting, thanks for holding on.",
            "Can I just stop you there for a second?",
        ];
        for t in yes {
            assert!(r.is_apology(&normalise(t)), "{t}");
        }
        for t in no {
            assert!(!r.is_apology(&normalise(t)), "{t}");
        }
    }
}
