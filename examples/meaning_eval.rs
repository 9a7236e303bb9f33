//! Scores the analytics by meaning (complaint category, flags, agent
//! prompts) on a labelled utterance set, one utterance at a time, as the
//! report and the live coach would judge it.
//!
//! `cargo run --release --example meaning_eval -- FILE.tsv [--split tune|test] [--keywords] [--rules R.toml] [-v]`
//!
//! The file has a header and `split<TAB>speaker<TAB>label<TAB>text` lines;
//! labels are `category:NAME`, `flag:escalation`, `flag:cancellation`,
//! `flag:apology`, `prompt:KIND` and `none`. `--keywords` scores the
//! phrase lists instead (no model). Prints accuracy, precision, recall and
//! the category confusion matrix.

use std::collections::BTreeMap;
use std::sync::Arc;

use callscope::frame::Leg;
use callscope::redact::Redacted;
use callscope::report::Segment;
use callscope::rules::{CATEGORIES, Rules, coach, insights, normalise};

fn redacted(said: &str, leg: Leg, seg: &Segment) -> Option<Redacted<Segment>> {
    use callscope::asr::{Transcript, Word};
    use callscope::redact::call::TranscribedUtterance;
    use callscope::redact::text::UtteranceSpan;
    let words: Vec<Word> = said
        .split_whitespace()
        .enumerate()
        .map(|(i, w)| Word {
            text: w.to_string(),
            start: 10.0 + 0.1 * i as f64,
            end: 10.1 + 0.1 * i as f64,
            confidence: 0.9,
            digit_p: Some(0.0),
        })
        .collect();
    let tu = TranscribedUtterance {
        span: UtteranceSpan {
            leg,
            start: seg.start,
            end: seg.end,
        },
        transcript: Some(Transcript {
            words,
            embedding: seg.embedding.as_ref().map(|e| e.as_slice().to_vec()),
            ..Transcript::default()
        }),
        relisten: None,
    };
    callscope::redact::live::segment_of(
        &[tu],
        0,
        &callscope::redact::detect::DetectConfig::default(),
    )
    .map(|(s, _)| s)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = args.first().expect("FILE.tsv");
    let opt = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let split = opt("--split");
    let verbose = args.iter().any(|a| a == "-v");
    let mut rules = match opt("--rules") {
        Some(p) => Rules::load(p.as_ref()).unwrap_or_else(|e| panic!("{e}")),
        None => Rules::builtin(),
    };
    if !args.iter().any(|a| a == "--keywords") {
        let e = callscope::embed::Embedder::load(&callscope::embed::default_dir())
            .unwrap_or_else(|e| panic!("{e}"));
        rules = rules.with_embedder(Arc::new(e)).expect("examples embed");
    }
    let rules = Arc::new(rules);
    let text = std::fs::read_to_string(file).expect("read the file");
    let mut dump = opt("--dump").map(|p| std::fs::File::create(p).expect("create the dump"));
    // (label, predicted) pairs for categories; per binary item tp/fp/fn.
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut binary: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    let items = [
        "flag:escalation",
        "flag:cancellation",
        "flag:apology",
        "prompt:deflection",
        "prompt:vague_promise",
        "prompt:acknowledgement",
        "complaint",
    ];
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 4 || split.as_deref().is_some_and(|s| s != f[0]) {
            continue;
        }
        let (speaker, label, said) = (f[1], f[2], f[3]);
        let leg = if speaker == "agent" {
            Leg::Agent
        } else {
            Leg::Customer
        };
        let mut segs = vec![Segment {
            speaker: leg,
            start: 10.0,
            end: 12.0,
            text: said.to_string(),
            embedding: None,
        }];
        if let Some(m) = rules.model.as_deref() {
            m.fill(&mut segs);
        }
        if let (Some(d), Some(m), Some(e)) = (
            dump.as_mut(),
            rules.model.as_deref(),
            segs[0].embedding.as_ref(),
        ) {
            use callscope::rules::meaning::Of;
            use std::io::Write;
            let e = e.as_slice();
            let probe = callscope::rules::meaning::Probe {
                e,
                form: callscope::rules::meaning::Form::of(said),
            };
            let mut row = vec![f[0].to_string(), speaker.to_string(), label.to_string()];
            for of in [
                Of::Complaint,
                Of::Acknowledgement,
                Of::Apology,
                Of::Phrase("escalation_request"),
                Of::Phrase("cancellation_risk"),
                Of::Phrase("deflection"),
                Of::Phrase("vague_promise"),
            ] {
                let h = m.hit(of, probe).expect("item");
                row.push(format!("{:.4}", h.score));
                row.push(format!("{:.4}", h.against));
            }
            row.push(format!("{:.4}", m.ordinary(probe)));
            for v in m.category_scores(e) {
                row.push(format!("{:.4}", v.unwrap_or(0.0)));
            }
            writeln!(d, "{}", row.join("\t")).expect("write");
        }
        let mut got: Vec<&str> = Vec::new();
        let complaint = insights::complaint(&rules, &segs);
        let flags = insights::flags(&rules, &segs, None);
        if leg == Leg::Customer {
            let cat = complaint
                .as_ref()
                .map_or("none".to_string(), |c| c.category.clone());
            if complaint.is_some() {
                got.push("complaint");
            }
            if flags.escalation_requested {
                got.push("flag:escalation");
            }
            if flags.cancellation_threatened {
                got.push("flag:cancellation");
            }
            let truth = label.strip_prefix("category:").unwrap_or("none");
            if label.starts_with("category:") || label == "none" {
                *confusion
                    .entry((truth.to_string(), cat.clone()))
                    .or_default() += 1;
                if verbose && truth != cat {
                    println!("category {truth} -> {cat}: {said}");
                }
            }
        } else {
            if flags.apologised {
                got.push("flag:apology");
            }
            // Through the redactor, as live finals are.
            let sealed: Vec<Redacted<Segment>> =
                redacted(said, leg, &segs[0]).into_iter().collect();
            for p in coach::Coach::replay(&rules, &sealed, 20.0) {
                match p.kind.as_str() {
                    "deflection" => got.push("prompt:deflection"),
                    "vague_promise" => got.push("prompt:vague_promise"),
                    _ => {}
                }
            }
            if coach::acknowledgement(&rules, &segs[0], &normalise(said)).is_some() {
                got.push("prompt:acknowledgement");
            }
        }
        for item in items {
            let want = if item == "complaint" {
                label.starts_with("category:")
            } else {
                label == item
            };
            // Agent items are judged on agent lines, customer ones on customer lines.
            let agent_item = matches!(
                item,
                "flag:apology"
                    | "prompt:deflection"
                    | "prompt:vague_promise"
                    | "prompt:acknowledgement"
            );
            if agent_item != (leg == Leg::Agent) {
                continue;
            }
            let has = got.contains(&item);
            let c = binary.entry(item).or_default();
            match (has, want) {
                (true, true) => c[0] += 1,
                (true, false) => c[1] += 1,
                (false, true) => c[2] += 1,
                _ => {}
            }
            if verbose && has != want && item != "complaint" {
                println!("{item} got {has} want {want}: {said}");
            }
        }
    }
    let (mut right, mut n) = (0, 0);
    for ((t, p), c) in &confusion {
        if t != "none" {
            n += c;
            if t == p {
                right += c;
            }
        }
    }
    let none_total: usize = confusion
        .iter()
        .filter(|((t, _), _)| t == "none")
        .map(|(_, c)| c)
        .sum();
    let none_right = confusion
        .get(&("none".to_string(), "none".to_string()))
        .copied()
        .unwrap_or(0);
    println!(
        "category accuracy {right}/{n} = {:.3}; customer negatives with no complaint {none_right}/{none_total}",
        right as f64 / n.max(1) as f64
    );
    for (item, [tp, fp, fne]) in &binary {
        let p = *tp as f64 / (tp + fp).max(1) as f64;
        let r = *tp as f64 / (tp + fne).max(1) as f64;
        println!("{item:24} precision {p:.3} recall {r:.3} (tp {tp}, fp {fp}, fn {fne})");
    }
    let cols: Vec<&str> = CATEGORIES
        .iter()
        .copied()
        .chain(["other", "none"])
        .collect();
    println!("\nconfusion (rows truth, columns predicted; abbreviations):");
    print!("{:22}", "");
    for c in &cols {
        print!("{:>5}", &c[..4.min(c.len())]);
    }
    println!();
    for t in CATEGORIES.iter().copied().chain(["none"]) {
        print!("{t:22}");
        for c in &cols {
            let v = confusion
                .get(&(t.to_string(), c.to_string()))
                .copied()
                .unwrap_or(0);
            print!("{v:>5}");
        }
        println!();
    }
}
