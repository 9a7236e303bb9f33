#!/bin/sh
# Builds the console: generates src/gen/ from the proto (protoc + protoc-gen-es),
# then bundles src/ into dist/app.js and dist/app.css and copies index.html.
# Run from anywhere after `npm ci` in web/. Two runs give byte-identical dist files.
#
# PROTOC=/path/to/protoc overrides the protoc binary; by default the one the
# protoc-bin-vendored crate put in the cargo registry is used. Without any
# protoc the committed src/gen/ is used as is (with a warning).
set -eu
cd "$(dirname "$0")"
ROOT=..

if [ ! -x node_modules/.bin/esbuild ]; then
    echo "build.sh: node_modules missing; run 'npm ci' in web/ first" >&2
    exit 1
fi

protoc="${PROTOC:-}"
if [ -z "$protoc" ]; then
    protoc="$(command -v protoc 2>/dev/null || true)"
fi
if [ -z "$protoc" ]; then
    protoc="$(find "${CARGO_HOME:-$HOME/.cargo}/registry" -path '*protoc-bin-vendored-linux-x86_64*/bin/protoc' 2>/dev/null | sort | tail -n 1)"
fi

if [ -n "$protoc" ]; then
    rm -rf src/gen
    mkdir -p src/gen
    "$protoc" -I "$ROOT/proto" \
        --plugin=protoc-gen-es=node_modules/.bin/protoc-gen-es \
        --es_out=src/gen --es_opt=target=js \
        "$ROOT/proto/callscope/v1/callscope.proto"
else
    echo "build.sh: no protoc found (set PROTOC); using the committed src/gen/" >&2
fi

rm -rf dist
mkdir -p dist
node_modules/.bin/esbuild app=src/main.js \
    --bundle --format=esm --minify --target=chrome120 \
    --legal-comments=none --charset=utf8 --log-level=warning \
    --outdir=dist
cp index.html dist/index.html
ls -l dist | awk 'NR>1 {print "  " $NF ": " $5 " bytes"}'
