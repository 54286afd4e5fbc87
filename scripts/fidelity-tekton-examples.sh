#!/usr/bin/env bash
# Fidelity of `stepkit task run` on tektoncd/pipeline's own examples: every TaskRun and
# PipelineRun under examples/v1 (files under a no-ci directory aside, as Tekton's e2e tests skip
# them) is run with the host runtime, the images whose steps need only a POSIX shell and
# coreutils mapped to the host. Tekton's CI runs each of them to success, so each one that does
# not pass here is either a feature stepkit refuses, a tool this machine lacks, or a divergence.
#
#   scripts/fidelity-tekton-examples.sh PIPELINE_CHECKOUT [STEPKIT]
#
# Prints one line per example (PASS, or FAIL and the first error line) and the totals; the logs
# are kept in $OUT (default a temporary directory). A read-only checkout is enough.
set -uo pipefail
repo=${1:?usage: $0 PIPELINE_CHECKOUT [STEPKIT]}
stepkit=${2:-$(dirname "$0")/../target/release/stepkit}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
examples="$repo/examples/v1"
[ -d "$examples" ] || { echo "$examples: no such directory" >&2; exit 2; }
[ -x "$stepkit" ] || { echo "$stepkit: build it first (cargo build --release)" >&2; exit 2; }

# Images whose steps need only a shell and common tools, by the names the examples use. busybox
# and alpine images (and the bash image, whose /bin/sh is busybox's, with its entrypoint) run
# with busybox's shell and applets (the busybox runtime: `[ a == b ]`, `#!/usr/bin/env ash`,
# `sh` as the command of a step without one), ubuntu's with this machine's (dash, bash and
# coreutils, as ubuntu has them; its CMD is bash); alpine/git's entrypoint is git; python, perl
# and node images need only their interpreter, which this machine has.
# The bash image's ENTRYPOINT (docker-entrypoint.sh) runs a step's args as the command unless
# there are none or the first is an option, then bash: what a step with args and no command needs.
bash_entrypoint=$out/bash-image-entrypoint
cat >"$bash_entrypoint" <<'SH'
#!/bin/sh
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then exec sh "$@"; fi
exec "$@"
SH
chmod +x "$bash_entrypoint"
images=(
  --image "mirror.gcr.io/bash*=busybox:$bash_entrypoint"
  --image 'mirror.gcr.io/alpine/git*=host:git'
  --image 'mirror.gcr.io/alpine*=busybox'
  --image 'mirror.gcr.io/busybox*=busybox'
  --image 'cgr.dev/chainguard/busybox*=busybox'
  --image 'mirror.gcr.io/node:*alpine*=busybox'
  --image 'mirror.gcr.io/node*=host'
  --image 'mirror.gcr.io/ubuntu*=host:bash'
  --image 'ubuntu=host:bash'
  --image 'mirror.gcr.io/python*=host'
  --image 'mirror.gcr.io/library/python*=host'
  --image 'mirror.gcr.io/perl*=host'
)

pass=0
fail=0
while IFS= read -r file; do
  name=${file#"$examples"/}
  log="$out/${name//\//_}.log"
  # Tekton's CI runs the alpha and beta examples with results from sidecar logs
  # (test/e2e-tests-kind-{alpha,beta}.env), the others from termination messages.
  case $name in
    alpha/* | */alpha/* | beta/* | */beta/*) results_from=sidecar-logs ;;
    *) results_from=termination-message ;;
  esac
  if timeout 300 "$stepkit" task run "$file" "${images[@]}" --results-from "$results_from" \
    --timeout 4m >"$log" 2>&1; then
    pass=$((pass + 1))
    printf 'PASS  %s\n' "$name"
  else
    fail=$((fail + 1))
    reason=$(grep -m1 -E '^Error|Failed|TimedOut|not supported|not mapped|not installed' "$log" | cut -c1-220)
    printf 'FAIL  %s  %s\n' "$name" "${reason:-see $log}"
  fi
done < <(find "$examples" -name '*.yaml' -not -path '*/no-ci/*' | sort)
echo "$pass passed, $fail failed (logs in $out)"
