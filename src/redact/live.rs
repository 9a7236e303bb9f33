//! Redaction of live transcript text, one segment at a time.
//!
//! A live call streams each utterance's transcript once whisper has it and
//! everything that started before it ended has been transcribed too (the
//! ordering is [`crate::engine::call::LiveCall`]'s job): partials while the
//! utterance is still being spoken, a final when it ends. Each is redacted
//! with the call up to its end: the detector runs over every utterance that
//! started before the segment's end (all of them transcribed by then) plus
//! the segment, and never over later ones, so what a segment says does not
//! depend on which whisper worker was quicker.
//!
//! **Live text fails closed on numbers.** A four-digit group is not yet a
//! card number when it is said, and text already sent cannot be recalled
//! when a later utterance shows it was one. So in every live segment, every
//! number the detector left in place (numerals, and digit or number words:
//! "four one one one", "twenty-eight", "oh seven") is replaced by
//! [`DIGITS_PLACEHOLDER`]. This is a text-only mask: no audio is involved
//! live, so it gets no [`Notice`] and no audit line. The stored report is
//! redacted again over the whole call when it ends, where numbers that are
//! not card data stay.

use super::Redacted;
use super::call::{TranscribedUtterance, call_words};
use super::detect::{self, DetectConfig, Kind};
use super::numbers;
use super::text::{self, UtteranceSpan};
use crate::asr::Transcript;
use crate::report::Segment;

/// What replaces a number in live text that the detector did not already
/// replace (see the module docs).
pub const DIGITS_PLACEHOLDER: &str = "[DIGITS]";

/// A redaction found in the segment, for a notice (never digits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Notice {
    /// What was redacted.
    pub kind: Kind,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

/// The redacted text of utterance `index` of `utterances`, given the others
/// (those without a transcript contribute nothing), with the redactions in it.
/// `None` when the utterance has no words.
pub fn segment_of(
    utterances: &[TranscribedUtterance],
    index: usize,
    cfg: &DetectConfig,
) -> Option<(Redacted<Segment>, Vec<Notice>)> {
    let target = &utterances[index];
    if target
        .transcript
        .as_ref()
        .is_none_or(|t| t.words.is_empty())
    {
        return None;
    }
    let (words, _) = call_words(utterances);
    let meant = super::call::meant_cues(utterances, cfg);
    let findings = detect::detect_with_cues(&words, &[], &meant, cfg).findings;
    let spans: Vec<UtteranceSpan> = utterances.iter().map(|u| u.span).collect();
    let notices = findings
        .iter()
        .filter(|f| {
            f.whole_utterance == Some(index) || f.words.iter().any(|&w| words[w].utterance == index)
        })
        .map(|f| {
            let (start, end) = match f.whole_utterance {
                Some(u) => (spans[u].start, spans[u].end),
                None => f
                    .words
                    .iter()
                    .filter(|&&w| words[w].utterance == index)
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &w| {
                        (a.min(words[w].word.start), b.max(words[w].word.end))
                    }),
            };
            Notice {
                kind: f.kind,
                start,
                end,
            }
        })
        .collect();
    let segments = text::redact_segments(&spans, &words, &findings).into_inner();
    let span = spans[index];
    let mut segment = segments
        .into_iter()
        .find(|s| s.start == span.start && s.end == span.end && s.speaker == span.leg)?;
    if let Some(t) = target.transcript.as_ref() {
        super::meaning::attach(&mut segment, t);
    }
    Some((Redacted::seal(segment), notices))
}

/// The live text of the final of utterance `index`: redacted over the
/// utterances of `utterances` that started before it ended (those without a
/// transcript contribute nothing; later ones are ignored), then with every
/// remaining number masked. `None` when the utterance has no words.
pub fn final_of(
    utterances: &[TranscribedUtterance],
    index: usize,
    cfg: &DetectConfig,
) -> Option<(Redacted<Segment>, Vec<Notice>)> {
    let end = utterances[index].span.end;
    let mut order: Vec<usize> = (0..utterances.len())
        .filter(|&i| i == index || utterances[i].span.start < end)
        .collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (utterances[a].span, utterances[b].span);
        a.start
            .total_cmp(&b.start)
            .then(a.leg.index().cmp(&b.leg.index()))
    });
    let at = order.iter().position(|&i| i == index)?;
    let context: Vec<TranscribedUtterance> = order.iter().map(|&i| utterances[i].clone()).collect();
    let (segment, notices) = segment_of(&context, at, cfg)?;
    Some((mask_numbers(segment), notices))
}

/// The live text of a partial transcript of the utterance being spoken at
/// `span` (its audio so far): redacted over the utterances of `finals` that
/// started before `span.end` (those without a transcript yet contribute
/// nothing), then with every remaining number masked.
pub fn partial_of(
    finals: &[TranscribedUtterance],
    span: UtteranceSpan,
    transcript: Transcript,
    cfg: &DetectConfig,
) -> Option<Redacted<Segment>> {
    let mut all: Vec<TranscribedUtterance> = finals
        .iter()
        .filter(|u| u.span.start < span.end)
        .cloned()
        .collect();
    all.sort_by(|a, b| a.span.start.total_cmp(&b.span.start));
    all.push(TranscribedUtterance {
        span,
        transcript: Some(transcript),
        relisten: None,
    });
    let last = all.len() - 1;
    segment_of(&all, last, cfg).map(|(s, _)| mask_numbers(s))
}

/// Replaces every number left in a redacted segment's text by
/// [`DIGITS_PLACEHOLDER`]: the words of every digit run (numerals, digit
/// words, teens and tens, amounts, ordinals, see [`numbers::digit_runs`]) and
/// any word with a numeric character in it; neighbouring masked words
/// become one placeholder.
fn mask_numbers(segment: Redacted<Segment>) -> Redacted<Segment> {
    let mut segment = segment.into_inner();
    segment.text = mask_number_words(&segment.text);
    Redacted::seal(segment)
}

fn mask_number_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut masked: Vec<bool> = words
        .iter()
        .map(|w| w.chars().any(char::is_numeric))
        .collect();
    for run in numbers::digit_runs(&words) {
        for m in &mut masked[run.first_word..=run.last_word] {
            *m = true;
        }
    }
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        if !masked[i] {
            out.push(w);
        } else if i == 0 || !masked[i - 1] {
            out.push(DIGITS_PLACEHOLDER);
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::Word;
    use crate::frame::Leg;

    fn utt(leg: Leg, start: f64, text: &str) -> TranscribedUtterance {
        let words: Vec<Word> = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| Word {
                text: w.to_string(),
                start: start + 0.4 * i as f64,
                end: start + 0.4 * i as f64 + 0.35,
                confidence: 0.9,
                digit_p: None,
            })
            .collect();
        let end = words.last().map_or(start + 0.5, |w| w.end);
        TranscribedUtterance {
            span: UtteranceSpan { leg, start, end },
            transcript: Some(Transcript {
                words,
                ..Transcript::default()
            }),
            relisten: None,
        }
    }

    #[test]
    fn a_final_in_payment_talk_is_redacted_with_notices() {
        let u = vec![
            utt(Leg::Agent, 0.0, "can I have the security code"),
            utt(Leg::Customer, 4.0, "it's 737"),
        ];
        let (seg, notices) = segment_of(&u, 1, &DetectConfig::default()).unwrap();
        assert!(seg.text.contains("[CVV]"), "{}", seg.text);
        assert!(!seg.text.contains("737"), "{}", seg.text);
        assert!(notices.iter().any(|n| n.kind == Kind::Cvv), "{notices:?}");
    }

    #[test]
    fn the_first_half_of_a_split_number_is_netted() {
        // 8 digits, no context yet: the detector cannot know, the net does.
        let u = vec![utt(Leg::Customer, 0.0, "it's 4111 1111")];
        let (seg, _) = segment_of(&u, 0, &DetectConfig::default()).unwrap();
        assert!(!seg.text.contains("1111 1111"), "{}", seg.text);
        assert!(
            !seg.text.chars().any(|c| c.is_ascii_digit()),
            "{}",
            seg.text
        );
    }

    #[test]
    fn a_partial_sees_the_window_of_earlier_finals() {
        let finals = vec![utt(Leg::Agent, 0.0, "what is the card number")];
        let p = utt(Leg::Customer, 3.0, "four one one one");
        let seg = partial_of(
            &finals,
            p.span,
            p.transcript.unwrap(),
            &DetectConfig::default(),
        )
        .unwrap();
        assert_eq!(seg.text, "[PAN]");
    }

    #[test]
    fn ordinary_speech_passes() {
        let u = vec![utt(Leg::Agent, 0.0, "how can I help you today")];
        let (seg, notices) = segment_of(&u, 0, &DetectConfig::default()).unwrap();
        assert_eq!(seg.text, "how can I help you today");
        assert!(notices.is_empty());
    }

    #[test]
    fn live_text_masks_every_number_the_detector_left() {
        let cases = [
            ("it's four one one one", "it's [DIGITS]"),
            (
                "4111, 1111 and then twenty-eight",
                "[DIGITS] and then [DIGITS]",
            ),
            ("oh seven, I think", "[DIGITS] I think"),
            ("oh I see, thanks", "oh I see, thanks"),
            ("it's [PAN] thanks", "it's [PAN] thanks"),
            ("No.4532 please", "[DIGITS] please"),
        ];
        for (text, want) in cases {
            assert_eq!(mask_number_words(text), want, "{text}");
        }
    }

    #[test]
    fn a_final_is_redacted_with_what_started_before_its_end_only() {
        let cfg = DetectConfig::default();
        let mut u = vec![
            utt(Leg::Agent, 0.0, "and the three digits on the back please"),
            utt(Leg::Customer, 4.0, "seven three seven"),
        ];
        let (seg, notices) = final_of(&u, 1, &cfg).unwrap();
        assert!(
            !seg.text.chars().any(|c| c.is_ascii_digit()),
            "{}",
            seg.text
        );
        assert!(!notices.is_empty(), "{}", seg.text);
        // An utterance that started after it ended changes nothing.
        u.push(utt(Leg::Agent, 6.0, "thanks, that's gone through"));
        assert_eq!(final_of(&u, 1, &cfg).unwrap().0, seg);
        // Numbers are masked even with no payment talk at all: a
        // customer's number nothing explains by the detector, an agent's by
        // the live mask.
        let alone = [utt(Leg::Customer, 4.0, "seven three seven")];
        let (seg, _) = final_of(&alone, 0, &cfg).unwrap();
        assert_eq!(seg.text, "[PAN]");
        let alone = [utt(Leg::Agent, 4.0, "seven three seven")];
        let (seg, notices) = final_of(&alone, 0, &cfg).unwrap();
        assert_eq!(seg.text, DIGITS_PLACEHOLDER);
        assert!(notices.is_empty());
    }
}
