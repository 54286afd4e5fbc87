#!/usr/bin/env bash
# Measures `stepkit task lint` on a generated corpus of realistic Task files
# (scripts/gen-lint-corpus.py), or on a real one (--corpus DIR): wall time, files per second
# and peak RSS, without shellcheck, with shellcheck on a cold and on a warm verdict cache, and
# on hostile files (alias and nesting bombs up to 1 MiB, which must stay cheap: a finding, well
# under 256 MiB and 2 s). Optionally @ibm/tekton-lint on the first 200 files for comparison.
#
#   ./scripts/bench-lint.sh                      # 1000 files, 5 runs per case
#   ./scripts/bench-lint.sh --files 5000 --runs 3
#   ./scripts/bench-lint.sh --corpus ../catalog --runs 3   # a real catalog instead
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
real_corpus=""
while [ $# -gt 0 ]; do
  case "$1" in
    --files) files=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --bin) stepkit=$(realpath "$2"); shift 2 ;;
    --corpus) real_corpus=$(realpath "$2"); shift 2 ;;
    --keep) keep=true; shift ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

if [ -n "$real_corpus" ]; then
  corpus=$real_corpus
else
  python3 scripts/gen-lint-corpus.py --count "$files" --out "$work/corpus"
  corpus=$work/corpus
fi
count=$(find "$corpus" -name '*.yaml' | wc -l)
# The verdict cache of shellcheck lives here, not in the user's cache.
export STEPKIT_CACHE_DIR=$work/cache

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
  # Cold: the cache emptied before every run. Warm: the runs after the warm-up reuse it.
  # shellcheck disable=SC2016 # expanded by the inner sh, on purpose
  bench "stepkit (shellcheck, cold cache)" "$count" \
    sh -c 'rm -rf "$STEPKIT_CACHE_DIR"; exec "$@"' sh "${lint[@]}" "$corpus"
  bench "stepkit (shellcheck, warm cache)" "$count" "${lint[@]}" "$corpus"
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

# Hostile files: each must be one finding, not a crash, an abort or exit 6.
hostile=$work/hostile
mkdir -p "$hostile"
python3 - "$hostile" <<'PY'
import sys
out = sys.argv[1]
# Nine levels of nine aliases ("billion laughs"), a few hundred bytes.
lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for i in range(1, 9):
    lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i-1}"] * 9) + "]")
open(f"{out}/alias-bomb.yaml", "w").write("\n".join(lines) + "\n")
mib = 1 << 20
# 1 MiB of aliases to a 2000-node anchor: as wide as an alias bomb gets within the size.
anchor = "base: &b [" + ",".join(["x"] * 2000) + "]\n"
refs = "".join(f"k{i}: *b\n" for i in range(mib // 10))
open(f"{out}/alias-wide-1mib.yaml", "w").write((anchor + refs)[:mib])
# 1 MiB of nested flow sequences.
open(f"{out}/nesting-1mib.yaml", "w").write("a: " + "[" * (mib - 3))
# About 1 MiB of nested block mappings, each line indented one more.
depth = 1440
open(f"{out}/nesting-block-1mib.yaml", "w").write("".join(" " * i + "k:\n" for i in range(depth)))
PY
for file in "$hostile"/*.yaml; do
  name=$(basename "$file" .yaml)
  bench "hostile: $name" 1 "${lint[@]}" --no-shellcheck "$file"
  verdict=$("${lint[@]}" --no-shellcheck "$file" | head -n 1 | cut -c1-150)
  echo "$name ($(wc -c <"$file") bytes): $verdict"
done

echo
printf '%-34s %6s %9s %10s %9s\n' "case" "files" "mean s" "files/s" "peak MiB"
printf '%s\n' "${rows[@]}"
echo "($runs runs per case$(command -v hyperfine >/dev/null 2>&1 && echo ', hyperfine'); $(nproc) CPUs)"
