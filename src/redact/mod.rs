//! Card-data redaction: nothing leaves a call unredacted.
//!
//! * [`numbers`] turns spoken and written numbers into digit runs.
//! * [`detect`] decides which words are card numbers, security codes and
//!   expiry dates (payment-context window, long runs, split numbers).
//! * [`Redacted`] is the gate: every writer (report, recording, audit
//!   trail, database, outbound stream) accepts only `Redacted<T>`, and only
//!   this module can make one.

pub mod audio;
pub mod call;
pub mod detect;
pub mod evidence;
pub mod live;
pub mod meaning;
pub mod numbers;
pub mod text;

use std::ops::Deref;

/// A value that has been through the redactor. Only code in
/// [`crate::redact`] can construct one; everything that stores, sends or
/// logs call content takes this type.
#[derive(Debug, Clone, PartialEq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Seals a value the redactor has cleared.
    pub(in crate::redact) fn seal(value: T) -> Self {
        Redacted(value)
    }

    /// The cleared value.
    pub fn get(&self) -> &T {
        &self.0
    }

    /// Unwraps it, for a writer to serialise.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Seals anything, for unit tests of writers elsewhere in the crate.
impl Redacted<crate::report::Report> {
    /// The same sealed report under another call id (an id is not call
    /// content): for storing copies, e.g. in the store benchmark.
    pub fn with_call_id(&self, call_id: &str) -> Self {
        let mut r = self.0.clone();
        r.call_id = call_id.to_string();
        Redacted(r)
    }

    /// Adds the post-call analytics, derived only from the report's own
    /// redacted segments and measurements, and keeps it sealed.
    ///
    /// The transcript prompts are derived here, from the final redacted
    /// segments; of the prompts already in the report only measurements
    /// (signal prompts raised live) are kept. Interruptions whose words are
    /// only listener tokens become backchannels first.
    pub fn with_insights(mut self, rules: &std::sync::Arc<crate::rules::Rules>) -> Self {
        if let Some(m) = rules.model.as_deref() {
            // Embeddings of the redacted text, where the transcript's could
            // not be shared.
            m.fill(&mut self.0.segments);
        }
        let segments: Vec<Redacted<crate::report::Segment>> =
            self.0.segments.iter().cloned().map(Redacted).collect();
        let mut report = self.0;
        report.refine_interruptions_with_words();
        crate::rules::insights::apply(&mut report, &segments, rules);
        Redacted(report)
    }
}

#[cfg(test)]
pub(crate) fn test_seal<T>(value: T) -> Redacted<T> {
    Redacted(value)
}

impl<T> Deref for Redacted<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Why [`seal_signal_report`] refused a report: the field that carries call
/// text. Such a report must go through the redactor
/// ([`call::redact_call`]) instead; do not retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CarriesText {
    /// Transcript segments.
    #[error("the report has transcript segments")]
    Segments,
    /// A prompt whose evidence is not a measurement (a quote, or text read
    /// back from a stored report).
    #[error("a prompt quotes the call")]
    PromptEvidence,
    /// The complaint and its evidence.
    #[error("the report has a complaint")]
    Complaint,
    /// The agent's commitments.
    #[error("the report has commitments")]
    Commitments,
    /// A scorecard, whose items quote the call.
    #[error("the report has a scorecard")]
    Scorecard,
    /// Flags with the segments that set them.
    #[error("the report's flags quote the call")]
    Flags,
}

/// Seals an audit entry read back from a crashed call's journal, where
/// only sealed entries are written, once it passes
/// [`AuditEntry::validate`](crate::store::audit::AuditEntry::validate) (no
/// digit strings, sane times); `None` otherwise.
pub fn reseal_journal_entry(
    entry: crate::store::audit::AuditEntry,
) -> Option<Redacted<crate::store::audit::AuditEntry>> {
    entry.validate(0).ok()?;
    Some(Redacted::seal(entry))
}

/// Seals a report read back from the data directory, where only sealed
/// reports are written (a call kept while the store was away,
/// [`crate::store::pending`]), once no text in it holds a card number: 13
/// to 19 digits (spaces and dashes between them allowed) that pass the
/// Luhn check, which the redactor never leaves. Ids and other metadata
/// (call, caller and agent ids, times, the source's name) are not call
/// text and are not checked. Fails closed: such a report is refused, with
/// the field named, never its text.
pub fn reseal_stored_report(
    report: crate::report::Report,
) -> Result<Redacted<crate::report::Report>, String> {
    const METADATA: [&str; 8] = [
        "call_id",
        "caller_id",
        "agent_id",
        "started_at",
        "schema",
        "name",
        "codec",
        "status",
    ];
    fn holds_card(s: &str) -> bool {
        let mut runs = vec![Vec::new()];
        for c in s.chars() {
            match c.to_digit(10) {
                Some(d) => runs.last_mut().expect("one run").push(d as u8),
                None if matches!(c, ' ' | '-') => {}
                None => runs.push(Vec::new()),
            }
        }
        runs.iter()
            .any(|r| (13..=19).any(|len| r.windows(len).any(detect::luhn_valid)))
    }
    fn check(v: &serde_json::Value, at: &str) -> Result<(), String> {
        match v {
            serde_json::Value::String(s) if holds_card(s) => Err(format!(
                "the stored report has a card-like number in {at}; it is not stored (fail closed)"
            )),
            serde_json::Value::Array(a) => a.iter().try_for_each(|x| check(x, at)),
            serde_json::Value::Object(o) => o
                .iter()
                .filter(|(k, _)| !METADATA.contains(&k.as_str()))
                .try_for_each(|(k, x)| check(x, k)),
            _ => Ok(()),
        }
    }
    let v = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    check(&v, "the report")?;
    Ok(Redacted::seal(report))
}

/// Seals a report that carries no call content: signals, measurements and
/// signal prompts only. A report with any call text in it (segments, prompts
/// quoting the call, complaint, commitments, scorecard) is refused: it must
/// pass the detector in [`call::redact_call`].
pub fn seal_signal_report(
    report: crate::report::Report,
) -> Result<Redacted<crate::report::Report>, CarriesText> {
    if !report.segments.is_empty() {
        return Err(CarriesText::Segments);
    }
    if report.prompts.iter().any(|p| !p.evidence.is_measurement()) {
        return Err(CarriesText::PromptEvidence);
    }
    if report.complaint.is_some() {
        return Err(CarriesText::Complaint);
    }
    if report.commitments.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(CarriesText::Commitments);
    }
    if report.scorecard.is_some() {
        return Err(CarriesText::Scorecard);
    }
    if report
        .flags
        .as_ref()
        .is_some_and(|f| !f.evidence.is_empty())
    {
        return Err(CarriesText::Flags);
    }
    Ok(Redacted::seal(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Leg;
    use crate::redact::evidence::{Evidence, Measurement, Quote};
    use crate::report::{Prompt, test_report};

    fn prompt(evidence: Evidence) -> Prompt {
        Prompt {
            t: 1.0,
            kind: "k".into(),
            severity: "info".into(),
            message: "m".into(),
            evidence,
            supervisor: false,
        }
    }

    #[test]
    fn a_stored_report_reseals_only_without_card_length_digit_runs() {
        let mut r = test_report("c", Vec::new());
        r.warnings = vec!["took 12.5 s; 1234 5678 kept; 20250101-120000".into()];
        // Ids with long digit runs (an Asterisk id, a phone number) are metadata.
        r.call_id = "1712345678.1234".into();
        r.caller_id = Some("+4915112345678".into());
        assert!(reseal_stored_report(r.clone()).is_ok());
        for text in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
        ] {
            let mut bad = r.clone();
            bad.segments = vec![crate::rules::test_segment(Leg::Customer, 1.0, text)];
            let e = reseal_stored_report(bad).unwrap_err();
            assert!(!e.contains("4111"), "{e}");
        }
    }

    #[test]
    fn only_reports_without_call_text_seal_as_signal_reports() {
        let mut r = test_report("c", Vec::new());
        r.prompts = vec![prompt(Measurement::Silence { s: 12.0 }.into())];
        assert!(seal_signal_report(r.clone()).is_ok());
        let seg = crate::rules::test_segment(Leg::Customer, 1.0, "it's 4111");
        let mut with_segments = r.clone();
        with_segments.segments = vec![seg.clone()];
        assert_eq!(
            seal_signal_report(with_segments).unwrap_err(),
            CarriesText::Segments
        );
        let mut quoting = r.clone();
        quoting
            .prompts
            .push(prompt(Quote::of(&Redacted::seal(seg)).into()));
        assert_eq!(
            seal_signal_report(quoting).unwrap_err(),
            CarriesText::PromptEvidence
        );
        let mut stored = r.clone();
        stored.prompts.push(prompt(
            serde_json::from_str::<Evidence>("\"it's 4111\"").unwrap(),
        ));
        assert_eq!(
            seal_signal_report(stored).unwrap_err(),
            CarriesText::PromptEvidence
        );
        let mut complaint = r.clone();
        complaint.complaint = Some(crate::rules::insights::Complaint {
            category: "other".into(),
            evidence: "it's 4111".into(),
            score: None,
        });
        assert_eq!(
            seal_signal_report(complaint).unwrap_err(),
            CarriesText::Complaint
        );
        let mut commitments = r.clone();
        commitments.commitments = Some(vec![crate::rules::insights::Commitment {
            t: 1.0,
            text: "it's 4111".into(),
        }]);
        assert_eq!(
            seal_signal_report(commitments).unwrap_err(),
            CarriesText::Commitments
        );
        let mut scored = r;
        scored.scorecard = Some(crate::rules::insights::Scorecard::default());
        assert_eq!(
            seal_signal_report(scored).unwrap_err(),
            CarriesText::Scorecard
        );
    }
}
