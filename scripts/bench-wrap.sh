#!/usr/bin/env bash
# Runs `stepkit workspace wrap` over real Pipelines: every Pipeline of a tektoncd/catalog and a
# konflux-ci/build-definitions checkout (references resolved from the whole checkout), and
# prints how many were wrapped, how many refused and why, the time per file and the peak RSS.
#
#   ./scripts/bench-wrap.sh CATALOG_CHECKOUT BUILD_DEFINITIONS_CHECKOUT
#   ./scripts/bench-wrap.sh --bin target/debug/stepkit ../catalog ../build-definitions
#
# Every output is also linted (`task lint --profile core`: errors in what wrap added are counted
# apart from those the inlined Tasks had already) and wrapped twice to check it is deterministic. Peak RSS comes from GNU time (Debian: apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/.."

stepkit=""
checkouts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) stepkit=$(realpath "$2"); shift 2 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    *) checkouts+=("$(realpath "$1")"); shift ;;
  esac
done
[ ${#checkouts[@]} -gt 0 ] || { echo "give the checkouts to read (see --help)" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install time" >&2; exit 2; }
if [ -z "$stepkit" ]; then
  cargo build --release --locked -q
  stepkit=$PWD/target/release/stepkit
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wrapped=0 refused=0 lint_errors=0 task_errors=0 nondeterministic=0 total=0
: >"$work/reasons"
: >"$work/times"
for checkout in "${checkouts[@]}"; do
  while IFS= read -r file; do
    total=$((total + 1))
    out="$work/out.yaml"
    if /usr/bin/time -f "%e %M" -o "$work/time" \
      "$stepkit" -q workspace wrap "$file" --tasks "$checkout" \
      --to 'registry.example/ci/{{workspace}}' -o "$out" 2>"$work/err"; then
      wrapped=$((wrapped + 1))
      "$stepkit" -q workspace wrap "$file" --tasks "$checkout" \
        --to 'registry.example/ci/{{workspace}}' -o "$work/again.yaml" 2>/dev/null
      cmp -s "$out" "$work/again.yaml" || { nondeterministic=$((nondeterministic + 1)); echo "not deterministic: $file"; }
      "$stepkit" -q task lint --profile core "$out" >"$work/lint" 2>&1 || true
      # Errors about what wrap added, apart from those of the Tasks it inlined as they were.
      if grep 'error\[' "$work/lint" | grep -qE 'oci-(restore|push)-|oci-ws-|stepkit-(image|insecure)|_ARTIFACT'; then
        lint_errors=$((lint_errors + 1))
        echo "lint errors in what wrap added for $file:"
        grep 'error\[' "$work/lint" | grep -E 'oci-(restore|push)-|oci-ws-|stepkit-|_ARTIFACT' | head -3
      elif grep -q 'error\[' "$work/lint"; then
        task_errors=$((task_errors + 1))
      fi
    else
      refused=$((refused + 1))
      # The reason without the file's own names: what comes after the last quoted name.
      grep -v '^ *$' "$work/err" | tail -1 | sed -E 's/^.*ERROR //; s/^(Pipeline|PipelineRun) [^:]*: //; s/"[^"]*"/"…"/g; s/\([^)]*\)/(…)/g; s#(from the file given and --tasks) [^;]*#\1 …#' >>"$work/reasons"
    fi
    tail -1 "$work/time" >>"$work/times"
  done < <(grep -rlE '^kind: *(Pipeline|PipelineRun) *$' --include='*.yaml' "$checkout" | grep -vE '/(task|external-task|archived-tasks)/' | sort)
done

echo "Pipelines: $total; wrapped: $wrapped; refused: $refused; not deterministic: $nondeterministic"
echo "outputs with lint errors (core) in what wrap added: $lint_errors; only in the inlined Tasks' own steps: $task_errors"
echo "refused because:"
sort "$work/reasons" | uniq -c | sort -rn | sed 's/^/  /'
awk '{ t += $1; if ($1 > tmax) tmax = $1; if ($2 > m) m = $2 } END {
  printf "time per file: mean %.3f s, max %.3f s; peak RSS %.1f MiB\n", t / NR, tmax, m / 1024 }' "$work/times"
