//! The whisper worker pool: one model, N worker threads each with its own
//! state, fed by a bounded queue. Inference never runs on an async runtime.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;

use tracing::{debug, info};
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use super::guard::{self, GuardConfig};
use super::{AsrError, Transcriber, Transcript, Utterance, Word};
use crate::frame::SAMPLE_RATE;

/// Settings of the pool.
#[derive(Debug, Clone)]
pub struct WhisperConfig {
    /// The ggml model file.
    pub model: PathBuf,
    /// Spoken language, pinned (default `en`) so that a multilingual model
    /// neither guesses nor translates.
    pub language: String,
    /// Worker threads, each with its own whisper state.
    pub workers: usize,
    /// Threads each worker gives whisper.
    pub threads_per_worker: usize,
    /// Utterances that may wait in the queue.
    pub queue: usize,
    /// Smallest encoder context used, positions (50 per second). Measured
    /// on dev-001 with base: a context fitted tightly to short utterances
    /// makes whisper slower *and* worse (it decodes long invented text);
    /// 256 (5.1 s) gave 6× real time at 3.3 % / 6.7 % WER (agent/customer),
    /// the full 1500 gave 0.9× at 2.5 % / 6.7 %.
    pub min_audio_ctx: i32,
    /// Hallucination guard.
    pub guard: GuardConfig,
    /// Sentence embeddings for each first decode
    /// ([`crate::asr::Transcript::embedding`]), computed on the worker
    /// right after whisper; `None` leaves them out.
    pub embedder: Option<Arc<dyn super::SentenceEmbed>>,
}

impl WhisperConfig {
    /// Workers and threads chosen from the core count: one single-threaded
    /// worker per core. Measured on 2 cores (`examples/asr_eval`, dev-001
    /// to dev-004): 2 workers × 1 thread transcribe 8–12 % more per second
    /// than 1 × 2 (base 6.8× vs 6.3× real time, base q8_0 9.2× vs 8.2×),
    /// since whisper's many small decoder steps scale poorly across
    /// threads; one utterance alone takes longer, which only shows when
    /// the machine is idle.
    pub fn for_machine(model: PathBuf) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        WhisperConfig {
            model,
            language: "en".to_string(),
            workers: cores.max(1),
            threads_per_worker: 1,
            queue: 64,
            min_audio_ctx: 256,
            guard: GuardConfig::default(),
            embedder: None,
        }
    }
}

/// Shortest clip handed to whisper (shorter utterances are padded with silence), samples.
const MIN_SAMPLES: usize = SAMPLE_RATE as usize;
/// Longest clip whisper takes in one pass, samples (30 s).
pub const MAX_SAMPLES: usize = 30 * SAMPLE_RATE as usize;

/// Encoder context for a clip: 50 positions per second (one per 320
/// samples) plus 1 s of margin, at least `min`, never shorter than the
/// clip, at most 1500 (30 s). The margin matters for utterances longer than
/// the minimum: with 0.3 s whisper often looped back over what it had
/// already transcribed (measured with joined utterances on dev-001…004:
/// WER 12.2 % → 4.9 % agent with 1 s, at 4 % more encoder work; 2 s was no
/// better and slower).
pub fn audio_ctx_for(samples: usize, min: i32) -> i32 {
    const MARGIN: usize = 50;
    ((samples.div_ceil(320) + MARGIN).max(min.max(0) as usize)).min(1500) as i32
}

/// Whether whisper.cpp was built with its tinyBLAS (llamafile sgemm) matrix
/// kernels, which `.cargo/config.toml` asks for: the encoder's matrix
/// products run about twice as fast with them (docs/performance.md, "Speed and capacity").
pub fn fast_kernels() -> bool {
    whisper_rs::print_system_info().contains("LLAMAFILE = 1")
}

/// Where a result goes: called on the worker thread, so it must not block.
pub use super::Reply;

struct Job {
    utterance: Utterance,
    reply: Reply,
}

/// The context a digit-primed decode starts from ([`Utterance::prime_digits`]):
/// payment talk in which numbers are written as digits, so that digits
/// spoken unclearly come out as digits rather than as look-alike words.
const DIGIT_PROMPT: &str =
    "Card number 4 9 2 9, 1 0 3 8. Expiry 0 4 2 8. Security code 7 3 7. Okay.";

/// Whether a vocabulary entry is a number: digits ("7", " 42") or a number
/// word (" seven", "twenty", " double"), with or without its leading space.
fn is_digit_token(piece: &[u8]) -> bool {
    let t = String::from_utf8_lossy(piece);
    let t = t.trim();
    !t.is_empty()
        && (t.bytes().all(|b| b.is_ascii_digit())
            || DIGIT_TOKEN_WORDS.contains(&t.to_ascii_lowercase().as_str()))
}

/// Number words whose whisper tokens count as "a number" for
/// [`Word::digit_p`].
const DIGIT_TOKEN_WORDS: &[&str] = &[
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
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
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "double",
    "triple",
];

/// What the logits callback gathers during one decode: per step, the share
/// of probability on digit tokens and the most likely token.
struct DigitProbe {
    /// `true` at the ids of digit tokens; as long as the vocabulary.
    digit: Arc<Vec<bool>>,
    /// Per decoder step: (share on digit tokens, most likely token id).
    steps: Vec<(f32, i32)>,
}

/// The logits filter: records [`DigitProbe::steps`] and leaves the logits
/// as they are.
///
/// # Safety
/// whisper.cpp calls it with `logits` pointing at `whisper_n_vocab` floats
/// and `user_data` at the [`DigitProbe`] that [`run`] set, which outlives
/// the `full` call.
unsafe extern "C" fn probe_digits(
    _ctx: *mut whisper_rs::WhisperSysContext,
    _state: *mut whisper_rs::WhisperSysState,
    _tokens: *const whisper_rs::WhisperTokenData,
    _n_tokens: std::os::raw::c_int,
    logits: *mut f32,
    user_data: *mut std::os::raw::c_void,
) {
    if logits.is_null() || user_data.is_null() {
        return;
    }
    // SAFETY: see the function's contract.
    let probe = unsafe { &mut *(user_data as *mut DigitProbe) };
    let n = probe.digit.len();
    // SAFETY: `logits` holds the vocabulary's n floats.
    let logits = unsafe { std::slice::from_raw_parts(logits as *const f32, n) };
    let (mut best, mut best_id) = (f32::NEG_INFINITY, -1i32);
    for (i, &l) in logits.iter().enumerate() {
        if l > best {
            best = l;
            best_id = i as i32;
        }
    }
    if !best.is_finite() {
        return;
    }
    let (mut all, mut digits) = (0f32, 0f32);
    for (&l, &d) in logits.iter().zip(probe.digit.iter()) {
        // e^-20 of the best: nothing a share could notice, and no exp().
        if l < best - 20.0 {
            continue;
        }
        let e = (l - best).exp();
        all += e;
        if d {
            digits += e;
        }
    }
    probe
        .steps
        .push((digits / all.max(f32::MIN_POSITIVE), best_id));
}

/// A [`Reply`] that sends the result down a channel, and its receiver.
pub fn channel_reply() -> (Reply, Receiver<Result<Transcript, AsrError>>) {
    let (tx, rx) = mpsc::channel();
    (
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
        rx,
    )
}

/// A pool of whisper workers sharing one loaded model.
pub struct WhisperPool {
    tx: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    /// Jobs queued and not yet taken by a worker.
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    /// Queue places.
    queue: usize,
}

static LOG_HOOKS: Once = Once::new();

/// Niceness of the whisper workers (and the compute threads whisper.cpp
/// starts from them, which inherit it): when transcription saturates the
/// machine, the audio path — decoding, signals, prompts, redaction — still
/// gets the CPU the moment it needs it, so live signals stay real time.
pub const WORKER_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`WORKER_NICE`] (Linux: nice
/// is per thread). Best effort: a refusal leaves the priority as it was.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority reads its three integer arguments and nothing else;
    // `who` 0 with PRIO_PROCESS is the calling thread on Linux.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, WORKER_NICE) };
    #[cfg(not(target_os = "linux"))]
    let rc = 0;
    if rc != 0 {
        tracing::debug!("could not lower the whisper worker's priority");
    }
}

impl WhisperPool {
    /// Loads the model once and starts the workers (at a lower CPU priority
    /// than everything else, see [`WORKER_NICE`]).
    pub fn start(cfg: WhisperConfig) -> Result<Self, AsrError> {
        LOG_HOOKS.call_once(whisper_rs::install_logging_hooks);
        let path = cfg.model.display().to_string();
        let model_err = |detail: String| AsrError::Model {
            path: path.clone(),
            detail,
        };
        if !Path::new(&cfg.model).is_file() {
            return Err(model_err("file not found".to_string()));
        }
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false);
        let ctx = WhisperContext::new_with_params(&cfg.model, params)
            .map_err(|e| model_err(format!("cannot load it as a ggml Whisper model ({e})")))?;
        let eot = ctx.token_eot();
        let n_vocab = ctx.n_vocab().max(0) as usize;
        let digit: Arc<Vec<bool>> = Arc::new(
            (0..n_vocab)
                .map(|id| {
                    (id as i32) < eot && ctx.token_to_bytes(id as i32).is_ok_and(is_digit_token)
                })
                .collect(),
        );
        info!(model = %path, workers = cfg.workers, threads = cfg.threads_per_worker, "whisper loaded");
        if !fast_kernels() {
            tracing::warn!(
                system = whisper_rs::print_system_info(),
                "whisper.cpp was built without its tinyBLAS matrix kernels (GGML_LLAMAFILE), so \
                 transcription runs about 1.7x slower: rebuild it with `cargo clean --release -p \
                 whisper-rs-sys` and a build from the project directory (.cargo/config.toml sets it)"
            );
        }
        let (tx, rx) = mpsc::sync_channel::<Job>(cfg.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let cfg = Arc::new(cfg);
        let waiting = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut workers = Vec::new();
        for i in 0..cfg.workers.max(1) {
            let mut state = ctx
                .create_state()
                .map_err(|e| model_err(format!("cannot create a whisper state ({e})")))?;
            let rx = Arc::clone(&rx);
            let cfg = Arc::clone(&cfg);
            let waiting = Arc::clone(&waiting);
            let digit = Arc::clone(&digit);
            let handle = std::thread::Builder::new()
                .name(format!("whisper-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = {
                            let guard = rx.lock().expect("queue lock");
                            guard.recv()
                        };
                        let Ok(job) = job else { break };
                        waiting.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                        let mut result = run(&mut state, &cfg, eot, &digit, &job.utterance);
                        if let (Some(e), Ok(t)) = (&cfg.embedder, &mut result)
                            && !job.utterance.prime_digits
                        {
                            t.embedding = e.embed(t);
                        }
                        (job.reply)(result);
                    }
                })
                .map_err(|e| model_err(format!("cannot start a worker thread ({e})")))?;
            workers.push(handle);
        }
        Ok(WhisperPool {
            tx: Some(tx),
            workers,
            waiting,
            queue: cfg.queue.max(1),
        })
    }

    /// Jobs queued that no worker has taken yet: 0 means a worker is (or
    /// is about to be) free.
    pub fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Queues an utterance without waiting; [`AsrError::Busy`] when the queue is full.
    pub fn try_submit(
        &self,
        utterance: Utterance,
    ) -> Result<Receiver<Result<Transcript, AsrError>>, AsrError> {
        let (reply, rx) = channel_reply();
        self.try_submit_with(utterance, reply).map_err(|(e, _)| e)?;
        Ok(rx)
    }

    /// Queues an utterance without waiting; the worker hands the result to
    /// `reply`. When the queue is full or stopped, the error comes back with
    /// the utterance, so the caller can keep it for later.
    pub fn try_submit_with(
        &self,
        utterance: Utterance,
        reply: Reply,
    ) -> Result<(), (AsrError, Utterance)> {
        let Some(tx) = self.tx.as_ref() else {
            return Err((AsrError::Stopped, utterance));
        };
        // Counted before sending, so a worker never takes it below zero.
        self.waiting
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sent = tx.try_send(Job { utterance, reply });
        if sent.is_err() {
            self.waiting
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        match sent {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(j)) => Err((AsrError::Busy, j.utterance)),
            Err(TrySendError::Disconnected(j)) => Err((AsrError::Stopped, j.utterance)),
        }
    }

    /// Queues an utterance, waiting for room in the queue.
    pub fn submit(
        &self,
        utterance: Utterance,
    ) -> Result<Receiver<Result<Transcript, AsrError>>, AsrError> {
        let (reply, rx) = channel_reply();
        super::AsrPool::submit_with(self, utterance, reply)?;
        Ok(rx)
    }
}

impl Drop for WhisperPool {
    fn drop(&mut self) {
        self.tx.take();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl super::AsrPool for WhisperPool {
    fn try_submit_with(
        &self,
        utterance: Utterance,
        reply: Reply,
    ) -> Result<(), (AsrError, Utterance)> {
        WhisperPool::try_submit_with(self, utterance, reply)
    }

    fn submit_with(&self, utterance: Utterance, reply: Reply) -> Result<(), AsrError> {
        let tx = self.tx.as_ref().ok_or(AsrError::Stopped)?;
        self.waiting
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tx.send(Job { utterance, reply }).map_err(|_| {
            self.waiting
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            AsrError::Stopped
        })
    }

    fn waiting(&self) -> usize {
        WhisperPool::waiting(self)
    }

    fn capacity(&self) -> (usize, usize) {
        (self.workers.len(), self.queue)
    }
}

impl Transcriber for WhisperPool {
    fn transcribe(&self, utterance: &Utterance) -> Result<Transcript, AsrError> {
        self.submit(utterance.clone())?
            .recv()
            .map_err(|_| AsrError::Stopped)?
    }
}

/// Runs whisper on one utterance and applies the guard.
fn run(
    state: &mut WhisperState,
    cfg: &WhisperConfig,
    eot: i32,
    digit: &Arc<Vec<bool>>,
    u: &Utterance,
) -> Result<Transcript, AsrError> {
    let mut samples = u.samples.clone();
    samples.truncate(MAX_SAMPLES);
    if samples.len() < MIN_SAMPLES {
        samples.resize(MIN_SAMPLES, 0.0);
    }
    let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    p.set_n_threads(cfg.threads_per_worker as i32);
    p.set_language(Some(&cfg.language));
    p.set_translate(false);
    p.set_no_context(true);
    p.set_token_timestamps(true);
    p.set_audio_ctx(audio_ctx_for(samples.len(), cfg.min_audio_ctx));
    p.set_suppress_blank(true);
    p.set_no_speech_thold(cfg.guard.max_no_speech);
    p.set_logprob_thold(-1.0);
    p.set_temperature(0.0);
    // No temperature fallback: on garbled audio it re-decodes up to five
    // times and mostly adds invented words (measured: 4x slower, WER worse).
    p.set_temperature_inc(0.0);
    p.set_print_progress(false);
    p.set_print_realtime(false);
    p.set_print_special(false);
    p.set_print_timestamps(false);
    if u.prime_digits {
        p.set_initial_prompt(DIGIT_PROMPT);
    }
    let mut probe = DigitProbe {
        digit: Arc::clone(digit),
        steps: Vec::with_capacity(64),
    };
    // SAFETY: `probe_digits` only reads the logits and writes `probe`,
    // which lives until after `full` returns; whisper.cpp calls it on this
    // thread, from inside `full`.
    unsafe {
        p.set_filter_logits_callback(Some(probe_digits));
        p.set_filter_logits_callback_user_data(&mut probe as *mut DigitProbe as *mut _);
    }
    let full = state.full(p, &samples);
    full.map_err(|e| AsrError::Inference(e.to_string()))?;
    // The steps in order, matched to the tokens written by their most
    // likely token (greedy decoding writes it); a token no step matches
    // gets the largest share seen (fail closed).
    let steps = probe.steps;
    let worst = steps.iter().map(|s| s.0).fold(0f32, f32::max);
    let mut next_step = 0usize;
    let mut digit_p_of = |id: i32| -> f32 {
        let found = steps[next_step.min(steps.len())..]
            .iter()
            .take(4)
            .position(|s| s.1 == id);
        match found {
            Some(k) => {
                let p = steps[next_step + k].0;
                next_step += k + 1;
                p
            }
            None => worst,
        }
    };

    let mut t = Transcript::default();
    for seg in state.as_iter() {
        let no_speech = seg.no_speech_probability();
        t.no_speech_prob = t.no_speech_prob.max(no_speech);
        let mut seg_words: Vec<Word> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        let (mut p_sum, mut p_n, mut w_start, mut w_end) = (0f32, 0u32, 0i64, 0i64);
        let mut w_digit = 0f32;
        let mut seg_p = (0f32, 0u32);
        let flush = |bytes: &mut Vec<u8>,
                     (p_sum, p_n, digit_p): (f32, u32, f32),
                     s: i64,
                     e: i64,
                     out: &mut Vec<Word>| {
            let text = String::from_utf8_lossy(bytes).trim().to_string();
            if !text.is_empty() {
                out.push(Word {
                    text,
                    start: u.start_s + s as f64 / 100.0,
                    end: u.start_s + e.max(s) as f64 / 100.0,
                    confidence: if p_n > 0 { p_sum / p_n as f32 } else { 0.0 },
                    digit_p: Some(digit_p),
                });
            }
            bytes.clear();
        };
        for k in 0..seg.n_tokens() {
            let Some(tok) = seg.get_token(k) else {
                continue;
            };
            let id = tok.token_id();
            let token_digit_p = digit_p_of(id);
            if id >= eot {
                continue;
            }
            let data = tok.token_data();
            let piece = tok
                .to_bytes()
                .map_err(|e| AsrError::Inference(e.to_string()))?;
            if piece.first() == Some(&b' ') && !bytes.is_empty() {
                flush(
                    &mut bytes,
                    (p_sum, p_n, w_digit),
                    w_start,
                    w_end,
                    &mut seg_words,
                );
                p_sum = 0.0;
                p_n = 0;
                w_digit = 0.0;
            }
            w_digit = w_digit.max(token_digit_p);
            if bytes.is_empty() {
                w_start = data.t0;
            }
            bytes.extend_from_slice(piece);
            w_end = data.t1;
            p_sum += data.p;
            p_n += 1;
            seg_p.0 += data.p;
            seg_p.1 += 1;
        }
        flush(
            &mut bytes,
            (p_sum, p_n, w_digit),
            w_start,
            w_end,
            &mut seg_words,
        );
        let seg_conf = if seg_p.1 > 0 {
            seg_p.0 / seg_p.1 as f32
        } else {
            0.0
        };
        if no_speech > cfg.guard.max_no_speech && seg_conf < cfg.guard.min_confidence {
            t.dropped_words += seg_words.len();
            continue;
        }
        t.words.extend(seg_words);
    }
    t.dropped_words += guard::strip_annotations(&mut t.words);
    t.dropped_words += guard::cut_loops(&mut t.words, cfg.guard.max_repeats);
    t.dropped_words += guard::limit(&mut t.words, u.duration_s(), &cfg.guard);
    debug!(leg = %u.leg, start_s = u.start_s, words = t.words.len(), dropped = t.dropped_words, "transcribed");
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whisper_cpp_is_built_with_its_fast_matrix_kernels() {
        assert!(
            fast_kernels(),
            "GGML_LLAMAFILE is off in this whisper.cpp build: {}",
            whisper_rs::print_system_info()
        );
    }

    #[test]
    fn encoder_context_covers_the_clip() {
        for samples in [1usize, 320, 16_000, 16_001, 160_000, MAX_SAMPLES] {
            for min in [0, 256, 1500] {
                let ctx = audio_ctx_for(samples, min) as usize;
                assert!(ctx * 320 >= samples, "{samples}");
                assert!(ctx <= 1500 && ctx >= (min as usize).min(1500));
            }
        }
        assert_eq!(audio_ctx_for(16_000, 0), 100);
        assert_eq!(audio_ctx_for(160_000, 256), 550, "10 s and 1 s of margin");
        assert_eq!(audio_ctx_for(16_000, 256), 256);
    }
}
