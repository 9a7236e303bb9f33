//! Card-data redaction.

pub mod numbers;
