//! Who may reach the server and what they may do.
//!
//! * [`tls`]: every listener (gRPC and metrics) speaks TLS through rustls
//!   when `serve` gets `--tls-cert`/`--tls-key`, mutual TLS when it also gets
//!   `--client-ca`. Without a certificate the server only listens on a
//!   loopback address, and says so at start.
//! * [`auth`]: bearer tokens (kept as SHA-256 hashes in the access file
//!   `serve --auth FILE`) and client-certificate fingerprints, each mapped
//!   to a [`auth::Role`]; every RPC asks [`auth::Access::identify`] who is
//!   calling and [`auth::Principal::may`] whether that role may.
//!
//! The rules are written out for operators in `docs/security.md`.

pub mod auth;
pub mod commands;
pub mod tls;
