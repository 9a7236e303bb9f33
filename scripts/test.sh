#!/usr/bin/env bash
# One command from a fresh clone: install what is missing, then lint and run
# every test (unit, integration over ../shared/corpus/dev, doc tests).
# CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --release --locked --all-targets -- -D warnings
# The whisper model for the transcription tests (skipped when present and intact).
cargo run --release --locked --quiet -- model install base
cargo test --release --locked
