//! Prompts from the transcript, as each final (redacted) segment arrives:
//! phrase rules, a complaint the agent has not acknowledged in time, and a
//! hold that runs long. Used live by [`crate::engine::call::LiveCall`] and
//! after the call over the stored segments. The coach only takes
//! [`Redacted`] segments, and its prompts quote them only through
//! [`Quote`], so no prompt carries text the redactor has not seen.

use std::sync::Arc;

use super::meaning::Of;
use super::{PhraseRule, Rules, Who, normalise, signal};
use crate::engine::kpi::{LivePrompt, Prompter};
use crate::frame::Leg;
use crate::redact::Redacted;
use crate::redact::evidence::{Evidence, Measurement, Quote};
use crate::report::Segment;

/// Longest phrase quoted as evidence, characters.
const EVIDENCE_CHARS: usize = 120;

/// "12.3 s customer: "…"" for a redacted segment (the text of a
/// [`Quote`], and of the stored report's complaint and scorecard evidence).
pub fn evidence(seg: &Segment) -> String {
    let who = match seg.speaker {
        Leg::Agent => "agent",
        Leg::Customer => "customer",
    };
    let mut text: String = seg.text.chars().take(EVIDENCE_CHARS).collect();
    if seg.text.chars().count() > EVIDENCE_CHARS {
        text.push('…');
    }
    format!("{:.1} s {who}: \"{text}\"", seg.start)
}

/// Whether normalised customer text voices a complaint.
pub fn is_complaint(rules: &Rules, norm: &str) -> bool {
    rules.complaint.matches(norm) || rules.categories.iter().any(|c| c.weight(norm) >= 1.0)
}

/// How a segment matched an item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Matched {
    /// By meaning, with its score.
    Meaning(f32),
    /// By the rules file's phrase lists.
    Phrase,
}

impl Matched {
    /// Evidence quoting `seg`, with the score when by meaning.
    pub fn evidence(self, seg: &Segment) -> String {
        match self {
            Matched::Meaning(v) => format!("{} (meaning {v:.2})", evidence(seg)),
            Matched::Phrase => evidence(seg),
        }
    }
}

/// Whether a segment (`norm`: its normalised text) matches a phrase rule:
/// by meaning when the rules describe its kind and the segment has an
/// embedding, and by its patterns in any case. Whose words count is the
/// caller's business.
pub fn phrase(rules: &Rules, r: &PhraseRule, seg: &Segment, norm: &str) -> Option<Matched> {
    rules
        .by_meaning(seg)
        .and_then(|(m, e)| m.matches(Of::Phrase(&r.kind), e))
        .map(Matched::Meaning)
        .or_else(|| r.heard(norm).then_some(Matched::Phrase))
}

/// Whether a customer segment voices a complaint: by meaning when it has an
/// embedding, and by the phrase lists over `norm` (the normalised text of
/// the segment, or of its turn so far) in any case.
pub fn complaint(rules: &Rules, seg: &Segment, norm: &str) -> Option<Matched> {
    rules
        .by_meaning(seg)
        .and_then(|(m, e)| m.complaint(e))
        .map(Matched::Meaning)
        .or_else(|| is_complaint(rules, norm).then_some(Matched::Phrase))
}

/// Whether an agent segment (`norm`: its normalised text) acknowledges
/// or apologises: by meaning when the segment has an embedding, and by the
/// phrase lists.
pub fn acknowledgement(rules: &Rules, seg: &Segment, norm: &str) -> Option<Matched> {
    let by_meaning = rules.by_meaning(seg).and_then(|(m, e)| {
        m.matches(Of::Acknowledgement, e)
            .into_iter()
            .chain(m.matches(Of::Apology, e))
            .reduce(f32::max)
    });
    by_meaning.map(Matched::Meaning).or_else(|| {
        (rules.acknowledgement.matches(norm) || rules.is_apology(norm)).then_some(Matched::Phrase)
    })
}

fn acknowledges(rules: &Rules, seg: &Segment, norm: &str) -> bool {
    acknowledgement(rules, seg, norm).is_some()
}

/// Whether an agent segment apologises, by meaning or by the phrase lists.
pub fn apology(rules: &Rules, seg: &Segment, norm: &str) -> Option<Matched> {
    rules
        .by_meaning(seg)
        .and_then(|(m, e)| m.matches(Of::Apology, e))
        .map(Matched::Meaning)
        .or_else(|| rules.is_apology(norm).then_some(Matched::Phrase))
}

/// Watches one call's final segments.
#[derive(Debug)]
pub struct Coach {
    rules: Arc<Rules>,
    /// The complaint waiting for an acknowledgement: (time, evidence).
    complaint: Option<(f64, Quote)>,
    /// A complaint has been heard (only the first one is timed).
    complained: bool,
    /// The customer's current turn: (normalised text so far, end).
    turn: Option<(String, f64)>,
    hold_since: Option<f64>,
}

impl Coach {
    /// A coach with these rules.
    pub fn new(rules: Arc<Rules>) -> Self {
        Coach {
            rules,
            complaint: None,
            complained: false,
            turn: None,
            hold_since: None,
        }
    }

    /// Takes a final redacted segment; raises phrase prompts through `prompter`.
    pub fn on_segment(
        &mut self,
        redacted: &Redacted<Segment>,
        prompter: &mut Prompter,
        out: &mut Vec<LivePrompt>,
    ) {
        let seg = redacted.get();
        let rules = Arc::clone(&self.rules);
        let norm = normalise(&seg.text);
        for r in &rules.phrases {
            let heard = match r.who {
                Who::Agent => seg.speaker == Leg::Agent,
                Who::Customer => seg.speaker == Leg::Customer,
                Who::Any => true,
            };
            if !heard {
                continue;
            }
            let evidence =
                phrase(&rules, r, seg, &norm).map(|by| Quote::matched(redacted, by).into());
            if let Some(evidence) = evidence {
                prompter.raise(
                    seg.end,
                    &r.kind,
                    &r.severity,
                    &r.message,
                    r.cooldown_s,
                    evidence,
                    r.supervisor,
                    out,
                );
            }
        }
        match seg.speaker {
            Leg::Customer => {
                // Segments of one turn are judged together.
                let turn = match self.turn.take() {
                    Some((mut text, end)) if seg.start - end <= super::insights::TURN_GAP_S => {
                        text.push_str(&norm);
                        (text, seg.end)
                    }
                    _ => (norm.clone(), seg.end),
                };
                if !self.complained
                    && let Some(by) = complaint(&rules, seg, &turn.0)
                {
                    // The segment that made the turn a complaint is the evidence.
                    self.complained = true;
                    self.complaint = Some((seg.end, Quote::matched(redacted, by)));
                }
                self.turn = Some(turn);
            }
            Leg::Agent => {
                if acknowledges(&rules, seg, &norm) {
                    self.complaint = None;
                }
                if rules.hold_ends.matches(&norm) {
                    self.hold_since = None;
                } else if rules.hold_starts.matches(&norm) {
                    self.hold_since.get_or_insert(seg.end);
                }
            }
        }
    }

    /// Checks the timers at media time `now` (once a second is enough).
    pub fn tick(&mut self, now: f64, prompter: &mut Prompter, out: &mut Vec<LivePrompt>) {
        let rules = Arc::clone(&self.rules);
        if let Some((t, ev)) = &self.complaint
            && now - t >= rules.unack_within_s
        {
            prompter.raise(
                now,
                "complaint_not_acknowledged",
                &rules.unack.severity,
                &rules.unack.message,
                rules.unack.cooldown_s,
                Evidence::Unacknowledged {
                    after_s: now - t,
                    complaint: ev.clone(),
                },
                false,
                out,
            );
            self.complaint = None;
        }
        if let Some(h) = self.hold_since
            && now - h >= rules.hold_after_s
        {
            let ev = Measurement::Hold {
                since: h,
                s: now - h,
            };
            prompter.raise_signal(now, signal::HOLD, ev, out);
        }
    }

    /// Runs the coach over a finished call's redacted segments (in time
    /// order), as if they had arrived live; returns the prompts.
    pub fn replay(
        rules: &Arc<Rules>,
        segments: &[Redacted<Segment>],
        duration_s: f64,
    ) -> Vec<LivePrompt> {
        let mut coach = Coach::new(Arc::clone(rules));
        let mut prompter = Prompter::new(rules);
        let mut out = Vec::new();
        let mut order: Vec<&Redacted<Segment>> = segments.iter().collect();
        order.sort_by(|a, b| a.end.total_cmp(&b.end));
        let mut now = 0.0;
        for seg in order {
            while now + 1.0 <= seg.end {
                now += 1.0;
                coach.tick(now, &mut prompter, &mut out);
            }
            coach.on_segment(seg, &mut prompter, &mut out);
        }
        while now + 1.0 <= duration_s {
            now += 1.0;
            coach.tick(now, &mut prompter, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rules::test_segment as seg;

    fn sealed(segs: &[Segment]) -> Vec<Redacted<Segment>> {
        segs.iter().cloned().map(crate::redact::test_seal).collect()
    }

    fn kinds(segs: &[Segment], duration: f64) -> Vec<String> {
        Coach::replay(&Arc::new(Rules::builtin()), &sealed(segs), duration)
            .into_iter()
            .map(|p| p.kind)
            .collect()
    }

    #[test]
    fn an_unacknowledged_complaint_prompts_the_agent() {
        let segs = [
            seg(
                Leg::Customer,
                10.0,
                "I've called three times and nobody calls me back.",
            ),
            seg(Leg::Agent, 14.0, "Okay, what's your postcode?"),
        ];
        assert_eq!(kinds(&segs, 60.0), ["complaint_not_acknowledged"]);
        // A turn that opens with "Hello?": the evidence is the complaint.
        let segs = [
            seg(Leg::Customer, 3.0, "Hello?"),
            seg(
                Leg::Customer,
                5.0,
                "I've called three times and nobody calls me back.",
            ),
        ];
        let p = Coach::replay(&Arc::new(Rules::builtin()), &sealed(&segs), 60.0);
        assert!(
            p[0].evidence
                .to_string()
                .contains("5.0 s customer: \"I've called three times"),
            "{}",
            p[0].evidence
        );
        let segs = [
            seg(
                Leg::Customer,
                10.0,
                "I've called three times and nobody calls me back.",
            ),
            seg(
                Leg::Agent,
                14.0,
                "I'm so sorry, that shouldn't have happened.",
            ),
        ];
        assert!(kinds(&segs, 60.0).is_empty());
        let segs = [
            seg(
                Leg::Customer,
                10.0,
                "I've called three times and nobody calls me back.",
            ),
            seg(Leg::Agent, 14.0, "I can understand why that's frustrating."),
        ];
        assert!(kinds(&segs, 60.0).is_empty());
    }

    #[test]
    fn phrase_rules_fire_on_their_speaker_only() {
        let escalate = [seg(Leg::Customer, 5.0, "Can I speak to a manager, please?")];
        assert_eq!(kinds(&escalate, 10.0), ["escalation_request"]);
        let agent_says_it = [seg(
            Leg::Agent,
            5.0,
            "You can speak to a manager if you like.",
        )];
        assert!(kinds(&agent_says_it, 10.0).is_empty());
        let churn = [seg(Leg::Customer, 5.0, "I'm going to cancel my account.")];
        assert_eq!(kinds(&churn, 10.0), ["cancellation_risk"]);
        let churn2 = [seg(
            Leg::Customer,
            5.0,
            "I'll be closing my account and going elsewhere.",
        )];
        assert_eq!(kinds(&churn2, 10.0), ["cancellation_risk"]);
        let not_churn = [seg(
            Leg::Customer,
            5.0,
            "Can you cancel the old delivery slot?",
        )];
        assert!(kinds(&not_churn, 10.0).is_empty());
        let deflect = [seg(Leg::Agent, 5.0, "Sorry, that's not my department.")];
        assert_eq!(kinds(&deflect, 10.0), ["deflection"]);
        let policy = [seg(Leg::Agent, 5.0, "I'm afraid that's our policy.")];
        assert_eq!(kinds(&policy, 10.0), ["deflection"]);
        let owning = [seg(Leg::Agent, 5.0, "Let me sort that out for you now.")];
        assert!(kinds(&owning, 10.0).is_empty());
    }

    #[test]
    fn a_promise_without_a_time_is_vague() {
        let vague = [seg(
            Leg::Agent,
            5.0,
            "We'll get that sorted as soon as possible.",
        )];
        assert_eq!(kinds(&vague, 10.0), ["vague_promise"]);
        let timed = [seg(
            Leg::Agent,
            5.0,
            "It'll be with you as soon as possible, by Friday.",
        )];
        assert!(kinds(&timed, 10.0).is_empty());
        let timed2 = [seg(
            Leg::Agent,
            5.0,
            "You'll hear back within two working days.",
        )];
        assert!(kinds(&timed2, 10.0).is_empty());
    }

    #[test]
    fn reading_a_card_number_back_is_flagged() {
        let readback = [seg(
            Leg::Agent,
            5.0,
            "So just to confirm, that's [PAN]. Is that right?",
        )];
        assert_eq!(kinds(&readback, 10.0), ["card_readback"]);
        let asking = [seg(Leg::Agent, 5.0, "Can you read me the card number?")];
        assert!(kinds(&asking, 10.0).is_empty());
    }

    #[test]
    fn a_long_hold_prompts_until_it_ends() {
        let segs = [
            seg(Leg::Agent, 5.0, "Can I put you on hold for a moment?"),
            seg(Leg::Agent, 100.0, "Thanks for holding."),
        ];
        assert_eq!(kinds(&segs, 110.0), ["hold"]);
        let short = [
            seg(Leg::Agent, 5.0, "Can I put you on hold for a moment?"),
            seg(Leg::Agent, 30.0, "Thanks for holding."),
        ];
        assert!(kinds(&short, 110.0).is_empty());
    }
}
