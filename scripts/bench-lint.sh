#!/usr/bin/env bash
# Measures `stepkit task lint` on a generated corpus of realistic Task files
# (scripts/gen-lint-corpus.py): wall time, files per second and peak RSS, without and
# with shellcheck, and optionally @ibm/tekton-lint on the first 200 files for comparison.
#
#   ./scripts/bench-lint.sh                      # 1000 files, 5 runs per case
#   ./scripts/bench-lint.sh --files 5000 --runs 3
#   ./scripts/bench-lint.sh --bin target/debug/stepkit --files 50 --runs 1   # no release build
#   STEPKIT_BENCH_TEKTON_LINT=1 ./scripts/bench-lint.sh   # also npx @ibm/tekton-lint@latest
#
# Uses hyperfine when installed, else a loop timed with date +%s.%N. Peak RSS comes from GNU
# time (/usr/bin/time -v; Debian/Ubuntu: apt-get install time). shellcheck is optional.
set -euo pipefail
cd "$(dirname "$0")/.."

files=${STEPKIT_BENCH_FILES:-1000}
runs=${STEPKIT_BENCH_RUNS:-5}
stepkit=""
keep=false
while [ $# -gt 0 ]; do
  case "$1" in
    --files) files=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --bin) stepkit=$(realpath "$2"); shift 2 ;;
    --keep) keep=true; shift ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$stepkit" ]; then
  cargo build --release --locked -q
  stepkit=$PWD/target/release/stepkit
fi
have_time=false
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
  have_time=true
else
  echo "note: GNU time not found, peak RSS not measured (apt-get install time)" >&2
fi

work=$(mktemp -d)
cleanup() { if $keep; then echo "kept $work" >&2; else rm -rf "$work"; fi; }
trap cleanup EXIT

python3 scripts/gen-lint-corpus.py --count "$files" --out "$work/corpus"
corpus=$work/corpus
count=$(find "$corpus" -name '*.yaml' | wc -l)

# Mean wall seconds of a command over $runs runs (after one warm-up run).
mean_seconds() {
  if command -v hyperfine >/dev/null 2>&1; then
    hyperfine --style none --warmup 1 --runs "$runs" --ignore-failure \
      --export-json "$work/hyperfine.json" -- "$(printf '%q ' "$@")" >/dev/null
    python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' \
      "$work/hyperfine.json"
  else
    "$@" >/dev/null 2>&1 || true
    local total=0 start end
    for _ in $(seq "$runs"); do
      start=$(date +%s.%N)
      "$@" >/dev/null 2>&1 || true
      end=$(date +%s.%N)
      total=$(awk -v t="$total" -v s="$start" -v e="$end" 'BEGIN { print t + e - s }')
    done
    awk -v t="$total" -v n="$runs" 'BEGIN { printf "%.3f\n", t / n }'
  fi
}

# Peak resident set size of one run, in MiB ("-" without GNU time).
peak_mib() {
  if ! $have_time; then echo "-"; return; fi
  /usr/bin/time -v -o "$work/time" "$@" >/dev/null 2>&1 || true
  awk -F': ' '/Maximum resident set size/ { printf "%.0f\n", $2 / 1024 }' "$work/time"
}

rows=()
# Times one case: label, number of files, command...
bench() {
  local label=$1 n=$2
  shift 2
  local seconds rss
  seconds=$(mean_seconds "$@")
  rss=$(peak_mib "$@")
  rows+=("$(awk -v l="$label" -v n="$n" -v s="$seconds" -v r="$rss" \
    'BEGIN { printf "%-34s %6d %9.3f %10.0f %9s", l, n, s, (s > 0 ? n / s : 0), r }')")
}

lint=("$stepkit" task lint --fail-on never --format human)
echo "corpus: $count files in $corpus; $("${lint[@]}" --no-shellcheck "$corpus" | tail -n 1)"

bench "stepkit (no shellcheck)" "$count" "${lint[@]}" --no-shellcheck "$corpus"
if command -v shellcheck >/dev/null 2>&1; then
  bench "stepkit (with shellcheck)" "$count" "${lint[@]}" "$corpus"
else
  echo "note: shellcheck not found, the shellcheck case is skipped (apt-get install shellcheck)" >&2
fi

if [ "${STEPKIT_BENCH_TEKTON_LINT:-}" = 1 ]; then
  if command -v npx >/dev/null 2>&1; then
    subset=$work/subset
    mkdir -p "$subset"
    find "$corpus" -name '*.yaml' | sort | sed -n '1,200p' | while read -r file; do
      cp "$file" "$subset/"
    done
    small=$(find "$subset" -name '*.yaml' | wc -l)
    # Install once and time the installed binary, so npx's registry check is not measured.
    tekton_lint=$(npx --yes --package=@ibm/tekton-lint@latest -c 'command -v tekton-lint' 2>/dev/null || true)
    if [ -n "$tekton_lint" ]; then
      bench "stepkit (no shellcheck, subset)" "$small" "${lint[@]}" --no-shellcheck "$subset"
      bench "@ibm/tekton-lint (subset)" "$small" "$tekton_lint" "$subset/*.yaml"
    else
      echo "note: npx could not run @ibm/tekton-lint@latest (offline?), comparison skipped" >&2
    fi
  else
    echo "note: npx not found, the @ibm/tekton-lint comparison is skipped" >&2
  fi
fi

echo
printf '%-34s %6s %9s %10s %9s\n' "case" "files" "mean s" "files/s" "peak MiB"
printf '%s\n' "${rows[@]}"
echo "($runs runs per case$(command -v hyperfine >/dev/null 2>&1 && echo ', hyperfine'); $(nproc) CPUs)"
