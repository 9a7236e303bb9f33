//! The call-level redactor: transcripts, keypad tones and held audio in;
//! sealed report, recording and audit entries out.

use super::Redacted;
use super::audio::{AudioHold, MaskMethod};
use super::detect::{self, CallWord, Confidence, DetectConfig, Kind, Rule};
use super::text::{self, UtteranceSpan};
use crate::asr::Transcript;
use crate::frame::Leg;
use crate::report::{RedactionSpan, Report, Segment, ms};
use crate::store::audit::AuditEntry;

/// Padding around redacted words in the audio, seconds.
pub const WORD_PAD_S: f64 = 0.25;
/// How far a masked word at the start or end of its utterance reaches
/// towards the utterance's edge beyond whisper's word times, at most,
/// seconds.
pub const WORD_REACH_S: f64 = 0.6;
/// Padding around keypad tones, seconds.
pub const TONE_PAD_S: f64 = 0.04;
/// Keypad tones of one leg less than this apart are one entry, masked from
/// its first tone to its last, gaps included: a tone that speech or noise
/// over it hid from the detector sits between the ones it found.
pub const ENTRY_GAP_S: f64 = 1.0;
/// An entry of two or more tones is masked this much further on both sides,
/// for a hidden first or last key (a tone and a gap are at most about
/// 0.35 s).
pub const ENTRY_PAD_S: f64 = 0.35;

/// Keypad tones `(leg, start, end)` merged into entries per leg
/// ([`ENTRY_GAP_S`], [`ENTRY_PAD_S`]).
pub fn keypad_entries(tones: &[(Leg, f64, f64)]) -> Vec<(Leg, f64, f64)> {
    let mut out: Vec<(Leg, f64, f64, usize)> = Vec::new();
    for leg in Leg::BOTH {
        let mut mine: Vec<(f64, f64)> = tones
            .iter()
            .filter(|t| t.0 == leg)
            .map(|&(_, a, b)| (a, b))
            .collect();
        mine.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (a, b) in mine {
            match out.last_mut() {
                Some(last) if last.0 == leg && a - last.2 <= ENTRY_GAP_S => {
                    last.2 = last.2.max(b);
                    last.3 += 1;
                }
                _ => out.push((leg, a, b, 1)),
            }
        }
    }
    out.into_iter()
        .map(|(leg, a, b, n)| {
            let pad = if n >= 2 { ENTRY_PAD_S } else { 0.0 };
            (leg, (a - pad).max(0.0), b + pad)
        })
        .collect()
}

/// One utterance and what became of it.
#[derive(Debug, Clone)]
pub struct TranscribedUtterance {
    /// Span and leg.
    pub span: UtteranceSpan,
    /// The transcript, or `None` when whisper failed on it (the utterance is
    /// then treated as unsure: masked whole if it falls in payment talk).
    pub transcript: Option<Transcript>,
    /// A second, digit-primed decode of a doubtful utterance
    /// ([`doubtful_utterances`]); `None` when there was none.
    pub relisten: Option<Transcript>,
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
    /// Stretches `(channel index, start, end)` of audio that had already
    /// left the hold unmasked but that the whole call's redaction masks: the
    /// stored recording must be silenced there in place (the frontier was
    /// wrong; fail closed).
    pub late: Vec<(usize, f64, f64)>,
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

/// Whether a (digit-primed) transcript holds a number: two or more digits
/// or number words, or words the hallucination guard dropped.
fn hears_number(t: &Transcript) -> bool {
    let numbers: usize = t
        .words
        .iter()
        .map(|w| {
            if crate::redact::numbers::is_number_word(&w.text) {
                w.text.chars().filter(char::is_ascii_digit).count().max(1)
            } else {
                0
            }
        })
        .sum();
    numbers >= 2 || t.dropped_words > 0
}

/// Whether two decodes of one utterance wrote the same words: at most
/// `max_changed` of the words differ (word edit distance over the longer
/// one; words folded to lower-case letters and digits).
fn agree(a: &Transcript, b: &Transcript, max_changed: f64) -> bool {
    let words = |t: &Transcript| -> Vec<String> {
        t.words
            .iter()
            .map(|w| crate::asr::fold(&w.text))
            .filter(|w| !w.is_empty())
            .collect()
    };
    let (a, b) = (words(a), words(b));
    let n = a.len().max(b.len());
    n == 0 || crate::eval::edits(&a, &b) as f64 <= max_changed * n as f64
}

/// Gives a segment its utterance's embedding ([`super::meaning::attach`]).
pub(crate) fn share_embedding(seg: &mut Segment, utterances: &[TranscribedUtterance]) {
    if let Some(t) = utterances
        .iter()
        .find(|u| u.span.start == seg.start && u.span.end == seg.end && u.span.leg == seg.speaker)
        .and_then(|u| u.transcript.as_ref())
    {
        super::meaning::attach(seg, t);
    }
}

/// The utterances that are payment talk by meaning ([`super::meaning`]);
/// none without [`DetectConfig::meaning`] or embeddings.
pub fn meant_cues(
    utterances: &[TranscribedUtterance],
    cfg: &DetectConfig,
) -> Vec<detect::MeaningCue> {
    let Some(m) = cfg.meaning.as_ref() else {
        return Vec::new();
    };
    utterances
        .iter()
        .enumerate()
        .filter_map(|(u, tu)| {
            let t = tu.transcript.as_ref()?;
            let e = t.embedding.as_ref()?;
            super::meaning::context(t.words.iter().map(|w| w.text.as_str()))
                .filter(super::meaning::Context::cue_worthy)?;
            m.cue(e).map(|(kind, strong)| detect::MeaningCue {
                utterance: u,
                kind,
                strong,
            })
        })
        .collect()
}

/// The utterances that need a second, digit-primed listen before the call
/// is redacted ([`detect::Detection::doubtful`]): fill their
/// [`TranscribedUtterance::relisten`] and call [`redact_call`]; without it
/// they are masked whole.
pub fn doubtful_utterances(
    utterances: &[TranscribedUtterance],
    tones: &[(Leg, f64, f64)],
    cfg: &DetectConfig,
) -> Vec<usize> {
    detect_call(utterances, tones, cfg).detection.doubtful
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
/// which the hallucination guard dropped words ("yeah it's \[inaudible\]") is
/// redacted whole.
pub fn detect_call(
    utterances: &[TranscribedUtterance],
    tones: &[(Leg, f64, f64)],
    cfg: &DetectConfig,
) -> CallDetection {
    let (words, counts) = call_words(utterances);
    let tone_spans: Vec<(f64, f64)> = tones.iter().map(|&(_, a, b)| (a, b)).collect();
    let meant = meant_cues(utterances, cfg);
    let mut detection = detect::detect_with_cues(&words, &tone_spans, &meant, cfg);
    // A doubtful utterance goes whole unless its digit-primed second listen
    // heard no number either and wrote the same words: ordinary speech
    // decodes the same however whisper is primed, unclear digits do not (no
    // second listen: whole, fail closed).
    for &u in &detection.doubtful {
        let first = utterances[u].transcript.as_ref();
        let cleared = utterances[u]
            .relisten
            .as_ref()
            .zip(first)
            .is_some_and(|(again, first)| {
                !hears_number(again) && agree(first, again, cfg.relisten_max_changed)
            });
        if !cleared {
            detection.findings.push(detect::Finding {
                kind: Kind::Pan,
                leg: utterances[u].span.leg,
                words: (0..words.len())
                    .filter(|&w| words[w].utterance == u)
                    .collect(),
                whole_utterance: Some(u),
                confidence: Confidence::Low,
                rule: Rule::Relisten,
            });
        }
    }
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
                rule: Rule::NoTranscript,
            });
        }
    }
    CallDetection {
        words,
        counts,
        detection,
    }
}

/// One stretch of audio to mask, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    /// What it hides.
    pub kind: Kind,
    /// Whose leg it is on.
    pub leg: Leg,
    /// Start, call seconds (padded).
    pub start: f64,
    /// End, call seconds (padded).
    pub end: f64,
    /// How sure the detector was.
    pub confidence: Confidence,
    /// What found it: the whisper model's name or `dtmf-spectral`.
    pub model: String,
    /// Which rule found it.
    pub rule: Rule,
}

/// What the redactor decided over a call's utterances: the redacted
/// transcript segments and every span of audio to mask.
pub struct CallPlan {
    /// Transcript segments, redacted, in time order (times rounded to ms).
    pub segments: Vec<Segment>,
    /// Spans to mask, per leg of the speech (before echo copies).
    pub masks: Vec<Mask>,
}

/// Decides a call's redactions (text and audio spans) from its utterances
/// and keypad tones, without touching audio. Run over the utterances known
/// so far it gives the masks of audio about to leave the hold
/// ([`release_cleared`]); over the whole call, [`redact_call`]'s.
pub fn plan_call(
    utterances: &[TranscribedUtterance],
    tones: &[(Leg, f64, f64)],
    model: &str,
    cfg: &DetectConfig,
) -> CallPlan {
    let CallDetection {
        words, detection, ..
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
            rule: Rule::TextNet,
        });
    }
    for seg in &mut segments {
        share_embedding(seg, utterances);
        seg.start = ms(seg.start);
        seg.end = ms(seg.end);
    }
    segments.sort_by(|a, b| a.start.total_cmp(&b.start));

    let mut masks: Vec<Mask> = Vec::new();
    // Whisper's word times are approximate, most of all at an utterance's
    // edges: a masked word that starts or ends its utterance reaches to the
    // utterance's edge (at most WORD_REACH_S); between kept words it closes
    // the gap to them up to 0.1 s.
    let mut masked_word = vec![false; words.len()];
    for f in findings.iter().filter(|f| f.whole_utterance.is_none()) {
        for &w in &f.words {
            masked_word[w] = true;
        }
    }
    // Each utterance's words, in time order.
    let mut of_utt: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    for (w, cw) in words.iter().enumerate() {
        of_utt[cw.utterance].push(w);
    }
    let reach = |w: usize| -> (f64, f64) {
        let u = words[w].utterance;
        let mine = &of_utt[u];
        let p = mine
            .iter()
            .position(|&k| k == w)
            .expect("a word of its utterance");
        let kept = |k: &&usize| !masked_word[**k];
        let before = mine[..p]
            .iter()
            .rev()
            .find(kept)
            .map(|&k| words[k].word.end);
        let after = mine[p + 1..]
            .iter()
            .find(kept)
            .map(|&k| words[k].word.start);
        let (a, b) = (words[w].word.start, words[w].word.end);
        (
            before.map_or(spans[u].start.clamp(a - WORD_REACH_S, a), |e| {
                e.clamp(a - 0.1, a)
            }),
            after.map_or(spans[u].end.clamp(b, b + WORD_REACH_S), |s| {
                s.clamp(b, b + 0.1)
            }),
        )
    };
    for f in &findings {
        let (start, end) = match f.whole_utterance {
            Some(u) => (spans[u].start, spans[u].end),
            None => f
                .words
                .iter()
                .map(|&w| reach(w))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(s, e), (a, b)| {
                    (s.min(a), e.max(b))
                }),
        };
        if start.is_finite() && end.is_finite() {
            masks.push(Mask {
                kind: f.kind,
                leg: f.leg,
                start: (start - WORD_PAD_S).max(0.0),
                end: end + WORD_PAD_S,
                confidence: f.confidence,
                model: model.to_string(),
                rule: f.rule,
            });
        }
    }
    for (leg, start, end) in keypad_entries(tones) {
        masks.push(Mask {
            kind: Kind::Dtmf,
            leg,
            start: (start - TONE_PAD_S).max(0.0),
            end: end + TONE_PAD_S,
            confidence: Confidence::High,
            model: "dtmf-spectral".to_string(),
            rule: Rule::Tone,
        });
    }
    CallPlan { segments, masks }
}

/// The name of a mask method in reports and audit trails.
fn method_name(method: MaskMethod) -> &'static str {
    match method {
        MaskMethod::Silence => "silence",
        MaskMethod::Tone => "tone",
    }
}

/// Applies `masks` to `audio`: each on its leg, and on the other leg too
/// when that leg carries its line echo (decided on the audio before any
/// masking, once per span: a span decided when earlier audio left the hold
/// keeps that decision). Returns, per mask and channel masked, the
/// (mask, target leg) pairs; audio already released is not touched here,
/// and what a mask needed there that was not masked then is added to
/// `late` (channel index, start, end) for the caller to patch.
fn apply_masks<'m>(
    audio: &mut AudioHold,
    masks: &'m [Mask],
    method: MaskMethod,
    late: &mut Vec<(usize, f64, f64)>,
) -> Vec<(&'m Mask, Leg)> {
    let legs = audio.legs();
    let leg_index = |leg: Leg| if legs == 1 { 0 } else { leg.index() };
    let echoed: Vec<bool> = masks
        .iter()
        .map(|m| {
            legs == 2 && audio.echo_decision(m.leg.index(), m.leg.other().index(), m.start, m.end)
        })
        .collect();
    let mut out = Vec::new();
    for (m, echo) in masks.iter().zip(echoed) {
        let targets = if echo {
            vec![m.leg, m.leg.other()]
        } else {
            vec![m.leg]
        };
        for target in targets {
            let i = leg_index(target);
            if let Some(gap) = audio.unmasked_release(i, m.start, m.end) {
                late.push((i, gap.0, gap.1));
            }
            audio.mask(i, m.start, m.end, method);
            out.push((m, target));
        }
    }
    out
}

/// The audit entry of a mask applied to leg `target`.
fn audit_entry(m: &Mask, target: Leg, method: MaskMethod) -> Redacted<AuditEntry> {
    Redacted::seal(AuditEntry {
        kind: m.kind,
        leg: target,
        start: m.start,
        end: m.end,
        method: method_name(method).to_string(),
        confidence: m.confidence,
        model: m.model.clone(),
        rule: m.rule,
        echo: target != m.leg,
    })
}

/// Audio that left a call's hold, masked, and the audit entries of the
/// masks first applied to it.
pub struct Cleared {
    /// The audio, starting where the hold did.
    pub audio: Redacted<AudioHold>,
    /// Masks applied to it for the first time (written to the call's
    /// journal, so a crashed call's audit trail has them).
    pub audit: Vec<Redacted<AuditEntry>>,
    /// Stretches `(channel, start, end)` of audio released earlier that a
    /// mask now reaches unmasked: to be silenced in place (see
    /// [`RedactedCall::late`]).
    pub late: Vec<(usize, f64, f64)>,
}

/// Masks what the utterances known so far ask for in the audio before
/// `upto_s` (and wherever those masks reach) and takes that audio out of
/// the hold. `extra` are masks the caller adds (audio that had to leave
/// before it was settled). The caller guarantees nothing still to come can
/// reach before `upto_s` (the redaction frontier); a mask that later does is
/// reported by [`redact_call`] as late.
#[allow(clippy::too_many_arguments)]
pub fn release_cleared(
    audio: &mut AudioHold,
    upto_s: f64,
    utterances: &[TranscribedUtterance],
    tones: &[(Leg, f64, f64)],
    extra: Vec<Mask>,
    method: MaskMethod,
    model: &str,
    cfg: &DetectConfig,
) -> Cleared {
    let mut masks = plan_call(utterances, tones, model, cfg).masks;
    masks.extend(extra);
    let from = audio.start_s();
    masks.retain(|m| m.end > from && m.start < upto_s);
    let mut late = Vec::new();
    let mut audit = Vec::new();
    for (m, target) in apply_masks(audio, &masks, method, &mut late) {
        if audio.note_released_mask(target, m.start, m.end) {
            audit.push(audit_entry(m, target, method));
        }
    }
    Cleared {
        audio: audio.release(upto_s),
        audit,
        late,
    }
}

/// Redacts a whole call. `report` must not carry segments yet; `tones` are
/// keypad-tone spans `(leg, start, end)` in seconds; `model` names the
/// recogniser for the audit trail; `extra` are masks the caller adds (audio
/// that had to leave the hold before it was settled).
///
/// A masked span is masked on the other channel too when that channel
/// carries its line echo ([`AudioHold::carries_echo`]), and written to the
/// audit trail once per channel masked; whatever the text net catches is
/// masked in the audio too. Audio that already left the hold
/// ([`release_cleared`]) is not touched: a mask that reaches into it where
/// it was not masked then is listed in [`RedactedCall::late`].
#[allow(clippy::too_many_arguments)]
pub fn redact_call(
    mut report: Report,
    utterances: &[TranscribedUtterance],
    tones: &[(Leg, f64, f64)],
    mut audio: AudioHold,
    method: MaskMethod,
    model: &str,
    cfg: &DetectConfig,
    extra: &[Mask],
) -> RedactedCall {
    let counts = call_words(utterances).1;
    let CallPlan {
        segments,
        mut masks,
    } = plan_call(utterances, tones, model, cfg);
    masks.extend_from_slice(extra);
    let mut late = Vec::new();
    let applied = apply_masks(&mut audio, &masks, method, &mut late);
    let mut redactions = Vec::new();
    let mut audit = Vec::new();
    for (m, target) in applied {
        redactions.push(RedactionSpan {
            kind: format!("{:?}", m.kind).to_lowercase(),
            speaker: target,
            start: ms(m.start),
            end: ms(m.end),
        });
        audit.push(audit_entry(m, target, method));
    }
    redactions.sort_by(|a, b| a.start.total_cmp(&b.start));
    report.segments = segments;
    report.redactions = redactions;
    RedactedCall {
        report: Redacted::seal(report),
        audio: audio.seal(),
        audit,
        words: counts,
        late,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::Word;

    /// An utterance of `text` from `start`, 0.4 s a word; words ending in
    /// `^` are unsure with no number weighed by whisper.
    fn utt(leg: Leg, start: f64, text: &str) -> TranscribedUtterance {
        TranscribedUtterance {
            span: UtteranceSpan {
                leg,
                start,
                end: start + 0.4 * text.split_whitespace().count() as f64,
            },
            transcript: Some(transcript(start, text)),
            relisten: None,
        }
    }

    fn transcript(start: f64, text: &str) -> Transcript {
        Transcript {
            words: text
                .split_whitespace()
                .enumerate()
                .map(|(k, w)| {
                    let unsure = w.ends_with('^');
                    Word {
                        text: w.trim_end_matches('^').to_string(),
                        start: start + 0.4 * k as f64,
                        end: start + 0.4 * k as f64 + 0.35,
                        confidence: if unsure { 0.2 } else { 0.9 },
                        digit_p: Some(0.0),
                    }
                })
                .collect(),
            ..Transcript::default()
        }
    }

    fn masked_whole(utts: &[TranscribedUtterance], u: usize) -> Option<Rule> {
        detect_call(utts, &[], &DetectConfig::default())
            .detection
            .findings
            .iter()
            .find(|f| f.whole_utterance == Some(u))
            .map(|f| f.rule)
    }

    #[test]
    fn a_second_listen_decides_a_doubtful_utterance() {
        let mut utts = vec![
            utt(
                Leg::Agent,
                0.0,
                "and the three digit code on the back please",
            ),
            utt(Leg::Customer, 5.0, "hammer^ type^ hero^"),
        ];
        assert_eq!(
            doubtful_utterances(&utts, &[], &DetectConfig::default()),
            vec![1]
        );
        // No second listen: masked whole (fail closed).
        assert_eq!(masked_whole(&utts, 1), Some(Rule::Relisten));
        // Primed for digits, whisper hears them: masked.
        utts[1].relisten = Some(transcript(5.0, "7 5 0"));
        assert_eq!(masked_whole(&utts, 1), Some(Rule::Relisten));
        // Different words without a number: still not ordinary speech.
        utts[1].relisten = Some(transcript(5.0, "seven^ by^ zero^"));
        assert_eq!(masked_whole(&utts, 1), Some(Rule::Relisten));
        utts[1].relisten = Some(transcript(5.0, "having tight hero"));
        assert_eq!(masked_whole(&utts, 1), Some(Rule::Relisten));
        // The same words again, no number: ordinary speech, kept.
        utts[1].relisten = Some(transcript(5.0, "Hammer type, hero."));
        assert_eq!(masked_whole(&utts, 1), None);
    }

    #[test]
    fn masked_words_reach_to_their_kept_neighbours() {
        // "737 those are the ones on the back": whisper puts the first word
        // 0.6 s after the utterance starts; the audio before it is masked
        // too, up to the first kept word.
        let mut u = utt(Leg::Customer, 5.0, "737 those are the ones on the back");
        for w in &mut u.transcript.as_mut().unwrap().words {
            w.start += 0.6;
            w.end += 0.6;
        }
        let utts = vec![utt(Leg::Agent, 0.0, "and the code on the back please"), u];
        let mut hold = AudioHold::new(8_000, 2);
        let tone: Vec<f32> = (0..8_000 * 12)
            .map(|i| (i as f32 * 0.3).sin() * 0.3)
            .collect();
        hold.push(&[&tone, &tone]);
        let report = crate::report::test_report("c", Vec::new());
        let done = redact_call(
            report,
            &utts,
            &[],
            hold,
            MaskMethod::Silence,
            "m",
            &DetectConfig::default(),
            &[],
        );
        let audio = done.audio.get();
        let customer = audio.leg(Leg::Customer.index());
        let at = |t: f64| customer[(t * 8_000.0) as usize];
        assert_eq!(at(5.1), 0.0, "before whisper's first word: masked");
        assert_eq!(at(5.7), 0.0, "the digits: masked");
        assert_ne!(at(5.0 + 0.6 + 0.4 * 3.0), 0.0, "\"are\": kept");
        let seg = &done.report.get().segments[1];
        assert!(seg.text.starts_with("[CVV]"), "{}", seg.text);
    }

    #[test]
    fn keypad_tones_are_masked_as_whole_entries() {
        let tones = [
            (Leg::Customer, 10.0, 10.1),
            (Leg::Customer, 10.3, 10.4),
            // a tone hidden under speech at 10.6 was not found
            (Leg::Customer, 10.9, 11.0),
            (Leg::Agent, 10.5, 10.6),
            (Leg::Customer, 20.0, 20.1),
        ];
        let e = keypad_entries(&tones);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e.contains(&(Leg::Customer, 10.0 - ENTRY_PAD_S, 11.0 + ENTRY_PAD_S)));
        assert!(e.contains(&(Leg::Agent, 10.5, 10.6)));
        assert!(e.contains(&(Leg::Customer, 20.0, 20.1)));
    }
}
