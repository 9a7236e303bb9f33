//! The `callscope` binary: parse, set up logging, run, exit.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Everything callscope creates is private to its user: the store sets
    // 0600/0700 where it creates files and directories, and this covers any
    // file created elsewhere (SQLite's, a library's).
    // SAFETY: umask only sets the process's file mode creation mask; it
    // cannot fail and touches no memory.
    unsafe {
        libc::umask(0o077);
    }
    let cli = callscope::cli::Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cli.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    callscope::cli::run(cli)
}
