//! DSP-path throughput: resampling + framing, VAD, signals, and the whole
//! per-call pipeline.
//!
//! Throughput is given in *milliseconds of call audio* per second, so
//! `thrpt: 2.0 Melem/s` means 2,000 × real time. Input is the dev corpus call
//! `dev-001` (8 kHz μ-law stereo) when `../shared/corpus/dev` is present,
//! synthetic speech-like bursts otherwise; decoding happens before timing.

use std::hint::black_box;

use callscope::convert::LegConverter;
use callscope::dsp::vad::{CallVad, VadConfig};
use callscope::frame::{FRAME_LEN, Frame, Leg};
use callscope::pipeline::{CallPipeline, PipelineConfig};
use callscope::signals::{CallSignals, SignalConfig};
use callscope::source::WavSource;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const RATE: u32 = 8_000;

/// Two legs of 8 kHz audio.
fn load() -> [Vec<f32>; 2] {
    let path = "../shared/corpus/dev/dev-001.wav";
    if let Ok(mut src) = WavSource::open(path) {
        let mut legs = [Vec::new(), Vec::new()];
        let mut bufs = vec![Vec::new(), Vec::new()];
        while src.read(8192, &mut bufs).expect("corpus file reads") > 0 {
            legs[0].extend_from_slice(&bufs[0]);
            legs[1].extend_from_slice(&bufs[1]);
        }
        return legs;
    }
    // 60 s of alternating 1.5 s harmonic bursts over light noise.
    let n = RATE as usize * 60;
    let mut seed = 1u32;
    let mut legs = [vec![0.0; n], vec![0.0; n]];
    for i in 0..n {
        let t = i as f32 / RATE as f32;
        let who = ((t / 1.5) as usize) % 2;
        for (leg, buf) in legs.iter_mut().enumerate() {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.002;
            let voice = if leg == who {
                (1..20)
                    .map(|k| (std::f32::consts::TAU * 140.0 * k as f32 * t).sin() / k as f32)
                    .sum::<f32>()
                    * 0.05
            } else {
                0.0
            };
            buf[i] = voice + noise;
        }
    }
    legs
}

fn frames_of(leg: &[f32]) -> Vec<[f32; FRAME_LEN]> {
    let mut conv = LegConverter::new("bench".into(), Leg::Agent, RATE).unwrap();
    let mut out = Vec::new();
    let mut emit = |f: &Frame| out.push(f.samples);
    conv.push(leg, &mut emit);
    conv.finish(&mut emit);
    out
}

fn benches(c: &mut Criterion) {
    let legs = load();
    let audio_ms = (legs[0].len() as u64 * 1000) / u64::from(RATE);
    let mut g = c.benchmark_group("dsp");
    g.throughput(Throughput::Elements(audio_ms));
    g.sample_size(20);

    g.bench_function("convert_one_leg_8k_to_16k_frames", |b| {
        b.iter(|| {
            let mut conv = LegConverter::new("bench".into(), Leg::Agent, RATE).unwrap();
            let mut n = 0u64;
            let mut emit = |f: &Frame| n += f.seq;
            for chunk in legs[0].chunks(4096) {
                conv.push(chunk, &mut emit);
            }
            conv.finish(&mut emit);
            black_box(n)
        })
    });

    let fa = frames_of(&legs[0]);
    let fc = frames_of(&legs[1]);
    g.bench_function("vad_both_legs", |b| {
        let mut vad = CallVad::new(VadConfig::default());
        b.iter(|| {
            vad.reset();
            let mut speech = 0u32;
            for (a, c) in fa.iter().zip(&fc) {
                let d = vad.process_pair(a, c);
                speech += d
                    .iter()
                    .filter(|x| x.class == callscope::dsp::vad::FrameClass::Speech)
                    .count() as u32;
            }
            black_box(speech)
        })
    });

    let mut vad = CallVad::new(VadConfig::default());
    let decisions: Vec<_> = fa
        .iter()
        .zip(&fc)
        .map(|(a, c)| vad.process_pair(a, c))
        .collect();
    g.bench_function("signals", |b| {
        b.iter(|| {
            let mut s = CallSignals::new(&SignalConfig::default(), true);
            let mut out = Vec::with_capacity(256);
            for (seq, d) in decisions.iter().enumerate() {
                s.process(seq as u64, d, &mut out);
                out.clear();
            }
            black_box(s.finish(decisions.len() as u64, &mut out))
        })
    });

    g.bench_function("pipeline_stereo_call", |b| {
        b.iter(|| {
            let mut p =
                CallPipeline::new("bench".into(), 2, RATE, &PipelineConfig::default()).unwrap();
            let mut out = Vec::with_capacity(256);
            for (a, c) in legs[0].chunks(4096).zip(legs[1].chunks(4096)) {
                p.push(&[a, c], &mut out);
                out.clear();
            }
            black_box(p.finish(&mut out))
        })
    });
    g.finish();
}

criterion_group!(dsp, benches);
criterion_main!(dsp);
