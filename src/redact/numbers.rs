//! Spoken-number normaliser: whisper words in, runs of digits out.
//!
//! Callers read card numbers, expiry dates and security codes aloud, and
//! whisper writes them every way it can: `4532-7718-0964-1234`, `4532,`,
//! `four five three two`, `forty-five thirty-two`, `double seven`,
//! `oh nine twenty seven`. [`digit_runs`] turns one leg's words into
//! [`DigitRun`]s: maximal stretches of digits, each digit tied to the word it
//! came from, so the redactor can decide what is card data and blank exactly
//! those words.
//!
//! ## Rules
//!
//! * **Numerals.** Every ASCII digit in a word is a digit, whatever separators
//!   or punctuation surround it: `4532-7718`, `4,532`, `(4532)`, `4532.` and
//!   `3rd` all give digits, and one word may give many. A word that mixes
//!   digits with other letters (`No.4532`, `A4`) still gives its digits: a
//!   digit must never escape redaction because of what whisper glued to it.
//! * **Digit words**, any case, punctuation ignored: `zero`, `nought`,
//!   `naught`, `one` … `nine`. `oh` and `o` are zero only next to other
//!   digits (`oh nine`, `four oh five`, `double oh`); elsewhere (`oh I see`)
//!   they are ordinary words.
//! * **Repeats**: `double five` is 5 5, `triple seven` (or `treble seven`)
//!   7 7 7. A repeat not followed by a digit (`a double room`) is an ordinary
//!   word.
//! * **Teens and tens** are read the way digit groups are spoken:
//!   `nineteen` 19, `twenty` 20, `forty one` and `forty-one` 41, so
//!   `twenty twenty seven` is 2 0 2 7 and `forty nine ninety nine` 4 9 9 9.
//!   Ordinals (`first`, `twenty-seventh`, `12th`) give their number, for
//!   dates.
//! * **Amounts** with `hundred`, `thousand` or `million` are read as one
//!   number: `one hundred and five` 105, `two thousand and twenty four` 2024,
//!   `twenty five hundred` 2500, `three hundred` 300, a bare `hundred` 100,
//!   `5 hundred` 500. `and` belongs to an amount only between a scale word
//!   and the rest of the amount.
//! * **Inside a run**, words with no letter or digit (`,`, `-`, `/`, `...`)
//!   and hesitations (`um`, `uh`, `er`, `erm`, `ah`, `hmm`) are skipped. Any
//!   other word ends the run: `and` outside an amount, and words such as
//!   `yes` or `on`, so "four five, yes, go on, six seven" is two runs.
//!   Whisper's garbles (`Gun-Ho-Hine`) are ordinary words.
//!
//! A run does not say what its digits are (a card number, a date, an amount,
//! "two cats"): length, Luhn and context are for the caller to judge.
//!
//! The words are unredacted speech. Nothing here logs them, and the `Debug`
//! output of [`DigitToken`] and [`DigitRun`] shows no digit.

use std::fmt;

use crate::asr::Word;

/// One digit and the word it came from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DigitToken {
    /// The digit, 0–9.
    pub digit: u8,
    /// Index of the source word in the input slice.
    pub word: usize,
}

impl fmt::Debug for DigitToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigitToken")
            .field("word", &self.word)
            .finish_non_exhaustive()
    }
}

/// A maximal stretch of digits read from consecutive number-bearing words.
#[derive(Clone, PartialEq, Eq)]
pub struct DigitRun {
    /// The digits in spoken order (never empty).
    pub digits: Vec<DigitToken>,
    /// Index of the first word that gave a digit.
    pub first_word: usize,
    /// Index of the last word that gave a digit. Words in between that gave
    /// none (separators, hesitations, `and` inside an amount) are part of the
    /// run's span.
    pub last_word: usize,
}

impl fmt::Debug for DigitRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigitRun")
            .field("len", &self.digits.len())
            .field("first_word", &self.first_word)
            .field("last_word", &self.last_word)
            .finish_non_exhaustive()
    }
}

/// The digit runs in one leg's words, in order (see the module rules).
///
/// `words` are whisper's words, one per element, punctuation attached.
pub fn digit_runs(words: &[&str]) -> Vec<DigitRun> {
    runs_by(words.len(), |i| words[i])
}

/// [`digit_runs`] over a transcript's [`Word`]s; `DigitToken::word` indexes
/// `words`.
pub fn digit_runs_in_words(words: &[Word]) -> Vec<DigitRun> {
    runs_by(words.len(), |i| words[i].text.as_str())
}

/// Whether `w` carries or modifies a number on its own: a numeral (any
/// punctuation, or letters glued to digits), a digit word including `oh`,
/// `o`, `zero` and `nought`, a teen, a tens word, an ordinal, `double` /
/// `triple` / `treble`, or `hundred` / `thousand` / `million`; also
/// hyphenated mixes (`forty-one`, `twenty-seventh`). Not `and`, separators
/// or hesitations. Context is ignored: "oh" in "oh I see" is a number word
/// here, though [`digit_runs`] gives it no digit.
pub fn is_number_word(w: &str) -> bool {
    matches!(classify(w), Class::Number | Class::Mixed)
}

/// The month a word names, 1–12: `January` … `December` and their
/// three-letter abbreviations (and `Sept`), any case, surrounding
/// punctuation ignored (`Jan.`, `March,`).
pub fn month(w: &str) -> Option<u8> {
    let w = w.trim_matches(|c: char| !c.is_alphanumeric());
    MONTHS
        .iter()
        .find(|(name, _)| w.eq_ignore_ascii_case(name))
        .map(|&(_, m)| m)
}

/// The run's digits as a string of `0`–`9`. Unredacted card data: for tests
/// and for the redactor's own checks, never for logs.
pub fn words_to_digits_string(run: &DigitRun) -> String {
    run.digits
        .iter()
        .map(|t| char::from(b'0' + t.digit))
        .collect()
}

const MONTHS: &[(&str, u8)] = &[
    ("january", 1),
    ("jan", 1),
    ("february", 2),
    ("feb", 2),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("may", 5),
    ("june", 6),
    ("jun", 6),
    ("july", 7),
    ("jul", 7),
    ("august", 8),
    ("aug", 8),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("october", 10),
    ("oct", 10),
    ("november", 11),
    ("nov", 11),
    ("december", 12),
    ("dec", 12),
];

/// What one alphanumeric part of a word means to the number grammar.
///
/// No `Debug`: it would show digits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// ASCII digits in bytes `start..end` of the word (anything else there
    /// is skipped); `count` of them, the first up to three in `head`.
    Numeral {
        start: usize,
        end: usize,
        count: usize,
        head: [u8; 3],
    },
    /// 0–9: a digit word or a unit ordinal (`first` … `ninth`).
    Unit { value: u8, ordinal: bool },
    /// `oh` or `o`: zero next to digits, an ordinary word elsewhere.
    Oh,
    /// 10–19.
    Teen { value: u8, ordinal: bool },
    /// 20, 30 … 90, as the tens digit.
    Tens { tens: u8, ordinal: bool },
    /// `hundred`, `thousand`, `million`, as a power of ten.
    Scale(u8),
    /// `double`, `triple`: how many times the next digit is said.
    Repeat(u8),
    /// `and`: inside an amount, or a breaker.
    And,
    /// Any other word: ends a run.
    Break,
}

const fn unit(value: u8) -> Kind {
    Kind::Unit {
        value,
        ordinal: false,
    }
}
const fn unit_th(value: u8) -> Kind {
    Kind::Unit {
        value,
        ordinal: true,
    }
}
const fn teen(value: u8) -> Kind {
    Kind::Teen {
        value,
        ordinal: false,
    }
}
const fn teen_th(value: u8) -> Kind {
    Kind::Teen {
        value,
        ordinal: true,
    }
}
const fn tens(tens: u8) -> Kind {
    Kind::Tens {
        tens,
        ordinal: false,
    }
}
const fn tens_th(tens: u8) -> Kind {
    Kind::Tens {
        tens,
        ordinal: true,
    }
}

const NUMBER_WORDS: &[(&str, Kind)] = &[
    ("zero", unit(0)),
    ("nought", unit(0)),
    ("naught", unit(0)),
    ("oh", Kind::Oh),
    ("o", Kind::Oh),
    ("one", unit(1)),
    ("two", unit(2)),
    ("three", unit(3)),
    ("four", unit(4)),
    ("five", unit(5)),
    ("six", unit(6)),
    ("seven", unit(7)),
    ("eight", unit(8)),
    ("nine", unit(9)),
    ("first", unit_th(1)),
    ("second", unit_th(2)),
    ("third", unit_th(3)),
    ("fourth", unit_th(4)),
    ("fifth", unit_th(5)),
    ("sixth", unit_th(6)),
    ("seventh", unit_th(7)),
    ("eighth", unit_th(8)),
    ("ninth", unit_th(9)),
    ("ten", teen(10)),
    ("eleven", teen(11)),
    ("twelve", teen(12)),
    ("thirteen", teen(13)),
    ("fourteen", teen(14)),
    ("fifteen", teen(15)),
    ("sixteen", teen(16)),
    ("seventeen", teen(17)),
    ("eighteen", teen(18)),
    ("nineteen", teen(19)),
    ("tenth", teen_th(10)),
    ("eleventh", teen_th(11)),
    ("twelfth", teen_th(12)),
    ("thirteenth", teen_th(13)),
    ("fourteenth", teen_th(14)),
    ("fifteenth", teen_th(15)),
    ("sixteenth", teen_th(16)),
    ("seventeenth", teen_th(17)),
    ("eighteenth", teen_th(18)),
    ("nineteenth", teen_th(19)),
    ("twenty", tens(2)),
    ("thirty", tens(3)),
    ("forty", tens(4)),
    ("fifty", tens(5)),
    ("sixty", tens(6)),
    ("seventy", tens(7)),
    ("eighty", tens(8)),
    ("ninety", tens(9)),
    ("twentieth", tens_th(2)),
    ("thirtieth", tens_th(3)),
    ("fortieth", tens_th(4)),
    ("fiftieth", tens_th(5)),
    ("sixtieth", tens_th(6)),
    ("seventieth", tens_th(7)),
    ("eightieth", tens_th(8)),
    ("ninetieth", tens_th(9)),
    ("hundred", Kind::Scale(2)),
    ("thousand", Kind::Scale(3)),
    ("million", Kind::Scale(6)),
    ("double", Kind::Repeat(2)),
    ("triple", Kind::Repeat(3)),
    ("treble", Kind::Repeat(3)),
    ("and", Kind::And),
];

/// Hesitations skipped inside a run. Acknowledgements (`yes`, `mhm`) are
/// not here: they end a run.
const HESITATIONS: &[&str] = &[
    "um", "umm", "uh", "uhh", "uhm", "er", "erm", "err", "ah", "ahh", "hmm", "hm", "eh",
];

/// One part of the word stream.
#[derive(Clone, Copy)]
struct Atom {
    kind: Kind,
    /// Index of the source word.
    word: usize,
}

/// What a whole word is.
enum Class {
    /// No letter or digit, or a hesitation: skipped.
    Skip,
    /// Every part is a number part (or `and`), at least one not `and`.
    Number,
    /// Has digits among other letters: its digits count, the rest not.
    Mixed,
    /// Only `and`.
    And,
    /// Anything else.
    Other,
}

/// The alphanumeric stretches of `w`, each with its byte offset.
fn parts(w: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut chars = w.char_indices().peekable();
    std::iter::from_fn(move || {
        let start = loop {
            let (i, c) = chars.next()?;
            if c.is_alphanumeric() {
                break i;
            }
        };
        let mut end = w.len();
        while let Some(&(i, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                end = i;
                break;
            }
            chars.next();
        }
        Some((start, &w[start..end]))
    })
}

/// The numeral made of the ASCII digits in `w[start..end]`.
fn numeral(w: &str, start: usize, end: usize) -> Kind {
    let mut count = 0;
    let mut head = [0; 3];
    for b in w.as_bytes()[start..end]
        .iter()
        .filter(|b| b.is_ascii_digit())
    {
        if let Some(h) = head.get_mut(count) {
            *h = b - b'0';
        }
        count += 1;
    }
    Kind::Numeral {
        start,
        end,
        count,
        head,
    }
}

/// The meaning of one part starting at byte `offset` of `w`, or `None` when
/// it is not a number part.
fn part_kind(w: &str, offset: usize, part: &str) -> Option<Kind> {
    let digits = part.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        // Digits alone, or an ordinal numeral: "4532", "3rd", "21st".
        let suffix = &part[digits..];
        let ordinal = ["st", "nd", "rd", "th"]
            .iter()
            .any(|s| suffix.eq_ignore_ascii_case(s));
        return (suffix.is_empty() || ordinal).then(|| numeral(w, offset, offset + digits));
    }
    NUMBER_WORDS
        .iter()
        .find(|(name, _)| part.eq_ignore_ascii_case(name))
        .map(|&(_, kind)| kind)
}

fn classify(w: &str) -> Class {
    let mut any = false;
    let mut numbers = false;
    let mut all = true;
    for (offset, part) in parts(w) {
        any = true;
        match part_kind(w, offset, part) {
            Some(Kind::And) => {}
            Some(_) => numbers = true,
            None => {
                all = false;
                break;
            }
        }
    }
    let bare = w.trim_matches(|c: char| !c.is_alphanumeric());
    if !any || HESITATIONS.iter().any(|h| bare.eq_ignore_ascii_case(h)) {
        Class::Skip
    } else if all && numbers {
        Class::Number
    } else if all {
        Class::And
    } else if w.bytes().any(|b| b.is_ascii_digit()) {
        Class::Mixed
    } else {
        Class::Other
    }
}

/// Appends the atoms of word `index`.
fn push_atoms(w: &str, index: usize, atoms: &mut Vec<Atom>) {
    let atom = |kind| Atom { kind, word: index };
    match classify(w) {
        Class::Skip => {}
        Class::Number => atoms.extend(
            parts(w)
                .filter_map(|(offset, part)| part_kind(w, offset, part))
                .map(atom),
        ),
        Class::Mixed => atoms.push(atom(numeral(w, 0, w.len()))),
        Class::And => atoms.push(atom(Kind::And)),
        Class::Other => atoms.push(atom(Kind::Break)),
    }
}

/// Turns each stretch of `oh`s into zeros when a digit-bearing atom is next
/// to it, and into breakers otherwise.
fn resolve_oh(atoms: &mut [Atom]) {
    let bears_digits = |kind| !matches!(kind, Kind::Oh | Kind::And | Kind::Break);
    let mut i = 0;
    while i < atoms.len() {
        if atoms[i].kind != Kind::Oh {
            i += 1;
            continue;
        }
        let end = i + atoms[i..].iter().take_while(|a| a.kind == Kind::Oh).count();
        let before = i > 0 && bears_digits(atoms[i - 1].kind);
        let after = atoms.get(end).is_some_and(|a| bears_digits(a.kind));
        let kind = if before || after {
            unit(0)
        } else {
            Kind::Break
        };
        for a in &mut atoms[i..end] {
            a.kind = kind;
        }
        i = end;
    }
}

/// Most decimal places an amount may have (999 million … is 9).
const MAX_PLACES: usize = 12;

/// A number being built, least significant place first, each place with the
/// word that gave it.
#[derive(Clone, Copy)]
struct Places {
    low_first: [DigitToken; MAX_PLACES],
    len: usize,
}

impl Places {
    const EMPTY: Places = Places {
        low_first: [DigitToken { digit: 0, word: 0 }; MAX_PLACES],
        len: 0,
    };

    /// The number with these digits, most significant first.
    fn from_high(digits: impl DoubleEndedIterator<Item = DigitToken>) -> Places {
        let mut p = Places::EMPTY;
        for d in digits.rev().take(MAX_PLACES) {
            p.low_first[p.len] = d;
            p.len += 1;
        }
        p
    }

    fn one(digit: u8, word: usize) -> Places {
        Places::from_high([DigitToken { digit, word }].into_iter())
    }

    /// Most significant digit (0 when empty).
    fn top(&self) -> u8 {
        self.len
            .checked_sub(1)
            .map_or(0, |i| self.low_first[i].digit)
    }

    /// Times 10^`exp`; the new zeros come from `word`. `None` past
    /// [`MAX_PLACES`].
    fn scaled(mut self, exp: u8, word: usize) -> Option<Places> {
        let exp = usize::from(exp);
        if self.len + exp > MAX_PLACES {
            return None;
        }
        self.low_first.copy_within(0..self.len, exp);
        self.low_first[..exp].fill(DigitToken { digit: 0, word });
        self.len += exp;
        Some(self)
    }

    /// Adds `low`, which is smaller than the zeros it lands on.
    fn overlay(&mut self, low: &Places) {
        self.low_first[..low.len].copy_from_slice(&low.low_first[..low.len]);
        self.len = self.len.max(low.len);
    }

    fn emit(&self, out: &mut Vec<DigitToken>) {
        out.extend(self.low_first[..self.len].iter().rev());
    }
}

/// A number read from atoms, and the index of the atom after it.
struct Group {
    places: Places,
    next: usize,
    /// Ends in an ordinal ("twenty-seventh"): nothing multiplies it.
    ordinal: bool,
    /// A bare numeral ("20" of "20 thousand").
    numeral: bool,
    /// Contains `hundred`.
    hundred: bool,
}

/// 0–99 in words at atom `j`: a unit, a teen, or tens with an optional
/// unit ("forty one").
fn small(atoms: &[Atom], j: usize) -> Option<Group> {
    let atom = atoms.get(j)?;
    let digit = |digit, word| DigitToken { digit, word };
    let w = atom.word;
    let (places, next, ordinal) = match atom.kind {
        Kind::Unit { value, ordinal } => (Places::one(value, w), j + 1, ordinal),
        Kind::Teen { value, ordinal } => (
            Places::from_high([digit(1, w), digit(value - 10, w)].into_iter()),
            j + 1,
            ordinal,
        ),
        Kind::Tens { tens, ordinal } => match atoms.get(j + 1) {
            Some(&Atom {
                kind:
                    Kind::Unit {
                        value,
                        ordinal: unit_ordinal,
                    },
                word,
            }) if !ordinal && value > 0 => (
                Places::from_high([digit(tens, w), digit(value, word)].into_iter()),
                j + 2,
                unit_ordinal,
            ),
            _ => (
                Places::from_high([digit(tens, w), digit(0, w)].into_iter()),
                j + 1,
                ordinal,
            ),
        },
        _ => return None,
    };
    Some(Group {
        places,
        next,
        ordinal,
        numeral: false,
        hundred: false,
    })
}

/// What may multiply a scale word at atom `j`: 1–99 in words, or a numeral
/// of up to two (before `hundred`) or three digits directly before a scale
/// word ("5 hundred", "20 thousand").
fn lead(atoms: &[Atom], j: usize) -> Option<Group> {
    let atom = atoms.get(j)?;
    if let Kind::Numeral { count, head, .. } = atom.kind {
        let Some(Kind::Scale(exp)) = atoms.get(j + 1).map(|a| a.kind) else {
            return None;
        };
        let most = if exp == 2 { 2 } else { 3 };
        if count == 0 || count > most || head[0] == 0 {
            return None;
        }
        let digits = head[..count].iter().map(|&digit| DigitToken {
            digit,
            word: atom.word,
        });
        return Some(Group {
            places: Places::from_high(digits),
            next: j + 1,
            ordinal: false,
            numeral: true,
            hundred: false,
        });
    }
    small(atoms, j).filter(|g| g.places.top() != 0)
}

/// Below a thousand-scale word, at atom `j`: `[lead] hundred [and] [small]`
/// ("one hundred and five", "twenty five hundred", a bare "hundred"), or a
/// lead alone.
fn group(atoms: &[Atom], j: usize) -> Option<Group> {
    let lead = lead(atoms, j);
    let at = lead.as_ref().map_or(j, |l| l.next);
    let Some(&Atom {
        kind: Kind::Scale(2),
        word: hundred,
    }) = atoms.get(at)
    else {
        return lead;
    };
    if lead.as_ref().is_some_and(|l| l.places.len > 2 || l.ordinal) {
        return lead;
    }
    let base = lead.map_or_else(|| Places::one(1, hundred), |l| l.places);
    let mut places = base.scaled(2, hundred)?;
    let mut next = at + 1;
    let tail_at = if atoms.get(next).is_some_and(|a| a.kind == Kind::And) {
        next + 1
    } else {
        next
    };
    let mut ordinal = false;
    if let Some(tail) = small(atoms, tail_at).filter(|t| t.places.top() != 0) {
        places.overlay(&tail.places);
        next = tail.next;
        ordinal = tail.ordinal;
    }
    Some(Group {
        places,
        next,
        ordinal,
        numeral: false,
        hundred: true,
    })
}

/// An amount with at least one scale word starting at atom `i`
/// ("two thousand and twenty four"), and the index of the atom after it.
fn amount(atoms: &[Atom], i: usize) -> Option<(Places, usize)> {
    let big_scale = |j: usize| match atoms.get(j) {
        Some(&Atom {
            kind: Kind::Scale(exp @ (3 | 6)),
            word,
        }) => Some((exp, word)),
        _ => None,
    };
    let mut total = Places::EMPTY;
    // Most places what follows may fill: the last scale word's exponent.
    let mut limit = usize::MAX;
    let mut k = i;
    if let Some((exp, word)) = big_scale(i) {
        // A bare "thousand" is 1000.
        total = Places::one(1, word).scaled(exp, word)?;
        limit = usize::from(exp);
        k = i + 1;
    }
    loop {
        // "and" joins a scale word to the rest: "two thousand and five".
        let after_and = limit != usize::MAX && atoms.get(k).is_some_and(|a| a.kind == Kind::And);
        let Some(g) = group(atoms, if after_and { k + 1 } else { k }) else {
            break;
        };
        if let Some((exp, word)) = big_scale(g.next)
            && usize::from(exp) < limit
            && g.places.len <= 3
            && !g.ordinal
        {
            total.overlay(&g.places.scaled(exp, word)?);
            limit = usize::from(exp);
            k = g.next + 1;
            continue;
        }
        if !g.numeral && g.places.len <= limit && (g.hundred || limit != usize::MAX) {
            total.overlay(&g.places);
            k = g.next;
        }
        break;
    }
    (total.len > 0).then_some((total, k))
}

/// Appends the digits of numeral bytes `start..end` of `w`.
fn push_numeral(w: &str, start: usize, end: usize, word: usize, out: &mut Vec<DigitToken>) {
    let bytes = w.as_bytes().get(start..end).unwrap_or_default();
    out.extend(
        bytes
            .iter()
            .filter(|b| b.is_ascii_digit())
            .map(|b| DigitToken {
                digit: b - b'0',
                word,
            }),
    );
}

/// Moves the digits gathered so far, if any, into a new run.
fn close_run(digits: &mut Vec<DigitToken>, runs: &mut Vec<DigitRun>) {
    if digits.is_empty() {
        return;
    }
    let digits = std::mem::take(digits);
    let (first_word, last_word) = digits.iter().fold((usize::MAX, 0), |(lo, hi), d| {
        (lo.min(d.word), hi.max(d.word))
    });
    runs.push(DigitRun {
        digits,
        first_word,
        last_word,
    });
}

fn runs_by<'a>(n: usize, text: impl Fn(usize) -> &'a str) -> Vec<DigitRun> {
    let mut atoms = Vec::with_capacity(n);
    for word in 0..n {
        push_atoms(text(word), word, &mut atoms);
    }
    resolve_oh(&mut atoms);

    let mut runs = Vec::new();
    let mut digits = Vec::new();
    let mut i = 0;
    while i < atoms.len() {
        if let Some((places, next)) = amount(&atoms, i) {
            places.emit(&mut digits);
            i = next;
            continue;
        }
        if let Some(g) = small(&atoms, i) {
            g.places.emit(&mut digits);
            i = g.next;
            continue;
        }
        let atom = atoms[i];
        i += 1;
        match atom.kind {
            Kind::Numeral { start, end, .. } => {
                push_numeral(text(atom.word), start, end, atom.word, &mut digits);
            }
            Kind::Repeat(times) => {
                // All but the last copy come from "double"; the said digit
                // follows as usual.
                let first = match atoms.get(i).map(|a| a.kind) {
                    Some(Kind::Unit {
                        value,
                        ordinal: false,
                    }) => Some(value),
                    Some(Kind::Numeral { count, head, .. }) if count > 0 => Some(head[0]),
                    _ => None,
                };
                match first {
                    Some(digit) => {
                        for _ in 1..times {
                            digits.push(DigitToken {
                                digit,
                                word: atom.word,
                            });
                        }
                    }
                    None => close_run(&mut digits, &mut runs),
                }
            }
            // Scale words are taken by `amount`, units, teens and tens by
            // `small`, and `oh` was resolved to a zero or a breaker.
            _ => close_run(&mut digits, &mut runs),
        }
    }
    close_run(&mut digits, &mut runs);
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit strings of each run in `text` (split on spaces).
    fn runs(text: &str) -> Vec<String> {
        let words: Vec<&str> = text.split(' ').collect();
        digit_runs(&words)
            .iter()
            .map(words_to_digits_string)
            .collect()
    }

    /// The single run in `text`'s digits.
    fn one(text: &str) -> String {
        let r = runs(text);
        assert_eq!(r.len(), 1, "expected one run, got {}", r.len());
        r.into_iter().next().unwrap_or_default()
    }

    fn word_indices(run: &DigitRun) -> Vec<usize> {
        run.digits.iter().map(|d| d.word).collect()
    }

    #[test]
    fn numeral_with_dashes_is_one_word_of_digits() {
        let r = digit_runs(&["4532-7718-0964-1234"]);
        assert_eq!(r.len(), 1);
        assert_eq!(words_to_digits_string(&r[0]), "4532771809641234");
        assert!(r[0].digits.iter().all(|d| d.word == 0));
        assert_eq!((r[0].first_word, r[0].last_word), (0, 0));
    }

    #[test]
    fn numeral_groups_with_commas() {
        assert_eq!(one("4532, 77180, 0964"), "4532771800964");
        assert_eq!(digit_runs(&["4532, 77180, 0964"]).len(), 1);
    }

    #[test]
    fn numeral_punctuation_is_ignored() {
        for w in [
            "4532.", "(4532)", "4,532", "4532?", "\"4532\"", "#4532", "45.32",
        ] {
            let r = digit_runs(&[w]);
            assert_eq!(r.len(), 1);
            assert_eq!(words_to_digits_string(&r[0]), "4532");
        }
    }

    #[test]
    fn long_numeral_points_every_digit_at_its_word() {
        let r = digit_runs(&["card", "45327718", "thanks"]);
        assert_eq!(r.len(), 1);
        assert_eq!(words_to_digits_string(&r[0]), "45327718");
        assert_eq!(word_indices(&r[0]), vec![1; 8]);
        assert_eq!((r[0].first_word, r[0].last_word), (1, 1));
    }

    #[test]
    fn numerals_in_separate_words_join() {
        assert_eq!(one("4532 7718 0964 1234"), "4532771809641234");
    }

    #[test]
    fn digits_glued_to_letters_still_count() {
        assert_eq!(one("No.4532"), "4532");
        assert_eq!(one("4532x 7718"), "45327718");
        assert!(is_number_word("No.4532"));
    }

    #[test]
    fn digit_words_any_case_and_punctuation() {
        assert_eq!(one("Five, NINE. zero nought Three!"), "59003");
        assert_eq!(
            one("one two three four five six seven eight nine"),
            "123456789"
        );
    }

    #[test]
    fn oh_and_o_are_zero_next_to_digits() {
        assert_eq!(one("four oh five"), "405");
        assert_eq!(one("o seven"), "07");
        assert_eq!(one("seven, O."), "70");
        assert_eq!(one("oh oh seven"), "007");
    }

    #[test]
    fn oh_alone_is_not_a_digit() {
        assert!(runs("oh I see").is_empty());
        assert!(runs("Oh, okay.").is_empty());
        assert!(runs("oh oh").is_empty());
        assert_eq!(runs("oh I see, four"), ["4"]);
    }

    #[test]
    fn double_and_triple() {
        assert_eq!(one("double five"), "55");
        assert_eq!(one("triple seven"), "777");
        assert_eq!(one("treble two"), "222");
        assert_eq!(one("double oh"), "00");
        assert_eq!(one("double 5"), "55");
        assert_eq!(one("four double oh seven"), "4007");
    }

    #[test]
    fn double_words_point_at_double_then_digit() {
        let r = digit_runs(&["double", "five"]);
        assert_eq!(word_indices(&r[0]), [0, 1]);
        assert_eq!((r[0].first_word, r[0].last_word), (0, 1));
    }

    #[test]
    fn repeat_without_a_digit_breaks() {
        assert!(runs("a double room").is_empty());
        assert_eq!(runs("four double, yes five"), ["4", "5"]);
    }

    #[test]
    fn tens_with_units() {
        assert_eq!(one("forty one"), "41");
        assert_eq!(one("forty-one"), "41");
        assert_eq!(one("Forty-One."), "41");
        assert_eq!(one("ninety-nine"), "99");
    }

    #[test]
    fn tens_alone_and_teens() {
        assert_eq!(one("twenty"), "20");
        assert_eq!(one("nineteen"), "19");
        assert_eq!(one("ten eleven twelve"), "101112");
        assert_eq!(one("twenty oh five"), "2005");
    }

    #[test]
    fn expiry_oh_nine_twenty_seven() {
        assert_eq!(one("oh nine twenty seven"), "0927");
        assert_eq!(one("09/27"), "0927");
    }

    #[test]
    fn year_twenty_twenty_seven() {
        assert_eq!(one("twenty twenty seven"), "2027");
        assert_eq!(one("nineteen ninety nine"), "1999");
    }

    #[test]
    fn digit_groups_in_tens() {
        assert_eq!(one("forty nine ninety nine"), "4999");
        assert_eq!(
            one("forty five thirty two seventy seven eighteen"),
            "45327718"
        );
    }

    #[test]
    fn hundred_and_five() {
        let r = digit_runs(&["one", "hundred", "and", "five"]);
        assert_eq!(r.len(), 1);
        assert_eq!(words_to_digits_string(&r[0]), "105");
        assert_eq!(word_indices(&r[0]), [0, 1, 3]);
        assert_eq!((r[0].first_word, r[0].last_word), (0, 3));
    }

    #[test]
    fn round_hundreds_and_thousands() {
        assert_eq!(one("two thousand"), "2000");
        assert_eq!(one("three hundred"), "300");
        assert_eq!(one("hundred"), "100");
        assert_eq!(one("a thousand"), "1000");
    }

    #[test]
    fn compound_amounts() {
        assert_eq!(one("two thousand and twenty four"), "2024");
        assert_eq!(one("two thousand twenty"), "2020");
        assert_eq!(one("twenty five hundred"), "2500");
        assert_eq!(one("nineteen hundred"), "1900");
        assert_eq!(one("one thousand two hundred thirty four"), "1234");
        assert_eq!(one("three hundred thousand"), "300000");
        assert_eq!(one("two million five hundred thousand"), "2500000");
        assert_eq!(one("four hundred and fifty"), "450");
    }

    #[test]
    fn numeral_multiplies_a_scale_word() {
        assert_eq!(one("5 hundred"), "500");
        assert_eq!(one("20 thousand"), "20000");
        assert_eq!(one("4532 hundred"), "4532100");
    }

    #[test]
    fn digits_after_an_amount_stay_digits() {
        assert_eq!(one("one hundred five six"), "1056");
        assert_eq!(one("four five one hundred"), "45100");
    }

    #[test]
    fn and_breaks_outside_amounts() {
        assert_eq!(runs("four five and six seven"), ["45", "67"]);
        assert_eq!(runs("one hundred and, yes"), ["100"]);
        assert_eq!(runs("two thousand and yes"), ["2000"]);
    }

    #[test]
    fn numerals_and_words_mix() {
        assert_eq!(one("4532 seven seven one eight"), "45327718");
        assert_eq!(one("four-five-three-two 7718"), "45327718");
    }

    #[test]
    fn full_card_read_as_words() {
        let r = runs(
            "it's four five three two, seven seven one eight, oh nine six four, one two three four",
        );
        assert_eq!(r, ["4532771809641234"]);
    }

    #[test]
    fn conversation_words_break_runs() {
        let words = [
            "my", "number", "is", "four", "five,", "yes,", "go", "on,", "six", "seven",
        ];
        let r = digit_runs(&words);
        assert_eq!(r.len(), 2);
        assert_eq!(words_to_digits_string(&r[0]), "45");
        assert_eq!((r[0].first_word, r[0].last_word), (3, 4));
        assert_eq!(words_to_digits_string(&r[1]), "67");
        assert_eq!((r[1].first_word, r[1].last_word), (8, 9));
    }

    #[test]
    fn a_lone_number_is_a_run() {
        let r = digit_runs(&["I", "have", "two", "cats"]);
        assert_eq!(r.len(), 1);
        assert_eq!(words_to_digits_string(&r[0]), "2");
        assert_eq!((r[0].first_word, r[0].last_word), (2, 2));
    }

    #[test]
    fn separators_and_hesitations_do_not_break() {
        let r = digit_runs(&["4532", "-", "7718", "/", "um,", "0964", "...", "uh", "1234"]);
        assert_eq!(r.len(), 1);
        assert_eq!(words_to_digits_string(&r[0]), "4532771809641234");
        assert_eq!((r[0].first_word, r[0].last_word), (0, 8));
    }

    #[test]
    fn garbles_are_not_digits() {
        assert!(runs("Gun-Ho-Hine").is_empty());
        assert!(!is_number_word("Gun-Ho-Hine"));
        assert_eq!(runs("four Gun-Ho-Hine five"), ["4", "5"]);
        assert_eq!(runs("five o'clock"), ["5"]);
        assert!(runs("someone won often").is_empty());
    }

    #[test]
    fn ordinals_give_their_number() {
        assert_eq!(one("twenty-seventh"), "27");
        assert_eq!(one("twenty seventh"), "27");
        assert_eq!(one("first"), "1");
        assert_eq!(one("3rd"), "3");
        assert_eq!(one("twelfth"), "12");
        assert_eq!(one("thirtieth"), "30");
        assert_eq!(runs("March twenty first"), ["21"]);
    }

    #[test]
    fn number_words_are_recognised() {
        for w in [
            "4532",
            "4532.",
            "(4532)",
            "zero",
            "Oh",
            "o",
            "nought",
            "NINE,",
            "double",
            "triple",
            "hundred",
            "thousand",
            "nineteen",
            "forty",
            "forty-one",
            "first",
            "twenty-seventh",
            "3rd",
        ] {
            assert!(is_number_word(w), "word {w} should be a number word");
        }
        for w in [
            "and", ",", "-", "um", "", "cats", "often", "Ho", "o'clock", "hundreds",
        ] {
            assert!(!is_number_word(w), "word {w} should not be a number word");
        }
    }

    #[test]
    fn months() {
        assert_eq!(month("January"), Some(1));
        assert_eq!(month("jan."), Some(1));
        assert_eq!(month("FEB"), Some(2));
        assert_eq!(month("March,"), Some(3));
        assert_eq!(month("may"), Some(5));
        assert_eq!(month("Sept."), Some(9));
        assert_eq!(month("sep"), Some(9));
        assert_eq!(month("December"), Some(12));
        assert_eq!(month("Dec"), Some(12));
        assert_eq!(month("Ma"), None);
        assert_eq!(month("Decembers"), None);
        assert_eq!(month(""), None);
    }

    #[test]
    fn empty_and_separator_only_input() {
        assert!(digit_runs(&[]).is_empty());
        assert!(digit_runs(&[",", "-", "..."]).is_empty());
    }

    #[test]
    fn word_slice_matches_str_slice() {
        let texts = [
            "card", "four", "five", "double", "seven", "yes", "one", "hundred",
        ];
        let words: Vec<Word> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Word {
                text: (*t).to_string(),
                start: i as f64,
                end: i as f64 + 0.5,
                confidence: 0.9,
                digit_p: None,
            })
            .collect();
        assert_eq!(digit_runs_in_words(&words), digit_runs(&texts));
        assert_eq!(digit_runs(&texts).len(), 2);
    }

    #[test]
    fn every_triple_keeps_the_invariants() {
        let vocab = [
            "4532",
            "45.",
            "0",
            "zero",
            "oh",
            "O,",
            "one",
            "nine",
            "double",
            "triple",
            "ten",
            "nineteen",
            "twenty",
            "forty-one",
            "first",
            "twenty-seventh",
            "hundred",
            "thousand",
            "million",
            "and",
            "yes",
            ",",
            "um",
            "Gun-Ho-Hine",
            "A4",
            "3rd",
            "\u{e9}t\u{e9}",
        ];
        for a in vocab {
            for b in vocab {
                for c in vocab {
                    let words = [a, b, c];
                    let mut last = 0;
                    for run in digit_runs(&words) {
                        assert!(!run.digits.is_empty());
                        assert!(run.first_word <= run.last_word && run.last_word < 3);
                        assert!(run.first_word >= last, "runs overlap");
                        assert_eq!(run.digits[0].word, run.first_word);
                        assert_eq!(run.digits[run.digits.len() - 1].word, run.last_word);
                        assert!(run.digits.windows(2).all(|w| w[0].word <= w[1].word));
                        assert!(run.digits.iter().all(|d| d.digit <= 9));
                        last = run.last_word + 1;
                    }
                }
            }
        }
    }

    #[test]
    fn debug_shows_no_digits() {
        let r = digit_runs(&["7777-7777"]);
        let run = format!("{:?}", r[0]);
        let token = format!("{:?}", r[0].digits[0]);
        assert!(!run.contains('7'), "{run}");
        assert!(!token.contains('7'), "{token}");
        assert!(run.contains("len: 8"));
    }
}
