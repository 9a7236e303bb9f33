//! Card-data redaction.
//!
//! * [`numbers`] turns spoken and written numbers into digit runs.
//! * [`detect`] decides which words are card numbers, security codes and
//!   expiry dates (payment-context window, long runs, split numbers).

pub mod detect;
pub mod numbers;
