//! Post-call analytics from a redacted report: complaint and category,
//! apology / escalation / cancellation flags, sentiment per turn and its
//! trend, commitments, and the QA scorecard. Everything here reads only
//! the report's own (redacted) segments and measurements.

use serde::{Deserialize, Serialize};

use super::coach::Matched;
use super::coach::{evidence, is_complaint};
use super::meaning::Of;
use super::{CATEGORIES, Check, Rules, normalise};
use crate::frame::Leg;
use crate::report::{Report, Segment, ms};

/// The call's complaint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Complaint {
    /// One of [`CATEGORIES`], or `other`.
    pub category: String,
    /// The customer's (redacted) words that voiced it (with the score by
    /// meaning when it was recognised by meaning).
    pub evidence: String,
    /// The category's score by meaning (cosine to its nearest example;
    /// absent when the phrase lists decided).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// Yes/no facts of the call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Flags {
    /// The agent apologised.
    pub apologised: bool,
    /// The customer asked for a manager or supervisor.
    pub escalation_requested: bool,
    /// The customer threatened to cancel or leave.
    pub cancellation_threatened: bool,
    /// Per flag that is set: the (redacted) segment that set it, with its
    /// score by meaning when it was recognised by meaning.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub evidence: std::collections::BTreeMap<String, String>,
}

/// One turn's sentiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnSentiment {
    /// Start, seconds.
    pub t: f64,
    /// Who.
    pub speaker: Leg,
    /// −1 (negative) … +1 (positive).
    pub score: f64,
}

/// A speaker's sentiment over the call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// Mean over the first third of their turns.
    pub start: f64,
    /// Mean over the last third of their turns.
    pub end: f64,
    /// `improving`, `worsening` or `steady` (a change under 0.2).
    pub trend: String,
}

/// Sentiment of the call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// How it was computed.
    pub method: String,
    /// The agent's trend.
    pub agent: Trend,
    /// The customer's trend (absent for mono calls).
    pub customer: Option<Trend>,
    /// Per turn.
    pub turns: Vec<TurnSentiment>,
}

/// One QA item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredItem {
    /// The item's name from the rules.
    pub name: String,
    /// 1 pass, 0 fail, `null` when it does not apply to this call.
    pub score: Option<f64>,
    /// Its weight.
    pub weight: f64,
    /// Why.
    pub evidence: String,
}

/// The QA scorecard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// Weighted mean of the items that apply, 0–100.
    pub score: f64,
    /// The items.
    pub items: Vec<ScoredItem>,
}

/// Something the agent committed to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commitment {
    /// When it was said, seconds.
    pub t: f64,
    /// The agent's (redacted) words.
    pub text: String,
}

/// Customer turns after the first complaint that may still describe it.
const COMPLAINT_TURNS: usize = 2;

/// Customer segments after the first complaint that may still describe it
/// (by meaning; segments are shorter than turns).
const MEANING_SEGMENTS: usize = 4;

fn of(segments: &[Segment], leg: Leg) -> impl Iterator<Item = (&Segment, String)> {
    segments
        .iter()
        .filter(move |s| s.speaker == leg)
        .map(|s| (s, normalise(&s.text)))
}

/// Customer segments closer than this belong to one turn, seconds (an
/// agent's "sorry to jump in" in between does not split it).
pub const TURN_GAP_S: f64 = 4.0;

/// The customer's segments from `start` on, in time order, each with its
/// normalised text.
fn turns_from(segments: &[Segment], start: f64) -> impl Iterator<Item = (&Segment, String)> {
    let mut order: Vec<&Segment> = segments
        .iter()
        .filter(|s| s.speaker == Leg::Customer && s.start >= start)
        .collect();
    order.sort_by(|a, b| a.start.total_cmp(&b.start));
    order.into_iter().map(|s| (s, normalise(&s.text)))
}

/// The customer's turns: (first segment, normalised text of the whole turn).
pub fn customer_turns(segments: &[Segment]) -> Vec<(&Segment, String)> {
    let mut turns: Vec<(&Segment, String, f64)> = Vec::new();
    let mut order: Vec<&Segment> = segments
        .iter()
        .filter(|s| s.speaker == Leg::Customer)
        .collect();
    order.sort_by(|a, b| a.start.total_cmp(&b.start));
    for s in order {
        match turns.last_mut() {
            Some((_, text, end)) if s.start - *end <= TURN_GAP_S => {
                text.push_str(&normalise(&s.text));
                *end = s.end;
            }
            _ => turns.push((s, normalise(&s.text), s.end)),
        }
    }
    turns.into_iter().map(|(s, t, _)| (s, t)).collect()
}

/// The complaint: the first customer turn that voices one, its category
/// from that turn (counted double) and the next ones (the most weight;
/// ties go to the earlier category in the file), `other` when no category
/// matches. Also returns when it was voiced.
///
/// By meaning ([`super::meaning`]), when the rules have a model and the
/// segments embeddings: the first customer segment that voices a complaint
/// (by meaning or by the phrase lists); its category is voted by it
/// (counted double) and the next [`MEANING_SEGMENTS`] customer segments,
/// each for its best category by that category's lead over the segment's
/// mean; the phrase lists decide the category only when no category scores
/// by meaning.
pub fn complaint_at(rules: &Rules, segments: &[Segment]) -> Option<(Complaint, f64)> {
    if let Some(found) = complaint_by_meaning(rules, segments) {
        return found;
    }
    let turns = customer_turns(segments);
    let first = turns.iter().position(|(_, n)| is_complaint(rules, n))?;
    let texts: Vec<&str> = turns
        .iter()
        .skip(first)
        .take(1 + COMPLAINT_TURNS)
        .map(|(_, n)| n.as_str())
        .collect();
    let (category, _) = keyword_category(rules, &texts);
    let turn_start = turns[first].0;
    // The evidence is the segment that made the turn a complaint (as the
    // live coach sees it), not the turn's opening "Hello?".
    let mut text = String::new();
    let seg = turns_from(segments, turn_start.start)
        .find(|(_, n)| {
            text.push_str(n);
            is_complaint(rules, &text)
        })
        .map_or(turn_start, |(s, _)| s);
    Some((
        Complaint {
            category: category.to_string(),
            evidence: evidence(seg),
            score: None,
        },
        turn_start.start,
    ))
}

/// The category by the phrase lists over normalised texts (the first
/// counted double): the most weight, `other` when none.
fn keyword_category(rules: &Rules, texts: &[&str]) -> (&'static str, f64) {
    let mut weights = vec![0.0; CATEGORIES.len()];
    for (k, n) in texts.iter().enumerate() {
        let scale = if k == 0 { 2.0 } else { 1.0 };
        for (w, pats) in weights.iter_mut().zip(&rules.categories) {
            *w += scale * pats.weight(n);
        }
    }
    let (best, w) = heaviest(&weights);
    (if w > 0.0 { CATEGORIES[best] } else { "other" }, w)
}

/// The index and value of the largest weight (the first of equals; 0 and
/// 0.0 when none is above 0).
fn heaviest(weights: &[f64]) -> (usize, f64) {
    weights.iter().enumerate().fold(
        (0, 0.0),
        |acc, (i, &w)| if w > acc.1 { (i, w) } else { acc },
    )
}

/// [`complaint_at`] by meaning: `None` when the rules have no model or no
/// customer segment has an embedding (then the phrase lists decide);
/// `Some(None)` when there is no complaint.
fn complaint_by_meaning(rules: &Rules, segments: &[Segment]) -> Option<Option<(Complaint, f64)>> {
    let m = rules.model.as_deref()?;
    let mut order: Vec<&Segment> = segments
        .iter()
        .filter(|s| s.speaker == Leg::Customer)
        .collect();
    if !order.iter().any(|s| s.embedding.is_some()) {
        return None;
    }
    order.sort_by(|a, b| a.start.total_cmp(&b.start));
    // A segment without an embedding (its text changed by the redactor)
    // is judged by the phrase lists.
    let Some((first, by)) = order.iter().enumerate().find_map(|(i, s)| {
        super::coach::complaint(rules, s, &normalise(&s.text)).map(|by| (i, by))
    }) else {
        return Some(None);
    };
    let seg = order[first];
    let next = &order[first..(first + 1 + MEANING_SEGMENTS).min(order.len())];
    // Each segment votes for its best category (at its threshold) with
    // that score's lead over the segment's mean category score: a plain
    // "I want to make a complaint" is near every category alike and says
    // little; "it's two weeks late" is near one.
    let mut weights = vec![0.0f64; CATEGORIES.len()];
    // The complaint segment's own category scores, for the report's score.
    let mut own: Vec<Option<f32>> = Vec::new();
    for (k, s) in next.iter().enumerate() {
        let Some(e) = s.embedding.as_ref() else {
            continue;
        };
        let raw = m.category_scores(e.as_slice());
        let passing = m.at_threshold(&raw);
        if k == 0 {
            own.clone_from(&passing);
        }
        let Some((top, v)) = passing
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .reduce(|a, b| if b.1 > a.1 { b } else { a })
        else {
            continue;
        };
        // A complaint in general ("I want to make a complaint") names no
        // category: it votes only when a category is nearer than that.
        let general = rules
            .by_meaning(s)
            .and_then(|(m, p)| m.hit(Of::Complaint, p))
            .map_or(-1.0, |h| h.score);
        if v < general {
            continue;
        }
        let scored = raw.iter().flatten().count().max(1);
        let mean = raw.iter().flatten().sum::<f32>() / scored as f32;
        let scale = if k == 0 { 2.0 } else { 1.0 };
        weights[top] += scale * f64::from(v - mean);
    }
    let (best, w) = heaviest(&weights);
    let texts: Vec<String> = next.iter().map(|s| normalise(&s.text)).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (listed, listed_w) = keyword_category(rules, &texts);
    let (category, cat_score) = if listed_w > 0.0 {
        (listed, None)
    } else if w > 0.0 {
        let score = own.get(best).copied().flatten();
        (CATEGORIES[best], score.map(|v| round2(f64::from(v))))
    } else {
        (listed, None)
    };
    Some(Some((
        Complaint {
            category: category.to_string(),
            evidence: by.evidence(seg),
            score: cat_score,
        },
        seg.start,
    )))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The complaint, see [`complaint_at`].
pub fn complaint(rules: &Rules, segments: &[Segment]) -> Option<Complaint> {
    complaint_at(rules, segments).map(|(c, _)| c)
}

/// The flags, each from its speaker's segments, with the segment that set
/// each: by meaning where the segment has an embedding and the rules a
/// model, and by the phrase lists (over segments and the customer's turns)
/// in any case; what the lists catch is never lost. An
/// apology counts from the complaint at `complaint_t` on ("I'm sorry to
/// hear that" before any complaint is politeness, not an apology for the
/// problem); with no complaint, any.
pub fn flags(rules: &Rules, segments: &[Segment], complaint_t: Option<f64>) -> Flags {
    let mut order: Vec<&Segment> = segments.iter().collect();
    order.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut out = Flags::default();
    let turns = customer_turns(segments);
    for (kind, name) in [
        ("escalation_request", "escalation_requested"),
        ("cancellation_risk", "cancellation_threatened"),
    ] {
        let Some(r) = rules.phrase(kind) else {
            continue;
        };
        // A segment by meaning or by its words; then the phrase lists over
        // whole turns.
        let hit = order
            .iter()
            .filter(|s| s.speaker == Leg::Customer)
            .find_map(|s| {
                super::coach::phrase(rules, r, s, &normalise(&s.text)).map(|by| by.evidence(s))
            })
            .or_else(|| {
                turns
                    .iter()
                    .find(|(_, n)| r.heard(n))
                    .map(|(s, _)| Matched::Phrase.evidence(s))
            });
        if let Some(q) = hit {
            out.evidence.insert(name.to_string(), q);
            match kind {
                "escalation_request" => out.escalation_requested = true,
                _ => out.cancellation_threatened = true,
            }
        }
    }
    let since = complaint_t.unwrap_or(f64::NEG_INFINITY);
    if let Some((s, v)) = of(segments, Leg::Agent)
        .filter(|(s, _)| s.end >= since)
        .find_map(|(s, n)| super::coach::apology(rules, s, &n).map(|v| (s, v)))
    {
        out.apologised = true;
        out.evidence.insert("apologised".to_string(), v.evidence(s));
    }
    out
}

/// A turn's lexicon score: (positive − negative) / (positive + negative),
/// a negator within the two words before a hit flips it; 0 with no hits.
pub fn turn_score(rules: &Rules, norm: &str) -> f64 {
    let lex = &rules.sentiment;
    let flipped = |start: usize| {
        norm[..start]
            .split_whitespace()
            .rev()
            .take(2)
            .any(|w| lex.negators.iter().any(|n| n == w))
    };
    let (mut pos, mut neg) = (0.0, 0.0);
    for (a, _) in lex.positive.find_all(norm) {
        if flipped(a + 1) {
            neg += 1.0
        } else {
            pos += 1.0
        }
    }
    for (a, _) in lex.negative.find_all(norm) {
        if flipped(a + 1) {
            pos += 1.0
        } else {
            neg += 1.0
        }
    }
    if pos + neg == 0.0 {
        0.0
    } else {
        (pos - neg) / (pos + neg)
    }
}

fn trend(scores: &[f64]) -> Trend {
    if scores.is_empty() {
        return Trend {
            trend: "steady".into(),
            ..Trend::default()
        };
    }
    let third = scores.len().div_ceil(3);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let (start, end) = (
        mean(&scores[..third]),
        mean(&scores[scores.len() - third..]),
    );
    let round = |x: f64| (x * 100.0).round() / 100.0;
    Trend {
        start: round(start),
        end: round(end),
        trend: match end - start {
            d if d >= 0.2 => "improving",
            d if d <= -0.2 => "worsening",
            _ => "steady",
        }
        .into(),
    }
}

/// Sentiment per turn and per speaker.
pub fn sentiment(rules: &Rules, segments: &[Segment], stereo: bool) -> Sentiment {
    let turns: Vec<TurnSentiment> = segments
        .iter()
        .filter(|s| !s.text.trim().is_empty())
        .map(|s| TurnSentiment {
            t: ms(s.start),
            speaker: s.speaker,
            score: (turn_score(rules, &normalise(&s.text)) * 100.0).round() / 100.0,
        })
        .collect();
    let scores = |leg: Leg| -> Vec<f64> {
        turns
            .iter()
            .filter(|t| t.speaker == leg)
            .map(|t| t.score)
            .collect()
    };
    Sentiment {
        method: "lexicon: rules file [sentiment] words, +1/−1 each, flipped by a negator within two words; turn = (pos − neg)/(pos + neg); trend = mean of the last third of a speaker's turns minus the first third".into(),
        agent: trend(&scores(Leg::Agent)),
        customer: stereo.then(|| trend(&scores(Leg::Customer))),
        turns,
    }
}

/// The agent's commitments.
pub fn commitments(rules: &Rules, segments: &[Segment]) -> Vec<Commitment> {
    of(segments, Leg::Agent)
        .filter(|(_, n)| rules.commitments.matches(n))
        .map(|(s, _)| Commitment {
            t: ms(s.start),
            text: s.text.clone(),
        })
        .collect()
}

/// Scores the call against the rules' scorecard; `complaint` is the
/// complaint and when it was voiced, as [`complaint_at`] finds it.
pub fn scorecard(
    rules: &Rules,
    report: &Report,
    complaint: Option<&(Complaint, f64)>,
    commitments: usize,
) -> Scorecard {
    let segs = &report.segments;
    let agent: Vec<(&Segment, String)> = of(segs, Leg::Agent).collect();
    let prompted = |kind: &str| report.prompts.iter().find(|p| p.kind == kind);
    let mut items = Vec::new();
    for item in &rules.scorecard {
        let (score, evidence_text): (Option<f64>, String) = match &item.check {
            Check::AgentSays {
                patterns,
                within_s,
                last_s,
            } => {
                let hit = agent.iter().find(|(s, n)| {
                    within_s.is_none_or(|w| s.start <= w)
                        && last_s.is_none_or(|l| s.end >= report.duration_s - l)
                        && patterns.matches(n)
                });
                match hit {
                    Some((s, _)) => (Some(1.0), evidence(s)),
                    None => (Some(0.0), "not heard from the agent".into()),
                }
            }
            Check::Acknowledged | Check::Apologised => match complaint {
                None => (None, "no complaint".into()),
                Some((c, t0)) => {
                    let hit = agent.iter().find(|(s, n)| {
                        s.end >= *t0
                            && match item.check {
                                Check::Acknowledged => {
                                    super::coach::acknowledgement(rules, s, n).is_some()
                                }
                                _ => super::coach::apology(rules, s, n).is_some(),
                            }
                    });
                    match hit {
                        Some((s, _)) => (Some(1.0), evidence(s)),
                        None => (
                            Some(0.0),
                            format!("none after the complaint at {}", c.evidence),
                        ),
                    }
                }
            },
            Check::NoPrompt {
                kind,
                if_commitment,
            } => {
                if *if_commitment && commitments == 0 {
                    (None, "no commitments".into())
                } else {
                    match prompted(kind) {
                        Some(p) => (Some(0.0), format!("{kind} at {:.1} s: {}", p.t, p.evidence)),
                        None => (Some(1.0), format!("no {kind}")),
                    }
                }
            }
            Check::TalkRatioBelow(max) => match report.talk_listen_ratio {
                Some(r) => (
                    Some(if r <= *max { 1.0 } else { 0.0 }),
                    format!("talk/listen ratio {r:.2} (at most {max})"),
                ),
                None => (None, "mono call".into()),
            },
            Check::AgentInterruptionsBelow(max) => match &report.interruptions {
                Some(list) => {
                    let n = list.iter().filter(|i| i.by == Leg::Agent).count();
                    (
                        Some(if n as f64 <= *max { 1.0 } else { 0.0 }),
                        format!("agent interrupted {n} time(s) (at most {max})"),
                    )
                }
                None => (None, "mono call".into()),
            },
            Check::LongestSilenceBelow(max) => {
                let longest = report
                    .silences
                    .iter()
                    .map(|s| s.end - s.start)
                    .fold(0.0, f64::max);
                (
                    Some(if longest <= *max { 1.0 } else { 0.0 }),
                    format!("longest silence {longest:.1} s (at most {max} s)"),
                )
            }
        };
        items.push(ScoredItem {
            name: item.name.clone(),
            score,
            weight: item.weight,
            evidence: evidence_text,
        });
    }
    let (sum, weight) = items
        .iter()
        .filter_map(|i| i.score.map(|s| (s * i.weight, i.weight)))
        .fold((0.0, 0.0), |(a, b), (s, w)| (a + s, b + w));
    Scorecard {
        score: if weight > 0.0 {
            (sum / weight * 1000.0).round() / 10.0
        } else {
            0.0
        },
        items,
    }
}

/// Fills the report's analytics from its own redacted segments
/// (`segments`: the report's segments as the redactor sealed them). The
/// transcript prompts are derived here, by the coach over those segments;
/// of the prompts already in the report only measurements (signal prompts
/// raised live) are kept, never text a live prompt quoted.
pub fn apply(
    report: &mut Report,
    segments: &[crate::redact::Redacted<Segment>],
    rules: &std::sync::Arc<Rules>,
) {
    report.prompts.retain(|p| p.evidence.is_measurement());
    report.prompts.extend(
        super::coach::Coach::replay(rules, segments, report.duration_s)
            .into_iter()
            .map(crate::report::Prompt::from),
    );
    report.prompts.sort_by(|a, b| a.t.total_cmp(&b.t));
    analytics(report, rules);
}

/// The analytics of [`apply`] without deriving prompts: complaint, flags,
/// sentiment, commitments and the scorecard (over the prompts the report
/// has), from the report's segments.
pub fn analytics(report: &mut Report, rules: &std::sync::Arc<Rules>) {
    if let Some(m) = rules.model.as_deref() {
        m.fill(&mut report.segments);
    }
    let c = complaint_at(rules, &report.segments);
    let list = commitments(rules, &report.segments);
    report.scorecard = Some(scorecard(rules, report, c.as_ref(), list.len()));
    report.flags = Some(flags(rules, &report.segments, c.as_ref().map(|(_, t)| *t)));
    report.sentiment = Some(sentiment(
        rules,
        &report.segments,
        report.speakers.customer.is_some(),
    ));
    report.commitments = Some(list);
    report.complaint = c.map(|(c, _)| c);
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rules::test_segment as seg;

    fn category(text: &str) -> String {
        let r = Rules::builtin();
        complaint(&r, &[seg(Leg::Customer, 10.0, text)]).map_or("none".into(), |c| c.category)
    }

    #[test]
    fn complaint_categories_from_the_customers_words() {
        let cases = [
            (
                "The blender arrived and the finish is already peeling off. It looks cheap.",
                "product_quality",
            ),
            (
                "The kettle stopped working after two days, it's faulty.",
                "product_quality",
            ),
            (
                "I've called three times and every time I get passed around. Nobody calls me back.",
                "service_quality",
            ),
            (
                "The heater got really hot and there was a burning smell. It's a fire risk.",
                "safety_concern",
            ),
            (
                "The charger sparked when I plugged it in. It's dangerous.",
                "safety_concern",
            ),
            (
                "My delivery was meant to come yesterday and nothing turned up.",
                "delivery_timing",
            ),
            (
                "My parcel still hasn't arrived, it's two weeks late.",
                "delivery_timing",
            ),
            (
                "I ordered a medium and you sent a size twelve. It doesn't fit.",
                "wrong_size_colour",
            ),
            (
                "I ordered blue and it came in the wrong colour.",
                "wrong_size_colour",
            ),
            (
                "You charged sixteen ninety nine for delivery on a tiny parcel. Ridiculous.",
                "overpricing",
            ),
            ("That's far too expensive, it's a rip off.", "overpricing"),
            (
                "There's a payment on my bank statement I never made.",
                "double_charge",
            ),
            (
                "I've been charged twice for the same order.",
                "double_charge",
            ),
            (
                "The box arrived with someone else's kettle inside, not what I ordered.",
                "shipping_error",
            ),
            ("You sent me the wrong item entirely.", "shipping_error"),
            (
                "Your colleague said someone would come this week. Nobody showed up.",
                "broken_promise",
            ),
            (
                "I was promised a call back and it never happened.",
                "broken_promise",
            ),
            (
                "Your website said the tent was waterproof and it leaked.",
                "misleading_advertising",
            ),
            (
                "It was advertised as all-weather, that's misleading.",
                "misleading_advertising",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(category(text), want, "{text}");
        }
        assert_eq!(category("Hi, I'd like to check my order status."), "none");
        assert_eq!(category("Thanks, that's great."), "none");
    }

    #[test]
    fn the_complaint_evidence_is_the_segment_that_voiced_it() {
        let r = Rules::builtin();
        let segs = [
            seg(Leg::Agent, 0.0, "Thank you for calling, how can I help?"),
            seg(Leg::Customer, 3.0, "Hello?"),
            seg(
                Leg::Customer,
                5.5,
                "I've been charged twice for the same order.",
            ),
            seg(Leg::Customer, 8.0, "Can you look at it?"),
        ];
        let (c, t) = complaint_at(&r, &segs).unwrap();
        assert_eq!(c.category, "double_charge");
        assert!(
            c.evidence
                .starts_with("5.5 s customer: \"I've been charged twice"),
            "{}",
            c.evidence
        );
        // The complaint is timed from its turn's start, for the apology flag.
        assert_eq!(t, 3.0);
    }

    #[test]
    fn sentiment_counts_words_and_negation() {
        let r = Rules::builtin();
        assert!(turn_score(&r, &normalise("That's great, thank you so much")) > 0.5);
        assert!(turn_score(&r, &normalise("This is ridiculous and unacceptable")) < -0.5);
        assert!(turn_score(&r, &normalise("I'm not happy")) < 0.0);
        assert_eq!(
            turn_score(&r, &normalise("The order number is on the email")),
            0.0
        );
        let segs = [
            seg(Leg::Customer, 1.0, "This is ridiculous."),
            seg(Leg::Customer, 20.0, "Okay."),
            seg(Leg::Customer, 40.0, "Brilliant, thank you."),
        ];
        let s = sentiment(&r, &segs, true);
        assert_eq!(s.customer.unwrap().trend, "improving");
    }

    #[test]
    fn commitments_and_flags() {
        let r = Rules::builtin();
        let segs = [
            seg(
                Leg::Customer,
                1.0,
                "Honestly, I'm going to cancel my account. Can I speak to a manager?",
            ),
            seg(
                Leg::Agent,
                5.0,
                "Sorry to jump in, can I just check something?",
            ),
            seg(
                Leg::Agent,
                9.0,
                "I'll call you back by Friday with an update.",
            ),
        ];
        let f = flags(&r, &segs, complaint_at(&r, &segs).map(|(_, t)| t));
        assert!(!f.apologised);
        assert!(f.escalation_requested && f.cancellation_threatened);
        let c = commitments(&r, &segs);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].t, 9.0);
    }

    fn call(segments: Vec<Segment>) -> Report {
        crate::report::test_report("t", segments)
    }

    fn items(r: &mut Report) -> std::collections::HashMap<String, Option<f64>> {
        let segs: Vec<_> = r
            .segments
            .iter()
            .cloned()
            .map(crate::redact::test_seal)
            .collect();
        apply(r, &segs, &std::sync::Arc::new(Rules::builtin()));
        r.scorecard
            .as_ref()
            .unwrap()
            .items
            .iter()
            .map(|i| (i.name.clone(), i.score))
            .collect()
    }

    #[test]
    fn a_good_call_passes_every_item_that_applies() {
        let mut r = call(vec![
            seg(
                Leg::Agent,
                1.0,
                "Good morning, thanks for calling Brightline, this is Emily.",
            ),
            seg(Leg::Agent, 8.0, "Can I confirm your date of birth, please?"),
            seg(
                Leg::Customer,
                20.0,
                "My parcel still hasn't arrived and it's two weeks late.",
            ),
            seg(
                Leg::Agent,
                25.0,
                "I'm so sorry, I completely understand why you're frustrated.",
            ),
            seg(
                Leg::Agent,
                30.0,
                "I've arranged a replacement, it will arrive by Friday.",
            ),
            seg(
                Leg::Agent,
                40.0,
                "Your reference number is on its way by email.",
            ),
            seg(
                Leg::Agent,
                100.0,
                "Is there anything else I can help with? Have a lovely day.",
            ),
        ]);
        let got = items(&mut r);
        for name in [
            "greeting",
            "identity_check",
            "acknowledgement",
            "apology",
            "ownership",
            "resolution",
            "realistic_timescale",
            "follow_up",
            "closing",
            "talk_ratio",
            "interruptions",
            "dead_air",
        ] {
            assert_eq!(got[name], Some(1.0), "{name}: {got:?}");
        }
        assert_eq!(r.scorecard.as_ref().unwrap().score, 100.0);
        assert_eq!(r.complaint.as_ref().unwrap().category, "delivery_timing");
        assert!(r.flags.as_ref().unwrap().apologised);
    }

    #[test]
    fn a_poor_call_fails_its_items_with_evidence() {
        let mut r = call(vec![
            seg(Leg::Agent, 40.0, "Yeah."),
            seg(
                Leg::Customer,
                45.0,
                "I've been charged twice and it's ridiculous.",
            ),
            seg(
                Leg::Agent,
                50.0,
                "There's nothing I can do, that's our policy.",
            ),
            seg(Leg::Agent, 55.0, "We'll look into it as soon as possible."),
        ]);
        r.silences = vec![crate::signals::Silence {
            start: 60.0,
            end: 75.0,
        }];
        let got = items(&mut r);
        for name in [
            "greeting",
            "identity_check",
            "acknowledgement",
            "apology",
            "ownership",
            "resolution",
            "realistic_timescale",
            "closing",
            "dead_air",
        ] {
            assert_eq!(got[name], Some(0.0), "{name}: {got:?}");
        }
        let card = r.scorecard.as_ref().unwrap();
        let own = card.items.iter().find(|i| i.name == "ownership").unwrap();
        assert!(
            own.evidence.contains("nothing I can do"),
            "{}",
            own.evidence
        );
        assert!(card.score < 30.0, "{}", card.score);
        // Without a complaint, acknowledgement and apology do not apply.
        let mut calm = call(vec![seg(Leg::Agent, 1.0, "Hello, how can I help?")]);
        let got = items(&mut calm);
        assert_eq!(got["acknowledgement"], None);
        assert_eq!(got["apology"], None);
        assert_eq!(got["realistic_timescale"], None);
    }
}
