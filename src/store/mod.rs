//! Writers for everything a call leaves on disk. Each takes only
//! [`crate::redact::Redacted`] values.

pub mod audit;
pub mod recording;
