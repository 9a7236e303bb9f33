//! Fuzzing on stable Rust with proptest: the inputs callscope takes from
//! outside — WAV files, the rules file, whisper's words — must give a result
//! or a clear error, never a panic. See `docs/fuzzing.md` for the long run
//! (`CALLSCOPE_FUZZ_CASES`) and what each target checks; the gRPC intake is
//! in `fuzz_grpc.rs`.
//!
//! Every crash found is kept as a `regression_<what_broke>` test below
//! (proptest also replays its own `tests/proptest-regressions/fuzz.txt`).

mod common;

use std::path::{Path, PathBuf};

use callscope::analyze::{AnalyzeOptions, analyze_file};
use callscope::convert::LegConverter;
use callscope::frame::{FRAME_LEN, Leg, SAMPLE_RATE};
use callscope::redact::numbers::{
    DigitRun, digit_runs, is_number_word, month, words_to_digits_string,
};
use callscope::rules::{DEFAULT_RULES, Rules, RulesError, normalise};
use callscope::source::{MAX_RATE, MIN_RATE, WavSource};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

/// The CI bound of each target (cases); `CALLSCOPE_FUZZ_CASES` overrides.
fn config(default: u32) -> Config {
    Config {
        cases: common::fuzz_cases(default),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/fuzz.txt",
        ))),
        ..Config::default()
    }
}

// ------------------------------------------------------------------ WAV

/// Where the fuzz writes its WAV files: tmpfs when there is one (a million
/// files go through it in a long run).
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::Builder::new()
            .prefix("callscope-fuzz")
            .tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().unwrap()
}

/// The `data` chunk's declared size.
#[derive(Debug, Clone)]
enum DataSize {
    /// The real length.
    Real,
    /// Off the real length by this much.
    Off(i32),
    /// Any value (0 and 0xFFFFFFFF are the streaming recorders').
    Value(u32),
}

/// A WAV file described field by field, so the fuzz reaches past the magic
/// numbers; built, then mutated byte by byte and cut short.
#[derive(Debug, Clone)]
struct WavPlan {
    riff: [u8; 4],
    wave: [u8; 4],
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    block_align: Option<u16>,
    /// Sub-format tag and cbSize of a WAVE_FORMAT_EXTENSIBLE header.
    extensible: Option<(u16, u16)>,
    /// Declared `fmt ` size (the real one when `None`).
    fmt_size: Option<u32>,
    /// Chunks before `fmt `, between `fmt ` and `data`: id, body, declared size.
    before_fmt: Vec<([u8; 4], Vec<u8>, Option<u32>)>,
    before_data: Vec<([u8; 4], Vec<u8>, Option<u32>)>,
    no_fmt: bool,
    data: Vec<u8>,
    data_size: DataSize,
    /// (position, new byte), positions taken modulo the length.
    flips: Vec<(usize, u8)>,
    /// Keep only this fraction (per mille) of the bytes.
    keep_permille: Option<u16>,
}

fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8], size: Option<u32>) {
    out.extend_from_slice(id);
    out.extend_from_slice(&size.unwrap_or(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
}

impl WavPlan {
    fn build(&self) -> Vec<u8> {
        let block = self
            .block_align
            .unwrap_or_else(|| self.channels.wrapping_mul(self.bits.div_ceil(8)));
        let mut fmt = Vec::new();
        let tag = if self.extensible.is_some() {
            0xFFFE
        } else {
            self.tag
        };
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(&self.channels.to_le_bytes());
        fmt.extend_from_slice(&self.rate.to_le_bytes());
        fmt.extend_from_slice(&self.rate.wrapping_mul(u32::from(block)).to_le_bytes());
        fmt.extend_from_slice(&block.to_le_bytes());
        fmt.extend_from_slice(&self.bits.to_le_bytes());
        if let Some((sub, cb)) = self.extensible {
            fmt.extend_from_slice(&cb.to_le_bytes());
            fmt.extend_from_slice(&self.bits.to_le_bytes());
            fmt.extend_from_slice(&3u32.to_le_bytes());
            let t = sub.to_le_bytes();
            fmt.extend_from_slice(&[
                t[0], t[1], 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38,
                0x9B, 0x71,
            ]);
        }
        let mut body = Vec::new();
        body.extend_from_slice(&self.wave);
        for (id, b, size) in &self.before_fmt {
            chunk(&mut body, id, b, *size);
        }
        if !self.no_fmt {
            chunk(&mut body, b"fmt ", &fmt, self.fmt_size);
        }
        for (id, b, size) in &self.before_data {
            chunk(&mut body, id, b, *size);
        }
        let real = self.data.len() as u32;
        let size = match self.data_size {
            DataSize::Real => real,
            DataSize::Off(d) => real.wrapping_add_signed(d),
            DataSize::Value(v) => v,
        };
        body.extend_from_slice(b"data");
        body.extend_from_slice(&size.to_le_bytes());
        body.extend_from_slice(&self.data);
        let mut out = Vec::with_capacity(body.len() + 8);
        out.extend_from_slice(&self.riff);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        if !out.is_empty() {
            let n = out.len();
            for &(at, b) in &self.flips {
                out[at % n] = b;
            }
        }
        if let Some(k) = self.keep_permille {
            out.truncate(out.len() * usize::from(k) / 1000);
        }
        out
    }
}

fn chunk_id() -> impl Strategy<Value = [u8; 4]> {
    prop_oneof![
        Just(*b"LIST"),
        Just(*b"fact"),
        Just(*b"fmt "),
        Just(*b"data"),
        Just(*b"JUNK"),
        any::<[u8; 4]>(),
    ]
}

fn extra_chunks() -> impl Strategy<Value = Vec<([u8; 4], Vec<u8>, Option<u32>)>> {
    prop::collection::vec(
        (
            chunk_id(),
            prop::collection::vec(any::<u8>(), 0..24),
            prop::option::weighted(0.3, any::<u32>()),
        ),
        0..3,
    )
}

fn wav_plan() -> impl Strategy<Value = WavPlan> {
    let head = (
        prop_oneof![8 => Just(*b"RIFF"), 1 => Just(*b"RIFX"), 1 => Just(*b"RF64"), 1 => any::<[u8; 4]>()],
        prop_oneof![9 => Just(*b"WAVE"), 1 => any::<[u8; 4]>()],
        prop_oneof![
            Just(1u16),
            Just(3u16),
            Just(6u16),
            Just(7u16),
            Just(0xFFFEu16),
            any::<u16>()
        ],
        prop_oneof![6 => 1u16..=2, 2 => 0u16..=4, 1 => any::<u16>()],
        prop_oneof![
            Just(8_000u32),
            Just(16_000u32),
            Just(44_100u32),
            Just(48_000u32),
            7_990u32..8_010,
            47_990u32..48_010,
            MIN_RATE..=MAX_RATE,
            any::<u32>()
        ],
        prop_oneof![
            Just(8u16),
            Just(16u16),
            Just(24u16),
            Just(32u16),
            0u16..=64,
            any::<u16>()
        ],
        prop::option::weighted(0.15, any::<u16>()),
        prop::option::weighted(
            0.2,
            (
                prop_oneof![Just(1u16), Just(3u16), Just(6u16), Just(7u16), any::<u16>()],
                prop_oneof![Just(22u16), any::<u16>()],
            ),
        ),
    );
    let tail = (
        prop::option::weighted(0.15, prop_oneof![0u32..=48, any::<u32>()]),
        extra_chunks(),
        extra_chunks(),
        prop::bool::weighted(0.05),
        prop::collection::vec(any::<u8>(), 0..700),
        prop_oneof![
            4 => Just(DataSize::Real),
            1 => (-8i32..8).prop_map(DataSize::Off),
            1 => prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()].prop_map(DataSize::Value),
        ],
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        prop::option::weighted(0.15, 0u16..1000),
    );
    (head, tail).prop_map(
        |(
            (riff, wave, tag, channels, rate, bits, block_align, extensible),
            (fmt_size, before_fmt, before_data, no_fmt, data, data_size, flips, keep_permille),
        )| WavPlan {
            riff,
            wave,
            tag,
            channels,
            rate,
            bits,
            block_align,
            extensible,
            fmt_size,
            before_fmt,
            before_data,
            no_fmt,
            data,
            data_size,
            flips,
            keep_permille,
        },
    )
}

/// Raw bytes (sometimes behind a real RIFF/WAVE magic) or a planned file.
fn wav_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..300),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(|tail| {
            let mut v = b"RIFF\0\0\0\0WAVE".to_vec();
            v.extend(tail);
            v
        }),
        6 => wav_plan().prop_map(|p| p.build()),
    ]
}

/// Opens `bytes` as a WAV file and reads it all in blocks of `block`
/// frames, then converts each leg to canonical frames: either a clear error
/// naming the file, or exactly the frames the header promised.
fn check_wav(dir: &Path, bytes: &[u8], block: usize) -> Result<(), TestCaseError> {
    let path: PathBuf = dir.join("case.wav");
    std::fs::write(&path, bytes).unwrap();
    let mut src = match WavSource::open(&path) {
        Err(e) => {
            let msg = e.to_string();
            let name = path.display().to_string();
            prop_assert!(msg.contains(&name), "error does not name the file: {msg}");
            prop_assert!(msg.len() > name.len() + 10, "error says nothing: {msg}");
            return Ok(());
        }
        Ok(src) => src,
    };
    let info = src.info().clone();
    prop_assert!((1..=2).contains(&info.channels), "{info:?}");
    prop_assert!(
        (MIN_RATE..=MAX_RATE).contains(&info.sample_rate),
        "{info:?}"
    );
    prop_assert!(info.frames > 0, "{info:?}");
    prop_assert!(
        info.frames * u64::from(info.channels) <= bytes.len() as u64,
        "more samples than bytes: {info:?}"
    );
    if let Some(declared) = info.truncated_from {
        prop_assert!(declared > info.frames, "{info:?}");
    }
    let channels = usize::from(info.channels);
    let mut legs = vec![Vec::new(); channels];
    let mut bufs = vec![Vec::new(); channels];
    loop {
        let n = src.read(block, &mut bufs).map_err(|e| {
            TestCaseError::fail(format!("read failed after a good open: {e} ({info:?})"))
        })?;
        prop_assert!(n <= block);
        for (leg, buf) in legs.iter_mut().zip(&bufs) {
            prop_assert_eq!(buf.len(), n);
            prop_assert!(
                buf.iter().all(|s| (-1.0..=1.0).contains(s)),
                "sample outside [-1, 1]"
            );
            leg.extend_from_slice(buf);
        }
        if n == 0 {
            break;
        }
    }
    prop_assert_eq!(legs[0].len() as u64, info.frames);
    prop_assert_eq!(src.read(block, &mut bufs).unwrap(), 0, "read past the end");
    // The edge conversion: 16 kHz, 20 ms frames, covering the audio exactly.
    let want_out = (info.frames * u64::from(SAMPLE_RATE)).div_ceil(u64::from(info.sample_rate));
    let want_frames = want_out.div_ceil(FRAME_LEN as u64);
    for (i, leg) in legs.iter().enumerate() {
        let which = if i == 0 { Leg::Agent } else { Leg::Customer };
        let mut conv = LegConverter::new("fuzz".into(), which, info.sample_rate)
            .map_err(|e| TestCaseError::fail(format!("no converter for {info:?}: {e}")))?;
        let mut seqs = Vec::new();
        let mut finite = true;
        let mut emit = |f: &callscope::frame::Frame| {
            seqs.push((f.seq, f.leg));
            finite &= f.samples.iter().all(|s| s.is_finite());
        };
        for piece in leg.chunks(block.max(1)) {
            conv.push(piece, &mut emit);
        }
        conv.finish(&mut emit);
        prop_assert!(finite, "non-finite sample in a frame");
        prop_assert_eq!(seqs.len() as u64, want_frames, "{:?}", info);
        for (k, (seq, l)) in seqs.iter().enumerate() {
            prop_assert_eq!(*seq, k as u64);
            prop_assert_eq!(*l, which);
        }
    }
    Ok(())
}

/// Analyses `bytes` as `callscope analyze` does (signals only): a report,
/// or an error that names the file.
fn check_analyze(dir: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    let path: PathBuf = dir.join("call.wav");
    std::fs::write(&path, bytes).unwrap();
    match analyze_file(&path, &AnalyzeOptions::default()) {
        Ok(result) => {
            let report = result.report.get();
            prop_assert!(report.duration_s.is_finite() && report.duration_s > 0.0);
        }
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(
                msg.contains(&path.display().to_string()),
                "error does not name the file: {msg}"
            );
        }
    }
    Ok(())
}

thread_local! {
    static WAV_DIR: tempfile::TempDir = scratch_dir();
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn wav_reader_errors_or_yields_declared_frames(
        bytes in wav_bytes(),
        block in prop_oneof![1usize..64, 64usize..5_000],
    ) {
        WAV_DIR.with(|d| check_wav(d.path(), &bytes, block))?;
    }
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn wav_files_analyse_or_fail_cleanly(bytes in wav_plan().prop_map(|p| p.build())) {
        WAV_DIR.with(|d| check_analyze(d.path(), &bytes))?;
    }
}

// ---------------------------------------------------------------- rules

/// Values a mutated rules file may put on the right of an `=`.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "0.0",
    "-0.0",
    "1e308",
    "1e-308",
    "inf",
    "-inf",
    "nan",
    "99999999999999999999",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "true",
    "\"\"",
    "\" \"",
    "\"info\"",
    "\"critical\"",
    "\"any\"",
    "\"agent\"",
    "\"(\"",
    "\"[\"",
    "\"\\\\\"",
    "\"a{99999}{99999}\"",
    "\"(?i)\"",
    "\"x => 0\"",
    "\"x => nan\"",
    "\"x => -1\"",
    "\"=>\"",
    "\" => 2\"",
    "[]",
    "[\"\"]",
    "[\"(\"]",
    "[1, 2]",
    "{}",
    "{ a = 1 }",
    "1979-05-27",
    "'''\nx'''",
];

/// One edit of the built-in rules file.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the value of the `n`-th `key = value` line.
    Value(usize, usize),
    /// Delete the `n`-th line.
    DeleteLine(usize),
    /// Duplicate the `n`-th line.
    DupLine(usize),
    /// Put `text` at char `n`.
    Insert(usize, String),
    /// Cut the file at char `n`.
    Cut(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        6 => (any::<usize>(), 0..VALUES.len()).prop_map(|(n, v)| Edit::Value(n, v)),
        2 => any::<usize>().prop_map(Edit::DeleteLine),
        2 => any::<usize>().prop_map(Edit::DupLine),
        2 => (
            any::<usize>(),
            prop_oneof![
                Just("\n".to_string()),
                Just("[".to_string()),
                Just("]".to_string()),
                Just("\"".to_string()),
                Just("=".to_string()),
                Just("[[phrase]]\n".to_string()),
                Just("[signals]\n".to_string()),
                Just("version = 2\n".to_string()),
                "\\PC{0,8}",
            ]
        )
            .prop_map(|(n, s)| Edit::Insert(n, s)),
        1 => any::<usize>().prop_map(Edit::Cut),
    ]
}

fn apply(src: &str, e: &Edit) -> String {
    let lines: Vec<&str> = src.split('\n').collect();
    let char_at = |n: usize| {
        let count = src.chars().count().max(1);
        src.char_indices()
            .nth(n % count)
            .map_or(src.len(), |(i, _)| i)
    };
    match e {
        Edit::Value(n, v) => {
            let kv: Vec<usize> = (0..lines.len())
                .filter(|&i| !lines[i].trim_start().starts_with('#') && lines[i].contains(" = "))
                .collect();
            if kv.is_empty() {
                return src.to_string();
            }
            let i = kv[n % kv.len()];
            let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let key = lines[i].split(" = ").next().unwrap_or("");
            out[i] = format!("{key} = {}", VALUES[*v]);
            out.join("\n")
        }
        Edit::DeleteLine(n) => {
            let mut out = lines.clone();
            out.remove(n % lines.len());
            out.join("\n")
        }
        Edit::DupLine(n) => {
            let mut out = lines.clone();
            let i = n % lines.len();
            out.insert(i, lines[i]);
            out.join("\n")
        }
        Edit::Insert(n, s) => {
            let at = char_at(*n);
            format!("{}{s}{}", &src[..at], &src[at..])
        }
        Edit::Cut(n) => src[..char_at(*n)].to_string(),
    }
}

/// Parses `src`: valid rules, or an error on a line of the file.
fn check_rules(src: &str) -> Result<(), TestCaseError> {
    match Rules::parse(src, "fuzz.toml") {
        Ok(_) => {}
        Err(RulesError::Invalid {
            origin,
            line,
            message,
        }) => {
            prop_assert_eq!(origin, "fuzz.toml");
            let lines = src.split('\n').count();
            prop_assert!(
                (1..=lines).contains(&line),
                "line {line} of {lines}: {message}"
            );
            prop_assert!(!message.trim().is_empty());
        }
        Err(e) => prop_assert!(false, "unexpected error kind: {e}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn rules_parser_takes_any_text(src in prop_oneof![
        "\\PC{0,200}",
        "[a-z_\\[\\]=\"0-9. \n#,{}-]{0,200}",
    ]) {
        check_rules(&src)?;
    }

    #[test]
    fn rules_parser_takes_mutated_builtin_rules(edits in prop::collection::vec(edit(), 1..5)) {
        let mut src = DEFAULT_RULES.to_string();
        for e in &edits {
            src = apply(&src, e);
        }
        check_rules(&src)?;
    }

    #[test]
    fn rules_normalise_takes_any_text(text in "\\PC{0,200}") {
        let n = normalise(&text);
        prop_assert!(n.starts_with(' ') && n.ends_with(' '));
        prop_assert!(!n.contains("  "));
    }
}

// -------------------------------------------------------------- numbers

/// Words whisper writes when numbers are read out, and some it writes
/// around them.
const NUMBER_WORDS: &[&str] = &[
    "zero",
    "nought",
    "oh",
    "o",
    "O",
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
    "nineteen",
    "twenty",
    "forty",
    "ninety",
    "first",
    "second",
    "twelfth",
    "twentieth",
    "twenty-seventh",
    "forty-one",
    "hundred",
    "thousand",
    "million",
    "double",
    "triple",
    "treble",
    "and",
    "um",
    "uh",
    ",",
    "-",
    "/",
    "...",
    "yes",
    "on",
    "card",
    "4532",
    "4532-7718",
    "0",
    "3rd",
    "21st",
    "12th",
    "No.4532",
    "A4",
    "(4532)",
    "4,532",
    "five-",
    "-five",
    "Hundred,",
    "MILLION",
    "double-oh",
    "Jan.",
    "sept",
    "oh-nine",
    "١٢٣",
    "５",
    "½",
    "",
];

fn number_word() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(NUMBER_WORDS).prop_map(str::to_string),
        1 => "[0-9]{1,20}",
        1 => "[0-9a-z,.-]{1,8}",
        1 => "\\PC{1,6}",
    ]
}

/// The runs' invariants over `words`: spans inside the input, in order and
/// apart, digits from their own span, and no ASCII digit outside a run.
fn check_runs(words: &[&str], runs: &[DigitRun]) -> Result<(), TestCaseError> {
    let mut after = 0;
    for r in runs {
        prop_assert!(!r.digits.is_empty());
        prop_assert!(r.first_word >= after, "runs overlap or go back");
        prop_assert!(r.first_word <= r.last_word && r.last_word < words.len());
        for t in &r.digits {
            prop_assert!(t.digit <= 9);
            prop_assert!((r.first_word..=r.last_word).contains(&t.word));
        }
        let s = words_to_digits_string(r);
        prop_assert_eq!(s.len(), r.digits.len());
        prop_assert!(s.bytes().all(|b| b.is_ascii_digit()));
        after = r.last_word + 1;
    }
    for (i, w) in words.iter().enumerate() {
        if w.bytes().any(|b| b.is_ascii_digit()) {
            prop_assert!(
                runs.iter()
                    .any(|r| (r.first_word..=r.last_word).contains(&i)),
                "a digit escaped: word {i} of {words:?}"
            );
        }
    }
    for w in words {
        let _ = is_number_word(w);
        let _ = month(w);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn numbers_take_any_text(text in "\\PC{0,120}") {
        let words: Vec<&str> = text.split_whitespace().collect();
        let runs = digit_runs(&words);
        check_runs(&words, &runs)?;
    }

    #[test]
    fn numbers_take_number_word_sequences(words in prop::collection::vec(number_word(), 0..40)) {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let runs = digit_runs(&words);
        check_runs(&words, &runs)?;
    }
}
