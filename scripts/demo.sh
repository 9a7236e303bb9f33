#!/usr/bin/env bash
# One command from a fresh clone: install what is missing, build, and analyse
# the bundled sample call (samples/demo-call.wav, 8 kHz G.711 mu-law stereo).
# Extra arguments are passed to `callscope analyze` (e.g. --json); a second
# run replaces the stored sample call (--replace, recorded in the anchor chain).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
cargo build --release --locked --quiet
"$CARGO_TARGET_DIR/release/callscope" model install base >/dev/null
"$CARGO_TARGET_DIR/release/callscope" model install minilm >/dev/null
"$CARGO_TARGET_DIR/release/callscope" analyze samples/demo-call.wav --data-dir ./callscope-data --replace "$@"
