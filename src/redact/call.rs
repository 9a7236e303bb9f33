//! The call-level redactor: transcripts, keypad tones and held audio in;
//! sealed report, recording and audit entries out.

use super::Redacted;
use super::audio::{AudioHold, MaskMethod};
use super::detect::{self, CallWord, Confidence, DetectConfig, Kind};
use super::text::{self, UtteranceSpan};
use crate::asr::Transcript;
use crate::frame::Leg;
use crate::report::{RedactionSpan, Report, ms};
use crate::store::audit::AuditEntry;

/// Padding around redacted words in the audio, seconds.
pub const WORD_PAD_S: f64 = 0.25;
/// Padding around keypad tones, seconds.
pub const TONE_PAD_S: f64 = 0.04;

/// One utterance and what became of it.
#[derive(Debug, Clone)]
pub struct TranscribedUtterance {
    /// Span and leg.
    pub span: UtteranceSpan,
    /// The transcript, or `None` when whisper failed on it (the utterance is
    /// then treated as unsure: masked whole if it falls in payment talk).
    pub transcript: Option<Transcript>,
}

/// Everything a redacted call writes.
pub struct RedactedCall {
    /// The report with transcript segments and redaction spans.
    pub report: Redacted<Report>,
    /// The recording, masked.
    pub audio: Redacted<AudioHold>,
    /// One audit entry per redaction.
    pub audit: Vec<Redacted<AuditEntry>>,
    /// Words per leg (agent, customer) after the hallucination guard.
    pub words: [u64; 2],
}

/// The words of all transcribed utterances in time order, and the word count
/// per leg (agent, customer).
pub fn call_words(utterances: &[TranscribedUtterance]) -> (Vec<CallWord>, [u64; 2]) {
    let mut words: Vec<CallWord> = Vec::new();
    let mut counts = [0u64; 2];
    for (u, tu) in utterances.iter().enumerate() {
        if let Some(t) = &tu.transcript {
            counts[tu.span.leg.index()] += t.words.len() as u64;
            words.extend(t.words.iter().cloned().map(|word| CallWord {
                leg: tu.span.leg,
                utterance: u,
                word,
            }));
        }
    }
    words.sort_by(|a, b| a.word.start.total_cmp(&b.word.start));
    (words, counts)
}

/// What the detector decided over a call's utterances.
#[derive(Debug, Clone)]
pub struct CallDetection {
    /// The words of all transcribed utterances, in time order.
    pub words: Vec<CallWord>,
    /// Words per leg (agent, customer).
    pub counts: [u64; 2],
    /// The findings (fail-closed utterance rules included) and windows.
    pub detection: detect::Detection,
}

/// Runs the detector over a call's utterances (`tones`: keypad-tone spans
/// `(leg, start, end)`, which count as payment talk), adding the fail-closed
/// rules for speech without a usable transcript: an utterance whisper failed
/// on, anywhere, and during payment talk one that gave no words or from
/// which the hallucination guard dropped words ("yeah it's [inaudible]") is
/// redacted whole.
pub fn detect_call(
    utterances: &[TranscribedUtterance],
    tones: &[(Leg, f64, f64)],
    cfg: &DetectConfig,
) -> CallDetection {
    let (words, counts) = call_words(utterances);
    let tone_spans: Vec<(f64, f64)> = tones.iter().map(|&(_, a, b)| (a, b)).collect();
    let mut detection = detect::detect_with_tones(&words, &tone_spans, cfg);
    for (u, tu) in utterances.iter().enumerate() {
        let in_window = detection.in_window(tu.span.start, tu.span.end);
        let unsure = tu
            .transcript
            .as_ref()
            .is_none_or(|t| in_window && (t.words.is_empty() || t.dropped_words > 0));
        let whole = detection
            .findings
            .iter()
            .any(|f| f.whole_utterance == Some(u));
        if unsure && !whole {
            detection.findings.push(detect::Finding {
                kind: Kind::Pan,
                leg: tu.span.leg,
                words: (0..words.len())
                    .filter(|&w| words[w].utterance == u)
                    .collect(),
                whole_utterance: Some(u),
                confidence: Confidence::Low,
            });
        }
    }
    CallDetection {
        words,
        counts,
        detection,
    }
}

/// Redacts a whole call. `report` must not carry segments yet; `tones` are
/// keypad-tone spans `(leg, start, end)` in seconds; `model` names the
/// recogniser for the audit trail.
///
/// A masked span is masked on the other channel too when that channel
/// carries its line echo ([`AudioHold::carries_echo`]), and written to the
/// audit trail once per channel masked; whatever the text net catches is
/// masked in the audio too.
#[allow(clippy::too_many_arguments)]
pub fn redact_call(
    mut report: Report,
    utterances: &[TranscribedUtterance],
    tones: &[(Leg, f64, f64)],
    mut audio: AudioHold,
    method: MaskMethod,
    model: &str,
    cfg: &DetectConfig,
) -> RedactedCall {
    let CallDetection {
        words,
        counts,
        detection,
    } = detect_call(utterances, tones, cfg);
    let mut findings = detection.findings;
    let spans: Vec<UtteranceSpan> = utterances.iter().map(|u| u.span).collect();
    let (segments, netted) = text::redact_segments_net(&spans, &words, &findings, &detection.kept);
    let mut segments = segments.into_inner();
    for u in netted {
        findings.push(detect::Finding {
            kind: Kind::Pan,
            leg: spans[u].leg,
            words: Vec::new(),
            whole_utterance: Some(u),
            confidence: Confidence::Low,
        });
    }
    for seg in &mut segments {
        seg.start = ms(seg.start);
        seg.end = ms(seg.end);
    }
    segments.sort_by(|a, b| a.start.total_cmp(&b.start));

    let method_name = match method {
        MaskMethod::Silence => "silence",
        MaskMethod::Tone => "tone",
    };
    // Every span to mask, as (kind, leg, start, end, confidence, model).
    let mut masks: Vec<(Kind, Leg, f64, f64, Confidence, &str)> = Vec::new();
    for f in &findings {
        let (start, end) = match f.whole_utterance {
            Some(u) => (spans[u].start, spans[u].end),
            None => {
                let s = f
                    .words
                    .iter()
                    .map(|&w| words[w].word.start)
                    .fold(f64::INFINITY, f64::min);
                let e = f
                    .words
                    .iter()
                    .map(|&w| words[w].word.end)
                    .fold(f64::NEG_INFINITY, f64::max);
                (s, e)
            }
        };
        if start.is_finite() && end.is_finite() {
            masks.push((
                f.kind,
                f.leg,
                (start - WORD_PAD_S).max(0.0),
                end + WORD_PAD_S,
                f.confidence,
                model,
            ));
        }
    }
    for &(leg, start, end) in tones {
        masks.push((
            Kind::Dtmf,
            leg,
            (start - TONE_PAD_S).max(0.0),
            end + TONE_PAD_S,
            Confidence::High,
            "dtmf-spectral",
        ));
    }
    // Which spans the other leg echoes, decided on the audio before any
    // masking (a masked source correlates with nothing).
    let legs = audio.legs();
    let leg_index = |leg: Leg| if legs == 1 { 0 } else { leg.index() };
    let echoed: Vec<bool> = masks
        .iter()
        .map(|&(_, leg, start, end, _, _)| {
            legs == 2 && audio.carries_echo(leg.index(), leg.other().index(), start, end)
        })
        .collect();
    let mut redactions = Vec::new();
    let mut audit = Vec::new();
    for (&(kind, leg, start, end, confidence, model), echo) in masks.iter().zip(echoed) {
        let targets = if echo {
            vec![leg, leg.other()]
        } else {
            vec![leg]
        };
        for target in targets {
            audio.mask(leg_index(target), start, end, method);
            redactions.push(RedactionSpan {
                kind: format!("{kind:?}").to_lowercase(),
                speaker: target,
                start: ms(start),
                end: ms(end),
            });
            audit.push(Redacted::seal(AuditEntry {
                kind,
                leg: target,
                start,
                end,
                method: method_name.to_string(),
                confidence,
                model: model.to_string(),
            }));
        }
    }
    redactions.sort_by(|a, b| a.start.total_cmp(&b.start));
    report.segments = segments;
    report.redactions = redactions;
    RedactedCall {
        report: Redacted::seal(report),
        audio: audio.seal(),
        audit,
        words: counts,
    }
}
