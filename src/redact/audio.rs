//! Audio hold-back: a call's audio stays in memory, at the source's native
//! sample rate, until its redaction is decided.
//!
//! The redactor masks every sensitive span ([`AudioHold::mask`]) and then
//! seals the buffer (`AudioHold::seal`, visible to the redaction module
//! only); only the sealed [`Redacted<AudioHold>`] can reach a writer such
//! as [`crate::store::recording::write_recording`].
//!
//! Masks apply to the audio already pushed: mask after the last
//! [`AudioHold::push`] of the call.

use std::f64::consts::PI;
use std::fmt;

use super::Redacted;

/// Frequency of the masking tone, Hz.
const TONE_HZ: f64 = 1_000.0;
/// Peak amplitude of the masking tone: −20 dBFS.
const TONE_PEAK: f64 = 0.1;
/// Length of the raised-cosine fades at the edges of a tone span, seconds.
const TONE_FADE_S: f64 = 0.005;
/// Slack when turning seconds into sample indices, so that float noise in
/// `t × rate` does not widen a span by a sample.
const INDEX_SLACK: f64 = 1e-6;
/// Longest line-echo delay looked for, seconds (line echo is tens of ms).
const ECHO_MAX_LAG_S: f64 = 0.15;
/// Normalised cross-correlation above which a leg carries the other's echo.
/// Two independent voices stay well under 0.1 at their best lag; an echo
/// at −20 dB over a line codec is above 0.5.
const ECHO_MIN_CORR: f64 = 0.2;
/// A leg quieter than this over the span has nothing audible to hide, dBFS.
const ECHO_QUIET_DB: f64 = -50.0;
/// The echo check looks at most this much of a span, seconds.
const ECHO_MAX_SPAN_S: f64 = 2.0;
/// Grid of the echo check, Hz: samples and lags are taken at this rate.
const ECHO_GRID_HZ: f64 = 2_000.0;

/// What replaces the audio of a masked span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaskMethod {
    /// Digital silence (zeros).
    Silence,
    /// A 1 kHz sine at −20 dBFS peak (−23 dBFS RMS), phase-continuous
    /// within a span, with 5 ms raised-cosine fades at the span edges so it
    /// starts and stops without a click. Overlapping or touching tone spans
    /// of a leg merge into one tone. At sample rates of 2 kHz and below the
    /// tone cannot be represented and silence is used instead.
    Tone,
}

/// Every leg of one call, `f32` at the source's native sample rate, held in
/// memory until the call's redaction is decided.
///
/// `Debug` shows the layout and duration only, never samples.
pub struct AudioHold {
    sample_rate: u32,
    /// Frames already released from the front ([`AudioHold::release`]):
    /// the first held sample of every leg is at this frame of the call.
    base: usize,
    legs: Vec<Vec<f32>>,
    /// Per channel: the masks applied while their audio was held, in call
    /// seconds, once audio has been released (the record that says whether
    /// released audio was masked where a later decision needs it).
    released_masks: Vec<Vec<(f64, f64)>>,
    /// Echo decisions made per mask `(from, start ms, end ms, echoed)`, so
    /// a mask decided again after its audio left keeps its decision.
    echo_memo: Vec<(usize, i64, i64, bool)>,
    /// Per leg: the merged tone spans `[start, end)` in samples, sorted and
    /// disjoint (touching spans are merged).
    tone_spans: Vec<Vec<(usize, usize)>>,
}

impl AudioHold {
    /// An empty buffer for `legs` legs (agent first) at `sample_rate` Hz.
    ///
    /// # Panics
    ///
    /// If `sample_rate` or `legs` is zero.
    pub fn new(sample_rate: u32, legs: usize) -> Self {
        assert!(sample_rate > 0, "sample rate must be positive");
        assert!(legs > 0, "at least one leg");
        AudioHold {
            sample_rate,
            base: 0,
            legs: vec![Vec::new(); legs],
            released_masks: vec![Vec::new(); legs],
            echo_memo: Vec::new(),
            tone_spans: vec![Vec::new(); legs],
        }
    }

    /// Appends one block per leg, agent first. Blocks may differ in length
    /// (live legs); a shorter leg is padded with silence when written.
    ///
    /// # Panics
    ///
    /// If the number of blocks is not the number of legs.
    pub fn push(&mut self, blocks: &[&[f32]]) {
        assert_eq!(blocks.len(), self.legs.len(), "one block per leg");
        for (leg, block) in self.legs.iter_mut().zip(blocks) {
            leg.extend_from_slice(block);
        }
    }

    /// Sample rate of the held audio, Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Number of legs (channels).
    pub fn legs(&self) -> usize {
        self.legs.len()
    }

    /// Length of the longest leg held, in samples.
    pub fn frames(&self) -> usize {
        self.legs.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// The call frame of the first held sample: frames released so far
    /// (`AudioHold::release`, by the redactor).
    pub fn start_frame(&self) -> usize {
        self.base
    }

    /// Call time of the first held sample, seconds.
    pub fn start_s(&self) -> f64 {
        self.base as f64 / f64::from(self.sample_rate)
    }

    /// Call time at the end of the longest leg (released audio included),
    /// seconds.
    pub fn duration_s(&self) -> f64 {
        (self.base + self.frames()) as f64 / f64::from(self.sample_rate)
    }

    /// The samples of leg `leg` (0 = agent), as held (masked where masked).
    ///
    /// # Panics
    ///
    /// If `leg` is out of range.
    pub fn leg(&self, leg: usize) -> &[f32] {
        &self.legs[leg]
    }

    /// The held audio of one utterance, as the recogniser takes it (16 kHz
    /// mono, [`crate::asr::Utterance`]): for a second listen after the
    /// call, when the utterance's own samples are long gone. `None` when
    /// the span is not held or cannot be resampled.
    pub fn utterance(
        &self,
        call_id: &crate::frame::CallId,
        leg: crate::frame::Leg,
        start_s: f64,
        end_s: f64,
    ) -> Option<crate::asr::Utterance> {
        let index = if self.legs.len() == 1 { 0 } else { leg.index() };
        let held = &self.legs[index];
        let rate = f64::from(self.sample_rate);
        let at = |t: f64| ((t.max(0.0) * rate) as usize).saturating_sub(self.base);
        let a = at(start_s).min(held.len());
        let b = at(end_s).min(held.len());
        if b <= a {
            return None;
        }
        let mut conv =
            crate::convert::LegConverter::new(call_id.clone(), leg, self.sample_rate).ok()?;
        let mut samples = Vec::with_capacity((b - a) * 16_000 / self.sample_rate as usize + 1);
        let mut take = |f: &crate::frame::Frame| samples.extend_from_slice(&f.samples);
        conv.push(&held[a..b], &mut take);
        conv.finish(&mut take);
        Some(crate::asr::Utterance {
            call_id: call_id.clone(),
            leg,
            start_s: (a + self.base) as f64 / rate,
            samples,
            prime_digits: false,
        })
    }

    /// Whether leg `to` carries an audible, delayed copy of leg `from`
    /// (line echo) over `[start_s, end_s]`: `to` is not silent there and its
    /// best normalised cross-correlation with `from`, at delays of 0 to
    /// 150 ms, is above 0.2. The other party's own voice does not correlate.
    ///
    /// # Panics
    ///
    /// If a leg is out of range.
    pub fn carries_echo(&self, from: usize, to: usize, start_s: f64, end_s: f64) -> bool {
        let rate = f64::from(self.sample_rate);
        let (x, y) = (&self.legs[from], &self.legs[to]);
        let start_s = start_s - self.start_s();
        let end_s = end_s - self.start_s();
        let mid = 0.5 * (start_s + end_s);
        let half = (0.5 * (end_s - start_s)).min(0.5 * ECHO_MAX_SPAN_S);
        let a = to_index(((mid - half) * rate).floor(), x.len().min(y.len()));
        let b = to_index(((mid + half) * rate).ceil(), x.len().min(y.len()));
        if b <= a {
            return false;
        }
        let step = ((rate / ECHO_GRID_HZ).floor() as usize).max(1);
        let y_power: f64 = (a..b)
            .step_by(step)
            .map(|n| f64::from(y[n]).powi(2))
            .sum::<f64>();
        let count = (a..b).step_by(step).count() as f64;
        if 10.0 * (y_power / count).max(1e-12).log10() < ECHO_QUIET_DB {
            return false;
        }
        let max_lag = (ECHO_MAX_LAG_S * rate) as usize;
        let mut best = 0.0f64;
        for lag in (0..=max_lag).step_by(step) {
            let (mut xy, mut xx, mut yy) = (0.0f64, 0.0f64, 0.0f64);
            for n in (a..b).step_by(step) {
                let Some(&yv) = y.get(n + lag) else { break };
                let xv = f64::from(x[n]);
                let yv = f64::from(yv);
                xy += xv * yv;
                xx += xv * xv;
                yy += yv * yv;
            }
            if xx > 0.0 && yy > 0.0 {
                best = best.max(xy / (xx * yy).sqrt());
            }
        }
        best > ECHO_MIN_CORR
    }

    /// Masks `[start_s, end_s)` of leg `leg` (0 = agent) with `method`.
    ///
    /// Every sample that overlaps the span is masked (a span never leaves a
    /// partial sample of speech). The span is clamped to the audio held
    /// now; a span wholly outside it, or with `end_s <= start_s`, changes
    /// nothing. A NaN bound fails closed: a NaN start counts as the start of
    /// the buffer, a NaN end as its end. Masking is idempotent, and
    /// overlapping spans are fine: each sample in any span stays masked,
    /// and overlapping or touching tone spans render as one tone.
    ///
    /// # Panics
    ///
    /// If `leg` is out of range (a redactor bug: nothing may be written).
    pub fn mask(&mut self, leg: usize, start_s: f64, end_s: f64, method: MaskMethod) {
        assert!(
            leg < self.legs.len(),
            "mask on leg {leg} of a {}-leg call",
            self.legs.len()
        );
        // Call frames; what was released is out of reach.
        let len = self.base + self.legs[leg].len();
        let rate = f64::from(self.sample_rate);
        let start = if start_s.is_nan() {
            0
        } else {
            to_index((start_s * rate + INDEX_SLACK).floor(), len)
        };
        let end = if end_s.is_nan() {
            len
        } else {
            to_index((end_s * rate - INDEX_SLACK).ceil(), len)
        };
        if start.max(self.base) >= end {
            return;
        }
        let tone_possible = f64::from(self.sample_rate) > 2.0 * TONE_HZ;
        match method {
            MaskMethod::Tone if tone_possible => self.mask_tone(leg, start, end),
            MaskMethod::Silence | MaskMethod::Tone => {
                self.legs[leg][start.max(self.base) - self.base..end - self.base].fill(0.0);
            }
        }
    }

    /// Merges `[start, end)` (call frames) into the leg's tone spans and
    /// renders the held part of the merged span afresh.
    fn mask_tone(&mut self, leg: usize, mut start: usize, mut end: usize) {
        let spans = &mut self.tone_spans[leg];
        spans.retain(|&(s, e)| {
            let joins = s <= end && e >= start;
            if joins {
                start = start.min(s);
                end = end.max(e);
            }
            !joins
        });
        let at = spans.partition_point(|&(s, _)| s < start);
        spans.insert(at, (start, end));
        let from = start.max(self.base);
        render_tone(
            &mut self.legs[leg][from - self.base..end - self.base],
            f64::from(self.sample_rate),
            from - start,
            end - start,
        );
    }

    /// Whether leg `to` carries the line echo of leg `from` over a span
    /// ([`Self::carries_echo`]), decided once per span: a span decided
    /// before its audio left the hold keeps that decision, and one whose
    /// audio has all left is taken as echoed (fail closed: both channels).
    pub fn echo_decision(&mut self, from: usize, to: usize, start_s: f64, end_s: f64) -> bool {
        let key = (
            from,
            (start_s * 1000.0).round() as i64,
            (end_s * 1000.0).round() as i64,
        );
        if let Some(&(.., e)) = self
            .echo_memo
            .iter()
            .find(|&&(f, a, b, _)| (f, a, b) == key)
        {
            return e;
        }
        if end_s <= self.start_s() {
            return true;
        }
        let e = self.carries_echo(from, to, start_s, end_s);
        self.echo_memo.push((key.0, key.1, key.2, e));
        e
    }

    /// The part of `[start_s, end_s]` on channel `leg` that had already left
    /// the hold without a mask over it, if any (whole span before the hold's
    /// start, when not covered by the masks noted then).
    pub fn unmasked_release(&self, leg: usize, start_s: f64, end_s: f64) -> Option<(f64, f64)> {
        let end = end_s.min(self.start_s());
        if end <= start_s {
            return None;
        }
        let mut spans = self.released_masks[leg].clone();
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut at = start_s;
        for (a, b) in spans {
            if a > at + 1e-3 {
                break;
            }
            at = at.max(b);
        }
        (at + 1e-3 < end).then_some((start_s, end))
    }

    /// Notes a mask applied to channel `leg` before its audio leaves the
    /// hold; `false` when it was noted already.
    pub fn note_released_mask(&mut self, leg: crate::frame::Leg, start_s: f64, end_s: f64) -> bool {
        let i = if self.legs.len() == 1 { 0 } else { leg.index() };
        let spans = &mut self.released_masks[i];
        if spans.iter().any(|&(a, b)| a == start_s && b == end_s) {
            return false;
        }
        spans.push((start_s, end_s));
        true
    }

    /// Takes the held audio before call time `upto_s` out of the hold, as
    /// its own buffer (which starts where the hold did): the caller (the
    /// redactor) has masked everything sensitive in it. The hold then
    /// starts at `upto_s`; masks before it no longer reach anything.
    pub(in crate::redact) fn release(&mut self, upto_s: f64) -> Redacted<AudioHold> {
        let rate = f64::from(self.sample_rate);
        let upto = to_index((upto_s * rate).floor(), self.base + self.frames()).max(self.base);
        let n = upto - self.base;
        let legs = self
            .legs
            .iter_mut()
            .map(|l| {
                let take = n.min(l.len());
                let front: Vec<f32> = l[..take].to_vec();
                l.drain(..take);
                front
            })
            .collect();
        let out = AudioHold {
            sample_rate: self.sample_rate,
            base: self.base,
            legs,
            released_masks: vec![Vec::new(); self.legs.len()],
            echo_memo: Vec::new(),
            tone_spans: vec![Vec::new(); self.legs.len()],
        };
        self.base = upto;
        for spans in &mut self.tone_spans {
            spans.retain(|&(_, e)| e > upto);
        }
        Redacted::seal(out)
    }

    /// Seals the buffer for writing. The caller (the redactor) asserts every
    /// sensitive span is masked.
    #[allow(
        dead_code,
        reason = "the audio redactor in crate::redact is the only caller"
    )]
    pub(in crate::redact) fn seal(self) -> Redacted<AudioHold> {
        Redacted::seal(self)
    }
}

impl fmt::Debug for AudioHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudioHold")
            .field("sample_rate", &self.sample_rate)
            .field("legs", &self.legs.len())
            .field("frames", &self.frames())
            .field(
                "tone_spans",
                &self.tone_spans.iter().map(Vec::len).sum::<usize>(),
            )
            .finish_non_exhaustive()
    }
}

/// A sample index from a rounded position, clamped to `[0, len]`.
fn to_index(pos: f64, len: usize) -> usize {
    if pos <= 0.0 {
        0
    } else if pos >= len as f64 {
        len
    } else {
        pos as usize
    }
}

/// Writes the masking tone over `out`, which is samples `skip..` of a
/// span `total` samples long: sine from phase 0 at the span's start, faded
/// in and out at its edges.
fn render_tone(out: &mut [f32], rate: f64, skip: usize, total: usize) {
    let n = total;
    let fade = ((TONE_FADE_S * rate).round() as usize).min(n / 2).max(1);
    let step = 2.0 * PI * TONE_HZ / rate;
    for (k, s) in out.iter_mut().enumerate() {
        let i = k + skip;
        let edge = i.min(n - 1 - i);
        let gain = if edge < fade {
            0.5 * (1.0 - (PI * (edge as f64 + 0.5) / fade as f64).cos())
        } else {
            1.0
        };
        *s = (TONE_PEAK * gain * (step * i as f64).sin()) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_utterance_is_cut_from_the_hold_at_16_khz() {
        use crate::frame::Leg;
        let rate = 8_000;
        let tone = |on: bool| -> Vec<f32> {
            (0..rate * 3)
                .map(|i| {
                    let t = i as f32 / rate as f32;
                    if on && (1.0..2.0).contains(&t) {
                        0.5 * (std::f32::consts::TAU * 440.0 * t).sin()
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let (agent, customer) = (tone(false), tone(true));
        let mut h = AudioHold::new(rate as u32, 2);
        h.push(&[&agent, &customer]);
        let id: crate::frame::CallId = "c".into();
        let u = h.utterance(&id, Leg::Customer, 1.0, 2.0).unwrap();
        assert_eq!(u.leg, Leg::Customer);
        assert!((u.start_s - 1.0).abs() < 1e-9);
        assert!((u.duration_s() - 1.0).abs() < 0.03, "{}", u.duration_s());
        let rms = (u.samples.iter().map(|x| x * x).sum::<f32>() / u.samples.len() as f32).sqrt();
        assert!(rms > 0.3, "the customer's tone, resampled: {rms}");
        let a = h.utterance(&id, Leg::Agent, 1.0, 2.0).unwrap();
        assert!(
            a.samples.iter().all(|x| x.abs() < 1e-3),
            "the agent's leg is silent"
        );
        assert!(h.utterance(&id, Leg::Customer, 5.0, 6.0).is_none());
    }

    /// A two-leg buffer of `secs` seconds of non-zero audio.
    fn hold(rate: u32, secs: f64) -> AudioHold {
        let n = (f64::from(rate) * secs) as usize;
        let agent: Vec<f32> = (0..n).map(|i| 0.3 + 0.2 * ((i % 7) as f32 / 7.0)).collect();
        let customer: Vec<f32> = (0..n)
            .map(|i| -0.4 + 0.1 * ((i % 5) as f32 / 5.0))
            .collect();
        let mut h = AudioHold::new(rate, 2);
        // In uneven blocks, as a source would deliver them.
        for (a, c) in agent.chunks(333).zip(customer.chunks(333)) {
            h.push(&[a, c]);
        }
        h
    }

    fn dbfs_rms(x: &[f32]) -> f64 {
        let e: f64 = x.iter().map(|&s| f64::from(s).powi(2)).sum();
        10.0 * (e / x.len() as f64).log10()
    }

    /// Share of the energy of `x` at `freq` (Goertzel, both DFT bins).
    fn goertzel_share(x: &[f32], freq: f64, rate: f64) -> f64 {
        let n = x.len() as f64;
        let k = (n * freq / rate).round();
        let w = 2.0 * PI * k / n;
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s0 = f64::from(v) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        let energy: f64 = x.iter().map(|&s| f64::from(s).powi(2)).sum();
        2.0 * power / (n * energy)
    }

    #[test]
    fn layout_and_duration() {
        let h = hold(8_000, 2.5);
        assert_eq!(h.sample_rate(), 8_000);
        assert_eq!(h.legs(), 2);
        assert_eq!(h.frames(), 20_000);
        assert!((h.duration_s() - 2.5).abs() < 1e-12);
        let mut h = AudioHold::new(16_000, 2);
        h.push(&[&[0.1; 10], &[0.2; 4]]);
        assert_eq!(h.frames(), 10);
        assert_eq!(h.leg(1).len(), 4);
    }

    #[test]
    #[should_panic(expected = "one block per leg")]
    fn push_needs_one_block_per_leg() {
        AudioHold::new(8_000, 2).push(&[&[0.0; 4]]);
    }

    #[test]
    fn silence_zeroes_exactly_the_span() {
        for rate in [8_000u32, 16_000] {
            let orig = hold(rate, 2.0);
            let mut h = hold(rate, 2.0);
            h.mask(0, 0.3, 0.7, MaskMethod::Silence);
            let r = rate as usize;
            let (s, e) = (3 * r / 10, 7 * r / 10);
            let a = h.leg(0);
            assert!(a[s..e].iter().all(|&v| v == 0.0), "{rate} Hz");
            assert_eq!(a[..s], orig.leg(0)[..s], "{rate} Hz: before the span");
            assert_eq!(a[e..], orig.leg(0)[e..], "{rate} Hz: after the span");
            assert_eq!(h.leg(1), orig.leg(1), "{rate} Hz: other leg untouched");
        }
    }

    #[test]
    fn partial_samples_are_masked() {
        // 8 kHz: sample 1 covers [125, 250) µs; a span starting inside it
        // and ending inside sample 3 masks samples 1..=3.
        let mut h = hold(8_000, 0.01);
        h.mask(1, 0.000_2, 0.000_4, MaskMethod::Silence);
        let c = h.leg(1);
        assert_ne!(c[0], 0.0);
        assert!(c[1..4].iter().all(|&v| v == 0.0));
        assert_ne!(c[4], 0.0);
    }

    #[test]
    fn tone_is_a_clean_1khz_at_minus_20_dbfs_peak() {
        for rate in [8_000u32, 16_000, 44_100] {
            let mut h = hold(rate, 3.0);
            h.mask(1, 1.0, 2.0, MaskMethod::Tone);
            let r = rate as usize;
            let span = &h.leg(1)[r..2 * r];
            let rms = dbfs_rms(span);
            assert!((rms + 23.01).abs() < 0.1, "{rate} Hz: RMS {rms:.2} dBFS");
            let peak = span.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
            assert!(peak <= 0.1 + 1e-6, "{rate} Hz: peak {peak}");
            assert!(peak > 0.099, "{rate} Hz: peak {peak}");
            let share = goertzel_share(span, 1_000.0, f64::from(rate));
            assert!(
                share >= 0.95,
                "{rate} Hz: {share:.3} of the energy at 1 kHz"
            );
            // Fades: the tone starts and ends near zero, and never jumps by
            // more than a full-amplitude sine can between two samples.
            assert!(span[0].abs() < 1e-3 && span[r - 1].abs() < 1e-3);
            let max_step = 0.1 * 2.0 * PI * 1_000.0 / f64::from(rate);
            for w in span.windows(2) {
                assert!(f64::from((w[1] - w[0]).abs()) <= max_step + 1e-6);
            }
            // The span edges: audio outside untouched.
            assert_eq!(h.leg(1)[r - 1], hold(rate, 3.0).leg(1)[r - 1]);
            assert_eq!(h.leg(1)[2 * r], hold(rate, 3.0).leg(1)[2 * r]);
        }
    }

    #[test]
    fn tone_falls_back_to_silence_without_room_for_1khz() {
        let mut h = hold(2_000, 1.0);
        h.mask(0, 0.0, 0.5, MaskMethod::Tone);
        assert!(h.leg(0)[..1_000].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn spans_clamp_to_the_buffer() {
        let orig = hold(8_000, 1.0);
        let mut h = hold(8_000, 1.0);
        h.mask(0, 2.0, 3.0, MaskMethod::Silence);
        h.mask(0, 0.5, 0.4, MaskMethod::Tone);
        h.mask(0, -5.0, -1.0, MaskMethod::Tone);
        assert_eq!(h.leg(0), orig.leg(0), "spans outside change nothing");
        h.mask(0, -1.0, 0.25, MaskMethod::Silence);
        h.mask(0, 0.75, 99.0, MaskMethod::Tone);
        h.mask(1, f64::NEG_INFINITY, f64::INFINITY, MaskMethod::Silence);
        let a = h.leg(0);
        assert!(a[..2_000].iter().all(|&v| v == 0.0));
        assert_eq!(a[2_000..6_000], orig.leg(0)[2_000..6_000]);
        assert!(a[6_000..].iter().all(|&v| v.abs() <= 0.1));
        assert!(h.leg(1).iter().all(|&v| v == 0.0));
        assert_eq!(h.frames(), 8_000, "masking never grows the buffer");
    }

    #[test]
    fn nan_bounds_fail_closed() {
        let mut h = hold(8_000, 1.0);
        h.mask(0, f64::NAN, 0.5, MaskMethod::Silence);
        h.mask(1, 0.5, f64::NAN, MaskMethod::Silence);
        assert!(h.leg(0)[..4_000].iter().all(|&v| v == 0.0));
        assert!(h.leg(1)[4_000..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn overlapping_masks_are_idempotent() {
        // Tone: two overlapping spans and a touching one render as one span.
        let mut once = hold(16_000, 3.0);
        once.mask(0, 0.5, 2.0, MaskMethod::Tone);
        let mut many = hold(16_000, 3.0);
        many.mask(0, 0.5, 1.0, MaskMethod::Tone);
        many.mask(0, 0.75, 1.5, MaskMethod::Tone);
        many.mask(0, 1.5, 2.0, MaskMethod::Tone);
        many.mask(0, 0.6, 0.9, MaskMethod::Tone);
        many.mask(0, 0.5, 2.0, MaskMethod::Tone);
        assert_eq!(once.leg(0), many.leg(0));
        // Silence: same.
        let mut once = hold(8_000, 2.0);
        once.mask(1, 0.2, 1.2, MaskMethod::Silence);
        let mut many = hold(8_000, 2.0);
        many.mask(1, 0.2, 0.8, MaskMethod::Silence);
        many.mask(1, 0.5, 1.2, MaskMethod::Silence);
        many.mask(1, 0.2, 1.2, MaskMethod::Silence);
        assert_eq!(once.leg(1), many.leg(1));
        // Mixed: every sample of either span stays masked.
        let orig = hold(8_000, 2.0);
        let mut h = hold(8_000, 2.0);
        h.mask(0, 0.2, 0.8, MaskMethod::Tone);
        h.mask(0, 0.5, 1.2, MaskMethod::Silence);
        h.mask(0, 0.4, 0.6, MaskMethod::Tone);
        let a = h.leg(0);
        assert!(a[1_600..9_600].iter().all(|&v| v.abs() <= 0.1));
        assert_eq!(a[..1_600], orig.leg(0)[..1_600]);
        assert_eq!(a[9_600..], orig.leg(0)[9_600..]);
    }

    #[test]
    fn debug_prints_no_samples() {
        let mut h = AudioHold::new(8_000, 1);
        h.push(&[&[0.123_456; 100]]);
        let s = format!("{h:?}");
        assert!(!s.contains("0.123"), "{s}");
        assert!(s.contains("frames: 100"), "{s}");
        let sealed = h.seal();
        let s = format!("{sealed:?}");
        assert!(!s.contains("0.123"), "{s}");
        assert_eq!(sealed.frames(), 100);
    }

    #[test]
    fn line_echo_is_told_from_the_other_voice() {
        // A noise-like "voice" on leg 0; leg 1 carries it 30 ms late at
        // -20 dB, or an independent voice at the same level.
        let rate = 8_000;
        let mut seed = 7u32;
        let mut noise = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let voice: Vec<f32> = (0..rate * 3).map(|_| 0.2 * noise()).collect();
        let other: Vec<f32> = (0..rate * 3).map(|_| 0.02 * noise()).collect();
        let delay = 240;
        let echo: Vec<f32> = (0..rate * 3)
            .map(|n| {
                if n >= delay {
                    0.1 * voice[n - delay]
                } else {
                    0.0
                }
            })
            .collect();
        let mut hold = AudioHold::new(rate as u32, 2);
        hold.push(&[&voice, &echo]);
        assert!(hold.carries_echo(0, 1, 0.5, 2.5));
        let mut hold = AudioHold::new(rate as u32, 2);
        hold.push(&[&voice, &other]);
        assert!(!hold.carries_echo(0, 1, 0.5, 2.5));
        let silent = vec![0.0f32; rate * 3];
        let mut hold = AudioHold::new(rate as u32, 2);
        hold.push(&[&voice, &silent]);
        assert!(!hold.carries_echo(0, 1, 0.5, 2.5));
    }
}
