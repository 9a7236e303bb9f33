//! Text redaction: transcripts in, placeholder-bearing segments out.
//!
//! Each redacted word becomes a typed placeholder (`[PAN]`, `[CVV]`,
//! `[EXPIRY]`); consecutive redacted words of one kind collapse into one
//! placeholder, and an utterance redacted whole becomes just its
//! placeholder. As a last net, any run of six or more digits the detector
//! did not place is replaced too, and the caller is told, so the audio of
//! that utterance is masked as well.

use super::Redacted;
use super::detect::{CallWord, Finding, Kind};
use crate::frame::Leg;
use crate::report::Segment;

/// Span and leg of one transcribed utterance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UtteranceSpan {
    /// Whose speech.
    pub leg: Leg,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

/// Builds the redacted transcript segments, one per utterance with words.
pub fn redact_segments(
    utterances: &[UtteranceSpan],
    words: &[CallWord],
    findings: &[Finding],
) -> Redacted<Vec<Segment>> {
    redact_segments_net(utterances, words, findings, &[]).0
}

/// [`redact_segments`], leaving the words of `kept` (numbers the detector
/// deliberately keeps: last-four read-backs, amounts, identity numbers) out
/// of the net; also returns the utterances whose text the net changed —
/// their audio must then be masked whole, so text and audio agree.
pub fn redact_segments_net(
    utterances: &[UtteranceSpan],
    words: &[CallWord],
    findings: &[Finding],
    kept: &[usize],
) -> (Redacted<Vec<Segment>>, Vec<usize>) {
    let mut word_kind: Vec<Option<Kind>> = vec![None; words.len()];
    let mut whole: Vec<Option<Kind>> = vec![None; utterances.len()];
    for f in findings {
        for &w in &f.words {
            word_kind[w].get_or_insert(f.kind);
        }
        if let Some(u) = f.whole_utterance {
            whole[u].get_or_insert(f.kind);
        }
    }
    let mut by_utt: Vec<Vec<usize>> = vec![Vec::new(); utterances.len()];
    for (i, w) in words.iter().enumerate() {
        by_utt[w.utterance].push(i);
    }
    let mut segments = Vec::new();
    let mut netted = Vec::new();
    for (u, span) in utterances.iter().enumerate() {
        let idx = &by_utt[u];
        if idx.is_empty() {
            continue;
        }
        let text = if let Some(k) = whole[u] {
            k.placeholder().to_string()
        } else {
            // Pieces: placeholders and kept numbers as they are, runs of
            // plain words through the net.
            let mut out: Vec<String> = Vec::new();
            let mut plain: Vec<&str> = Vec::new();
            let mut changed = false;
            let mut flush = |plain: &mut Vec<&str>, out: &mut Vec<String>| {
                if !plain.is_empty() {
                    let joined = plain.join(" ");
                    let scrubbed = scrub_digits(&joined);
                    changed |= scrubbed != joined;
                    out.push(scrubbed);
                    plain.clear();
                }
            };
            let mut last: Option<Kind> = None;
            for &i in idx {
                match word_kind[i] {
                    Some(k) if last == Some(k) => {}
                    Some(k) => {
                        flush(&mut plain, &mut out);
                        out.push(k.placeholder().to_string());
                    }
                    None if kept.contains(&i) => {
                        flush(&mut plain, &mut out);
                        out.push(words[i].word.text.clone());
                    }
                    None => plain.push(words[i].word.text.as_str()),
                }
                last = word_kind[i];
            }
            flush(&mut plain, &mut out);
            if changed {
                netted.push(u);
            }
            out.join(" ")
        };
        segments.push(Segment {
            speaker: span.leg,
            start: span.start,
            end: span.end,
            text,
            embedding: None,
        });
    }
    (Redacted::seal(segments), netted)
}

/// The last net: runs of six or more digits (single separators allowed)
/// go. The detector already takes them; this only catches what it could
/// not read as a number.
fn scrub_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            // Extent of a digit run, allowing single separators between digits.
            let mut j = i;
            let mut digits = 0;
            while j < chars.len() {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    j += 1;
                } else if matches!(chars[j], ' ' | '-' | '.' | ',' | '/')
                    && chars.get(j + 1).is_some_and(|c| c.is_ascii_digit())
                {
                    j += 1;
                } else {
                    break;
                }
            }
            if digits >= 6 {
                out.push_str(Kind::Pan.placeholder());
            } else {
                out.extend(&chars[i..j]);
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::Word;
    use crate::redact::detect::Confidence;

    fn cw(leg: Leg, utterance: usize, text: &str, t: f64) -> CallWord {
        CallWord {
            leg,
            utterance,
            word: Word {
                text: text.to_string(),
                start: t,
                end: t + 0.3,
                confidence: 0.9,
                digit_p: None,
            },
        }
    }

    #[test]
    fn placeholders_replace_and_collapse() {
        let words = vec![
            cw(Leg::Customer, 0, "It's", 0.0),
            cw(Leg::Customer, 0, "4111", 0.4),
            cw(Leg::Customer, 0, "1111", 0.8),
            cw(Leg::Customer, 0, "1111.", 1.2),
            cw(Leg::Customer, 0, "Thanks.", 1.6),
            cw(Leg::Agent, 1, "Gun-Ho-Hine", 3.0),
        ];
        let utts = [
            UtteranceSpan {
                leg: Leg::Customer,
                start: 0.0,
                end: 2.0,
            },
            UtteranceSpan {
                leg: Leg::Agent,
                start: 3.0,
                end: 3.5,
            },
        ];
        let findings = vec![
            Finding {
                kind: Kind::Pan,
                leg: Leg::Customer,
                words: vec![1, 2, 3],
                whole_utterance: None,
                confidence: Confidence::Medium,
                rule: Default::default(),
            },
            Finding {
                kind: Kind::Cvv,
                leg: Leg::Agent,
                words: vec![5],
                whole_utterance: Some(1),
                confidence: Confidence::Low,
                rule: Default::default(),
            },
        ];
        let segs = redact_segments(&utts, &words, &findings);
        assert_eq!(segs[0].text, "It's [PAN] Thanks.");
        assert_eq!(segs[1].text, "[CVV]");
    }

    #[test]
    fn the_last_net_catches_digits() {
        assert_eq!(
            scrub_digits("order 5821-3669-0 please"),
            "order [PAN] please"
        );
        assert_eq!(scrub_digits("zip 57139 ok"), "zip 57139 ok");
    }
}
