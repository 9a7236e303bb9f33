//! Speech recognition: VAD-gated utterances in, timed words out.
//!
//! * [`Transcriber`] is the seam: [`whisper::WhisperPool`] is the real one;
//!   tests of other stages may use a fake.
//! * [`guard`] removes what whisper invents: text from non-speech, loops of
//!   repeated words, more words than the audio can hold.
//!
//! Transcripts hold **unredacted** speech. Their `Debug` output never shows
//! the text, and nothing in this module logs it; only the redactor may turn
//! them into something that is stored or sent.

pub mod guard;
pub mod whisper;

use std::fmt;

use crate::frame::{CallId, Leg, SAMPLE_RATE};

/// A stretch of one leg's speech, cut by the VAD, at 16 kHz.
#[derive(Clone)]
pub struct Utterance {
    /// The call.
    pub call_id: CallId,
    /// Whose speech.
    pub leg: Leg,
    /// Media time of the first sample, seconds.
    pub start_s: f64,
    /// The audio, 16 kHz mono.
    pub samples: Vec<f32>,
    /// Decode it primed for digits (a second listen to speech in payment
    /// talk that the first decode wrote as unsure ordinary words).
    pub prime_digits: bool,
}

impl Utterance {
    /// Length in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

impl fmt::Debug for Utterance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Utterance")
            .field("call_id", &self.call_id)
            .field("leg", &self.leg)
            .field("start_s", &self.start_s)
            .field("duration_s", &self.duration_s())
            .finish()
    }
}

/// One recognised word with its media times.
#[derive(Clone, PartialEq)]
pub struct Word {
    /// The word as whisper wrote it (leading space removed). Unredacted.
    pub text: String,
    /// Start, seconds of media time.
    pub start: f64,
    /// End, seconds of media time.
    pub end: f64,
    /// Mean token probability, 0–1: low means whisper is unsure.
    pub confidence: f32,
    /// The largest share of whisper's next-token probability that went to
    /// digit and number tokens ("7", " seven", " twenty") at this word's
    /// tokens, 0–1: high on a word that is not a number means the
    /// recogniser weighed a number there and wrote something else ("fits"
    /// for "six"). `None` when not measured (a fake transcriber): treated
    /// as "may be a number".
    pub digit_p: Option<f32>,
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Word({} chars, {:.2}-{:.2} s, p {:.2})",
            self.text.chars().count(),
            self.start,
            self.end,
            self.confidence
        )
    }
}

/// What the recogniser made of an utterance.
#[derive(Clone, PartialEq, Default)]
pub struct Transcript {
    /// The words in order (empty when nothing was said or all was dropped).
    pub words: Vec<Word>,
    /// Highest no-speech probability whisper gave a segment, 0–1.
    pub no_speech_prob: f32,
    /// Words the hallucination guard removed.
    pub dropped_words: usize,
    /// A sentence embedding of the text ([`crate::embed`]), when the pool
    /// has a [`SentenceEmbed`] and it gave one. Derived from unredacted
    /// text: used in memory only, never stored.
    pub embedding: Option<Vec<f32>>,
}

impl Transcript {
    /// Words as spoken, for talk rate: a digit string counts the words it
    /// is read as ([`crate::report::spoken_words`]).
    pub fn spoken_words(&self) -> u64 {
        self.words
            .iter()
            .map(|w| crate::report::spoken_words(&w.text))
            .sum()
    }

    /// The words joined by spaces. Unredacted: never log it.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for w in &self.words {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&w.text);
        }
        s
    }
}

impl fmt::Debug for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transcript")
            .field("words", &self.words.len())
            .field("no_speech_prob", &self.no_speech_prob)
            .field("dropped_words", &self.dropped_words)
            .field("embedding", &self.embedding.is_some())
            .finish()
    }
}

/// Turns a first decode into a sentence embedding, on the whisper worker
/// right after decoding (so live calls get it without blocking the async
/// runtime): [`crate::redact::meaning::ContextEmbed`]. `None` means none
/// (too short, or the model failed; never log the text).
pub trait SentenceEmbed: Send + Sync + fmt::Debug {
    /// The embedding of `t`, if any.
    fn embed(&self, t: &Transcript) -> Option<Vec<f32>>;
}

/// Why an utterance was not transcribed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsrError {
    /// The model file is missing or unreadable. Stop: install it.
    #[error(
        "whisper model {path}: {detail}; run `callscope model install base` or pass --model PATH / set CALLSCOPE_MODEL"
    )]
    Model {
        /// The model path.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// whisper failed on this utterance. Skip it (the audio is kept and
    /// treated as unsure by redaction).
    #[error("whisper failed on an utterance: {0}")]
    Inference(String),
    /// The queue is full. Retry later or degrade (skip partial results).
    #[error("transcription queue is full")]
    Busy,
    /// The worker pool has shut down. Stop.
    #[error("transcription workers have stopped")]
    Stopped,
}

/// A word folded for comparison: letters and digits only, lower case
/// (`"Number,"` → `"number"`).
pub fn fold(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where a transcription result goes: called once, on a worker thread.
pub type Reply = Box<dyn FnOnce(Result<Transcript, AsrError>) + Send>;

/// A shared pool of transcription workers, as the call engine's drivers
/// use it: jobs go in without blocking the audio path and their results
/// come back through a [`Reply`], in any order. [`whisper::WhisperPool`]
/// is the real one; tests use a fake that answers from a script.
pub trait AsrPool: Send + Sync {
    /// Queues a job without waiting; when the queue is full
    /// ([`AsrError::Busy`]) or stopped, the error comes back with the
    /// utterance.
    fn try_submit_with(
        &self,
        utterance: Utterance,
        reply: Reply,
    ) -> Result<(), (AsrError, Utterance)>;
    /// Queues a job, waiting for room in the queue (batch work only,
    /// never on the async runtime).
    fn submit_with(&self, utterance: Utterance, reply: Reply) -> Result<(), AsrError>;
    /// Jobs queued that no worker has taken yet.
    fn waiting(&self) -> usize;
    /// Worker threads and queue places, `(0, 0)` when not known (readiness
    /// then looks at the call count only).
    fn capacity(&self) -> (usize, usize) {
        (0, 0)
    }
}

/// Anything that turns utterances into timed words.
pub trait Transcriber: Send + Sync {
    /// Transcribes one utterance; blocks until done.
    fn transcribe(&self, utterance: &Utterance) -> Result<Transcript, AsrError>;
}
