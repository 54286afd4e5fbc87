#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need where it is missing, then runs
# the whole suite. A missing tool is installed here, never skipped by a test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests run for real, as "command:package": the OCI registry the workspace
# tests push to, skopeo and curl to look at what they pushed as other clients do, htpasswd for the
# registry with basic auth, zstd for the system tar to read zstd archives, shellcheck for
# `task lint` to check Task scripts with, and for the step image test (tests/image.rs) and the
# podman runtime of `task run` podman with runc (crun refuses this kind of machine's cgroups),
# busybox for the Promise's own containers, busybox images and `task run`'s busybox runtime,
# objcopy to strip the test binary, and the CA bundle the image carries. The example Pipelines
# run by `task run` (tests/task_run_tasks.rs) clone with git and build, test and vet with Go.
needed=(docker-registry:docker-registry skopeo:skopeo htpasswd:apache2-utils curl:curl zstd:zstd
  shellcheck:shellcheck podman:podman runc:runc busybox:busybox-static objcopy:binutils git:git
  go:golang-go)
missing=()
for entry in "${needed[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
done
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
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
