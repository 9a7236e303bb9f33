//! The edge conversion: one leg at its native rate → 16 kHz mono 20 ms [`Frame`]s.
//!
//! [`LegConverter`] resamples with rubato's synchronous FFT resampler (a
//! straight copy when the input is already 16 kHz), removes the resampler's
//! delay so that media time stays exact, and cuts the result into frames.
//! All buffers are allocated in [`LegConverter::new`]; pushing audio does
//! not allocate.

use audioadapter_buffers::direct::SequentialSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::frame::{CallId, FRAME_LEN, Frame, Leg, SAMPLE_RATE};

/// Why a converter could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The input rate cannot be resampled (0 Hz or absurd). Stop: fix the input description.
    #[error("cannot resample from {rate} Hz: {detail}")]
    Rate {
        /// The requested input rate.
        rate: u32,
        /// rubato's explanation.
        detail: String,
    },
}

/// Resampler plus framer for one leg of one call.
pub struct LegConverter {
    call_id: CallId,
    leg: Leg,
    resampler: Option<Fft<f32>>,
    chunk_in: usize,
    in_buf: Vec<f32>,
    in_fill: usize,
    out_buf: Vec<f32>,
    /// Output samples still to drop at the start (the resampler's delay).
    skip: usize,
    /// Input samples consumed, to know how much output the input warrants.
    consumed_in: u64,
    emitted_out: u64,
    rate_in: u32,
    frame: [f32; FRAME_LEN],
    frame_fill: usize,
    next_seq: u64,
}

impl LegConverter {
    /// A converter for `leg` of `call_id` whose input arrives at `rate_in` Hz.
    pub fn new(call_id: CallId, leg: Leg, rate_in: u32) -> Result<Self, ConvertError> {
        // 20 ms input chunks keep the added latency low for live calls.
        let chunk_in = (rate_in as usize / 50).max(1);
        let (resampler, skip, out_len) = if rate_in == SAMPLE_RATE {
            (None, 0, 0)
        } else {
            let r = Fft::<f32>::new(
                rate_in as usize,
                SAMPLE_RATE as usize,
                chunk_in,
                1,
                FixedSync::Input,
            )
            .map_err(|e| ConvertError::Rate {
                rate: rate_in,
                detail: e.to_string(),
            })?;
            let delay = r.output_delay();
            let out_len = r.output_frames_max();
            (Some(r), delay, out_len)
        };
        Ok(LegConverter {
            call_id,
            leg,
            resampler,
            chunk_in,
            in_buf: vec![0.0; chunk_in],
            in_fill: 0,
            out_buf: vec![0.0; out_len],
            skip,
            consumed_in: 0,
            emitted_out: 0,
            rate_in,
            frame: [0.0; FRAME_LEN],
            frame_fill: 0,
            next_seq: 0,
        })
    }

    /// The leg this converter serves.
    pub fn leg(&self) -> Leg {
        self.leg
    }

    /// Pushes input samples; calls `emit` with every frame that completes.
    pub fn push(&mut self, mut input: &[f32], emit: &mut impl FnMut(&Frame)) {
        if self.resampler.is_none() {
            self.consumed_in += input.len() as u64;
            self.frame_samples(input, u64::MAX, emit);
            return;
        }
        while !input.is_empty() {
            let take = (self.chunk_in - self.in_fill).min(input.len());
            self.in_buf[self.in_fill..self.in_fill + take].copy_from_slice(&input[..take]);
            self.in_fill += take;
            self.consumed_in += take as u64;
            input = &input[take..];
            if self.in_fill == self.chunk_in {
                self.run_chunk(emit);
            }
        }
    }

    /// Flushes the resampler and emits the last frame, zero-padded.
    ///
    /// The total number of frames emitted covers exactly the input duration
    /// (rounded up to whole frames).
    pub fn finish(&mut self, emit: &mut impl FnMut(&Frame)) {
        if self.resampler.is_some() {
            // Feed silence until the output covers the input.
            let target = self.expected_out();
            let mut guard = 0;
            while self.emitted_out < target && guard < 1000 {
                self.in_buf[self.in_fill..].fill(0.0);
                self.in_fill = self.chunk_in;
                self.run_chunk_limited(target, emit);
                guard += 1;
            }
        }
        if self.frame_fill > 0 {
            self.frame[self.frame_fill..].fill(0.0);
            self.frame_fill = FRAME_LEN;
            self.emit_frame(emit);
        }
    }

    fn expected_out(&self) -> u64 {
        (self.consumed_in * u64::from(SAMPLE_RATE)).div_ceil(u64::from(self.rate_in))
    }

    fn run_chunk(&mut self, emit: &mut impl FnMut(&Frame)) {
        self.run_chunk_limited(u64::MAX, emit);
    }

    fn run_chunk_limited(&mut self, limit: u64, emit: &mut impl FnMut(&Frame)) {
        let Some(resampler) = self.resampler.as_mut() else {
            return;
        };
        let input = SequentialSlice::new(&self.in_buf[..], 1, self.chunk_in)
            .expect("input buffer sized to the chunk");
        let out_cap = self.out_buf.len();
        let mut output = SequentialSlice::new_mut(&mut self.out_buf[..], 1, out_cap)
            .expect("output buffer sized to output_frames_max");
        let (_, written) = resampler
            .process_into_buffer(&input, &mut output, None)
            .expect("buffers sized from the resampler's own figures");
        self.in_fill = 0;
        let drop = self.skip.min(written);
        self.skip -= drop;
        let out = std::mem::take(&mut self.out_buf);
        self.frame_samples(&out[drop..written], limit, emit);
        self.out_buf = out;
    }

    fn frame_samples(&mut self, mut samples: &[f32], limit: u64, emit: &mut impl FnMut(&Frame)) {
        let room = limit.saturating_sub(self.emitted_out);
        if (samples.len() as u64) > room {
            samples = &samples[..room as usize];
        }
        self.emitted_out += samples.len() as u64;
        while !samples.is_empty() {
            let take = (FRAME_LEN - self.frame_fill).min(samples.len());
            self.frame[self.frame_fill..self.frame_fill + take].copy_from_slice(&samples[..take]);
            self.frame_fill += take;
            samples = &samples[take..];
            if self.frame_fill == FRAME_LEN {
                self.emit_frame(emit);
            }
        }
    }

    fn emit_frame(&mut self, emit: &mut impl FnMut(&Frame)) {
        let frame = Frame {
            call_id: self.call_id.clone(),
            leg: self.leg,
            seq: self.next_seq,
            samples: self.frame,
        };
        self.next_seq += 1;
        self.frame_fill = 0;
        emit(&frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    fn convert(rate: u32, input: &[f32], block: usize) -> Vec<f32> {
        let mut conv = LegConverter::new("t".into(), Leg::Agent, rate).unwrap();
        let mut out = Vec::new();
        let mut seqs = Vec::new();
        let mut emit = |f: &Frame| {
            seqs.push(f.seq);
            out.extend_from_slice(&f.samples);
        };
        for chunk in input.chunks(block) {
            conv.push(chunk, &mut emit);
        }
        conv.finish(&mut emit);
        assert!(seqs.iter().enumerate().all(|(i, &s)| s == i as u64));
        out
    }

    fn tone(rate: u32, hz: f32, seconds: f32) -> Vec<f32> {
        let n = (rate as f32 * seconds) as usize;
        (0..n)
            .map(|i| 0.5 * (TAU * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Phase of `hz` in `x` at 16 kHz, by correlation.
    fn phase(x: &[f32], hz: f32) -> f32 {
        let (mut s, mut c) = (0.0f32, 0.0f32);
        for (i, v) in x.iter().enumerate() {
            let w = TAU * hz * i as f32 / 16_000.0;
            s += v * w.sin();
            c += v * w.cos();
        }
        c.atan2(s)
    }

    #[test]
    fn rates_and_blocks_keep_duration_and_timing() {
        for &rate in &[8_000u32, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000] {
            for &block in &[1usize, 37, 160, 4096] {
                let input = tone(rate, 440.0, 1.0);
                let out = convert(rate, &input, block);
                let expected = (input.len() as u64 * 16_000).div_ceil(u64::from(rate)) as usize;
                assert_eq!(
                    out.len(),
                    expected.div_ceil(FRAME_LEN) * FRAME_LEN,
                    "{rate} Hz block {block}"
                );
                // The tone keeps its level and its phase (no delay) mid-signal.
                let mid = &out[4000..12000];
                let rms = (mid.iter().map(|v| v * v).sum::<f32>() / mid.len() as f32).sqrt();
                assert!(
                    (rms - 0.5 / 2f32.sqrt()).abs() < 0.01,
                    "{rate} Hz rms {rms}"
                );
                let p = phase(mid, 440.0);
                let want = phase(&tone(16_000, 440.0, 1.0)[4000..12000], 440.0);
                // Within one output sample (0.17 rad at 440 Hz): the FFT resampler's
                // delay is a whole number of samples, the true one may not be.
                assert!((p - want).abs() < 0.17, "{rate} Hz phase {p} vs {want}");
            }
        }
    }

    #[test]
    fn an_impulse_stays_where_it_was() {
        let mut input = vec![0.0f32; 8000];
        input[4000] = 1.0; // 0.5 s at 8 kHz
        let out = convert(8_000, &input, 160);
        let peak = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        assert!((peak as i64 - 8000).abs() <= 1, "peak at {peak}");
    }
}
