//! Scores call reports against truth files for the conversation signals:
//! interruptions (P/R/F1), backchannels (P/R, and how many were reported as
//! interruptions), talk time and words per minute per speaker — overall and
//! per recording condition (`conditions` in the truth: clean, echo, babble).
//!
//! `cargo run --release --example signals_eval -- TRUTH_DIR REPORTS_DIR [-v]`
//!
//! Reports are read as `REPORTS_DIR/<call_id>.json` (what
//! `callscope analyze --data-dir D` writes under `D/reports`).

use std::collections::BTreeMap;
use std::path::Path;

use callscope::eval::{Counts, score_timed};
use serde_json::Value;

#[derive(Default)]
struct Tally {
    calls: usize,
    interruptions: Counts,
    backchannels: Counts,
    bc_as_interruption: usize,
    truth_bc: usize,
    talk: [Vec<f64>; 2],
    wpm: [Vec<f64>; 2],
}

fn condition(truth: &Value) -> String {
    let c = &truth["conditions"];
    let echo = !c["echo"].is_null();
    let babble = !c["babble"].is_null();
    match (echo, babble) {
        (false, false) => "clean",
        (true, false) => "echo",
        (false, true) => "babble",
        (true, true) => "echo+babble",
    }
    .to_string()
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn stats(v: &[f64]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let mean = v.iter().map(|x| x.abs()).sum::<f64>() / v.len() as f64;
    let bias = v.iter().sum::<f64>() / v.len() as f64;
    let max = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    format!(
        "mean |err| {:5.1} % (bias {:+5.1} %) max {:5.1} %",
        mean * 100.0,
        bias * 100.0,
        max * 100.0
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let truth_dir = Path::new(args.first().expect("TRUTH_DIR"));
    let reports = Path::new(args.get(1).expect("REPORTS_DIR"));
    let verbose = args.iter().any(|a| a == "-v");
    let mut by_cond: BTreeMap<String, Tally> = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(truth_dir)
        .expect("read TRUTH_DIR")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".truth.json"))
        .collect();
    files.sort();
    for f in files {
        let truth: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let id = truth["call_id"].as_str().unwrap().to_string();
        let Ok(text) = std::fs::read_to_string(reports.join(format!("{id}.json"))) else {
            eprintln!("{id}: no report");
            continue;
        };
        let report: Value = serde_json::from_str(&text).unwrap();
        for cond in [condition(&truth), "all".to_string()] {
            let t = by_cond.entry(cond).or_default();
            t.calls += 1;
            let ints = score_timed(
                arr(&truth["interruptions"]),
                arr(&report["interruptions"]),
                0.5,
            );
            t.interruptions.add(ints);
            let bcs = score_timed(
                arr(&truth["backchannels"]),
                arr(&report["backchannels"]),
                0.5,
            );
            t.backchannels.add(bcs);
            t.truth_bc += arr(&truth["backchannels"]).len();
            t.bc_as_interruption += score_timed(
                arr(&truth["backchannels"]),
                arr(&report["interruptions"]),
                0.5,
            )
            .tp;
            for (i, who) in ["agent", "customer"].iter().enumerate() {
                let want = &truth["speakers"][who];
                let got = &report["speakers"][who];
                if let (Some(w), Some(g)) =
                    (want["talk_time_s"].as_f64(), got["talk_time_s"].as_f64())
                {
                    t.talk[i].push((g - w) / w);
                }
                if let (Some(w), Some(g)) = (want["wpm"].as_f64(), got["wpm"].as_f64()) {
                    t.wpm[i].push((g - w) / w);
                }
            }
            if verbose && t.calls > 0 && ints.fp + ints.fn_ > 0 {
                println!(
                    "{id}: interruptions truth {} found {}",
                    truth["interruptions"], report["interruptions"]
                );
            }
        }
    }
    for (cond, t) in &by_cond {
        println!(
            "== {cond:<12} {:>2} calls | interruptions P {:.3} R {:.3} F1 {:.3} ({} tp {} fp {} fn) | backchannels P {:.3} R {:.3} ({} true, {} reported as interruptions)",
            t.calls,
            t.interruptions.precision(),
            t.interruptions.recall(),
            t.interruptions.f1(),
            t.interruptions.tp,
            t.interruptions.fp,
            t.interruptions.fn_,
            t.backchannels.precision(),
            t.backchannels.recall(),
            t.truth_bc,
            t.bc_as_interruption,
        );
        for (i, who) in ["agent", "customer"].iter().enumerate() {
            println!(
                "   {who:<8} talk time {} | wpm {}",
                stats(&t.talk[i]),
                stats(&t.wpm[i])
            );
        }
    }
}
