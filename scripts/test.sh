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
# The sentence-embedding model for payment talk by meaning (same rules).
cargo run --release --locked --quiet -- model install minilm
# A gRPC client that is not ours, for the end-to-end API test: Python stubs
# generated with grpcio-tools from PyPI (venv made once, outside the clone).
# Also the stock reflection (v1alpha) and health clients, for the TLS check.
venv="$CALLSCOPE_CACHE/venv"
if ! "$venv/bin/python" -c "import grpc_tools, grpc_reflection, grpc_health" 2>/dev/null; then
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q "grpcio-tools==1.85.1" "grpcio-reflection==1.85.1" "grpcio-health-checking==1.85.1"
fi
export CALLSCOPE_PYTHON="$venv/bin/python"
cargo test --release --locked
