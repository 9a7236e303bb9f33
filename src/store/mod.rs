//! Writers for everything a call leaves on disk. Each takes only
//! [`crate::redact::Redacted`] values.

pub mod audit;
pub mod commands;
pub mod db;
pub mod open;
pub mod recording;

use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// Lower-case hex of a byte string (e.g. a digest).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of everything `reader` yields, lower-case hex.
pub fn sha256_of(mut reader: impl Read) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}
