#!/usr/bin/env bash
# Measures what `stepkit task run` itself costs: a generated Pipeline of TASKS Tasks of STEPS
# steps that do nothing (`true` on the host), every Task after the previous one in a chain of
# WIDTH parallel lanes, so the time is the scheduler's, the substitution's, the run directory's
# and process starts', not the steps' own. Prints wall time, time per step and peak RSS; with
# --podman also the same Pipeline's first Task in podman containers of a local busybox image.
#
#   ./scripts/bench-task-run.sh                    # 100 Tasks x 3 steps, 4 lanes, release build
#   ./scripts/bench-task-run.sh --tasks 400 --steps 2 --bin target/debug/stepkit
#   ./scripts/bench-task-run.sh --podman           # needs podman (and runc where crun fails)
#
# Peak RSS comes from GNU time (/usr/bin/time -v; Debian: apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/.."

tasks=100
steps=3
width=4
stepkit=""
podman=false
while [ $# -gt 0 ]; do
  case "$1" in
    --tasks) tasks=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --width) width=$2; shift 2 ;;
    --bin) stepkit=$(realpath "$2"); shift 2 ;;
    --podman) podman=true; shift ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$stepkit" ]; then
  cargo build --release --locked -q
  stepkit=$PWD/target/release/stepkit
fi
work=$(mktemp -d /dev/shm/stepkit-bench-run.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT

# The Pipeline: task i runs after task i-WIDTH; each Task's steps run `true`.
# shellcheck disable=SC2016 # $(params.image) is Tekton's, written as it is
{
  printf 'apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: bench\nspec:\n  params:\n'
  printf '    - name: image\n      default: bench.local/shell:1\n  tasks:\n'
  for i in $(seq 1 "$tasks"); do
    printf '    - name: t%d\n' "$i"
    if [ "$i" -gt "$width" ]; then printf '      runAfter: [t%d]\n' $((i - width)); fi
    printf '      params:\n        - name: image\n          value: $(params.image)\n'
    printf '      taskSpec:\n        params:\n          - name: image\n        steps:\n'
    for s in $(seq 1 "$steps"); do
      printf '          - name: s%d\n            image: $(params.image)\n' "$s"
      printf '            command: [true]\n'
    done
  done
} > "$work/pipeline.yaml"

measure() {
  local label=$1 count=$2
  shift 2
  local start end
  start=$(date +%s.%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v -o "$work/time.txt" "$@" > "$work/out.txt" 2> "$work/err.txt"
  else
    "$@" > "$work/out.txt" 2> "$work/err.txt"
  fi
  end=$(date +%s.%N)
  local rss="?"
  [ -f "$work/time.txt" ] && rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f MiB", $2/1024}' "$work/time.txt")
  awk -v l="$label" -v s="$start" -v e="$end" -v n="$count" -v r="$rss" \
    'BEGIN { t = e - s; printf "%-34s %7.2f s  %6.1f ms/step  peak RSS %s\n", l, t, 1000 * t / n, r }' </dev/null
}

measure "host: $tasks Tasks x $steps steps" $((tasks * steps)) \
  "$stepkit" --quiet task run "$work/pipeline.yaml" --image 'bench.local/*=host' \
  --parallel "$width" --run-dir "$work/run"

if $podman; then
  root="$work/rootfs"
  mkdir -p "$root/bin"
  cp "$(command -v busybox)" "$root/bin/busybox"
  for applet in sh true; do ln -s busybox "$root/bin/$applet"; done
  printf '[containers]\ndefault_ulimits = []\n' > "$work/containers.conf"
  export CONTAINERS_CONF=$work/containers.conf
  export STEPKIT_PODMAN=${STEPKIT_PODMAN:-podman --runtime runc}
  image=localhost/stepkit-bench-shell:$$
  tar -C "$root" -c . | $STEPKIT_PODMAN import -q - "$image" > /dev/null
  trap '$STEPKIT_PODMAN rmi -f "$image" > /dev/null 2>&1; rm -rf "$work"' EXIT
  sed -n '1,/^    - name: t2$/p' "$work/pipeline.yaml" | sed '$d' > "$work/one.yaml"
  measure "podman: 1 Task x $steps steps" "$steps" \
    "$stepkit" --quiet task run "$work/one.yaml" -p "image=$image" \
    --image 'localhost/*=podman' --run-dir "$work/run-podman"
fi
