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
    /// Word confidence under which, inside a window, a word is unsure.
    pub unsure_below: f32,
    /// Longest pause between two parts of one number, seconds.
    pub split_gap_s: f64,
    /// A pause longer than this inside one leg ends a digit run, seconds.
    pub run_gap_s: f64,
    /// How long an identity question ("order number", "zip code") marks the
    /// numbers that follow as not card data, seconds.
    pub distractor_s: f64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            window_s: 45.0,
            unsure_below: 0.6,
            split_gap_s: 15.0,
            run_gap_s: 3.0,
            distractor_s: 20.0,
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
/// The payment is over: the window closes.
const DONE_PHRASES: &[&[&str]] = &[
    &["been", "accepted"],
    &["been", "approved"],
    &["been", "processed"],
    &["been", "charged"],
    &["gone", "through"],
    &["went", "through"],
    &["payment", "complete"],
    &["payment", "is", "complete"],
    &["payment", "successful"],
    &["payment", "was", "successful"],
];
/// Identity questions: the numbers that follow are not card data.
const DISTRACTOR_PHRASES: &[&[&str]] = &[
    &["order", "number"],
    &["reference", "number"],
    &["phone", "number"],
    &["telephone", "number"],
    &["mobile", "number"],
    &["tracking", "number"],
    &["case", "number"],
    &["ticket", "number"],
    &["invoice", "number"],
    &["confirmation", "number"],
    &["zip", "code"],
    &["zip"],
    &["postcode"],
    &["post", "code"],
    &["postal", "code"],
    &["date", "of", "birth"],
];
/// Words that announce the last four digits, which may stay.
const LAST_FOUR_CUES: &[&[&str]] = &[
    &["ending"],
    &["ending", "in"],
    &["ends", "in"],
    &["ends", "with"],
    &["last", "four"],
    &["last", "4"],
    &["last", "four", "digits"],
    &["last", "4", "digits"],
];
/// Words after a number that make it an amount.
const AMOUNT_UNITS: &[&str] = &[
    "dollar", "dollars", "pound", "pounds", "euro", "euros", "cent", "cents", "pence", "percent",
];
/// Everyday words that whisper's low confidence on does not make suspect:
/// an unsure "and" or "goodbye" is not a garbled digit. Words that sound like
/// digits ("to", "for", "won", "ate", "free", "fine", "hey", "oh") are
/// deliberately absent.
const COMMON_WORDS: &[&str] = &[
    "a", "about", "account", "accepted", "again", "all", "alright", "am", "an", "and", "any",
    "anything", "are", "at", "back", "be", "been", "bye", "can", "card", "code", "confirm",
    "correct", "could", "date", "day", "did", "digits", "do", "does", "done", "else", "enter",
    "expiry", "finally", "first", "from", "go", "good", "goodbye", "got", "great", "has", "hash",
    "have", "hello", "help", "hi", "how", "i", "im", "in", "is", "it", "its", "just", "key",
    "keypad", "let", "lovely", "me", "month", "my", "next", "no", "now", "number", "numbers", "of",
    "ok", "okay", "on", "one", "please", "press", "ready", "right", "security", "so", "sure",
    "take", "thank", "thanks", "that", "thats", "the", "then", "there", "this", "today", "wait",
    "was", "we", "well", "what", "when", "where", "will", "with", "year", "yeah", "yes", "you",
    "your", "youre",
];

/// The phrase from `phrases` starting at word `i`, as its length in words.
fn phrase_at(normed: &[String], i: usize, phrases: &[&[&str]]) -> Option<usize> {
    phrases
        .iter()
        .find(|p| {
            p.iter()
                .enumerate()
                .all(|(k, w)| normed.get(i + k).is_some_and(|n| n == w))
        })
        .map(|p| p.len())
}

/// The trigger kind starting at word `i` and its length in words, if any.
fn trigger_at(normed: &[String], i: usize) -> Option<(Kind, usize)> {
    [
        (Kind::Cvv, CVV_PHRASES),
        (Kind::Expiry, EXPIRY_PHRASES),
        (Kind::Pan, PAN_PHRASES),
    ]
    .into_iter()
    .find_map(|(kind, phrases)| phrase_at(normed, i, phrases).map(|n| (kind, n)))
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

/// Stands in for trigger words and long pauses in a leg's word list: an
/// ordinary word, so it ends a digit run.
const BREAK: &str = "\u{1}break";

/// Whether an unsure word may hide a number: a number word, or anything
/// that is not an everyday word (whisper's garbles of digits).
fn suspect(normed: &str, text: &str) -> bool {
    numbers::is_number_word(text) || !COMMON_WORDS.contains(&normed)
}

/// What the detector found, and when payment talk was going on.
#[derive(Debug, Clone, Default)]
pub struct Detection {
    /// The redactions.
    pub findings: Vec<Finding>,
    /// Payment windows `(open, close)`, seconds: speech in them that has no
    /// usable transcript must be redacted whole.
    pub windows: Vec<(f64, f64)>,
}

/// Finds what must be redacted in a call's words (both legs, in time order).
pub fn detect(words: &[CallWord], cfg: &DetectConfig) -> Vec<Finding> {
    detect_all(words, cfg).findings
}

/// [`detect`], also returning the payment windows.
pub fn detect_all(words: &[CallWord], cfg: &DetectConfig) -> Detection {
    let normed: Vec<String> = words.iter().map(|w| norm(&w.word.text)).collect();
    // 1. Payment windows (per word, the kind hint if inside one) and
    //    identity-question contexts (per word, whether one is open and no
    //    payment window is).
    let mut hint: Vec<Option<Kind>> = vec![None; words.len()];
    let mut identity = vec![false; words.len()];
    // Words of trigger phrases ("three digits on the back") are not numbers.
    let mut trigger_word = vec![false; words.len()];
    let mut windows: Vec<(f64, f64)> = Vec::new();
    let mut open: Option<(Kind, f64, f64)> = None; // (kind, opened, closes at)
    let mut distractor_until = f64::NEG_INFINITY;
    let mut close = |open: &mut Option<(Kind, f64, f64)>, at: f64| {
        if let Some((_, from, until)) = open.take() {
            windows.push((from, until.min(at)));
        }
    };
    for i in 0..words.len() {
        let t = words[i].word.start;
        if open.is_some_and(|(_, _, until)| t > until) {
            close(&mut open, f64::INFINITY);
        }
        if let Some((k, len)) = trigger_at(&normed, i) {
            let from = open.map_or(t, |(_, from, _)| from);
            open = Some((k, from, t + cfg.window_s));
            distractor_until = f64::NEG_INFINITY;
            trigger_word[i..(i + len).min(words.len())].fill(true);
        } else if let Some(len) = phrase_at(&normed, i, DISTRACTOR_PHRASES) {
            distractor_until = t + cfg.distractor_s;
            trigger_word[i..(i + len).min(words.len())].fill(true);
        }
        if let Some((k, _, until)) = open.as_mut() {
            hint[i] = Some(*k);
            if numbers::is_number_word(&words[i].word.text) {
                *until = until.max(t + cfg.window_s);
            }
        } else {
            identity[i] = t <= distractor_until;
        }
        if let Some(len) = phrase_at(&normed, i, DONE_PHRASES) {
            let end = words[(i + len - 1).min(words.len() - 1)].word.end;
            close(&mut open, end);
        }
    }
    close(&mut open, f64::INFINITY);

    let mut findings = Vec::new();
    // Words that are last-four read-backs or amounts: never unsure.
    let mut cleared = vec![false; words.len()];
    // 2. Digit runs per leg.
    for leg in Leg::BOTH {
        // The leg's words, with a breaker at each long pause;
        // `idx` maps them back to `words` (a breaker maps to the word before).
        let mut idx: Vec<usize> = Vec::new();
        let mut leg_words: Vec<&str> = Vec::new();
        let mut last_end: Option<f64> = None;
        for i in (0..words.len()).filter(|&i| words[i].leg == leg) {
            if let Some(e) = last_end
                && words[i].word.start - e > cfg.run_gap_s
            {
                idx.push(*idx.last().expect("a word came before"));
                leg_words.push(BREAK);
            }
            last_end = Some(words[i].word.end);
            idx.push(i);
            leg_words.push(if trigger_word[i] {
                BREAK
            } else {
                words[i].word.text.as_str()
            });
        }
        let leg_normed: Vec<String> = leg_words.iter().map(|w| norm(w)).collect();
        let runs: Vec<DigitRun> = numbers::digit_runs(&leg_words);
        let to_call = |run: &DigitRun| -> Vec<usize> {
            let mut v: Vec<usize> = run.digits.iter().map(|d| idx[d.word]).collect();
            v.dedup();
            v
        };
        // Runs that are not card data whatever their length (said after an
        // identity question, outside payment talk): the split rule skips them.
        let mut excluded = vec![false; runs.len()];
        let mut taken = vec![false; runs.len()];
        for (r, run) in runs.iter().enumerate() {
            let first = idx[run.first_word];
            let digits: Vec<u8> = run.digits.iter().map(|d| d.digit).collect();
            let in_window = hint[first].or(hint[idx[run.last_word]]);
            let card_like = (13..=19).contains(&digits.len()) && luhn_valid(&digits);
            let last_four = digits.len() == 4
                && (1..=3).any(|back| {
                    run.first_word >= back
                        && phrase_at(&leg_normed, run.first_word - back, LAST_FOUR_CUES)
                            == Some(back)
                });
            let amount = digits.len() < 12
                && ((run.first_word..=run.last_word)
                    .any(|w| leg_words[w].contains(['$', '£', '€']))
                    || leg_normed
                        .get(run.last_word + 1)
                        .is_some_and(|n| AMOUNT_UNITS.contains(&n.as_str())));
            if last_four || amount {
                for w in to_call(run) {
                    cleared[w] = true;
                }
                continue;
            }
            if in_window.is_none() && identity[first] && !card_like {
                excluded[r] = true;
                continue;
            }
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
                let confidence = if kind == Kind::Pan && card_like {
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
            if taken[r] || excluded[r] || run.digits.len() < 8 {
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
    // 3. Utterances inside a window with an unsure word that may hide a
    //    number are redacted whole.
    let mut done: Vec<usize> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if let Some(k) = hint[i]
            && w.word.confidence < cfg.unsure_below
            && !trigger_word[i]
            && !cleared[i]
            && suspect(&normed[i], &w.word.text)
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
    Detection { findings, windows }
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
    fn identity_numbers_survive_even_when_long() {
        // A 12-digit order number read in groups, a phone number and a zip
        // code, one after another, before any payment talk.
        let w = call(&[
            (A, "Do you have the order number there?"),
            (C, "Yes, it's 5895 1035 7131."),
            (A, "Can I also take the phone number on the account?"),
            (C, "My number is 398 555 0122."),
            (A, "And the zip code?"),
            (C, "13148."),
        ]);
        let f = detect(&w, &DetectConfig::default());
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn a_card_number_after_an_identity_question_is_still_a_pan() {
        // Luhn-valid card length: the identity context does not excuse it.
        let w = call(&[(A, "and your order number?"), (C, "4111 1111 1111 1111")]);
        let f = detect(&w, &DetectConfig::default());
        assert_eq!(redacted(&w, &f), "and your order number? # # # #");
    }

    #[test]
    fn payment_talk_beats_identity_context() {
        let w = call(&[
            (A, "thanks, and the card number and zip code please"),
            (C, "5895 1035 7131 5"),
        ]);
        let f = detect(&w, &DetectConfig::default());
        assert_eq!(
            redacted(&w, &f),
            "thanks, and the card number and zip code please # # # #"
        );
    }

    #[test]
    fn last_four_and_amounts_in_payment_talk_stay() {
        let w = call(&[
            (A, "and the security code?"),
            (C, "737"),
            (A, "the card ending 1234 has been charged $244."),
            (A, "that was 49 dollars"),
        ]);
        let f = detect(&w, &DetectConfig::default());
        assert_eq!(
            redacted(&w, &f),
            "and the security code? # the card ending 1234 has been charged $244. that was 49 dollars"
        );
    }

    #[test]
    fn unsure_everyday_words_do_not_take_the_utterance() {
        let w = call(&[
            (A, "what is the card number?"),
            (C, "okay~ let me see"),
            (C, "right~ Gun-Ho-Hine~"),
        ]);
        let f = detect(&w, &DetectConfig::default());
        assert_eq!(
            redacted(&w, &f),
            "what is the card number? okay let me see # #"
        );
    }

    #[test]
    fn a_finished_payment_closes_the_window() {
        let w = call(&[
            (A, "and the expiry date?"),
            (C, "09 27"),
            (A, "thank you, that payment has been accepted"),
            (C, "great~ I have 2 sofas to return"),
        ]);
        let f = detect(&w, &DetectConfig::default());
        assert_eq!(
            redacted(&w, &f),
            "and the expiry date? # # thank you, that payment has been accepted \
             great I have 2 sofas to return"
        );
    }

    #[test]
    fn a_long_pause_ends_a_run() {
        // 10 digits, then 4 s later 2 more: two numbers, not a 12-digit PAN.
        let mut w = call(&[(C, "2096 544 884")]);
        let mut late = call(&[(C, "14 June")]);
        for x in &mut late {
            x.word.start += 6.0;
            x.word.end += 6.0;
            x.utterance += 1;
        }
        w.extend(late);
        let f = detect(&w, &DetectConfig::default());
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn payment_windows_are_reported() {
        let w = call(&[(A, "the card number please"), (C, "ok")]);
        let d = detect_all(&w, &DetectConfig::default());
        assert_eq!(d.windows.len(), 1);
        let (a, b) = d.windows[0];
        assert!(a <= w[1].word.start && b >= w[4].word.start + 40.0);
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
