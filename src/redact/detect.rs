//! What to redact: card numbers, security codes and expiry dates in the
//! words of both legs of a call.
//!
//! The detector is built to generalise to wordings it was never shown, and
//! to fail closed where the transcript is unsure. Defence in depth:
//!
//! 1. **Payment context by meaning, not by phrase.** Every word is split
//!    into tokens (`three-digit` is `three digit`, `C.V.V.` is `cvv`) and
//!    each token is mapped to a small set of *concepts* by its stem: a card
//!    (`card`, brand names, `debit`), a number (`number`, `digits`,
//!    `figures`), the card's face (`long`, `full`, `front`, `across`), its
//!    back (`back`, `reverse`, `signature`, `strip`), a code, security or
//!    verification, expiry (`expir*`, `valid`, `until`/`thru`, `run out`,
//!    `end date`, `month and year`), paying, a keypad (`keypad`, `key in`,
//!    `tones`, `enter the number`). A **cue** is a pair of concepts close
//!    together in one utterance (`card` + `number` in any order and with any
//!    words between: "the number on your card", "card's digits") or one
//!    concept that alone means card data (`cvv`, `expiry`, `keypad`). The
//!    cue's kind (PAN, CVV, expiry) labels what follows.
//! 2. **Windows reach back.** A cue (either leg) opens a payment window on
//!    *both* legs that starts [`DetectConfig::lookback_s`] *before* it (the
//!    audio is still held, so digits said before their context words —
//!    "oh four twenty-eight, that's when it runs out" — are masked too) and
//!    stays open for [`DetectConfig::window_s`] after the last cue or number
//!    in it, long enough for a caller to go and find their card. A card
//!    number found by its length (rule 4) and keypad tones open a window
//!    too, so the security code after an unannounced card number is caught.
//! 3. **Inside a window** every number-bearing word is redacted, and a
//!    customer utterance that is not confidently ordinary speech is redacted
//!    whole: one that is mostly numbers, or has any word whisper was unsure
//!    of that may hide a number (a number word, a word that sounds like a
//!    digit, or anything that is not an everyday word — whisper's garbles of
//!    real callers' digits). Whisper's fragments next to number words
//!    ("fits five") go with them. Agent utterances lose their numbers and,
//!    when unsure, the whole utterance; their ordinary sentences ("you'll
//!    hear a tone, then key the number in") stay.
//! 4. **Card numbers by their shape, anywhere**: a run of 12 or more digits
//!    is a PAN whether or not context was seen (no upper bound, no Luhn
//!    gate: whisper miscounts repeated digits); digit groups of one leg
//!    joined only by pauses (any length up to [`DetectConfig::split_gap_s`]),
//!    fillers ("and", "then", "okay", "hang on") or the other leg's turns
//!    that together reach 12 digits are one too, as are runs of 8+ digits
//!    less than `split_gap_s` apart (a number read in halves). Order and
//!    phone numbers said after an identity question are left alone unless
//!    they look like a card (Luhn-valid, 13–19 digits).
//! 5. **The window closes** only on the agent's affirmative confirmation
//!    ("that's gone through", "payment approved"): not the customer's words,
//!    not a negation ("it didn't go through"), not a question ("has it been
//!    approved?"). Otherwise it times out.
//! 6. **The net**: in an utterance that lost anything, every other number
//!    goes too, and any run of six or more digits anywhere goes, so text
//!    never keeps what the detector cannot place; each is a finding, so the
//!    audio and the audit trail say the same as the text.
//!
//! Last-four read-backs ("the card ending 1234") and amounts ("49 dollars")
//! are never redacted.

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
    /// Context only: an unsure utterance redacted whole, or the net.
    Low,
}

/// Which rule of the detector made a finding: written to the audit trail so
/// that compliance can see why a stretch was masked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Groups of digits, joined across pauses and fillers, of a card
    /// number's length.
    #[default]
    CardLength,
    /// Digits inside payment talk (a window opened by a cue, a tone or a
    /// card number).
    InPaymentTalk,
    /// An utterance in payment talk that is mostly numbers.
    NumbersRead,
    /// An utterance in payment talk with an unsure word that may hide a
    /// number.
    Unsure,
    /// Number words and the fragments next to them in payment talk.
    Fragments,
    /// The rest of the digits of an utterance that lost some.
    Net,
    /// A long run of digits nothing explains.
    LongRun,
    /// Whisper failed on the utterance, or gave no words or dropped words in
    /// payment talk.
    NoTranscript,
    /// A doubtful utterance in payment talk whose digit-primed second
    /// listen heard a number, or that had no second listen.
    Relisten,
    /// A piece of a number read out that whisper wrote as words: next to
    /// an utterance of the customer's that lost numbers.
    Neighbour,
    /// Keypad tones.
    Tone,
    /// The text net caught digits the detector left.
    TextNet,
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
    /// Which rule found it.
    pub rule: Rule,
}

/// Detector settings.
#[derive(Debug, Clone)]
pub struct DetectConfig {
    /// How long the payment window stays open after its last cue or
    /// number, seconds: long enough for a caller to fetch their card.
    pub window_s: f64,
    /// How far back a window reaches before the cue that opened it, seconds.
    pub lookback_s: f64,
    /// How long a customer's number that nothing explains keeps payment
    /// talk assumed, seconds.
    pub unplaced_span_s: f64,
    /// Word confidence under which, inside a window, a word is unsure.
    pub unsure_below: f32,
    /// An unsure word counts only where whisper gave digit and number
    /// tokens at least this share of its probability ([`Word::digit_p`]):
    /// an unsure "Cheers" where no number was in the running is not a
    /// hidden digit.
    pub unsure_digit_p: f32,
    /// A word that is not a number, where whisper gave numbers at least this
    /// share, counts as a number ("fits" for "six").
    pub hidden_digit_p: f32,
    /// A customer utterance of at most this many words, within
    /// [`Self::neighbour_gap_s`] of one of theirs that lost numbers in
    /// payment talk, goes too unless all its words are everyday words.
    pub neighbour_max_words: usize,
    /// See [`Self::neighbour_max_words`], seconds.
    pub neighbour_gap_s: f64,
    /// A doubtful utterance's digit-primed second listen must hear no
    /// number and change at most this share of its words for it to stay.
    pub relisten_max_changed: f64,
    /// Longest pause between two parts of one number, seconds.
    pub split_gap_s: f64,
    /// A pause longer than this inside one leg ends a digit run, seconds.
    pub run_gap_s: f64,
    /// How long an identity question ("order number", "zip code") marks the
    /// numbers that follow as not card data, seconds.
    pub distractor_s: f64,
    /// Payment talk by meaning ([`super::meaning`]): utterances whose
    /// sentence embedding is near card examples open the window too.
    /// `None`: cue words only.
    pub meaning: Option<std::sync::Arc<super::meaning::PaymentMeaning>>,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            window_s: 120.0,
            lookback_s: 15.0,
            unplaced_span_s: 30.0,
            unsure_below: 0.6,
            unsure_digit_p: 0.05,
            hidden_digit_p: 0.5,
            neighbour_max_words: 6,
            neighbour_gap_s: 1.5,
            relisten_max_changed: 0.34,
            split_gap_s: 15.0,
            run_gap_s: 3.0,
            distractor_s: 20.0,
            meaning: None,
        }
    }
}

/// The concepts a token can carry (a token may carry several).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum C {
    /// `card`, `cards`.
    Card,
    /// A card brand or type: `visa`, `mastercard`, `amex`, `debit`, `credit`.
    Brand,
    /// `number`, `numbers`, `figures`, `numerals`.
    Number,
    /// `digit`, `digits`.
    Digit,
    /// The whole number: `long`, `full`, `whole`, `entire`, `main`.
    Long,
    /// The card's face: `front`, `across`, `embossed`, `raised`.
    Front,
    /// `details`, `information`.
    Detail,
    /// Paying: `pay`, `payment`, `charge`, `checkout`.
    Pay,
    /// `security`, `verification`, `validation`.
    Security,
    /// `code`, `codes`, `pin`.
    Code,
    /// The back of the card: `back`, `reverse`, `rear`, `signature`, `strip`.
    Back,
    /// A security-code acronym: `cvv`, `cvc`, `cid`, `csc`, `cv2` …
    Acronym,
    /// `three`, `four`, `3`, `4` (the length of a security code).
    Short,
    /// `fifteen`, `sixteen`, `15`, `16` (the length of a card number).
    Long16,
    /// `expiry`, `expires`, `expiration`, `exp`.
    Expire,
    /// `valid`, `validity`.
    Valid,
    /// `good`, as in "good thru" (right before it only: "good morning,
    /// you're through to…" is not an expiry).
    Good,
    /// `until`, `till`, `thru`, `through`.
    Until,
    /// `run`, `runs`, `running`.
    Run,
    /// `out`.
    Out,
    /// `end`, `ends`.
    End,
    /// `date`, `dates`.
    Date,
    /// `month`, `months`, `mm`.
    Month,
    /// `year`, `years`, `yy`.
    Year,
    /// A keypad: `keypad`, `dialpad`, `tones`, `buttons`, `touchtone`.
    Keypad,
    /// Keying verbs: `key`, `punch`, `type`, `tap`.
    Key,
    /// `enter`, `input`.
    Enter,
    /// `in`, `it`, `them`.
    In,
    /// `last`, `final`: "last four digits" are not a security code.
    Last,
}

/// The concepts of a token.
fn concepts(t: &str) -> Vec<C> {
    let mut out = Vec::new();
    let is = |list: &[&str]| list.contains(&t);
    if is(&["card", "cards", "cardholder", "cardholders"]) {
        out.push(C::Card);
    }
    if is(&[
        "visa",
        "mastercard",
        "master",
        "amex",
        "americanexpress",
        "maestro",
        "debit",
        "credit",
        "diners",
        "jcb",
        "discover",
    ]) {
        out.push(C::Brand);
    }
    if is(&[
        "number", "numbers", "no", "num", "nos", "numeral", "numerals", "figure", "figures",
    ]) {
        out.push(C::Number);
    }
    if is(&["digit", "digits", "digital"]) {
        out.push(C::Digit);
    }
    if is(&[
        "long", "longer", "full", "whole", "entire", "main", "big", "complete",
    ]) {
        out.push(C::Long);
    }
    if is(&["front", "across", "face", "embossed", "raised", "printed"]) {
        out.push(C::Front);
    }
    if is(&["details", "detail", "info", "information", "particulars"]) {
        out.push(C::Detail);
    }
    if is(&[
        "pay",
        "paying",
        "payment",
        "payments",
        "charge",
        "checkout",
        "purchase",
        "transaction",
    ]) {
        out.push(C::Pay);
    }
    if t.starts_with("secur") || t.starts_with("verif") || t.starts_with("validat") {
        out.push(C::Security);
    }
    if is(&["code", "codes", "pin", "passcode"]) {
        out.push(C::Code);
    }
    if is(&[
        "back",
        "reverse",
        "rear",
        "behind",
        "signature",
        "strip",
        "stripe",
        "panel",
        "flip",
    ]) {
        out.push(C::Back);
    }
    if ACRONYMS.contains(&t) {
        out.push(C::Acronym);
    }
    if is(&["three", "four", "3", "4"]) {
        out.push(C::Short);
    }
    if is(&["fifteen", "sixteen", "15", "16"]) {
        out.push(C::Long16);
    }
    if t.starts_with("expir") || is(&["exp", "expy", "expires", "expire"]) {
        out.push(C::Expire);
    }
    if is(&["valid", "validity"]) {
        out.push(C::Valid);
    }
    if t == "good" {
        out.push(C::Good);
    }
    if is(&["until", "till", "til", "thru", "through", "untill"]) {
        out.push(C::Until);
    }
    if is(&["run", "runs", "running", "ran"]) {
        out.push(C::Run);
    }
    if t == "out" {
        out.push(C::Out);
    }
    if is(&["end", "ends"]) {
        out.push(C::End);
    }
    if is(&["date", "dates"]) {
        out.push(C::Date);
    }
    if is(&["month", "months", "mm"]) {
        out.push(C::Month);
    }
    if is(&["year", "years", "yy", "yyyy"]) {
        out.push(C::Year);
    }
    if is(&[
        "keypad",
        "keypads",
        "dialpad",
        "numberpad",
        "touchtone",
        "tones",
        "buttons",
        "keys",
    ]) {
        out.push(C::Keypad);
    }
    if is(&["key", "keying", "keyed", "punch", "type", "tap"]) {
        out.push(C::Key);
    }
    if is(&["enter", "entering", "input"]) {
        out.push(C::Enter);
    }
    if is(&["in", "it", "them", "those"]) {
        out.push(C::In);
    }
    if is(&["last", "final", "ending", "ends"]) {
        out.push(C::Last);
    }
    out
}

/// Security-code acronyms, also when spelt out letter by letter.
const ACRONYMS: &[&str] = &[
    "cvv", "cvv2", "cvc", "cvc2", "cv2", "cvn", "cvd", "cid", "csc", "ccv", "cvvs", "cvcs",
];

/// How a cue is built from concepts: `(first, others, max distance in
/// tokens, kind)`; `others` empty means the first concept alone is a cue.
const CUES: &[(C, &[C], usize, Kind)] = &[
    (C::Acronym, &[], 0, Kind::Cvv),
    (C::Security, &[C::Code, C::Number, C::Digit], 4, Kind::Cvv),
    (C::Short, &[C::Digit, C::Code, C::Number], 2, Kind::Cvv),
    (C::Back, &[C::Code, C::Number, C::Digit], 6, Kind::Cvv),
    (C::Code, &[C::Card, C::Brand], 5, Kind::Cvv),
    (C::Expire, &[], 0, Kind::Expiry),
    (C::Valid, &[C::Until, C::Date], 3, Kind::Expiry),
    (C::Good, &[C::Until], 1, Kind::Expiry),
    (C::Run, &[C::Out], 2, Kind::Expiry),
    (C::End, &[C::Date], 1, Kind::Expiry),
    (C::Month, &[C::Year], 4, Kind::Expiry),
    (C::Date, &[C::Card, C::Brand], 5, Kind::Expiry),
    (C::Card, &[C::Number, C::Digit, C::Detail], 6, Kind::Pan),
    (C::Brand, &[C::Number, C::Digit, C::Detail], 6, Kind::Pan),
    (C::Long, &[C::Number, C::Digit], 3, Kind::Pan),
    (C::Front, &[C::Number, C::Digit], 5, Kind::Pan),
    (C::Long16, &[C::Digit, C::Number], 2, Kind::Pan),
    (C::Pay, &[C::Card, C::Brand, C::Detail], 6, Kind::Pan),
    (C::Keypad, &[], 0, Kind::Pan),
    (
        C::Key,
        &[C::In, C::Number, C::Digit, C::Code, C::Detail],
        3,
        Kind::Pan,
    ),
    (
        C::Enter,
        &[C::Number, C::Digit, C::Code, C::Detail, C::Card],
        4,
        Kind::Pan,
    ),
];

/// Identity questions: a noun of these near one of [`ID_HEADS`] ("your
/// claim reference", "order number", "the number for the account") marks
/// the numbers that follow as not card data.
const ID_NOUNS: &[&str] = &[
    "order",
    "reference",
    "ref",
    "claim",
    "account",
    "booking",
    "reservation",
    "tracking",
    "policy",
    "member",
    "membership",
    "customer",
    "case",
    "ticket",
    "invoice",
    "confirmation",
    "phone",
    "telephone",
    "mobile",
    "cell",
    "contact",
    "serial",
    "registration",
    "reg",
    "licence",
    "license",
    "vin",
    "model",
    "parcel",
    "shipment",
    "delivery",
    "receipt",
    "loyalty",
    "rewards",
    "extension",
    "postal",
    "zip",
    "post",
    "employee",
    "agent",
    "store",
    "branch",
];
/// What an identity noun names: a number, reference or code.
const ID_HEADS: &[&str] = &[
    "number",
    "numbers",
    "no",
    "num",
    "reference",
    "ref",
    "code",
    "id",
    "identifier",
];
/// Identity words on their own.
const ID_ALONE: &[&str] = &[
    "zip", "zipcode", "postcode", "birthday", "dob", "born", "birth", "phone", "mobile",
];
/// Words that announce the last four digits, which may stay.
const LAST_FOUR_CUES: &[&[&str]] = &[
    &["ending"],
    &["ending", "in"],
    &["ending", "with"],
    &["ends", "in"],
    &["ends", "with"],
    &["last", "four"],
    &["last", "4"],
    &["last", "four", "digits"],
    &["last", "4", "digits"],
    &["last", "four", "are"],
    &["last", "four", "is"],
];
/// Words after a number that make it an amount.
const AMOUNT_UNITS: &[&str] = &[
    "dollar", "dollars", "buck", "bucks", "pound", "pounds", "quid", "euro", "euros", "cent",
    "cents", "pence", "p", "percent", "usd", "gbp", "eur",
];
/// Words that may sit between the groups of one number read aloud:
/// fillers, hesitations and acknowledgements, not content.
const FILLERS: &[&str] = &[
    "and", "then", "okay", "ok", "um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "hm", "mm",
    "mhm", "mmhm", "hang", "on", "sorry", "wait", "yeah", "yes", "yep", "so", "its", "it", "is",
    "thats", "that", "the", "next", "bit", "let", "me", "see", "just", "a", "second", "sec",
    "moment", "hold", "right", "well", "now", "after", "last", "rest", "of", "group", "lot",
    "more", "like", "got", "go", "again", "sure", "where", "was", "i", "were", "we",
];
/// Everyday words (frequent conversational English, a general list, not
/// one drawn from any call) that whisper's low confidence on does not make
/// suspect: an unsure "and", "yep" or "goodbye" is not a garbled digit. Words that sound like
/// digits ("to", "for", "won", "ate", "free", "fine", "hey", "oh") are
/// deliberately absent.
const COMMON_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "accepted",
    "account",
    "across",
    "after",
    "afternoon",
    "again",
    "against",
    "ago",
    "agree",
    "ahead",
    "all",
    "almost",
    "alone",
    "along",
    "already",
    "alright",
    "also",
    "although",
    "always",
    "am",
    "among",
    "amount",
    "an",
    "and",
    "another",
    "answer",
    "any",
    "anybody",
    "anyone",
    "anything",
    "anyway",
    "anywhere",
    "apologies",
    "appreciate",
    "are",
    "area",
    "around",
    "as",
    "ask",
    "asked",
    "asking",
    "at",
    "available",
    "away",
    "awesome",
    "back",
    "bad",
    "bank",
    "basically",
    "be",
    "because",
    "become",
    "bed",
    "been",
    "before",
    "being",
    "believe",
    "below",
    "best",
    "better",
    "between",
    "big",
    "bill",
    "bit",
    "book",
    "booked",
    "booking",
    "both",
    "bought",
    "box",
    "brilliant",
    "bring",
    "broken",
    "brother",
    "brought",
    "business",
    "busy",
    "but",
    "buy",
    "by",
    "bye",
    "call",
    "called",
    "calling",
    "calls",
    "came",
    "can",
    "cancel",
    "cant",
    "car",
    "card",
    "care",
    "case",
    "certainly",
    "chance",
    "change",
    "changed",
    "charge",
    "charged",
    "check",
    "checked",
    "checking",
    "cheers",
    "children",
    "choose",
    "city",
    "clear",
    "close",
    "code",
    "come",
    "comes",
    "coming",
    "company",
    "completely",
    "confirm",
    "contact",
    "correct",
    "could",
    "couldnt",
    "course",
    "customer",
    "dad",
    "date",
    "daughter",
    "day",
    "days",
    "dear",
    "definitely",
    "delivery",
    "department",
    "did",
    "didnt",
    "different",
    "digits",
    "do",
    "does",
    "doesnt",
    "doing",
    "done",
    "dont",
    "door",
    "down",
    "during",
    "each",
    "early",
    "easy",
    "either",
    "else",
    "email",
    "end",
    "enough",
    "enter",
    "even",
    "evening",
    "ever",
    "every",
    "everybody",
    "everyone",
    "everything",
    "exactly",
    "example",
    "excellent",
    "excuse",
    "expiry",
    "family",
    "far",
    "fast",
    "father",
    "feel",
    "few",
    "figure",
    "finally",
    "find",
    "finished",
    "fixed",
    "follow",
    "following",
    "found",
    "friday",
    "friend",
    "from",
    "front",
    "full",
    "get",
    "gets",
    "getting",
    "give",
    "given",
    "glad",
    "go",
    "goes",
    "going",
    "gone",
    "good",
    "goodbye",
    "got",
    "great",
    "guess",
    "had",
    "happen",
    "happened",
    "happy",
    "hard",
    "has",
    "hash",
    "have",
    "havent",
    "having",
    "he",
    "hear",
    "heard",
    "hello",
    "help",
    "helpful",
    "her",
    "here",
    "hers",
    "hi",
    "him",
    "his",
    "hold",
    "home",
    "hope",
    "hopefully",
    "hour",
    "hours",
    "house",
    "how",
    "however",
    "husband",
    "i",
    "id",
    "if",
    "ill",
    "im",
    "important",
    "in",
    "indeed",
    "information",
    "instead",
    "interested",
    "into",
    "is",
    "isnt",
    "issue",
    "it",
    "itll",
    "its",
    "ive",
    "job",
    "just",
    "keep",
    "key",
    "keypad",
    "kind",
    "kinda",
    "knew",
    "know",
    "last",
    "late",
    "later",
    "least",
    "leave",
    "left",
    "less",
    "let",
    "lets",
    "letter",
    "life",
    "like",
    "likely",
    "line",
    "list",
    "listen",
    "little",
    "live",
    "long",
    "look",
    "looked",
    "looking",
    "lot",
    "lots",
    "love",
    "lovely",
    "made",
    "mail",
    "make",
    "many",
    "may",
    "maybe",
    "me",
    "mean",
    "meant",
    "message",
    "might",
    "mind",
    "minute",
    "minutes",
    "miss",
    "moment",
    "monday",
    "money",
    "month",
    "months",
    "more",
    "morning",
    "most",
    "mother",
    "much",
    "mum",
    "must",
    "my",
    "myself",
    "name",
    "need",
    "needed",
    "needs",
    "never",
    "new",
    "news",
    "next",
    "nice",
    "night",
    "no",
    "nope",
    "not",
    "nothing",
    "notice",
    "now",
    "number",
    "numbers",
    "of",
    "off",
    "office",
    "often",
    "ok",
    "okay",
    "old",
    "on",
    "once",
    "only",
    "open",
    "or",
    "order",
    "other",
    "our",
    "out",
    "over",
    "own",
    "package",
    "paid",
    "parcel",
    "part",
    "past",
    "pay",
    "people",
    "perfect",
    "perhaps",
    "person",
    "phone",
    "place",
    "plan",
    "please",
    "pleasure",
    "point",
    "possible",
    "press",
    "pretty",
    "price",
    "probably",
    "problem",
    "problems",
    "product",
    "pull",
    "put",
    "question",
    "questions",
    "quick",
    "quickly",
    "quite",
    "rather",
    "read",
    "ready",
    "real",
    "really",
    "reason",
    "received",
    "record",
    "refund",
    "remember",
    "reply",
    "right",
    "room",
    "said",
    "same",
    "saturday",
    "saw",
    "say",
    "saying",
    "says",
    "security",
    "see",
    "seems",
    "seen",
    "sent",
    "service",
    "set",
    "she",
    "should",
    "show",
    "side",
    "since",
    "sir",
    "sister",
    "small",
    "so",
    "some",
    "somebody",
    "someone",
    "something",
    "sometimes",
    "son",
    "soon",
    "sorry",
    "sort",
    "sound",
    "sounds",
    "speak",
    "speaking",
    "start",
    "started",
    "still",
    "stop",
    "store",
    "sunday",
    "super",
    "supposed",
    "sure",
    "system",
    "take",
    "taken",
    "talk",
    "talking",
    "team",
    "tell",
    "than",
    "thank",
    "thanks",
    "that",
    "thats",
    "the",
    "their",
    "them",
    "then",
    "there",
    "theres",
    "these",
    "they",
    "theyre",
    "thing",
    "things",
    "think",
    "this",
    "those",
    "though",
    "thought",
    "through",
    "thursday",
    "time",
    "today",
    "together",
    "told",
    "tomorrow",
    "tonight",
    "took",
    "totally",
    "tried",
    "true",
    "try",
    "trying",
    "tuesday",
    "turn",
    "understand",
    "unfortunately",
    "until",
    "up",
    "upon",
    "us",
    "use",
    "used",
    "usually",
    "very",
    "via",
    "wait",
    "waiting",
    "want",
    "wanted",
    "wants",
    "was",
    "wasnt",
    "way",
    "we",
    "wed",
    "wednesday",
    "week",
    "weekend",
    "weeks",
    "welcome",
    "well",
    "went",
    "were",
    "what",
    "whats",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whole",
    "why",
    "wife",
    "will",
    "wish",
    "with",
    "without",
    "wonderful",
    "wont",
    "word",
    "words",
    "work",
    "worked",
    "working",
    "works",
    "would",
    "wouldnt",
    "wrong",
    "yeah",
    "year",
    "years",
    "yep",
    "yes",
    "yesterday",
    "yet",
    "you",
    "youd",
    "youll",
    "your",
    "youre",
    "yours",
    "yourself",
    "youve",
];
/// Words whisper writes for digits it mishears ("fits five", "for won").
const DIGIT_SOUNDALIKES: &[&str] = &[
    "to", "too", "for", "fore", "won", "ate", "free", "tree", "fife", "fiver", "fine", "sicks",
    "sex", "nein", "niner", "owe", "tin", "fort", "fourty", "twenny", "sixty", "thirty", "oh", "o",
    "hey", "fits", "fix", "sick", "seben", "ait", "nun",
];
/// Words of an agent's confirmation that the payment is done.
const DONE_WORDS: &[&str] = &[
    "approved",
    "accepted",
    "authorised",
    "authorized",
    "processed",
    "successful",
    "successfully",
    "completed",
    "complete",
    "cleared",
];
/// Words that turn a confirmation into its opposite.
const NEGATIONS: &[&str] = &[
    "not", "no", "didnt", "hasnt", "hasn", "wasnt", "isnt", "havent", "hadnt", "wont", "cant",
    "couldnt", "wouldnt", "never", "unable", "failed", "fail", "declined", "rejected", "problem",
    "issue", "error", "didn", "doesnt", "dont", "nt",
];
/// Words that open a yes/no question ("has it gone through?").
const QUESTION_OPENERS: &[&str] = &[
    "has", "have", "did", "does", "do", "is", "was", "were", "are", "can", "could", "will",
    "would", "should", "shall", "hasnt", "didnt", "isnt",
];

/// A token of the word stream: a lower-cased alphanumeric stretch of one
/// word, apostrophes dropped; letters spelt out one by one are joined when
/// they spell an acronym (`c v v` is `cvv`).
#[derive(Debug, Clone)]
struct Token {
    text: String,
    word: usize,
}

/// The tokens of `words[idx]`, in order.
fn tokens(words: &[CallWord], idx: &[usize]) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    for &i in idx {
        let text = words[i].word.text.replace(['\'', '’'], "");
        for part in text.split(|c: char| !c.is_alphanumeric()) {
            if !part.is_empty() {
                out.push(Token {
                    text: part.to_lowercase(),
                    word: i,
                });
            }
        }
    }
    // Join spelt-out acronyms ("c v v", "C.V.C.").
    let short = |t: &Token| t.text.chars().count() <= 2;
    let mut i = 0;
    while i < out.len() {
        if short(&out[i]) {
            let mut j = i;
            while j < out.len() && j - i < 4 && short(&out[j]) {
                j += 1;
            }
            for k in (i + 2..=j).rev() {
                let s: String = out[i..k].iter().map(|t| t.text.as_str()).collect();
                if ACRONYMS.contains(&s.as_str()) {
                    out[i].text = s;
                    out.drain(i + 1..k);
                    break;
                }
            }
        }
        i += 1;
    }
    out
}

/// A cue found in an utterance.
#[derive(Debug, Clone, Copy)]
struct Cue {
    kind: Kind,
    /// Time of its first word, seconds.
    t: f64,
    /// A weak cue by meaning: it counts only inside a window.
    weak: bool,
    /// How much further than the look-back it reaches back, seconds: a cue
    /// by meaning stands at its utterance's end and reaches back over the
    /// whole utterance too.
    reach: f64,
}

/// Cues in one utterance's tokens; marks the words they are made of.
fn find_cues(words: &[CallWord], toks: &[Token], trigger_word: &mut [bool], out: &mut Vec<Cue>) {
    let cs: Vec<Vec<C>> = toks.iter().map(|t| concepts(&t.text)).collect();
    let has = |i: usize, c: C| cs[i].contains(&c);
    for i in 0..toks.len() {
        for &(first, others, dist, kind) in CUES {
            if !has(i, first) {
                continue;
            }
            // "last four digits" is a read-back cue, not a security code.
            if first == C::Short && i > 0 && has(i - 1, C::Last) {
                continue;
            }
            let partner = if others.is_empty() {
                Some(i)
            } else {
                let lo = i.saturating_sub(dist);
                let hi = (i + dist).min(toks.len() - 1);
                (lo..=hi)
                    .filter(|&j| j != i)
                    .filter(|&j| others.iter().any(|&c| has(j, c)))
                    // "card number" across an identity phrase is not one.
                    .min_by_key(|&j| j.abs_diff(i))
            };
            if let Some(j) = partner {
                let (a, b) = (i.min(j), i.max(j));
                // The concept words themselves are not numbers ("three
                // digits", "CVV2", "sixteen-digit"), but the words between
                // them may be.
                for k in [a, b] {
                    trigger_word[toks[k].word] = true;
                }
                out.push(Cue {
                    kind,
                    t: words[toks[a].word].word.start,
                    weak: false,
                    reach: 0.0,
                });
                break;
            }
        }
    }
}

/// When an agent utterance confirms that the payment went through: the end
/// of its confirmation word ("approved", "gone through"), unless that
/// sentence negates it ("it didn't go through") or asks it ("has it gone
/// through?"). Sentences end at `.`, `!` or `?` (phrases of one turn are
/// transcribed together).
fn confirms(words: &[CallWord], toks: &[Token]) -> Option<f64> {
    let t: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
    let ends_sentence = |k: usize| {
        words[toks[k].word]
            .word
            .text
            .trim_end()
            .ends_with(['.', '!', '?'])
            && (k + 1 == toks.len() || toks[k + 1].word != toks[k].word)
    };
    for h in 0..t.len() {
        let hit = DONE_WORDS.contains(&t[h])
            || (t[h] == "through"
                && h > 0
                && ["gone", "went", "go", "gotten", "got"].contains(&t[h - 1]));
        if !hit {
            continue;
        }
        let from = (0..h)
            .rev()
            .find(|&k| ends_sentence(k))
            .map_or(0, |k| k + 1);
        let to = (h..t.len())
            .find(|&k| ends_sentence(k))
            .unwrap_or(t.len() - 1);
        let asked = words[toks[to].word].word.text.trim_end().ends_with('?')
            || QUESTION_OPENERS.contains(&t[from]);
        let negated = t[from..h].iter().any(|w| NEGATIONS.contains(w))
            || t[h..=to].iter().any(|w| ["not", "yet"].contains(w));
        if !asked && !negated {
            return Some(words[toks[h].word].word.end);
        }
    }
    None
}

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

/// Whether an unsure word may hide a number: a number word, a digit
/// soundalike, or anything that is not an everyday word (whisper's garbles
/// of digits).
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
    /// Number words deliberately kept (last-four read-backs, amounts,
    /// identity numbers): the text net leaves them alone.
    pub kept: Vec<usize>,
    /// Utterances in payment talk that the rules above left alone only
    /// because whisper gave numbers no weight at their unsure words: they
    /// are masked whole unless a second, digit-primed decode also hears no
    /// number ([`crate::redact::call::detect_call`]).
    pub doubtful: Vec<usize>,
}

impl Detection {
    /// Whether `[start, end]` overlaps a payment window.
    pub fn in_window(&self, start: f64, end: f64) -> bool {
        self.windows.iter().any(|&(a, b)| start <= b && end >= a)
    }
}

/// Finds what must be redacted in a call's words (both legs, in time order).
pub fn detect(words: &[CallWord], cfg: &DetectConfig) -> Vec<Finding> {
    detect_all(words, cfg).findings
}

/// [`detect`], also returning the payment windows.
pub fn detect_all(words: &[CallWord], cfg: &DetectConfig) -> Detection {
    detect_with_tones(words, &[], cfg)
}

/// One timed thing that shapes the payment windows.
#[derive(Debug, Clone, Copy)]
enum Mark {
    /// Opens or extends a window at `t` with its kind, reaching back
    /// `back_s` before `t` and staying open `span_s` after its last mark: a
    /// cue reaches back; a card number found by its shape, keypad tones and
    /// unplaced numbers open forward only.
    Open {
        /// When, seconds.
        t: f64,
        /// What kind of payment talk.
        kind: Kind,
        /// How far back the window reaches, seconds.
        back_s: f64,
        /// How long it stays open after its last mark, seconds.
        span_s: f64,
    },
    /// A number word: extends an open window.
    Number(f64),
    /// The agent confirmed the payment: closes the window at this time.
    Close(f64),
}

impl Mark {
    fn t(&self) -> f64 {
        match *self {
            Mark::Open { t, .. } | Mark::Number(t) | Mark::Close(t) => t,
        }
    }
}

/// A payment window and the cues in it.
#[derive(Debug, Clone)]
struct Window {
    from: f64,
    to: f64,
    /// How long a number keeps it open.
    span_s: f64,
    cues: Vec<(f64, Kind)>,
}

/// Builds the windows from the marks (sorted here).
fn windows_of(mut marks: Vec<Mark>) -> Vec<Window> {
    marks.sort_by(|a, b| a.t().total_cmp(&b.t()));
    let mut out: Vec<Window> = Vec::new();
    let mut open: Option<Window> = None;
    let mut last_close = f64::NEG_INFINITY;
    for m in marks {
        let t = m.t();
        if open.as_ref().is_some_and(|w| t > w.to) {
            out.extend(open.take());
        }
        match m {
            Mark::Open {
                t,
                kind,
                back_s,
                span_s,
            } => match open.as_mut() {
                Some(w) => {
                    w.span_s = w.span_s.max(span_s);
                    w.to = w.to.max(t + span_s);
                    w.cues.push((t, kind));
                }
                None => {
                    let prev_end = out.last().map_or(f64::NEG_INFINITY, |w| w.to);
                    open = Some(Window {
                        from: (t - back_s).max(last_close).max(prev_end).min(t),
                        to: t + span_s,
                        span_s,
                        cues: vec![(t, kind)],
                    });
                }
            },
            Mark::Number(t) => {
                if let Some(w) = open.as_mut() {
                    w.to = w.to.max(t + w.span_s);
                }
            }
            Mark::Close(t) => {
                if let Some(mut w) = open.take() {
                    w.to = w.to.min(t);
                    out.push(w);
                }
                last_close = t;
            }
        }
    }
    out.extend(open);
    out
}

/// The kind of payment talk at time `t`, if inside a window: the cue of
/// `prefer` (one in the same utterance) if any, else the latest cue at or
/// before `t`, else the window's first (its look-back).
fn kind_at(windows: &[Window], t: f64) -> Option<Kind> {
    let w = windows.iter().find(|w| t >= w.from && t <= w.to)?;
    w.cues
        .iter()
        .rev()
        .find(|(c, _)| *c <= t + 1e-9)
        .or(w.cues.first())
        .map(|&(_, k)| k)
}

/// Stands in for a long pause in a leg's word list: ends a digit run, but
/// counts as a filler between the groups of one number.
const PAUSE: &str = "\u{1}pause";

/// One digit run of one leg, placed in the call.
#[derive(Debug, Clone)]
struct Run {
    leg: Leg,
    /// Call word indices, in order, without repeats.
    words: Vec<usize>,
    digits: Vec<u8>,
    start: f64,
    end: f64,
    /// Only fillers and pauses since the leg's previous run.
    joined_to_prev: bool,
    /// A month name said just before (an expiry), as a call word index.
    month_before: Option<usize>,
    /// A month name among or just before its words.
    month_near: bool,
    last_four: bool,
    amount: bool,
    /// Said after an identity question ("and your order number?").
    identity: bool,
}

impl Run {
    fn card_like(&self) -> bool {
        (13..=19).contains(&self.digits.len()) && luhn_valid(&self.digits)
    }
    /// Excused as the answer to an identity question. Only a number of an
    /// identity's shape is: five digits or more (phone, account, postcode,
    /// reference), a year, or a date. Three or four digits after "your
    /// phone number?" may be a security code or an expiry read out while
    /// the agent's request was garbled, and is not excused.
    fn excluded(&self, windows: &[Window]) -> bool {
        let identity_shape = self.digits.len() >= 5 || self.month_near || self.year();
        self.identity
            && identity_shape
            && !self.card_like()
            && !in_any(windows, self.start, self.end)
    }
    /// Four digits that read as a year of the last or this century.
    fn year(&self) -> bool {
        self.digits.len() == 4 && matches!((self.digits[0], self.digits[1]), (1, 9) | (2, 0))
    }
}

fn in_any(windows: &[Window], start: f64, end: f64) -> bool {
    windows.iter().any(|w| start <= w.to && end >= w.from)
}

/// [`detect_all`] with keypad-tone spans `(start, end)` in seconds, which
/// open payment windows like a cue: digits spoken around keyed ones are card
/// data too.
pub fn detect_with_tones(
    words: &[CallWord],
    tones: &[(f64, f64)],
    cfg: &DetectConfig,
) -> Detection {
    detect_with_cues(words, tones, &[], cfg)
}

/// An utterance that is payment talk by its meaning ([`super::meaning`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeaningCue {
    /// The utterance (as in [`CallWord::utterance`]).
    pub utterance: usize,
    /// What it asks for or mentions.
    pub kind: Kind,
    /// Close enough to open a window alone; a weaker one only counts
    /// inside payment talk found otherwise (it then reaches back and keeps
    /// the window open like a cue word).
    pub strong: bool,
}

/// [`detect_with_tones`] with cues found by meaning ([`MeaningCue`]), each
/// at the end of its utterance with a cue word's look-back (and dropped
/// like one when the same agent utterance confirms the payment).
pub fn detect_with_cues(
    words: &[CallWord],
    tones: &[(f64, f64)],
    meant: &[MeaningCue],
    cfg: &DetectConfig,
) -> Detection {
    let n = words.len();
    let normed: Vec<String> = words.iter().map(|w| norm(&w.word.text)).collect();
    let mut by_utt: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, w) in words.iter().enumerate() {
        by_utt.entry(w.utterance).or_default().push(i);
    }
    // 1. Cues, confirmations and identity questions.
    let mut trigger_word = vec![false; n];
    let mut cues: Vec<Cue> = Vec::new();
    let mut marks: Vec<Mark> = Vec::new();
    for idx in by_utt.values() {
        let toks = tokens(words, idx);
        let before = cues.len();
        // A cue by meaning is the whole utterance: it counts from its end,
        // so the utterance's own words are look-back (its numbers are taken
        // as there, its ordinary words are not suspects).
        let (first, last) = (&words[idx[0]], &words[idx[idx.len() - 1]]);
        cues.extend(
            meant
                .iter()
                .filter(|m| m.utterance == first.utterance)
                .map(|m| Cue {
                    kind: m.kind,
                    t: last.word.end,
                    weak: !m.strong,
                    reach: last.word.end - first.word.start,
                }),
        );
        let by_meaning = cues.len();
        find_cues(words, &toks, &mut trigger_word, &mut cues);
        if words[idx[0]].leg == Leg::Agent
            && let Some(end) = confirms(words, &toks)
        {
            // "Your card has been charged": not a new request (nor is the
            // sentence as a whole).
            let mut k = 0;
            cues.retain(|c| {
                k += 1;
                k <= before || (k > by_meaning && c.t > end)
            });
            marks.push(Mark::Close(end));
        }
    }
    let (weak, cues): (Vec<Cue>, Vec<Cue>) = cues.into_iter().partition(|c| c.weak);
    let cue_mark = |c: &Cue| Mark::Open {
        t: c.t,
        kind: c.kind,
        back_s: cfg.lookback_s + c.reach,
        span_s: cfg.window_s,
    };
    marks.extend(cues.iter().map(cue_mark));
    marks.extend(tones.iter().map(|&(t, _)| Mark::Open {
        t,
        kind: Kind::Pan,
        back_s: 0.0,
        span_s: cfg.window_s,
    }));
    let mut distractors: Vec<f64> = Vec::new();
    for idx in by_utt.values() {
        let toks = tokens(words, idx);
        for (k, t) in toks.iter().enumerate() {
            let alone = ID_ALONE.contains(&t.text.as_str());
            let noun = ID_NOUNS.contains(&t.text.as_str())
                && toks[k.saturating_sub(3)..(k + 4).min(toks.len())]
                    .iter()
                    .any(|x| ID_HEADS.contains(&x.text.as_str()));
            if alone || noun {
                distractors.push(words[t.word].word.start);
                trigger_word[t.word] = true;
            }
        }
    }
    // An identity question marks the next `distractor_s` as identity talk,
    // until a payment cue.
    let identity_at = |t: f64| {
        distractors
            .iter()
            .rev()
            .find(|&&d| d <= t + 1e-9)
            .is_some_and(|&d| {
                t - d <= cfg.distractor_s && !cues.iter().any(|c| c.t > d && c.t <= t)
            })
    };

    // 2. Digit runs per leg.
    let mut runs: Vec<Run> = Vec::new();
    for leg in Leg::BOTH {
        // The leg's words, with a breaker at each long pause and for each
        // trigger word; `idx` maps them back to `words` (a pause maps to the
        // word before).
        let mut idx: Vec<usize> = Vec::new();
        let mut leg_words: Vec<&str> = Vec::new();
        let mut last_end: Option<f64> = None;
        for i in (0..n).filter(|&i| words[i].leg == leg) {
            if let Some(e) = last_end
                && words[i].word.start - e > cfg.run_gap_s
            {
                idx.push(*idx.last().expect("a word came before"));
                leg_words.push(PAUSE);
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
        let mut prev_last: Option<usize> = None;
        for run in numbers::digit_runs(&leg_words) {
            let mut ws: Vec<usize> = run.digits.iter().map(|d| idx[d.word]).collect();
            ws.dedup();
            let DigitRun {
                first_word,
                last_word,
                ..
            } = run;
            let joined_to_prev = prev_last.is_some_and(|p| {
                (p + 1..first_word)
                    .all(|k| leg_words[k] == PAUSE || FILLERS.contains(&leg_normed[k].as_str()))
            });
            prev_last = Some(last_word);
            let last_four = run.digits.len() == 4
                && (1..=3).any(|back| {
                    first_word >= back
                        && phrase_at(&leg_normed, first_word - back, LAST_FOUR_CUES) == Some(back)
                });
            let amount = run.digits.len() < 12
                && ((first_word..=last_word).any(|w| leg_words[w].contains(['$', '£', '€']))
                    || leg_normed
                        .get(last_word + 1)
                        .is_some_and(|n| AMOUNT_UNITS.contains(&n.as_str())));
            let month_before = (first_word > 0)
                .then(|| first_word - 1)
                .filter(|&w| numbers::month(leg_words[w]).is_some())
                .map(|w| idx[w]);
            let month_near = month_before.is_some()
                || (first_word..=last_word + 1).any(|w| {
                    leg_words
                        .get(w)
                        .is_some_and(|x| numbers::month(x).is_some())
                });
            let start = words[ws[0]].word.start;
            let end = words[*ws.last().expect("a run has digits")].word.end;
            runs.push(Run {
                leg,
                digits: run.digits.iter().map(|d| d.digit).collect(),
                start,
                end,
                joined_to_prev,
                month_before,
                month_near,
                last_four,
                amount,
                identity: identity_at(start),
                words: ws,
            });
        }
    }
    let cleared_run = |r: &Run| r.last_four || r.amount;
    // Numbers read out keep a window open ("oh I see" does not).
    for r in runs.iter().filter(|r| !cleared_run(r)) {
        marks.push(Mark::Number(r.end));
    }

    // 3. Card numbers by their shape (pass 1 windows decide only which
    //    identity numbers are excused). Weak cues by meaning inside payment
    //    talk count from here.
    let windows0 = windows_of(marks.clone());
    let placed = marks.len();
    marks.extend(
        weak.iter()
            .filter(|c| in_any(&windows0, c.t, c.t))
            .map(cue_mark),
    );
    let windows1 = if marks.len() == placed {
        windows0
    } else {
        windows_of(marks.clone())
    };
    let mut taken = vec![false; runs.len()];
    let mut findings: Vec<Finding> = Vec::new();
    for leg in Leg::BOTH {
        let mine: Vec<usize> = (0..runs.len()).filter(|&r| runs[r].leg == leg).collect();
        // Chains of groups joined by pauses and fillers.
        let mut chain: Vec<usize> = Vec::new();
        let flush = |chain: &mut Vec<usize>, taken: &mut Vec<bool>, findings: &mut Vec<Finding>| {
            let count: usize = chain.iter().map(|&r| runs[r].digits.len()).sum();
            if count >= 12 {
                let all: Vec<u8> = chain.iter().flat_map(|&r| runs[r].digits.clone()).collect();
                findings.push(Finding {
                    kind: Kind::Pan,
                    leg,
                    words: chain.iter().flat_map(|&r| runs[r].words.clone()).collect(),
                    whole_utterance: None,
                    confidence: if (13..=19).contains(&all.len()) && luhn_valid(&all) {
                        Confidence::High
                    } else {
                        Confidence::Medium
                    },
                    rule: Rule::CardLength,
                });
                for &r in chain.iter() {
                    taken[r] = true;
                }
            }
            chain.clear();
        };
        for &r in &mine {
            let run = &runs[r];
            // A date ("14 June") is not a group of a card number.
            let usable = !cleared_run(run)
                && !run.excluded(&windows1)
                && (!run.month_near || in_any(&windows1, run.start, run.end));
            if !usable {
                flush(&mut chain, &mut taken, &mut findings);
                continue;
            }
            // A chain that already holds a card number's length is complete:
            // what follows ("737") is the next thing read out.
            let full = chain.iter().map(|&r| runs[r].digits.len()).sum::<usize>() >= 13;
            let links = !full
                && chain.last().is_some_and(|&p| {
                    run.joined_to_prev && run.start - runs[p].end <= cfg.split_gap_s
                });
            if !links {
                flush(&mut chain, &mut taken, &mut findings);
            }
            chain.push(r);
        }
        flush(&mut chain, &mut taken, &mut findings);
        // Halves of 8+ digits with other words between, close in time.
        let mut group: Vec<usize> = Vec::new();
        for &r in &mine {
            let run = &runs[r];
            if taken[r] || cleared_run(run) || run.excluded(&windows1) || run.digits.len() < 8 {
                flush(&mut group, &mut taken, &mut findings);
                continue;
            }
            if let Some(&p) = group.last()
                && run.start - runs[p].end > cfg.split_gap_s
            {
                flush(&mut group, &mut taken, &mut findings);
            }
            group.push(r);
        }
        flush(&mut group, &mut taken, &mut findings);
    }
    // A card number found by its shape is payment talk.
    for f in &findings {
        marks.push(Mark::Open {
            t: words[f.words[0]].word.start,
            kind: Kind::Pan,
            back_s: 0.0,
            span_s: cfg.window_s,
        });
    }
    // A customer reading out a number nothing explains (no identity
    // question, no amount, not a year or date) may be reading card data
    // whose request whisper garbled: it is masked, and payment talk is
    // assumed for a short while from the start of that utterance.
    for (r, run) in runs.iter().enumerate() {
        if run.leg == Leg::Customer
            && !taken[r]
            && run.digits.len() >= 3
            && !cleared_run(run)
            && !run.excluded(&windows1)
            && !run.month_near
            && !run.year()
            && !in_any(&windows1, run.start, run.end)
        {
            let utt = words[run.words[0]].utterance;
            marks.push(Mark::Open {
                t: words[by_utt[&utt][0]].word.start,
                kind: Kind::Pan,
                back_s: 0.0,
                span_s: cfg.unplaced_span_s,
            });
        }
    }
    let windows = windows_of(marks);

    // 4. Every other run inside a window.
    let mut cleared = vec![false; n];
    for (r, run) in runs.iter().enumerate() {
        if cleared_run(run) {
            for &w in &run.words {
                cleared[w] = true;
            }
            continue;
        }
        if taken[r] || run.excluded(&windows) {
            continue;
        }
        let in_window = kind_at(&windows, run.start).or(kind_at(&windows, run.end));
        let Some(k) = in_window else { continue };
        // In a window's look-back only what the customer read out (three
        // digits or more: a card datum is never shorter), or a read-back of
        // six digits or more, is taken: not "I've called three times" or
        // the agent's "June fourteenth" before "now the card number".
        let lookback_only = windows
            .iter()
            .find(|w| run.start >= w.from && run.start <= w.to)
            .is_some_and(|w| run.end < w.cues[0].0);
        let least = if run.leg == Leg::Agent { 6 } else { 3 };
        if lookback_only && run.digits.len() < least {
            continue;
        }
        // The kind named in the run's own utterance wins (a cue just after
        // the digits: "oh four twenty-eight, that's the expiry").
        let utt = words[run.words[0]].utterance;
        let own = cues
            .iter()
            .filter(|c| {
                by_utt[&utt]
                    .iter()
                    .any(|&i| (words[i].word.start - c.t).abs() < 1e-9)
            })
            .map(|c| c.kind)
            .next_back();
        let k = own.unwrap_or(k);
        let kind = if run.month_near || k == Kind::Expiry {
            Kind::Expiry
        } else if k == Kind::Cvv && run.digits.len() <= 4 {
            Kind::Cvv
        } else if run.digits.len() >= 12 {
            Kind::Pan
        } else {
            k
        };
        let mut ws = run.words.clone();
        if kind == Kind::Expiry
            && let Some(m) = run.month_before
        {
            ws.insert(0, m);
        }
        taken[r] = true;
        findings.push(Finding {
            kind,
            leg: run.leg,
            words: ws,
            whole_utterance: None,
            confidence: Confidence::Medium,
            rule: Rule::InPaymentTalk,
        });
    }

    // 5. Utterances in a window that are not confidently ordinary speech.
    let mut doubtful: Vec<usize> = Vec::new();
    let mut in_finding = vec![false; n];
    for f in &findings {
        for &w in &f.words {
            in_finding[w] = true;
        }
    }
    // An utterance's extent by its words' times.
    let span_of = |u: usize| {
        let idx = &by_utt[&u];
        let first = words[idx[0]].word.start;
        let last = idx.iter().map(|&i| words[i].word.end).fold(first, f64::max);
        (first, last)
    };
    for (&u, idx) in &by_utt {
        let leg = words[idx[0]].leg;
        let (first, last) = span_of(u);
        if !in_any(&windows, first, last) {
            continue;
        }
        // Only the words in a window after its first cue count (an
        // utterance may straddle the agent's confirmation or the start of
        // payment talk); the look-back's numbers were taken above.
        let active = |i: usize| {
            let (a, b) = (words[i].word.start, words[i].word.end);
            windows.iter().any(|w| a <= w.to && b >= w.cues[0].0 - 0.5)
        };
        let kind = kind_at(&windows, first)
            .or(kind_at(&windows, last))
            .unwrap_or(Kind::Pan);
        let free = |i: usize| !trigger_word[i] && !cleared[i];
        let weighed = |i: usize, least: f32| words[i].word.digit_p.is_none_or(|p| p >= least);
        let unsure_word = |i: usize| {
            free(i)
                && active(i)
                && words[i].word.confidence < cfg.unsure_below
                && suspect(&normed[i], &words[i].word.text)
        };
        // A digit sound-alike ("won", "fore") or number word needs no
        // weights to be suspect.
        let unsure = idx.iter().any(|&i| {
            unsure_word(i)
                && (weighed(i, cfg.unsure_digit_p)
                    || DIGIT_SOUNDALIKES.contains(&normed[i].as_str())
                    || numbers::is_number_word(&words[i].word.text))
        });
        let any_unsure = idx.iter().any(|&i| unsure_word(i));
        let hidden = |i: usize| {
            words[i]
                .word
                .digit_p
                .is_some_and(|p| p >= cfg.hidden_digit_p)
                && !COMMON_WORDS.contains(&normed[i].as_str())
        };
        let number =
            |i: usize| free(i) && (numbers::is_number_word(&words[i].word.text) || hidden(i));
        let soundalike = |i: usize| {
            free(i)
                && DIGIT_SOUNDALIKES.contains(&normed[i].as_str())
                && words[i].word.confidence < 0.8
        };
        // A word that sounds like a digit counts next to a number word
        // ("fits five", "for won").
        let numberish = |p: usize| {
            let i = idx[p];
            number(i)
                || (soundalike(i)
                    && (idx.get(p + 1).is_some_and(|&j| number(j))
                        || (p > 0 && number(idx[p - 1]))))
        };
        // Whisper joins a garbled read-back with hyphens
        // ("eight-family-eight-nuddle-free-eight"): each number part counts,
        // and so does each digit sound-alike beside one.
        let parts = |i: usize| {
            if !free(i) || !words[i].word.text.contains('-') {
                return 0;
            }
            let ps: Vec<String> = words[i].word.text.split('-').map(norm).collect();
            let digit = |p: &String| numbers::is_number_word(p);
            if !ps.iter().any(digit) {
                return 0;
            }
            ps.iter()
                .filter(|p| digit(p) || DIGIT_SOUNDALIKES.contains(&p.as_str()))
                .count()
        };
        let count = (0..idx.len())
            .filter(|&p| active(idx[p]))
            .map(|p| if numberish(p) { 1 } else { parts(idx[p]) })
            .sum::<usize>();
        let in_len = idx.iter().filter(|&&i| active(i)).count();
        // Either leg: mostly numbers, or a number read out (three or more
        // number words: a read-back whisper garbled in between). The
        // customer's unsure word that may hide a number (not an everyday
        // word) takes the utterance; the agent's only among numbers or
        // words that sound like digits (a garbled read-back: "free voted
        // hammer"), not in "take care".
        let numbers_read = count >= 3 || (count > 0 && count * 5 >= in_len * 2);
        let whole = numbers_read
            || match leg {
                Leg::Customer => unsure,
                Leg::Agent => {
                    unsure && (count > 0 || idx.iter().any(|&i| active(i) && soundalike(i)))
                }
            };
        // What the old rule took without asking whisper's weights: a second
        // listen decides (the agent's only among numbers or sound-alikes).
        let doubt = any_unsure
            && match leg {
                Leg::Customer => true,
                Leg::Agent => count > 0 || idx.iter().any(|&i| active(i) && soundalike(i)),
            };
        if !whole && doubt {
            doubtful.push(u);
        }
        if whole {
            findings.push(Finding {
                kind,
                leg,
                words: idx.clone(),
                whole_utterance: Some(u),
                confidence: Confidence::Low,
                rule: if numbers_read {
                    Rule::NumbersRead
                } else {
                    Rule::Unsure
                },
            });
        } else if count > 0 {
            // The numbers, and whisper's fragments next to them.
            let mut ws: Vec<usize> = Vec::new();
            for (p, &i) in idx.iter().enumerate() {
                let near = |q: usize| q < idx.len() && active(idx[q]) && numberish(q);
                let fragment = free(i)
                    && !COMMON_WORDS.contains(&normed[i].as_str())
                    && (near(p + 1) || (p > 0 && near(p - 1)));
                if ((active(i) && (numberish(p) || parts(i) > 0)) || fragment) && !in_finding[i] {
                    ws.push(i);
                }
            }
            if !ws.is_empty() {
                findings.push(Finding {
                    kind,
                    leg,
                    words: ws,
                    whole_utterance: None,
                    confidence: Confidence::Low,
                    rule: Rule::Fragments,
                });
            }
        }
    }

    // 5b. A number read out is often cut into several utterances, and
    //     whisper may garble one piece into words ("do they donate
    //     chemistry" for "two eight oh eight seven"): the customer's
    //     utterance right before or after one of theirs that lost numbers,
    //     in payment talk, goes too unless every word is an everyday word.
    //     The agent's such utterance only gets a second listen: beside a
    //     read-back come the agent's own confirmations, and masking them
    //     outright cost far more speech than it saved in tuning.
    let lost_numbers: std::collections::BTreeSet<usize> = findings
        .iter()
        .filter(|f| {
            matches!(
                f.rule,
                Rule::CardLength | Rule::InPaymentTalk | Rule::NumbersRead | Rule::Fragments
            )
        })
        .flat_map(|f| {
            f.whole_utterance
                .into_iter()
                .chain(f.words.iter().map(|&w| words[w].utterance))
        })
        .collect();
    let utts: Vec<usize> = by_utt.keys().copied().collect();
    for (k, &u) in utts.iter().enumerate() {
        let idx = &by_utt[&u];
        let leg = words[idx[0]].leg;
        let (a, b) = span_of(u);
        if lost_numbers.contains(&u)
            || idx.len() > cfg.neighbour_max_words
            || !in_any(&windows, a, b)
            || idx.iter().all(|&i| {
                trigger_word[i] || cleared[i] || COMMON_WORDS.contains(&normed[i].as_str())
            })
        {
            continue;
        }
        // The nearest utterance of the same leg on each side.
        let before = utts[..k]
            .iter()
            .rev()
            .find(|&&v| words[by_utt[&v][0]].leg == leg);
        let after = utts[k + 1..]
            .iter()
            .find(|&&v| words[by_utt[&v][0]].leg == leg);
        let near = before
            .is_some_and(|&v| lost_numbers.contains(&v) && a - span_of(v).1 <= cfg.neighbour_gap_s)
            || after.is_some_and(|&v| {
                lost_numbers.contains(&v) && span_of(v).0 - b <= cfg.neighbour_gap_s
            });
        if near && leg == Leg::Agent {
            if !doubtful.contains(&u) && !findings.iter().any(|f| f.whole_utterance == Some(u)) {
                doubtful.push(u);
            }
        } else if near {
            findings.push(Finding {
                kind: kind_at(&windows, a).unwrap_or(Kind::Pan),
                leg,
                words: idx.clone(),
                whole_utterance: Some(u),
                confidence: Confidence::Low,
                rule: Rule::Neighbour,
            });
        }
    }

    // 6. The net: the rest of an utterance that lost something, and long
    //    runs nothing placed.
    let mut touched: std::collections::BTreeMap<usize, Kind> = Default::default();
    for f in &findings {
        for &w in &f.words {
            touched.entry(words[w].utterance).or_insert(f.kind);
        }
        if let Some(u) = f.whole_utterance {
            touched.insert(u, f.kind);
        }
    }
    for f in &findings {
        for &w in &f.words {
            in_finding[w] = true;
        }
    }
    let mut in_run = vec![false; n];
    for r in &runs {
        for &w in &r.words {
            in_run[w] = true;
        }
    }
    for r in runs.iter().filter(|r| r.excluded(&windows)) {
        for &w in &r.words {
            cleared[w] = true;
        }
    }
    for (&u, &kind) in &touched {
        let ws: Vec<usize> = by_utt[&u]
            .iter()
            .copied()
            .filter(|&i| !in_finding[i] && !cleared[i] && !trigger_word[i])
            .filter(|&i| in_run[i] || words[i].word.text.chars().any(|c| c.is_ascii_digit()))
            .collect();
        if !ws.is_empty() {
            findings.push(Finding {
                kind,
                leg: words[ws[0]].leg,
                words: ws,
                whole_utterance: None,
                confidence: Confidence::Low,
                rule: Rule::Net,
            });
        }
    }
    for (r, run) in runs.iter().enumerate() {
        if !taken[r] && !cleared_run(run) && !run.excluded(&windows) && run.digits.len() >= 6 {
            let ws: Vec<usize> = run
                .words
                .iter()
                .copied()
                .filter(|&w| !in_finding[w])
                .collect();
            if !ws.is_empty() {
                findings.push(Finding {
                    kind: Kind::Pan,
                    leg: run.leg,
                    words: ws,
                    whole_utterance: None,
                    confidence: Confidence::Low,
                    rule: Rule::LongRun,
                });
            }
        }
    }
    let kept: Vec<usize> = runs
        .iter()
        .filter(|r| cleared_run(r) || r.excluded(&windows))
        .flat_map(|r| r.words.iter().copied())
        .filter(|&w| !in_finding[w])
        .collect();
    Detection {
        findings,
        windows: windows.iter().map(|w| (w.from, w.to)).collect(),
        kept,
        doubtful: {
            doubtful.sort_unstable();
            doubtful.dedup();
            doubtful
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words from `(leg, text)` turns, 0.4 s per word, confidence 0.9 unless
    /// the word ends in `~` (then 0.2, and the `~` is dropped); `^` instead
    /// is unsure too, but with whisper's weights saying no number was in the
    /// running (`digit_p` 0).
    fn call(turns: &[(Leg, &str)]) -> Vec<CallWord> {
        let mut t = 0.0;
        let mut out = Vec::new();
        for (u, (leg, text)) in turns.iter().enumerate() {
            for w in text.split_whitespace() {
                let (w, conf, digit_p) = match (w.strip_suffix('~'), w.strip_suffix('^')) {
                    (Some(x), _) => (x, 0.2, None),
                    (_, Some(x)) => (x, 0.2, Some(0.0)),
                    _ => (w, 0.9, None),
                };
                out.push(CallWord {
                    leg: *leg,
                    utterance: u,
                    word: Word {
                        text: w.to_string(),
                        start: t,
                        end: t + 0.35,
                        confidence: conf,
                        digit_p,
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
        // The customer's replies are mostly numbers: redacted whole.
        assert_eq!(
            text,
            "Can I take the long number on the front of the card? # # # # # # \
             And the three digits on the back? # # And the expiry date? # # # Thank you."
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
        // A card number opens payment talk; the utterance is mostly digits.
        assert_eq!(redacted(&w, &f), "# # # # # # #");
        assert_eq!(f[0].confidence, Confidence::Medium);
    }

    #[test]
    fn a_number_split_over_two_turns_is_found() {
        let w = call(&[(C, "it's 4111 1111"), (A, "yes, go on"), (C, "1111 1111")]);
        let f = detect(&w, &DetectConfig::default());
        assert_eq!(redacted(&w, &f), "# # # yes, go on # #");
    }

    #[test]
    fn distractors_outside_payment_talk_survive() {
        let w = call(&[
            (C, "my order number is 58213 6690 and my zip is 57139"),
            (A, "the total was forty nine ninety nine, card ending 1234"),
            (C, "my mobile is 555 0142"),
        ]);
        let f = detect(&w, &DetectConfig::default());
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn a_number_nothing_explains_is_masked() {
        // No identity question, no unit, not a year: it may be card data
        // whose request whisper garbled.
        let w = call(&[
            (A, "what's the humbler on the throne"),
            (C, "okay 4 4 1 1 1"),
        ]);
        let mut w = w;
        w.extend(later(call(&[(C, "I bought it in 2019")]), 40.0, 2));
        let f = detect(&w, &DetectConfig::default());
        assert_eq!(
            redacted(&w, &f),
            "what's the humbler on the throne # # # # # # I bought it in 2019"
        );
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
        // 10 digits, then 6 s later a date: two numbers, not a 12-digit PAN;
        // the 10 digits go to the net (six or more digits nothing placed).
        let mut w = call(&[(C, "2096 544 884")]);
        let mut late = call(&[(C, "14 June")]);
        for x in &mut late {
            x.word.start += 6.0;
            x.word.end += 6.0;
            x.utterance += 1;
        }
        w.extend(late);
        let f = detect(&w, &DetectConfig::default());
        // Not one finding over both (the date is masked only because it
        // falls in the payment talk the unexplained number implies).
        assert!(
            f.iter().all(|x| x
                .words
                .iter()
                .all(|&i| w[i].utterance == w[x.words[0]].utterance)),
            "{f:?}"
        );
    }

    #[test]
    fn payment_windows_are_reported() {
        let w = call(&[(A, "the card number please"), (C, "ok")]);
        let d = detect_all(&w, &DetectConfig::default());
        assert_eq!(d.windows.len(), 1);
        let (a, b) = d.windows[0];
        assert!(a <= w[1].word.start && b >= w[4].word.start + 40.0);
    }

    /// No number word or digit is left in the text.
    fn no_numbers(text: &str) -> bool {
        !text
            .split_whitespace()
            .any(|w| numbers::is_number_word(w) && w != "#")
    }

    /// Shifts a call's words by `dt` seconds and its utterances by `du`.
    fn later(mut w: Vec<CallWord>, dt: f64, du: usize) -> Vec<CallWord> {
        for x in &mut w {
            x.word.start += dt;
            x.word.end += dt;
            x.utterance += du;
        }
        w
    }

    #[test]
    fn digits_said_before_their_context_words_are_found() {
        for turns in [
            vec![(C, "oh four two eight, that's when it runs out")],
            vec![(C, "seven three seven"), (C, "that's the code on the back")],
            vec![
                (C, "four five three two seven seven one eight"),
                (
                    C,
                    "zero nine six four one two three four, that's the card number",
                ),
            ],
        ] {
            let w = call(&turns);
            let f = detect(&w, &DetectConfig::default());
            let text = redacted(&w, &f);
            assert!(no_numbers(&text), "{text}");
        }
    }

    #[test]
    fn context_in_wordings_no_list_was_written_for() {
        // Requests in many wordings, each followed by a short number that
        // only context can make card data.
        for ask in [
            "what's the full number on the card",
            "and the digits across the front",
            "when does it run out",
            "what's the good thru date",
            "and the CID please",
            "the little code by the signature strip",
            "the 3-digit code",
            "read me the card's security number",
            "what's the C.V.C.",
            "month and year on it",
            "the sixteen-digit number",
            "what are the numbers printed on your Visa",
            "how will you be paying, which card",
            "go ahead and key it in",
            "please enter the number using your phone",
        ] {
            let w = call(&[(A, ask), (C, "it's seven three seven"), (A, "thank you")]);
            let f = detect(&w, &DetectConfig::default());
            let text = redacted(&w, &f);
            let reply = &text[ask.len()..];
            assert!(no_numbers(reply), "{ask}: {text}");
            assert!(text.ends_with("thank you"), "{text}");
        }
    }

    #[test]
    fn groups_with_long_pauses_and_fillers_make_one_number() {
        // No trigger at all; groups of four 5 s apart with "and", "then".
        let mut w = call(&[(A, "okay go ahead when you're ready")]);
        for (k, g) in ["4532", "and 7718", "then 0964", "okay 1234"]
            .iter()
            .enumerate()
        {
            w.extend(later(call(&[(C, g)]), 5.0 * (k + 1) as f64, k + 1));
        }
        let f = detect(&w, &DetectConfig::default());
        let text = redacted(&w, &f);
        assert!(!text.chars().any(|c| c.is_ascii_digit()), "{text}");
        assert!(f.iter().any(|x| x.kind == Kind::Pan));
    }

    #[test]
    fn a_long_wait_keeps_the_window_open() {
        let mut w = call(&[
            (A, "and the security code"),
            (C, "hang on my purse is in the other room"),
        ]);
        w.extend(later(call(&[(C, "okay it's seven three seven")]), 75.0, 2));
        let f = detect(&w, &DetectConfig::default());
        let text = redacted(&w, &f);
        assert!(no_numbers(&text), "{text}");
    }

    #[test]
    fn garbled_real_voice_digits_go_whole() {
        let w = call(&[
            (A, "could you read the card number"),
            (C, "right fits five, man nine"),
            (C, "sure~ thing~ it's Forfar~ oh"),
        ]);
        let f = detect(&w, &DetectConfig::default());
        let text = redacted(&w, &f);
        assert!(!text.contains("fits") && !text.contains("Forfar"), "{text}");
        assert!(no_numbers(&text), "{text}");
    }

    #[test]
    fn short_numbers_after_an_identity_question_are_not_excused() {
        // Three or four digits are a code's or an expiry's shape, not a
        // phone number's: the request for them may be what whisper garbled.
        let w = call(&[
            (A, "could I get the phone number on the account"),
            (
                C,
                "it's oh seven seven double oh nine double oh one two three",
            ),
            (A, "what's the x paid"),
            (C, "oh four twenty eight"),
        ]);
        let text = redacted(&w, &detect(&w, &DetectConfig::default()));
        assert!(text.contains("seven seven double"), "{text}");
        assert!(!text.contains("twenty"), "{text}");
    }

    #[test]
    fn number_parts_of_a_hyphenated_word_count() {
        let w = call(&[
            (
                C,
                "it's four nine two nine one oh three eight four four five six seven eight nine one",
            ),
            (A, "let me read that back"),
            (
                A,
                "free-nuddle-family-free eight-family-eight-nuddle-free-eight",
            ),
        ]);
        let d = detect_all(&w, &DetectConfig::default());
        let text = redacted(&w, &d.findings);
        assert!(!text.contains("nuddle"), "{text}");
    }

    #[test]
    fn unsure_words_with_no_number_in_the_running_are_doubtful_not_masked() {
        let cfg = DetectConfig::default();
        let w = call(&[
            (A, "and the three digit code on the back please"),
            (C, "hammer^ type^ hero^"),
        ]);
        let d = detect_all(&w, &cfg);
        assert_eq!(d.doubtful, vec![1], "a second listen decides");
        assert!(!d.findings.iter().any(|f| f.whole_utterance == Some(1)));
        // Without whisper's weights it is masked whole, as before.
        let w = call(&[
            (A, "and the three digit code on the back please"),
            (C, "hammer~ type~ hero~"),
        ]);
        let d = detect_all(&w, &cfg);
        assert!(d.doubtful.is_empty());
        assert!(d.findings.iter().any(|f| f.whole_utterance == Some(1)));
    }

    #[test]
    fn a_garbled_piece_next_to_a_number_read_out_goes_with_it() {
        let w = call(&[
            (A, "what's the long number on the front"),
            (C, "four nine two nine one oh three eight"),
            (C, "do they donate chemistry"),
            (C, "sorry that was all of it"),
        ]);
        let text = redacted(&w, &detect(&w, &DetectConfig::default()));
        assert!(!text.contains("chemistry"), "{text}");
        assert!(text.contains("sorry that was all of it"), "{text}");
    }

    #[test]
    fn only_the_agents_affirmative_confirmation_closes_the_window() {
        for closer in [
            (A, "hmm it didn't go through, sorry"),
            (A, "has it gone through?"),
            (C, "you've charged me twice, it went through"),
            (A, "it's not been approved yet"),
        ] {
            let w = call(&[
                (A, "and the security code"),
                (C, "one moment"),
                closer,
                (C, "seven three seven"),
            ]);
            let f = detect(&w, &DetectConfig::default());
            let text = redacted(&w, &f);
            assert!(no_numbers(&text), "{closer:?}: {text}");
        }
        let w = call(&[
            (A, "and the security code"),
            (C, "seven three seven"),
            (A, "lovely, that's gone through now"),
        ]);
        let mut w2 = w.clone();
        w2.extend(later(call(&[(C, "I have 2 sofas")]), 10.0, 3));
        let f = detect(&w2, &DetectConfig::default());
        assert!(redacted(&w2, &f).ends_with("I have 2 sofas"));
    }

    fn meant(utterance: usize, kind: Kind, strong: bool) -> MeaningCue {
        MeaningCue {
            utterance,
            kind,
            strong,
        }
    }

    #[test]
    fn a_weak_cue_by_meaning_counts_only_inside_payment_talk() {
        let w = call(&[
            (A, "great you're all sorted what happened"),
            (A, "so that's seven three seven"),
        ]);
        let cfg = DetectConfig::default();
        let d = detect_with_cues(&w, &[], &[meant(0, Kind::Cvv, false)], &cfg);
        assert!(d.windows.is_empty());
        let text = redacted(&w, &d.findings);
        assert!(text.contains("seven three seven"), "{text}");
        // Inside payment talk found otherwise (keypad tones) it counts.
        let d = detect_with_cues(&w, &[(0.0, 0.1)], &[meant(0, Kind::Cvv, false)], &cfg);
        assert!(d.windows.iter().any(|&(_, b)| b > 120.0));
    }

    #[test]
    fn a_cue_by_meaning_opens_the_window() {
        // No cue word anywhere: "what's on the flip side" and "when is it
        // good for" are payment talk only by meaning; without them the
        // agent's read-backs are kept.
        let w = call(&[
            (C, "yes that's what's on the flip side"),
            (A, "so that's seven three seven"),
            (A, "great and when is it good for"),
            (A, "so oh four twenty eight"),
        ]);
        let plain = redacted(&w, &detect(&w, &DetectConfig::default()));
        assert!(plain.contains("seven three seven"), "{plain}");
        let d = detect_with_cues(
            &w,
            &[],
            &[meant(0, Kind::Cvv, true), meant(2, Kind::Expiry, true)],
            &DetectConfig::default(),
        );
        let text = redacted(&w, &d.findings);
        assert!(no_numbers(&text), "{text}");
        assert!(text.contains("flip side"), "{text}");
    }

    #[test]
    fn a_cue_by_meaning_in_a_confirmation_does_not_reopen_the_window() {
        let w = call(&[
            (A, "and the security code"),
            (C, "seven three seven"),
            (A, "lovely that's gone through on the card"),
            (C, "I have 2 sofas"),
        ]);
        let d = detect_with_cues(
            &w,
            &[],
            &[meant(2, Kind::Pan, true)],
            &DetectConfig::default(),
        );
        let text = redacted(&w, &d.findings);
        assert!(text.ends_with("I have 2 sofas"), "{text}");
    }

    #[test]
    fn keypad_tones_open_payment_talk() {
        // Spoken digits just after keyed ones, with no words of payment.
        let w = call(&[(C, "oops that was seven three seven")]);
        let d = detect_with_tones(&w, &[(0.0, 0.2)], &DetectConfig::default());
        let text = redacted(&w, &d.findings);
        assert!(no_numbers(&text), "{text}");
    }

    #[test]
    fn ordinary_agent_sentences_in_payment_talk_stay() {
        let w = call(&[
            (
                A,
                "You'll hear a~ tone, then please enter the long card number using your keypad",
            ),
            (C, "okay"),
            (A, "Take care, and thanks for calling"),
        ]);
        let d = detect_all(&w, &DetectConfig::default());
        assert!(d.findings.is_empty(), "{:?}", d.findings);
        assert_eq!(d.windows.len(), 1);
    }

    #[test]
    fn spelt_and_hyphenated_cues_are_read() {
        let toks = |s: &str| {
            let w = call(&[(A, s)]);
            let idx: Vec<usize> = (0..w.len()).collect();
            tokens(&w, &idx)
                .into_iter()
                .map(|t| t.text)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(toks("the C V V"), "the cvv");
        assert_eq!(toks("three-digit code"), "three digit code");
        assert_eq!(toks("card's"), "cards");
    }

    #[test]
    fn a_reference_number_is_not_payment_talk() {
        // A 12-digit claim reference after an identity question: kept, and
        // the talk around it is not redacted.
        let w = call(&[
            (A, "Good~ evening, welcome to Harrow~ Motors"),
            (A, "is there a claim reference on the paperwork?"),
            (C, "um 9052 4999 2159"),
            (C, "the engine~ light~ came on"),
        ]);
        let d = detect_all(&w, &DetectConfig::default());
        assert!(d.findings.is_empty(), "{:?}", d.findings);
        assert!(d.windows.is_empty());
    }

    #[test]
    fn a_greeting_is_not_an_expiry_cue() {
        let w = call(&[
            (A, "Good morning, you're through to Brightline"),
            (C, "zip code five seven one three nine"),
        ]);
        let d = detect_all(&w, &DetectConfig::default());
        assert!(d.windows.is_empty() && d.findings.is_empty(), "{d:?}");
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
