#!/usr/bin/env bash
# Validates the deployment files offline, with no Docker engine and no cluster (make validate-deploy):
#   1. docker/compose.yml: `docker-compose config` with every required secret set to a placeholder;
#   2. each Kustomize overlay: rendered by `kubectl kustomize`, then `kubernetes-validate --strict` and checkov
#      (its Kubernetes checks; findings are fixed or skipped in the manifests with a written reason).
# TOOLS_BIN names the folder of kubectl, kubernetes-validate and checkov (default .venv-tools/bin: make deploy-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

tools_bin=${TOOLS_BIN:-.venv-tools/bin}
kubernetes_version=${KUBERNETES_VERSION:-1.33.0}
for tool in docker-compose "$tools_bin/kubectl" "$tools_bin/kubernetes-validate" "$tools_bin/checkov"; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "error: $tool not found (docker-compose: make system-deps; the others: make deploy-tools)" >&2
    exit 1
  }
done

echo "compose: docker-compose config (docker/compose.yml)"
placeholders=()
# The secrets are the `${NAME:?...}`s outside the comments.
for name in $(grep -vE '^\s*#' docker/compose.yml | grep -oE '\$\{[A-Z0-9_]+:\?' | sed -E 's/^\$\{//; s/:\?$//' | sort -u); do
  placeholders+=("$name=placeholder-$name")
done
env -i PATH="$PATH" HOME="${HOME:-/tmp}" "${placeholders[@]}" docker-compose -f docker/compose.yml config --quiet

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for overlay in deploy/kubernetes/overlays/*/; do
  name=$(basename "$overlay")
  echo "kubernetes: $overlay (kubectl kustomize, kubernetes-validate --strict, checkov)"
  mkdir -p "$out/$name"
  "$tools_bin/kubectl" kustomize "$overlay" > "$out/$name/rendered.yaml"
  "$tools_bin/kubernetes-validate" --strict --quiet --kubernetes-version "$kubernetes_version" "$out/$name/rendered.yaml"
  # --skip-download: checkov asks no server for anything (the machine has no network).
  BC_SKIP_MAPPING=TRUE "$tools_bin/checkov" --quiet --compact --skip-download --framework kubernetes \
    --directory "$out/$name"
done
echo "deployment files: valid"
