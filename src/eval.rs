//! Scoring against the corpus truth files (`tests/`, `examples/`): word
//! errors (case and punctuation dropped, numbers compared digit by digit,
//! word-level edit distance) and timed events such as interruptions and
//! backchannels (precision, recall, F1).

const UNITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
const TEENS: [&str; 10] = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Words for WER scoring, as the corpus README says: case and punctuation
/// dropped, numbers compared digit by digit (`$49.99` = "forty nine ninety
/// nine", "oh" = 0 between digits is left as a word).
pub fn score_words(text: &str) -> Vec<String> {
    let toks: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let w = toks[i].as_str();
        if w.chars().all(|c| c.is_ascii_digit()) {
            out.extend(w.chars().map(String::from));
        } else if let Some(d) = UNITS.iter().position(|x| *x == w) {
            out.push(d.to_string());
        } else if let Some(d) = TEENS.iter().position(|x| *x == w) {
            out.push("1".into());
            out.push(d.to_string());
        } else if let Some(d) = TENS.iter().position(|x| *x == w) {
            out.push((d + 2).to_string());
            match toks
                .get(i + 1)
                .and_then(|n| UNITS[1..].iter().position(|x| x == n))
            {
                Some(u) => {
                    out.push((u + 1).to_string());
                    i += 1;
                }
                None => out.push("0".into()),
            }
        } else {
            out.push(w.to_string());
        }
        i += 1;
    }
    out
}

/// Word-level edit distance between a reference and a hypothesis.
pub fn edits(r: &[String], h: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for i in 1..=r.len() {
        let mut cur = vec![i; h.len() + 1];
        for j in 1..=h.len() {
            cur[j] = (prev[j - 1] + usize::from(r[i - 1] != h[j - 1]))
                .min(prev[j] + 1)
                .min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[h.len()]
}

/// Word error rate of `hypothesis` against `reference` (see [`score_words`]).
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let r = score_words(reference);
    edits(&r, &score_words(hypothesis)) as f64 / r.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_digit_by_digit_whatever_their_spelling() {
        let digits = score_words("$49.99");
        assert_eq!(digits, ["4", "9", "9", "9"]);
        assert_eq!(score_words("forty nine ninety-nine"), digits);
        assert_eq!(score_words("Twenty, fourteen."), ["2", "0", "1", "4"]);
        assert_eq!(score_words("I'll CALL you"), ["i'll", "call", "you"]);
    }

    #[test]
    fn word_error_rate_counts_substitutions_insertions_and_deletions() {
        assert_eq!(wer("the card number", "the card number"), 0.0);
        assert_eq!(wer("the card number", "a card"), 2.0 / 3.0);
        assert_eq!(wer("yes", "yes yes yes"), 2.0);
        assert_eq!(edits(&score_words(""), &score_words("one two")), 2);
    }
}

/// Precision/recall counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Matched.
    pub tp: usize,
    /// Reported but not true.
    pub fp: usize,
    /// True but not reported.
    pub fn_: usize,
}

impl Counts {
    /// Adds another set of counts.
    pub fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }

    /// Precision (1 when nothing was reported).
    pub fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }

    /// Recall (1 when nothing was true).
    pub fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }

    /// F1.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Timed events (`{"t", "by", ...}`, as interruptions and backchannels are
/// in truth files and reports) matched one to one within `tolerance_s` of
/// `t` with the same `by`.
pub fn score_timed(
    truth: &[serde_json::Value],
    found: &[serde_json::Value],
    tolerance_s: f64,
) -> Counts {
    let mut used = vec![false; found.len()];
    let mut c = Counts::default();
    for t in truth {
        let tt = t["t"].as_f64().unwrap_or(f64::NAN);
        let hit = found.iter().enumerate().position(|(i, f)| {
            !used[i]
                && f["by"] == t["by"]
                && f["t"]
                    .as_f64()
                    .is_some_and(|ft| (ft - tt).abs() <= tolerance_s)
        });
        match hit {
            Some(i) => {
                used[i] = true;
                c.tp += 1;
            }
            None => c.fn_ += 1,
        }
    }
    c.fp = used.iter().filter(|u| !**u).count();
    c
}
