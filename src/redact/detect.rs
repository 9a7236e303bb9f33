//! What to redact: card numbers, security codes and expiry dates in the
//! words of both legs of a call.
//!
//! Defence in depth, failing closed:
//!
//! 1. **Payment context window.** Phrases such as "card number", "long
//!    number on the front", "security code", "three digits on the back",
//!    "expiry" (either leg) open a window on *both* legs. Inside it every
//!    number-bearing word is redacted, and an utterance with any word whisper
//!    was unsure of (confidence under `unsure_below`) is redacted whole: this
//!    catches the digits whisper garbles. The window stays open for
//!    `window_s` after the last trigger or redacted number.
//! 2. **Long digit runs anywhere**: a run of 12 or more digits
//!    ([`super::numbers`]) is a PAN whether or not the context was seen —
//!    whisper miscounts repeated digits, so no upper bound and no Luhn gate;
//!    Luhn only raises the confidence label. Runs of 8+ digits of one leg
//!    less than `split_gap_s` apart that together reach 12 digits count too
//!    (a number read in halves over two turns); shorter parts are caught by
//!    the window, not by this rule, so that order numbers, phone numbers and
//!    zip codes said one after another are not taken for a card.
//! 3. A lone four-digit run outside a window is left alone (last-four
//!    read-backs are allowed).
//!
//! The kind follows the latest trigger: security-code phrases make 3–4
//! digit runs CVVs, expiry phrases and month names make expiry dates,
//! anything of 12+ digits is a PAN.

use super::numbers::{self, DigitRun};
use crate::asr::{Word, fold as norm};
use crate::frame::Leg;

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Primary account number.
    Pan,
    /// Card security code (CVV2/CVC2/CID).
    Cvv,
    /// Expiry date.
    Expiry,
    /// Keypad tones.
    Dtmf,
}

impl Kind {
    /// The placeholder that replaces it in text.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Pan => "[PAN]",
            Kind::Cvv => "[CVV]",
            Kind::Expiry => "[EXPIRY]",
            Kind::Dtmf => "[DTMF]",
        }
    }
}

/// How sure the detector is (for the audit trail; it never decides *whether*
/// to redact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A Luhn-valid run of card length.
    High,
    /// Digits in payment context, or a long run.
    Medium,
    /// Context only: an unsure utterance redacted whole.
    Low,
}

/// One word of a call, tagged with its leg and utterance.
#[derive(Debug, Clone)]
pub struct CallWord {
    /// Whose word.
    pub leg: Leg,
    /// Which utterance it came from (index into the caller's list).
    pub utterance: usize,
    /// The word.
    pub word: Word,
}

/// A decision to redact some words.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What it is.
    pub kind: Kind,
    /// Whose leg.
    pub leg: Leg,
    /// Indices of the redacted words in the input.
    pub words: Vec<usize>,
    /// Redact the whole utterance (audio and text), not only the words.
    pub whole_utterance: Option<usize>,
    /// How sure.
    pub confidence: Confidence,
}

/// Detector settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectConfig {
    /// How long the payment window stays open after its last activity, seconds.
    pub window_s: f64,
    /// Word confidence under which, inside a window, the utterance is redacted whole.
    pub unsure_below: f32,
    /// Longest pause between two parts of one number, seconds.
    pub split_gap_s: f64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            window_s: 45.0,
            unsure_below: 0.6,
            split_gap_s: 15.0,
        }
    }
}

const PAN_PHRASES: &[&[&str]] = &[
    &["card", "number"],
    &["long", "number"],
    &["number", "on", "the", "front"],
    &["card", "details"],
    &["sixteen", "digit"],
    &["16", "digit"],
    &["read", "me", "the", "number"],
    &["the", "number", "on", "the", "card"],
];
const CVV_PHRASES: &[&[&str]] = &[
    &["security", "code"],
    &["security", "number"],
    &["three", "digits"],
    &["3", "digits"],
    &["four", "digits"],
    &["on", "the", "back"],
    &["cvv"],
    &["cvv2"],
    &["cvc"],
    &["csc"],
    &["cid"],
    &["verification", "code"],
];
const EXPIRY_PHRASES: &[&[&str]] = &[
    &["expiry"],
    &["expiration"],
    &["expires"],
    &["expire"],
    &["valid", "until"],
    &["valid", "thru"],
    &["valid", "through"],
    &["end", "date"],
];

/// The trigger kind starting at word `i` and its length in words, if any.
fn trigger_at(normed: &[String], i: usize) -> Option<(Kind, usize)> {
    let matches = |p: &&&[&str]| {
        p.iter()
            .enumerate()
            .all(|(k, w)| normed.get(i + k).is_some_and(|n| n == w))
    };
    [
        (Kind::Cvv, CVV_PHRASES),
        (Kind::Expiry, EXPIRY_PHRASES),
        (Kind::Pan, PAN_PHRASES),
    ]
    .into_iter()
    .find_map(|(kind, phrases)| phrases.iter().find(matches).map(|p| (kind, p.len())))
}

/// Luhn check of a digit sequence.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.len() < 2 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Finds what must be redacted in a call's words (both legs, in time order).
pub fn detect(words: &[CallWord], cfg: &DetectConfig) -> Vec<Finding> {
    let normed: Vec<String> = words.iter().map(|w| norm(&w.word.text)).collect();
    // 1. Payment windows: per word, the kind hint if inside one.
    let mut hint: Vec<Option<Kind>> = vec![None; words.len()];
    // Words of trigger phrases ("three digits on the back") are not numbers.
    let mut trigger_word = vec![false; words.len()];
    let mut open: Option<(Kind, f64)> = None; // (kind, closes at)
    for i in 0..words.len() {
        let t = words[i].word.start;
        if open.is_some_and(|(_, until)| t > until) {
            open = None;
        }
        if let Some((k, len)) = trigger_at(&normed, i) {
            open = Some((k, t + cfg.window_s));
            for flag in &mut trigger_word[i..(i + len).min(words.len())] {
                *flag = true;
            }
        }
        if let Some((k, until)) = open.as_mut() {
            hint[i] = Some(*k);
            if numbers::is_number_word(&words[i].word.text) {
                *until = until.max(t + cfg.window_s);
            }
        }
    }

    let mut findings = Vec::new();
    // 2. Digit runs per leg.
    for leg in Leg::BOTH {
        let idx: Vec<usize> = (0..words.len()).filter(|&i| words[i].leg == leg).collect();
        let leg_words: Vec<&str> = idx
            .iter()
            .map(|&i| {
                if trigger_word[i] {
                    "\u{1}"
                } else {
                    words[i].word.text.as_str()
                }
            })
            .collect();
        let runs: Vec<DigitRun> = numbers::digit_runs(&leg_words);
        let to_call = |run: &DigitRun| -> Vec<usize> {
            let mut v: Vec<usize> = run.digits.iter().map(|d| idx[d.word]).collect();
            v.dedup();
            v
        };
        let mut taken = vec![false; runs.len()];
        for (r, run) in runs.iter().enumerate() {
            let first = idx[run.first_word];
            let digits: Vec<u8> = run.digits.iter().map(|d| d.digit).collect();
            let in_window = hint[first].or(hint[idx[run.last_word]]);
            let kind = if digits.len() >= 12 {
                Some(Kind::Pan)
            } else if let Some(k) = in_window {
                let month_near = (run.first_word.saturating_sub(1)..=run.last_word)
                    .any(|w| numbers::month(leg_words[w]).is_some());
                Some(if month_near || k == Kind::Expiry {
                    Kind::Expiry
                } else if k == Kind::Cvv && digits.len() <= 4 {
                    Kind::Cvv
                } else {
                    k
                })
            } else {
                None
            };
            if let Some(kind) = kind {
                taken[r] = true;
                let confidence = if kind == Kind::Pan
                    && (13..=19).contains(&digits.len())
                    && luhn_valid(&digits)
                {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                let mut ws = to_call(run);
                // A month name said with the date goes too.
                if kind == Kind::Expiry
                    && run.first_word > 0
                    && numbers::month(leg_words[run.first_word - 1]).is_some()
                {
                    ws.insert(0, idx[run.first_word - 1]);
                }
                findings.push(Finding {
                    kind,
                    leg,
                    words: ws,
                    whole_utterance: None,
                    confidence,
                });
            }
        }
        // Numbers split over pauses and turns: neighbouring untaken runs of
        // 8+ digits that together reach 12.
        let mut group: Vec<usize> = Vec::new();
        let mut count = 0;
        let flush = |group: &mut Vec<usize>, count: &mut usize, findings: &mut Vec<Finding>| {
            if *count >= 12 {
                findings.push(Finding {
                    kind: Kind::Pan,
                    leg,
                    words: group.iter().flat_map(|&r| to_call(&runs[r])).collect(),
                    whole_utterance: None,
                    confidence: Confidence::Medium,
                });
            }
            group.clear();
            *count = 0;
        };
        for (r, run) in runs.iter().enumerate() {
            if taken[r] || run.digits.len() < 8 {
                flush(&mut group, &mut count, &mut findings);
                continue;
            }
            if let Some(&prev) = group.last() {
                let gap = words[idx[run.first_word]].word.start
                    - words[idx[runs[prev].last_word]].word.end;
                if gap > cfg.split_gap_s {
                    flush(&mut group, &mut count, &mut findings);
                }
            }
            group.push(r);
            count += run.digits.len();
        }
        flush(&mut group, &mut count, &mut findings);
    }
    // 3. Unsure utterances inside a window are redacted whole.
    let mut done: Vec<usize> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if let Some(k) = hint[i]
            && w.word.confidence < cfg.unsure_below
            && !done.contains(&w.utterance)
        {
            done.push(w.utterance);
            findings.push(Finding {
                kind: k,
                leg: w.leg,
                words: (0..words.len())
                    .filter(|&j| words[j].utterance == w.utterance)
                    .collect(),
                whole_utterance: Some(w.utterance),
                confidence: Confidence::Low,
            });
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words from `(leg, text)` turns, 0.4 s per word, confidence 0.9 unless
    /// the word ends in `~` (then 0.2, and the `~` is dropped).
    fn call(turns: &[(Leg, &str)]) -> Vec<CallWord> {
        let mut t = 0.0;
        let mut out = Vec::new();
        for (u, (leg, text)) in turns.iter().enumerate() {
            for w in text.split_whitespace() {
                let (w, conf) = match w.strip_suffix('~') {
                    Some(x) => (x, 0.2),
                    None => (w, 0.9),
                };
                out.push(CallWord {
                    leg: *leg,
                    utterance: u,
                    word: Word {
                        text: w.to_string(),
                        start: t,
                        end: t + 0.35,
                        confidence: conf,
                    },
                });
                t += 0.4;
            }
            t += 1.0;
        }
        out
    }

    fn redacted(words: &[CallWord], f: &[Finding]) -> String {
        let gone: Vec<usize> = f.iter().flat_map(|f| f.words.iter().copied()).collect();
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if gone.contains(&i) {
                    "#"
                } else {
                    w.word.text.as_str()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    use Leg::{Agent as A, Customer as C};

    #[test]
    fn a_pan_in_context_and_its_cvv_and_expiry_are_found() {
        let w = call(&[
            (A, "Can I take the long number on the front of the card?"),
            (C, "Yes it's 4111 1111 1111 1111."),
            (A, "And the three digits on the back?"),
            (C, "It's 737."),
            (A, "And the expiry date?"),
            (C, "September twenty seven."),
            (A, "Thank you."),
        ]);
        let f = detect(&w, &DetectConfig::default());
        let text = redacted(&w, &f);
        assert_eq!(
            text,
            "Can I take the long number on the front of the card? Yes it's # # # # \
             And the three digits on the back? It's # And the expiry date? # # # Thank you."
        );
        assert!(
            f.iter()
                .any(|x| x.kind == Kind::Pan && x.confidence == Confidence::High)
        );
        assert!(f.iter().any(|x| x.kind == Kind::Cvv));
        assert!(f.iter().any(|x| x.kind == Kind::Expiry));
    }

    #[test]
    fn a_long_run_is_a_pan_even_without_context_and_miscounted() {
        // 17 digits (whisper added one), no trigger phrase, not Luhn-valid.
        let w = call(&[(C, "ok so 4532 7718 0964 12345 right")]);
        let f = detect(&w, &DetectConfig::default());
        assert_eq!(redacted(&w, &f), "ok so # # # # right");
        assert_eq!(f[0].confidence, Confidence::Medium);
    }

    #[test]
    fn a_number_split_over_two_turns_is_found() {
        let w = call(&[(C, "it's 4111 1111"), (A, "yes, go on"), (C, "1111 1111")]);
        let f = detect(&w, &DetectConfig::default());
        assert_eq!(redacted(&w, &f), "it's # # yes, go on # #");
    }

    #[test]
    fn distractors_outside_payment_talk_survive() {
        let w = call(&[
            (C, "my order number is 58213 6690 and my zip is 57139"),
            (A, "the total was forty nine ninety nine, card ending 1234"),
            (C, "call me on 555 0142"),
        ]);
        let f = detect(&w, &DetectConfig::default());
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn garbled_digits_in_the_window_take_the_utterance_with_them() {
        let w = call(&[
            (A, "what is the card number?"),
            (C, "Gun-Ho-Hine~ five five"),
            (A, "thanks"),
        ]);
        let f = detect(&w, &DetectConfig::default());
        assert_eq!(redacted(&w, &f), "what is the card number? # # # thanks");
        assert!(
            f.iter()
                .any(|x| x.whole_utterance == Some(1) && x.confidence == Confidence::Low)
        );
    }

    #[test]
    fn the_window_closes() {
        let mut w = call(&[(A, "and the security code please"), (C, "123")]);
        // Much later, an ordinary number.
        let late = call(&[(C, "I have 2 sofas")]);
        for mut x in late {
            x.word.start += 200.0;
            x.word.end += 200.0;
            x.utterance += 2;
            w.push(x);
        }
        let f = detect(&w, &DetectConfig::default());
        assert_eq!(
            redacted(&w, &f),
            "and the security code please # I have 2 sofas"
        );
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid(&[
            4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
        ]));
        assert!(!luhn_valid(&[
            4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2
        ]));
    }
}
