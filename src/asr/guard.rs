//! The hallucination guard: rules applied to every whisper result.
//!
//! 1. A segment whisper itself rates as probably non-speech
//!    (`no_speech_prob` above [`GuardConfig::max_no_speech`]) with low token
//!    confidence contributes nothing.
//! 2. Loops: an n-gram of 1–4 words repeated more than
//!    [`GuardConfig::max_repeats`] times in a row is cut to one occurrence.
//!    Numbers are exempt up to [`MAX_NUMBER_REPEATS`]: "one one one one" is
//!    a card group, and cutting digits would hide them from redaction.
//! 3. Rate: no utterance can hold more than
//!    `max_words_per_s × duration + 2` words (people say at most ~4–5 words
//!    a second); anything beyond is dropped.
//! 4. Annotations whisper writes for non-speech (`[BLANK_AUDIO]`,
//!    `[ Silence ]`, `(music)`, `*laughs*`) are not words.
//! 5. Stock phrases whisper is known to invent on near-silence ("thank you
//!    for watching", "subtitles by") are dropped when they are all there is.

use super::{Word, fold as norm};

/// Thresholds of the guard.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    /// Highest acceptable segment no-speech probability (with low confidence).
    pub max_no_speech: f32,
    /// Token confidence under which a probable non-speech segment is dropped.
    pub min_confidence: f32,
    /// Allowed consecutive repetitions of the same n-gram.
    pub max_repeats: usize,
    /// Most words per second of audio.
    pub max_words_per_s: f64,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_no_speech: 0.6,
            min_confidence: 0.5,
            max_repeats: 2,
            max_words_per_s: 6.0,
        }
    }
}

const STOCK_PHRASES: &[&str] = &[
    "thank you for watching",
    "thanks for watching",
    "subtitles by",
    "please subscribe",
    "you",
];

/// Repeats of a number n-gram that are still believable speech.
pub const MAX_NUMBER_REPEATS: usize = 8;

const NUMBER_WORDS: &[&str] = &[
    "zero", "oh", "o", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "ten", "double", "triple",
];

fn is_number(w: &str) -> bool {
    !w.is_empty() && (w.chars().all(|c| c.is_ascii_digit()) || NUMBER_WORDS.contains(&w))
}

/// Removes looping n-grams in place; returns how many words went.
pub fn cut_loops(words: &mut Vec<Word>, max_repeats: usize) -> usize {
    let before = words.len();
    let mut n = 1;
    while n <= 4 {
        let mut i = 0;
        let mut changed = false;
        while i + n <= words.len() {
            let gram: Vec<String> = words[i..i + n].iter().map(|w| norm(&w.text)).collect();
            let mut reps = 1;
            while i + (reps + 1) * n <= words.len()
                && words[i + reps * n..i + (reps + 1) * n]
                    .iter()
                    .map(|w| norm(&w.text))
                    .eq(gram.iter().cloned())
            {
                reps += 1;
            }
            let allowed = if gram.iter().all(|g| is_number(g)) {
                MAX_NUMBER_REPEATS
            } else {
                max_repeats
            };
            if reps > allowed && gram.iter().any(|g| !g.is_empty()) {
                words.drain(i + n..i + reps * n);
                changed = true;
            }
            i += 1;
        }
        if !changed {
            n += 1;
        }
    }
    before - words.len()
}

/// Removes bracketed non-speech annotations; returns how many words went.
pub fn strip_annotations(words: &mut Vec<Word>) -> usize {
    let before = words.len();
    let mut inside: Option<char> = None;
    words.retain(|w| {
        let t = w.text.trim();
        let keep = inside.is_none() && !matches!(t.chars().next(), Some('[' | '(' | '*'));
        let open = match inside {
            Some(close) => {
                (!t.ends_with(close) && !t.ends_with(&format!("{close}."))).then_some(close)
            }
            None => match t.chars().next() {
                Some('[') => Some(']'),
                Some('(') => Some(')'),
                Some('*') => Some('*'),
                _ => None,
            }
            .filter(|&close| {
                !(t.len() > 1 && (t.ends_with(close) || t.ends_with(&format!("{close}."))))
            }),
        };
        inside = open;
        keep
    });
    before - words.len()
}

/// Applies rules 3 and 5 to an utterance's words; returns how many went.
pub fn limit(words: &mut Vec<Word>, duration_s: f64, cfg: &GuardConfig) -> usize {
    let before = words.len();
    let max = (cfg.max_words_per_s * duration_s).floor() as usize + 2;
    words.truncate(max);
    let joined: Vec<String> = words
        .iter()
        .map(|w| norm(&w.text))
        .filter(|w| !w.is_empty())
        .collect();
    let phrase = joined.join(" ");
    if STOCK_PHRASES.contains(&phrase.as_str()) && duration_s < 3.0 {
        words.clear();
    }
    before - words.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Word> {
        s.split_whitespace()
            .enumerate()
            .map(|(i, w)| Word {
                text: w.to_string(),
                start: i as f64 * 0.3,
                end: i as f64 * 0.3 + 0.25,
                confidence: 0.9,
                digit_p: None,
            })
            .collect()
    }

    fn text(w: &[Word]) -> String {
        w.iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn loops_are_cut_but_ordinary_repeats_stay() {
        let mut w = words("the the the the the the end");
        assert_eq!(cut_loops(&mut w, 2), 5);
        assert_eq!(text(&w), "the end");
        // A card group read as digits survives; a digit loop beyond belief does not.
        let mut w = words("one one one one one one one one two");
        assert_eq!(cut_loops(&mut w, 2), 0);
        let mut w = words(&"one ".repeat(20));
        cut_loops(&mut w, 2);
        assert_eq!(w.len(), 1);
        let mut w = words("I'm sorry, I'm sorry, I'm sorry, I'm sorry, I'm sorry. Bye.");
        cut_loops(&mut w, 2);
        assert_eq!(text(&w), "I'm sorry, Bye.");
        let mut w = words("no no that is not right");
        assert_eq!(cut_loops(&mut w, 2), 0);
        // Digits said twice ("double") are not a loop.
        let mut w = words("four four one one");
        assert_eq!(cut_loops(&mut w, 2), 0);
    }

    #[test]
    fn a_short_bye_cannot_carry_ninety_words() {
        let long = "Bye. ".to_string() + &"and then we went to the shop ".repeat(13);
        let mut w = words(&long);
        let dropped = limit(&mut w, 0.6, &GuardConfig::default());
        assert!(w.len() <= 5, "{}", w.len());
        assert!(dropped >= 85);
    }

    #[test]
    fn annotations_are_not_words() {
        let mut w = words("[BLANK_AUDIO]");
        assert_eq!(strip_annotations(&mut w), 1);
        let mut w = words("[ Silence ] hello (music playing) there *laughs* ok");
        strip_annotations(&mut w);
        assert_eq!(text(&w), "hello there ok");
    }

    #[test]
    fn stock_phrases_on_short_clips_are_dropped() {
        let mut w = words("Thank you for watching!");
        limit(&mut w, 1.0, &GuardConfig::default());
        assert!(w.is_empty());
        let mut w = words("Thank you for waiting");
        limit(&mut w, 1.0, &GuardConfig::default());
        assert_eq!(w.len(), 4);
    }
}
