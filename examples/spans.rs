//! Developer tool: print talk-span events of a stereo file between two times.
use callscope::pipeline::{CallPipeline, PipelineConfig};
use callscope::signals::SignalEvent;
use callscope::source::WavSource;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (from, to): (f64, f64) = (args[2].parse().unwrap(), args[3].parse().unwrap());
    let mut src = WavSource::open(&args[1]).unwrap();
    let mut p = CallPipeline::new(
        "x".into(),
        2,
        src.info().sample_rate,
        &PipelineConfig::default(),
    )
    .unwrap();
    let mut bufs = vec![Vec::new(), Vec::new()];
    let mut ev = Vec::new();
    while src.read(4096, &mut bufs).unwrap() > 0 {
        p.push(&[&bufs[0], &bufs[1]], &mut ev);
    }
    p.finish(&mut ev);
    for e in ev {
        let t = match &e {
            SignalEvent::SpeakingStarted { t, .. }
            | SignalEvent::SpeakingStopped { t, .. }
            | SignalEvent::Interruption { t, .. }
            | SignalEvent::Backchannel { t, .. }
            | SignalEvent::SilenceStarted { t, .. } => *t,
            SignalEvent::SilenceEnded { start, .. } => *start,
        };
        if t >= from && t <= to {
            println!("{e:?}");
        }
    }
}
