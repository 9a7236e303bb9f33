//! Redaction of live transcript text, one segment at a time.
//!
//! A live call streams each utterance's transcript as soon as whisper has
//! it (partials while the utterance is still being spoken, a final when it
//! ends). Each is redacted with everything heard so far: the detector runs
//! over all final utterances of the call plus the new one, so a payment
//! window opened a minute ago still applies. The text net of
//! [`super::text`] (no digit left in a redacted utterance, no run of six or
//! more digits anywhere) covers what only a later utterance could reveal,
//! such as the first half of a number read over two turns. The stored
//! report is redacted again over the whole call when it ends.

use super::Redacted;
use super::call::{TranscribedUtterance, call_words};
use super::detect::{self, DetectConfig, Kind};
use super::text::{self, UtteranceSpan};
use crate::asr::Transcript;
use crate::report::Segment;

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
    let findings = detect::detect(&words, cfg);
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
    let segment = segments
        .into_iter()
        .find(|s| s.start == span.start && s.end == span.end && s.speaker == span.leg)?;
    Some((Redacted::seal(segment), notices))
}

/// The redacted text of a partial transcript of the utterance being spoken
/// at `span`, after the final utterances `finals` (those without a
/// transcript yet contribute nothing).
pub fn partial_of(
    finals: &[TranscribedUtterance],
    span: UtteranceSpan,
    transcript: Transcript,
    cfg: &DetectConfig,
) -> Option<Redacted<Segment>> {
    let mut all = finals.to_vec();
    all.push(TranscribedUtterance {
        span,
        transcript: Some(transcript),
    });
    let last = all.len() - 1;
    segment_of(&all, last, cfg).map(|(s, _)| s)
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
            })
            .collect();
        let end = words.last().map_or(start + 0.5, |w| w.end);
        TranscribedUtterance {
            span: UtteranceSpan { leg, start, end },
            transcript: Some(Transcript {
                words,
                ..Transcript::default()
            }),
        }
    }

    #[test]
    fn a_final_in_payment_talk_is_redacted_with_notices() {
        let u = vec![
            utt(Leg::Agent, 0.0, "can I have the security code"),
            utt(Leg::Customer, 4.0, "it's 737"),
        ];
        let (seg, notices) = segment_of(&u, 1, &DetectConfig::default()).unwrap();
        assert_eq!(seg.text, "it's [CVV]");
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].kind, Kind::Cvv);
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
}
