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

/// Redacts a whole call. `report` must not carry segments yet; `tones` are
/// keypad-tone spans `(leg, start, end)` in seconds; `model` names the
/// recogniser for the audit trail.
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
    let (words, counts) = call_words(utterances);
    let detection = detect::detect_all(&words, cfg);
    let mut findings = detection.findings;
    // Fail closed on speech without a usable transcript: an utterance whisper
    // failed on, anywhere, and one that gave no words (nothing recognised, or
    // all dropped by the hallucination guard) during payment talk.
    for (u, tu) in utterances.iter().enumerate() {
        let wordless_in_window = tu.transcript.as_ref().is_some_and(|t| {
            t.words.is_empty()
                && detection
                    .windows
                    .iter()
                    .any(|&(a, b)| tu.span.start < b && tu.span.end > a)
        });
        if tu.transcript.is_none() || wordless_in_window {
            findings.push(detect::Finding {
                kind: Kind::Pan,
                leg: tu.span.leg,
                words: Vec::new(),
                whole_utterance: Some(u),
                confidence: Confidence::Low,
            });
        }
    }
    let spans: Vec<UtteranceSpan> = utterances.iter().map(|u| u.span).collect();
    let mut segments = text::redact_segments(&spans, &words, &findings).into_inner();
    for seg in &mut segments {
        seg.start = ms(seg.start);
        seg.end = ms(seg.end);
    }
    segments.sort_by(|a, b| a.start.total_cmp(&b.start));

    let method_name = match method {
        MaskMethod::Silence => "silence",
        MaskMethod::Tone => "tone",
    };
    let legs = audio.legs();
    let leg_index = |leg: Leg| if legs == 1 { 0 } else { leg.index() };
    let mut redactions = Vec::new();
    let mut audit = Vec::new();
    let mut add = |kind: Kind,
                   leg: Leg,
                   start: f64,
                   end: f64,
                   confidence: Confidence,
                   model: &str,
                   audio: &mut AudioHold| {
        audio.mask(leg_index(leg), start, end, method);
        redactions.push(RedactionSpan {
            kind: format!("{kind:?}").to_lowercase(),
            speaker: leg,
            start: ms(start),
            end: ms(end),
        });
        audit.push(Redacted::seal(AuditEntry {
            kind,
            leg,
            start,
            end,
            method: method_name.to_string(),
            confidence,
            model: model.to_string(),
        }));
    };
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
            add(
                f.kind,
                f.leg,
                (start - WORD_PAD_S).max(0.0),
                end + WORD_PAD_S,
                f.confidence,
                model,
                &mut audio,
            );
        }
    }
    for &(leg, start, end) in tones {
        add(
            Kind::Dtmf,
            leg,
            (start - TONE_PAD_S).max(0.0),
            end + TONE_PAD_S,
            Confidence::High,
            "dtmf-goertzel",
            &mut audio,
        );
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
