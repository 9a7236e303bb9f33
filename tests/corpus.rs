//! `callscope analyze` over the dev corpus (μ-law and PCM16), scored against
//! the truth files: interruptions F1 ≥ 0.9, talk time within 5 % per
//! speaker, every truth silence found. Prints the figures.

mod common;

use common::*;

fn run_variant(suffix: &str) {
    let calls = corpus_calls();
    assert!(
        !calls.is_empty(),
        "the dev corpus is missing at {}",
        corpus_dir().display()
    );
    let data = tempfile::tempdir().unwrap();
    let files: Vec<String> = calls
        .iter()
        .map(|c| {
            corpus_dir()
                .join(format!("{c}{suffix}.wav"))
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec![
        "analyze",
        "--no-transcribe",
        "--data-dir",
        data.path().to_str().unwrap(),
    ];
    args.extend(files.iter().map(String::as_str));
    let (code, _out, err) = callscope(&args);
    assert_eq!(code, 0, "analyze failed: {err}");

    let mut ints = Counts::default();
    let mut worst_talk: f64 = 0.0;
    let mut talk_errs = Vec::new();
    let (mut sil_truth, mut sil_found, mut sil_extra) = (0, 0, 0);
    for call in &calls {
        let truth = truth(call);
        let report = read_json(&data.path().join(format!("reports/{call}{suffix}.json")));
        let c = score_interruptions(
            truth["interruptions"].as_array().unwrap(),
            report["interruptions"].as_array().unwrap(),
        );
        ints.add(c);
        for who in ["agent", "customer"] {
            let want = truth["speakers"][who]["talk_time_s"].as_f64().unwrap();
            let got = report["speakers"][who]["talk_time_s"].as_f64().unwrap();
            let rel = (got - want) / want;
            talk_errs.push(rel.abs());
            worst_talk = worst_talk.max(rel.abs());
            eprintln!(
                "{call}{suffix} {who:<8} talk {got:6.2} s vs {want:6.2} s ({:+.1} %)",
                rel * 100.0
            );
        }
        let found = report["silences"].as_array().unwrap();
        for s in truth["silences"].as_array().unwrap() {
            sil_truth += 1;
            if silence_found(s, found) {
                sil_found += 1;
            } else {
                eprintln!("{call}{suffix}: missed silence {s}");
            }
        }
        sil_extra += found
            .iter()
            .filter(|f| {
                !truth["silences"].as_array().unwrap().iter().any(|t| {
                    silence_found(t, std::slice::from_ref(*f))
                        || silence_found(f, std::slice::from_ref(t))
                })
            })
            .count();
        if c.fp + c.fn_ > 0 {
            eprintln!(
                "{call}{suffix}: interruptions truth {} found {}",
                truth["interruptions"], report["interruptions"]
            );
        }
    }
    let mean_talk = talk_errs.iter().sum::<f64>() / talk_errs.len() as f64;
    eprintln!(
        "== {suffix:<6} interruptions P {:.3} R {:.3} F1 {:.3} ({} tp, {} fp, {} fn) | talk time error mean {:.2} % max {:.2} % | silences found {sil_found}/{sil_truth}, extra {sil_extra}",
        ints.precision(),
        ints.recall(),
        ints.f1(),
        ints.tp,
        ints.fp,
        ints.fn_,
        mean_talk * 100.0,
        worst_talk * 100.0
    );
    assert!(ints.f1() >= 0.9, "interruption F1 {:.3} < 0.9", ints.f1());
    assert!(
        worst_talk <= 0.05,
        "talk time off by {:.1} %",
        worst_talk * 100.0
    );
    assert_eq!(sil_found, sil_truth, "every truth silence must be found");
}

#[test]
fn corpus_mulaw_meets_the_signal_targets() {
    run_variant("");
}

#[test]
fn corpus_pcm16_meets_the_signal_targets() {
    run_variant(".pcm16");
}
