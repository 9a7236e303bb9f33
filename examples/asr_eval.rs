//! Developer tool: transcribe dev-corpus calls with VAD-gated utterances and
//! report WER on non-sensitive utterances per speaker and the real-time
//! factor. Prints figures only, never transcript text.
//!
//! `cargo run --release --example asr_eval -- [MODEL] [CALL…]`
//!
//! `CS_WORKERS`, `CS_THREADS` and `CS_MIN_CTX` override the pool's workers,
//! threads per worker and smallest encoder context; `CS_JOIN_GAP` the gap
//! under which a speaker's phrases are joined into one utterance.

use std::time::Instant;

use callscope::asr::whisper::{WhisperConfig, WhisperPool};
use callscope::eval::{edits, score_words as norm};
use callscope::pipeline::{CallPipeline, PipelineConfig};
use callscope::source::WavSource;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = args
        .first()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(callscope::model::default_model);
    let calls: Vec<String> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec!["dev-001".into(), "dev-002".into()]
    };
    let mut cfg = WhisperConfig::for_machine(model);
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    cfg.workers = env("CS_WORKERS").unwrap_or(cfg.workers);
    cfg.threads_per_worker = env("CS_THREADS").unwrap_or(cfg.threads_per_worker);
    cfg.min_audio_ctx = env("CS_MIN_CTX").map_or(cfg.min_audio_ctx, |v| v as i32);
    eprintln!(
        "{} worker(s) x {} thread(s)",
        cfg.workers, cfg.threads_per_worker
    );
    let pool = WhisperPool::start(cfg).expect("model");
    let (mut err, mut n) = ([0usize; 2], [0usize; 2]);
    let (mut audio_s, mut asr_s) = (0.0, 0.0);
    for call in &calls {
        let dir = "../shared/corpus/dev/";
        let mut src = WavSource::open(format!("{dir}{call}.wav")).unwrap();
        audio_s += src.info().duration_s();
        let mut pcfg = PipelineConfig::default();
        if let Some(gap) = std::env::var("CS_JOIN_GAP")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            pcfg.utterances.join_gap_s = gap;
        }
        let mut p = CallPipeline::new(call.as_str().into(), 2, 8000, &pcfg).unwrap();
        p.cut_utterances();
        let mut bufs = vec![Vec::new(), Vec::new()];
        let mut ev = Vec::new();
        while src.read(4096, &mut bufs).unwrap() > 0 {
            p.push(&[&bufs[0], &bufs[1]], &mut ev);
        }
        let mut utts = Vec::new();
        p.finish_with_utterances(&mut ev, &mut utts);
        let t = Instant::now();
        let mut words: Vec<(usize, f64, String)> = Vec::new();
        // Submit everything first so that every worker is busy.
        let pending: Vec<_> = utts
            .iter()
            .map(|u| (u.leg.index(), pool.submit(u.clone()).unwrap()))
            .collect();
        for (leg, rx) in pending {
            for w in rx.recv().unwrap().unwrap().words {
                words.push((leg, (w.start + w.end) / 2.0, w.text));
            }
        }
        asr_s += t.elapsed().as_secs_f64();
        let truth: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{dir}{call}.truth.json")).unwrap(),
        )
        .unwrap();
        for u in truth["utterances"].as_array().unwrap() {
            if u["sensitive"].as_bool().unwrap_or(false) {
                continue;
            }
            let leg = usize::from(u["speaker"] == "customer");
            let (s, e) = (u["start"].as_f64().unwrap(), u["end"].as_f64().unwrap());
            let hyp: String = words
                .iter()
                .filter(|(l, t, _)| *l == leg && *t >= s - 0.1 && *t <= e + 0.1)
                .map(|(_, _, w)| w.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let r = norm(u["text"].as_str().unwrap());
            err[leg] += edits(&r, &norm(&hyp));
            n[leg] += r.len();
        }
        eprintln!("{call}: {} utterances", utts.len());
    }
    println!(
        "WER agent {:.1} % ({} words), customer {:.1} % ({} words); transcription {:.1} s for {:.1} s of calls: {:.1}x real time",
        100.0 * err[0] as f64 / n[0] as f64,
        n[0],
        100.0 * err[1] as f64 / n[1] as f64,
        n[1],
        asr_s,
        audio_s,
        audio_s / asr_s
    );
}
