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
# moto: an S3-compatible server on loopback for the object-storage test.
"$venv/bin/python" -c "import moto.server" 2>/dev/null || "$venv/bin/pip" install -q "moto[server]==5.2.5"
export CALLSCOPE_PYTHON="$venv/bin/python"
# The web console: headless Chromium (Debian package) driven by playwright-core,
# and the page's toolchain from web/package-lock.json (npm). The committed bundle
# (web/dist, embedded in the binary) must be what its sources build to.
# The PostgreSQL store's tests start throwaway servers (initdb, pg_ctl) of
# Debian's PostgreSQL; they run as the postgres user when the tests run as root.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
# The cluster test's bus: Debian's nats-server, started by the test itself.
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || apt_install nats-server
web_pkgs=()
command -v chromium >/dev/null || web_pkgs+=(chromium chromium-driver fonts-liberation)
{ command -v node && command -v npm; } >/dev/null || web_pkgs+=(nodejs npm)
if ((${#web_pkgs[@]})); then
    apt_install "${web_pkgs[@]}"
fi
(cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
bash web/build.sh >/dev/null
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
    ! git diff --quiet -- web/dist web/src/gen; then
    echo "test: web/dist differs from what web/build.sh builds from the sources; rebuild and commit it" >&2
    git diff --stat -- web/dist web/src/gen >&2
    exit 1
fi
# The container image definition and Kubernetes manifests (hadolint and
# kubernetes-validate from PyPI, pinned, in a venv outside the clone).
bash deploy/check.sh >/dev/null
cargo test --release --locked
