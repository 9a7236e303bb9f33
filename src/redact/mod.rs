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
pub mod live;
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
    /// Adds the post-call analytics, derived only from the report's own
    /// redacted segments and measurements, and keeps it sealed.
    pub fn with_insights(self, rules: &std::sync::Arc<crate::rules::Rules>) -> Self {
        let mut report = self.0;
        crate::rules::insights::apply(&mut report, rules);
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

/// Seals a report that carries no call content: signals only, no transcript
/// segments (refused otherwise). Transcribed reports go through the
/// redactor instead.
pub fn seal_signal_report(
    report: crate::report::Report,
) -> Option<Redacted<crate::report::Report>> {
    report.segments.is_empty().then(|| Redacted::seal(report))
}
