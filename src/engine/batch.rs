//! The batch scheduling policy: a call engine driven as fast as the
//! transcription pool goes (offline analysis).

use std::sync::Arc;

use super::call::{AsrJob, LiveCall, LiveEvent};

/// Jobs one call keeps on the pool at most: enough to keep every worker
/// busy, few enough that the utterances waiting (16 kHz, up to 10 s each)
/// stay a few megabytes.
pub const MAX_IN_FLIGHT: usize = 6;
use crate::asr::{AsrError, AsrPool, Transcript};

/// Drives a call engine as fast as the transcription pool goes (the batch
/// scheduling policy of offline analysis): every job is queued, waiting
/// for room in the pool's queue, and results are taken as they come.
pub struct BatchDriver {
    pool: Arc<dyn AsrPool>,
    tx: std::sync::mpsc::Sender<(u64, Result<Transcript, AsrError>)>,
    rx: std::sync::mpsc::Receiver<(u64, Result<Transcript, AsrError>)>,
    in_flight: usize,
    events: Vec<LiveEvent>,
    jobs: Vec<AsrJob>,
}

impl BatchDriver {
    /// A driver over `pool`.
    pub fn new(pool: Arc<dyn AsrPool>) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        BatchDriver {
            pool,
            tx,
            rx,
            in_flight: 0,
            events: Vec::new(),
            jobs: Vec::new(),
        }
    }

    /// Pushes audio, queues the work it makes and takes the results ready.
    pub fn push(&mut self, call: &mut LiveCall, legs: &[&[f32]]) {
        call.push(legs, &mut self.events, &mut self.jobs);
        self.events.clear();
        self.submit(call);
        while let Ok((id, r)) = self.rx.try_recv() {
            self.take(call, id, r);
        }
    }

    /// Waits for one result; `false` when nothing is in flight.
    pub fn wait_one(&mut self, call: &mut LiveCall) -> bool {
        if self.in_flight == 0 {
            return false;
        }
        match self.rx.recv() {
            Ok((id, r)) => {
                self.take(call, id, r);
                true
            }
            Err(_) => false,
        }
    }

    /// Ends the audio and waits for every result.
    pub fn finish(&mut self, call: &mut LiveCall) {
        call.end(&mut self.events, &mut self.jobs);
        self.events.clear();
        self.submit(call);
        while self.wait_one(call) {}
    }

    fn take(&mut self, call: &mut LiveCall, id: u64, r: Result<Transcript, AsrError>) {
        self.in_flight -= 1;
        call.on_transcript(id, r, &mut self.events);
        call.settle(&mut self.jobs);
        self.events.clear();
        self.submit(call);
    }

    fn submit(&mut self, call: &mut LiveCall) {
        while !self.jobs.is_empty() {
            // At most MAX_IN_FLIGHT on the pool: wait for one back first
            // (its result may queue more work, which goes after).
            if self.in_flight >= MAX_IN_FLIGHT {
                match self.rx.recv() {
                    Ok((id, r)) => {
                        self.in_flight -= 1;
                        call.on_transcript(id, r, &mut self.events);
                        call.settle(&mut self.jobs);
                        self.events.clear();
                    }
                    Err(_) => break,
                }
                continue;
            }
            let job = self.jobs.remove(0);
            if job.partial {
                call.partial_dropped(job.id);
                continue;
            }
            let tx = self.tx.clone();
            let id = job.id;
            let sent = self.pool.submit_with(
                job.utterance,
                Box::new(move |r| {
                    let _ = tx.send((id, r));
                }),
            );
            match sent {
                Ok(()) => self.in_flight += 1,
                Err(e) => {
                    call.on_transcript(id, Err(e), &mut self.events);
                }
            }
        }
    }
}
