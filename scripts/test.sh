#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need where it is missing, then runs
# the whole suite. A missing tool is installed here, never skipped by a test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests run for real, as "command:package": the OCI registry the workspace
# tests push to, skopeo and curl to look at what they pushed as other clients do, htpasswd for the
# registry with basic auth, zstd for the system tar to read zstd archives, and shellcheck for
# `task lint` to check Task scripts with.
needed=(docker-registry:docker-registry skopeo:skopeo htpasswd:apache2-utils curl:curl zstd:zstd shellcheck:shellcheck)
missing=()
for entry in "${needed[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "scripts/test.sh: the tests need ${missing[*]}; install them (Debian packages) and rerun" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "scripts/test.sh: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cargo test --locked "$@"
