//! Developer tool (issue 14): WER of callscope's stored transcript on
//! utterances with no numbers, against plain whisper.cpp decoding each whole
//! leg with the same model, on the same calls with the same scorer. Prints
//! figures only, never transcript text.
//!
//! ```sh
//! callscope analyze --data-dir D DIR/*.wav      # the stored reports
//! cargo run --release --example leg_wer -- --data-dir D --calls DIR [--ext wav]
//!     [--model models/ggml-base-q8_0.bin] [--threads N] [--cache DIR]
//! ```
//!
//! For every `DIR/<stem>.<ext>` with a `DIR/<stem>.truth.json`:
//!
//! 1. Each leg (agent = channel 0) is resampled to 16 kHz mono with the
//!    project's own converter and handed whole to whisper's `full()`:
//!    whisper.cpp's default greedy parameters (`whisper_full_default_params`:
//!    best_of 5, temperature fallback, its own 30 s windows, no_context),
//!    language `en`, token timestamps. No VAD, no encoder-context fitting, no guard. Segments
//!    that are only a bracketed annotation (`[BLANK_AUDIO]`, `(music)`) are
//!    dropped before scoring.
//! 2. The stored report is `D/reports/<id>.json`, `<id>` being the file name
//!    without `.wav` (as `callscope analyze` names calls).
//! 3. Both hypotheses are scored with `callscope::eval::{score_words, edits}`
//!    and the grouping of `tests/redaction.rs::score_wer`: truth utterances
//!    that overlap (> 0.15 s) one hypothesis segment of their speaker are
//!    scored as one group against the text of the segments assigned to the
//!    group; a group holding an utterance with a number is skipped.
//!    "own" groups each system by its own segments (so the scored reference
//!    words differ); "joint" joins the groups of both systems, so both are
//!    scored on exactly the same reference words.
//! 4. "aligned" does without times (see [`score_aligned`]): whisper's
//!    segment times on a whole leg drift by seconds over long silences
//!    (the other party's turns), and a segment that lands on the wrong
//!    utterance counts as word errors in the time-based rows. Words between
//!    utterances are dropped there; "+gaps" charges them to the utterance
//!    before (whole-leg whisper transcribes the other party's echo and
//!    invents text in long silences, which only that row counts).
//!
//! An utterance has a number when its truth says `has_number` (the
//! generated calls); where the truth lacks that field (the dev corpus), when
//! it is `sensitive`, holds a distractor or an allowed last-four, or its
//! text has a digit, a number word ("oh", "double", "hundred"…), an
//! ordinal up to "thirtieth" or a month name ("may" only next to a number).
//!
//! `--cache DIR` keeps each leg's whisper output as JSON (segments and words
//! with times) and reuses it on the next run. It holds unredacted text: keep
//! it out of data directories that are scanned for leaks.

use std::path::{Path, PathBuf};
use std::time::Instant;

use callscope::convert::LegConverter;
use callscope::eval::{edits, score_words};
use callscope::frame::Leg;
use callscope::redact::numbers;
use callscope::source::WavSource;
use serde_json::{Value, json};
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

const USAGE: &str = "usage: leg_wer --data-dir D --calls DIR [--ext wav] [--model FILE] \
                     [--threads N] [--cache DIR]";

struct Args {
    data_dir: PathBuf,
    calls: PathBuf,
    ext: String,
    model: PathBuf,
    threads: i32,
    cache: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut data_dir = None;
    let mut calls = None;
    let mut ext = "wav".to_string();
    let mut model = callscope::model::default_model();
    let mut threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as i32;
    let mut cache = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| die(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--data-dir" => data_dir = Some(PathBuf::from(val())),
            "--calls" => calls = Some(PathBuf::from(val())),
            "--ext" => ext = val().trim_start_matches('.').to_string(),
            "--model" => model = PathBuf::from(val()),
            "--threads" => {
                threads = val()
                    .parse()
                    .unwrap_or_else(|_| die("--threads takes a number"))
            }
            "--cache" => cache = Some(PathBuf::from(val())),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => die(&format!("unknown argument {a}")),
        }
    }
    Args {
        data_dir: data_dir.unwrap_or_else(|| die("--data-dir is required")),
        calls: calls.unwrap_or_else(|| die("--calls is required")),
        ext,
        model,
        threads,
        cache,
    }
}

fn die(msg: &str) -> ! {
    eprintln!("{msg}\n{USAGE}");
    std::process::exit(2)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| die(&format!("cannot read {}: {e}", path.display())));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| die(&format!("{} is not JSON: {e}", path.display())))
}

/// `(stem, audio file)` of every call in `dir` with a truth file, sorted.
fn list_calls(dir: &Path, ext: &str) -> Vec<(String, PathBuf)> {
    let suffix = format!(".{ext}");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| die(&format!("cannot list {}: {e}", dir.display())))
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_string();
            let stem = name.strip_suffix(&suffix)?.to_string();
            dir.join(format!("{stem}.truth.json"))
                .is_file()
                .then_some((stem, path))
        })
        .collect();
    out.sort();
    out
}

/// Both legs of a call at 16 kHz mono, resampled with the project's converter.
fn legs_16k(path: &Path, call_id: &str) -> [Vec<f32>; 2] {
    let mut src = WavSource::open(path)
        .unwrap_or_else(|e| die(&format!("cannot open {}: {e}", path.display())));
    let info = src.info().clone();
    if info.channels != 2 {
        die(&format!("{} is not stereo", path.display()));
    }
    let mut conv = Leg::BOTH.map(|leg| {
        LegConverter::new(call_id.into(), leg, info.sample_rate)
            .unwrap_or_else(|e| die(&e.to_string()))
    });
    let mut out = [Vec::new(), Vec::new()];
    let mut bufs = vec![Vec::new(), Vec::new()];
    while src
        .read(4096, &mut bufs)
        .unwrap_or_else(|e| die(&format!("{}: {e}", path.display())))
        > 0
    {
        for (l, c) in conv.iter_mut().enumerate() {
            c.push(&bufs[l], &mut |f| out[l].extend_from_slice(&f.samples));
        }
    }
    for (l, c) in conv.iter_mut().enumerate() {
        c.finish(&mut |f| out[l].extend_from_slice(&f.samples));
    }
    out
}

/// Plain whisper.cpp decoding of one whole leg: `{segments: [{start, end,
/// text}], words: [{start, end, text}]}`, times in seconds.
fn decode_leg(
    state: &mut whisper_rs::WhisperState,
    eot: i32,
    samples: &[f32],
    threads: i32,
) -> Value {
    // whisper.cpp's defaults for greedy decoding (best_of 5, temperature
    // fallback 0.2, thresholds, no_context), pinned to English, with token
    // timestamps for the words.
    let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 5 });
    p.set_n_threads(threads);
    p.set_language(Some("en"));
    p.set_token_timestamps(true);
    p.set_print_progress(false);
    p.set_print_realtime(false);
    p.set_print_special(false);
    p.set_print_timestamps(false);
    state
        .full(p, samples)
        .unwrap_or_else(|e| die(&format!("whisper failed: {e}")));
    let (mut segments, mut words) = (Vec::new(), Vec::new());
    for seg in state.as_iter() {
        let text = seg
            .to_str_lossy()
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        segments.push(json!({
            "start": seg.start_timestamp() as f64 / 100.0,
            "end": seg.end_timestamp() as f64 / 100.0,
            "text": text,
        }));
        let mut word: Option<(String, i64, i64)> = None;
        let mut flush = |w: Option<(String, i64, i64)>| {
            if let Some((t, s, e)) = w {
                let t = t.trim().to_string();
                if !t.is_empty() {
                    words.push(json!({"start": s as f64 / 100.0, "end": e.max(s) as f64 / 100.0, "text": t}));
                }
            }
        };
        for k in 0..seg.n_tokens() {
            let Some(tok) = seg.get_token(k) else {
                continue;
            };
            if tok.token_id() >= eot {
                continue;
            }
            let data = tok.token_data();
            let piece = tok.to_str_lossy().unwrap_or_default().into_owned();
            match word.as_mut() {
                Some(w) if !piece.starts_with(' ') => {
                    w.0.push_str(&piece);
                    w.2 = data.t1;
                }
                _ => {
                    flush(word.take());
                    word = Some((piece, data.t0, data.t1));
                }
            }
        }
        flush(word.take());
    }
    json!({"segments": segments, "words": words})
}

/// Whether a segment's whole text is a bracketed annotation such as
/// `[BLANK_AUDIO]` or `(music)`, which whisper writes for non-speech.
fn is_annotation(text: &str) -> bool {
    let t = text.trim();
    t.is_empty()
        || (t.starts_with('[') && t.ends_with(']'))
        || (t.starts_with('(') && t.ends_with(')'))
        || (t.starts_with('*') && t.ends_with('*'))
}

/// The conservative "has a number" of a dev-corpus utterance (see the module doc).
fn text_has_number(text: &str) -> bool {
    if text.chars().any(|c| c.is_ascii_digit()) {
        return true;
    }
    let toks: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '-' || c == '/')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphabetic())
                .flat_map(char::to_lowercase)
                .collect()
        })
        .filter(|w: &String| !w.is_empty())
        .collect();
    let num = |w: &str| numbers::is_number_word(w) || w == "dozen";
    toks.iter().enumerate().any(|(i, w)| {
        num(w)
            || (w != "may" && numbers::month(w).is_some())
            || (w == "may"
                && (toks.get(i + 1).is_some_and(|n| num(n))
                    || i.checked_sub(1).is_some_and(|p| num(&toks[p]))))
    })
}

/// Per utterance: whether it holds a number (and so is not scored).
fn numbered(truth: &Value) -> Vec<bool> {
    let utts = truth["utterances"].as_array().expect("truth utterances");
    let mut marked: Vec<bool> = utts
        .iter()
        .map(|u| match u.get("has_number").and_then(Value::as_bool) {
            Some(h) => h || u["sensitive"].as_bool().unwrap_or(false),
            None => {
                u["sensitive"].as_bool().unwrap_or(false)
                    || text_has_number(u["text"].as_str().unwrap_or_default())
            }
        })
        .collect();
    for key in ["sensitive", "distractors", "allowed"] {
        for item in truth[key].as_array().into_iter().flatten() {
            if let Some(m) = item["utterance"]
                .as_u64()
                .and_then(|i| marked.get_mut(i as usize))
            {
                *m = true;
            }
        }
    }
    marked
}

fn span(v: &Value) -> (f64, f64) {
    (
        v["start"].as_f64().unwrap_or(0.0),
        v["end"].as_f64().unwrap_or(0.0),
    )
}

fn overlap(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0.0)
}

fn root(g: &mut [usize], mut i: usize) -> usize {
    while g[i] != i {
        g[i] = g[g[i]];
        i = g[i];
    }
    i
}

/// Joins the truth utterances that one segment overlaps (> 0.15 s, same
/// speaker) into one group and returns, per segment, its first utterance
/// (tests/redaction.rs `score_wer`).
fn link(utts: &[Value], segs: &[Value], group: &mut [usize]) -> Vec<Option<usize>> {
    segs.iter()
        .map(|seg| {
            let hits: Vec<usize> = (0..utts.len())
                .filter(|&i| utts[i]["speaker"] == seg["speaker"])
                .filter(|&i| overlap(span(&utts[i]), span(seg)) > 0.15)
                .collect();
            for w in hits.windows(2) {
                let (a, b) = (root(group, w[0]), root(group, w[1]));
                group[a] = b;
            }
            hits.first().copied()
        })
        .collect()
}

/// Errors and reference words per leg, one entry per hypothesis.
type Tally = Vec<[(usize, usize); 2]>;

/// Scores each hypothesis (segments with `speaker`, `start`, `end`, `text`)
/// against the truth on number-free groups. `joint`: the groups join the
/// utterances linked by any hypothesis; otherwise each hypothesis is
/// grouped by its own segments only, exactly as tests/redaction.rs does.
fn score(truth: &Value, hyps: &[&[Value]], joint: bool, tally: &mut Tally) {
    let utts = truth["utterances"].as_array().expect("truth utterances");
    let numbered = numbered(truth);
    let fresh: Vec<usize> = (0..utts.len()).collect();
    let mut shared = fresh.clone();
    let mut per: Vec<(Vec<usize>, Vec<Option<usize>>)> = hyps
        .iter()
        .map(|segs| {
            let mut g = fresh.clone();
            let seg_of = link(utts, segs, if joint { &mut shared } else { &mut g });
            (g, seg_of)
        })
        .collect();
    for (h, (own, seg_of)) in per.iter_mut().enumerate() {
        let group = if joint { &mut shared } else { own };
        let roots: Vec<usize> = (0..utts.len()).map(|i| root(group, i)).collect();
        let mut done = vec![false; utts.len()];
        for i in 0..utts.len() {
            let g = roots[i];
            if std::mem::replace(&mut done[g], true) {
                continue;
            }
            let members: Vec<usize> = (0..utts.len()).filter(|&j| roots[j] == g).collect();
            if members.iter().any(|&j| numbered[j]) {
                continue;
            }
            let reference: Vec<&str> = members
                .iter()
                .map(|&j| utts[j]["text"].as_str().unwrap_or_default())
                .collect();
            let hyp: Vec<&str> = hyps[h]
                .iter()
                .zip(seg_of.iter())
                .filter(|(_, k)| k.is_some_and(|k| roots[k] == g))
                .map(|(s, _)| s["text"].as_str().unwrap_or_default())
                .collect();
            let leg = usize::from(utts[members[0]]["speaker"] == "customer");
            let r = score_words(&reference.join(" "));
            tally[h][leg].0 += edits(&r, &score_words(&hyp.join(" ")));
            tally[h][leg].1 += r.len();
        }
    }
}

/// Time-free scoring: each leg's hypothesis (its segments' text in time
/// order) is aligned word by word to the leg's whole reference (every
/// utterance, in time order) with a unit-cost edit alignment, and cut at
/// utterance boundaries: a hypothesis word goes to the utterance of the
/// reference word it is aligned to, an inserted word inside an utterance to
/// that utterance. Words inserted between two utterances (or before the
/// first, after the last) are dropped, as the time views drop segments that
/// overlap no utterance; with `gaps` they are charged to the utterance
/// before them (the first one when there is none). Each number-free
/// utterance is then scored with `edits` against its cut. Whisper's
/// segment times on a whole leg can be seconds off (they drift over long
/// silences), which the time grouping turns into errors that are not word
/// errors.
fn score_aligned(truth: &Value, hyps: &[&[Value]], gaps: bool, tally: &mut Tally) {
    let utts = truth["utterances"].as_array().expect("truth utterances");
    let numbered = numbered(truth);
    for (leg, who) in ["agent", "customer"].iter().enumerate() {
        let mut order: Vec<usize> = (0..utts.len())
            .filter(|&i| utts[i]["speaker"] == *who)
            .collect();
        order.sort_by(|&a, &b| span(&utts[a]).0.total_cmp(&span(&utts[b]).0));
        let mut r: Vec<String> = Vec::new();
        let mut owner: Vec<usize> = Vec::new();
        for &i in &order {
            let w = score_words(utts[i]["text"].as_str().unwrap_or_default());
            owner.extend(std::iter::repeat_n(i, w.len()));
            r.extend(w);
        }
        if r.is_empty() {
            continue;
        }
        let n = r.len();
        for (h, segs) in hyps.iter().enumerate() {
            let mut mine: Vec<&Value> = segs.iter().filter(|s| s["speaker"] == *who).collect();
            mine.sort_by(|a, b| span(a).0.total_cmp(&span(b).0));
            let text: Vec<&str> = mine
                .iter()
                .map(|s| s["text"].as_str().unwrap_or_default())
                .collect();
            let hw = score_words(&text.join(" "));
            let utt_of: Vec<Option<usize>> = align(&r, &hw)
                .into_iter()
                .map(|place| match place {
                    Place::Word(k) => Some(owner[k]),
                    Place::Inserted(i) if i > 0 && i < n && owner[i - 1] == owner[i] => {
                        Some(owner[i])
                    }
                    Place::Inserted(i) => gaps.then(|| owner[i.saturating_sub(1)]),
                })
                .collect();
            for &i in order.iter().filter(|&&i| !numbered[i]) {
                let ref_i: Vec<String> = r
                    .iter()
                    .zip(&owner)
                    .filter(|(_, o)| **o == i)
                    .map(|(w, _)| w.clone())
                    .collect();
                let hyp_i: Vec<String> = hw
                    .iter()
                    .zip(&utt_of)
                    .filter(|(_, u)| **u == Some(i))
                    .map(|(w, _)| w.clone())
                    .collect();
                tally[h][leg].0 += edits(&ref_i, &hyp_i);
                tally[h][leg].1 += ref_i.len();
            }
        }
    }
}

/// Where a hypothesis word lands in the alignment.
#[derive(Clone, Copy)]
enum Place {
    /// On reference word `k` (a match or a substitution).
    Word(usize),
    /// Inserted after the first `i` reference words.
    Inserted(usize),
}

/// A minimum-edit alignment of `h` to `r` (unit costs, as `edits`).
fn align(r: &[String], h: &[String]) -> Vec<Place> {
    let (n, m) = (r.len(), h.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            d[i][j] = (d[i - 1][j - 1] + usize::from(r[i - 1] != h[j - 1]))
                .min(d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1);
        }
    }
    let mut out = vec![Place::Inserted(0); m];
    let (mut i, mut j) = (n, m);
    while j > 0 {
        if i > 0 && d[i][j] == d[i - 1][j - 1] + usize::from(r[i - 1] != h[j - 1]) {
            out[j - 1] = Place::Word(i - 1);
            i -= 1;
            j -= 1;
        } else if i > 0 && d[i][j] == d[i - 1][j] + 1 {
            i -= 1;
        } else {
            out[j - 1] = Place::Inserted(i);
            j -= 1;
        }
    }
    out
}

fn main() {
    let args = parse_args();
    let calls = list_calls(&args.calls, &args.ext);
    if calls.is_empty() {
        die(&format!(
            "no *.{} with a .truth.json in {}",
            args.ext,
            args.calls.display()
        ));
    }
    whisper_rs::install_logging_hooks();
    let mut cparams = WhisperContextParameters::default();
    cparams.use_gpu(false);
    let model = args.model.display().to_string();
    let ctx = WhisperContext::new_with_params(&model, cparams)
        .unwrap_or_else(|e| die(&format!("cannot load {model}: {e}")));
    let eot = ctx.token_eot();
    let mut state = ctx
        .create_state()
        .unwrap_or_else(|e| die(&format!("cannot create a whisper state: {e}")));
    if let Some(dir) = &args.cache {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| die(&format!("cannot create {}: {e}", dir.display())));
    }

    // [stored, whole-leg] × [own groups, joint groups].
    let mut own: Tally = vec![[(0, 0); 2]; 2];
    let mut joint: Tally = vec![[(0, 0); 2]; 2];
    let mut aligned: Tally = vec![[(0, 0); 2]; 2];
    let mut with_gaps: Tally = vec![[(0, 0); 2]; 2];
    let (mut audio_s, mut asr_s, mut dropped) = (0.0, 0.0, 0usize);
    for (stem, wav) in &calls {
        let name = wav.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let id = name.strip_suffix(".wav").unwrap_or(stem);
        let truth = read_json(&args.calls.join(format!("{stem}.truth.json")));
        let report = read_json(&args.data_dir.join(format!("reports/{id}.json")));
        let stored: Vec<Value> = report["segments"].as_array().cloned().unwrap_or_default();

        let cached = args
            .cache
            .as_ref()
            .map(|d| d.join(format!("{id}.whisper.json")));
        let legs = match cached.as_ref().filter(|p| p.is_file()) {
            Some(p) => read_json(p),
            None => {
                let pcm = legs_16k(wav, id);
                let t = Instant::now();
                let legs: Vec<Value> = pcm
                    .iter()
                    .map(|s| decode_leg(&mut state, eot, s, args.threads))
                    .collect();
                asr_s += t.elapsed().as_secs_f64();
                audio_s += pcm.iter().map(|s| s.len() as f64 / 16_000.0).sum::<f64>();
                let legs = json!({"agent": legs[0], "customer": legs[1]});
                if let Some(p) = &cached {
                    std::fs::write(p, legs.to_string())
                        .unwrap_or_else(|e| die(&format!("cannot write {}: {e}", p.display())));
                }
                legs
            }
        };
        let mut whole: Vec<Value> = Vec::new();
        for who in ["agent", "customer"] {
            for s in legs[who]["segments"].as_array().into_iter().flatten() {
                let text = s["text"].as_str().unwrap_or_default();
                if is_annotation(text) {
                    dropped += 1;
                    continue;
                }
                whole.push(
                    json!({"speaker": who, "start": s["start"], "end": s["end"], "text": text}),
                );
            }
        }
        let before = own.clone();
        score(&truth, &[&stored, &whole], false, &mut own);
        score(&truth, &[&stored, &whole], true, &mut joint);
        score_aligned(&truth, &[&stored, &whole], false, &mut aligned);
        score_aligned(&truth, &[&stored, &whole], true, &mut with_gaps);
        let pct = |t: &Tally, h: usize, l: usize| {
            let (e, n) = (t[h][l].0 - before[h][l].0, t[h][l].1 - before[h][l].1);
            100.0 * e as f64 / n.max(1) as f64
        };
        eprintln!(
            "{id}: stored {:.1} / {:.1} %, whole leg {:.1} / {:.1} % (agent / customer, own groups)",
            pct(&own, 0, 0),
            pct(&own, 0, 1),
            pct(&own, 1, 0),
            pct(&own, 1, 1)
        );
    }

    let wer = |(e, n): (usize, usize)| 100.0 * e as f64 / n.max(1) as f64;
    println!(
        "{} calls in {} (*.{}), stored reports from {}",
        calls.len(),
        args.calls.display(),
        args.ext,
        args.data_dir.display()
    );
    println!("WER on utterances with no numbers (callscope::eval scorer):");
    println!(
        "{:<9} {:<7} {:>10} {:>9} {:>14} {:>9} {:>8}",
        "speaker", "groups", "stored", "words", "whole-leg", "words", "diff"
    );
    for (label, t) in [
        ("own", &own),
        ("joint", &joint),
        ("aligned", &aligned),
        ("+gaps", &with_gaps),
    ] {
        for (l, who) in ["agent", "customer"].iter().enumerate() {
            let (s, w) = (wer(t[0][l]), wer(t[1][l]));
            println!(
                "{:<9} {:<7} {:>8.1} % {:>9} {:>12.1} % {:>9} {:>+7.1}",
                who,
                label,
                s,
                t[0][l].1,
                w,
                t[1][l].1,
                s - w
            );
        }
    }
    println!(
        "diff = stored − whole-leg, points. own: utterances grouped by each system's own segment \
         times (tests/redaction.rs rule); joint: groups joined over both systems (same reference \
         words); aligned: per utterance, after a time-free word alignment of each whole leg, \
         words between utterances dropped; +gaps: the same, words between utterances charged \
         to the one before."
    );
    if audio_s > 0.0 {
        println!(
            "whole-leg whisper: {:.0} s of legs in {:.0} s ({:.1}x real time per leg, {} threads); \
             {dropped} annotation-only segments dropped",
            audio_s,
            asr_s,
            audio_s / asr_s,
            args.threads
        );
    } else {
        println!("whole-leg whisper from the cache; {dropped} annotation-only segments dropped");
    }
}
