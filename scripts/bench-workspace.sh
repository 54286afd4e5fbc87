#!/usr/bin/env bash
# Measures `stepkit workspace push | pull` against the Trusted Artifacts pipeline done by hand
# (tar | gzip -n to a file, sha256sum, curl upload; curl | tar -xz to restore), on a local
# docker-registry, for a generated workspace-like tree. Prints wall time, MB/s and peak RSS.
#
#   ./scripts/bench-workspace.sh            # 300 MB and 1 GiB trees
#   SIZES_MB="300" ./scripts/bench-workspace.sh
#   BENCH_DIR=/var/tmp ./scripts/bench-workspace.sh   # on disk instead of /dev/shm
#   RUNS=3 ./scripts/bench-workspace.sh     # the median of 3 runs of each (fresh repository and
#                                           # destination each time); peak RSS is the largest
#   BASELINE=/path/to/older/stepkit RUNS=7 ./scripts/bench-workspace.sh
#                                           # also the Trusted Artifacts push of another build,
#                                           # run alternately with this one's
#
# Needs docker-registry, curl, zstd, GNU time (/usr/bin/time) and python3; installs the Debian
# packages when missing. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for entry in docker-registry:docker-registry curl:curl /usr/bin/time:time python3:python3; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || need+=("${entry#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

cargo build --release --locked -q
stepkit=$PWD/target/release/stepkit
# Work in memory (tmpfs) where there is one: on a VM disk, creating tens of thousands of files
# right after deleting as many makes ext4 scan its recently freed inodes, which swamps what the
# tools themselves cost. BENCH_DIR chooses another place.
bench_dir=${BENCH_DIR:-/dev/shm}
[ -d "$bench_dir" ] && [ -w "$bench_dir" ] || bench_dir=${TMPDIR:-/tmp}
work=$(mktemp -d -p "$bench_dir")
export TMPDIR=$work # stepkit's temporary blobs go there too
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, secret: bench-only}
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
registry=127.0.0.1:$port

# A workspace-like tree: 45% many small source-like files, 55% large files, half of those random
# and half build-output-like.
generate() {
  python3 - "$1" "$2" <<'PY'
import os, random, sys
root, total = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
rng = random.Random(42)
# Small files are source code: the machine's own headers, Python and Perl libraries and crate
# sources, copied in a fixed order (repeated when the budget outruns them). Random words would
# be far harder to compress than real code; they are the fallback on a machine without sources.
SOURCE_SUFFIXES = (".h", ".c", ".rs", ".py", ".pm", ".go", ".java", ".js", ".ts")
def sources():
    tops = ["/usr/include", "/usr/share/perl5", os.path.expanduser("~/.cargo/registry/src")]
    tops += sorted(os.path.join("/usr/lib", d) for d in os.listdir("/usr/lib") if d.startswith("python3"))
    for top in tops:
        for d, dirs, files in sorted(os.walk(top)):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(d, name)
                if name.endswith(SOURCE_SUFFIXES) and os.path.isfile(path) and not os.path.islink(path) \
                        and 200 <= os.path.getsize(path) <= 65536:
                    yield path
found = sum(os.path.getsize(p) for _, p in zip(range(20000), sources()))
words = [("".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(2, 12)))) for _ in range(5000)]
def synthetic():
    while True:
        size = rng.randint(500, 12000)
        yield (" ".join(rng.choice(words) for _ in range(size // 6)) + "\n").encode()
def real():
    while True:
        for path in sources():
            with open(path, "rb") as f:
                yield f.read()
texts = real() if found >= 20 * 1024 * 1024 else synthetic()
small_budget, n = int(total * 0.45), 0
while small_budget > 0:
    d = os.path.join(root, "src", f"pkg{n // 200}")
    os.makedirs(d, exist_ok=True)
    text = next(texts)[:small_budget]
    with open(os.path.join(d, f"file{n}.src"), "wb") as f:
        f.write(text)
    small_budget -= max(len(text), 1); n += 1
# Compressible large files are build-output-like: the bytes of this machine's own executables and
# libraries, read in a fixed order (a repeated text chunk would compress unrealistically fast).
def binaries():
    for top in ("/usr/lib", "/usr/bin", "/usr/libexec"):
        for d, dirs, files in sorted(os.walk(top)):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(d, name)
                if os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) > 65536:
                    yield path
pool = binaries()
def build_output(size):
    global pool
    out = bytearray()
    while len(out) < size:
        try:
            path = next(pool)
        except StopIteration:
            pool = binaries()
            continue
        with open(path, "rb") as b:
            out += b.read(size - len(out))
    return bytes(out)
large_budget, i = int(total * 0.55), 0
os.makedirs(os.path.join(root, "artifacts"), exist_ok=True)
while large_budget > 0:
    size = min(large_budget, 32 * 1024 * 1024)
    with open(os.path.join(root, "artifacts", f"blob{i}.bin"), "wb") as f:
        if i % 2 == 0:
            f.write(os.urandom(size))
        else:
            f.write(build_output(size))
    large_budget -= size; i += 1
PY
}

# Runs a command under GNU time; prints "seconds peak_rss_mib".
measure() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; return 1; }
  awk '{printf "%s %.0f\n", $1, $2 / 1024}' "$work/time"
}

# Runs `$@` RUNS times with {i} replaced by the run number; prints "median_seconds max_rss_mib".
measure_runs() {
  local times=() rss=0 i s r
  for i in $(seq "${RUNS:-1}"); do
    read -r s r < <(measure "${@//\{i\}/$i}")
    times+=("$s"); [ "$r" -gt "$rss" ] && rss=$r
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v rss="$rss" '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)], rss }'
}

row() { # name size_mb seconds rss
  awk -v n="$1" -v mb="$2" -v s="$3" -v r="$4" 'BEGIN { printf "%-34s %8.2f s %8.1f MB/s %6s MiB\n", n, s, mb / s, r }'
}

ta_push() { # tree repo (the digest goes to $work/ta.digest)
  tar --use-compress-program='gzip -n' -cf "$work/ta.tgz" -C "$1" .
  digest="sha256:$(sha256sum "$work/ta.tgz" | cut -d' ' -f1)"
  location=$(curl -fsS -X POST -D - -o /dev/null "http://$registry/v2/$2/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location" {print $2}')
  case "$location" in http*) ;; *) location="http://$registry$location" ;; esac
  sep='?'; case "$location" in *\?*) sep='&' ;; esac
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --upload-file "$work/ta.tgz" "$location${sep}digest=$digest" -o /dev/null
  echo "$digest" >"$work/ta.digest"
}
ta_pull() { # repo dest
  mkdir -p "$2"
  curl -fsS "http://$registry/v2/$1/blobs/$(cat "$work/ta.digest")" | tar -xzpf - -C "$2"
}
# Sum of the layer sizes of a pinned stepkit reference.
layer_bytes() {
  local repo=${1#*/}; repo=${repo%@*}
  curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$registry/v2/$repo/manifests/${1##*@}" |
    python3 -c 'import json, sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))'
}
# What a build does to a checkout of SIZE MB: 5% of it in new files (half build output, half
# text), 20 source files modified, 20 deleted; the same each time.
build_step() { # dir size_mb
  python3 - "$1" "$2" <<'PY'
import os, random, sys
root, size = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
rng = random.Random(7)
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, "src")) for f in fs)
for path in files[:20]:
    with open(path, "ab") as f:
        f.write(b"\n// changed by the build\n")
for path in files[-20:]:
    os.remove(path)
budget, n = size // 20, 0
os.makedirs(os.path.join(root, "out"), exist_ok=True)
while budget > 0:
    chunk = min(budget, 1024 * 1024)
    data = os.urandom(chunk) if n % 2 == 0 else (b"object code %d " % n) * (chunk // 16)
    with open(os.path.join(root, "out", f"obj{n}.o"), "wb") as f:
        f.write(data)
    budget -= chunk; n += 1
PY
}
export -f ta_push ta_pull
export work registry

printf '%-34s %10s %13s %10s\n' "" "wall" "throughput" "peak RSS"
for size in ${SIZES_MB:-300 1024}; do
  tree=$work/tree-$size
  generate "$tree" "$size"
  actual=$(du -sm --apparent-size "$tree" | cut -f1)
  echo "== tree of $actual MB ($(find "$tree" -type f | wc -l) files)"

  read -r s r < <(measure_runs bash -c "ta_push '$tree' bench/ta-$size-{i}")
  ta_push_s=$s; row "Trusted Artifacts by hand: push" "$actual" "$s" "$r"
  read -r s r < <(measure_runs bash -c "ta_pull bench/ta-$size-1 '$work/ta-out-$size-{i}'")
  ta_pull_s=$s; row "Trusted Artifacts by hand: pull" "$actual" "$s" "$r"
  rm -rf "$work"/ta-out-*

  for form in zstd gzip-ta; do
    flags=(--compression zstd); [ "$form" = gzip-ta ] && flags=(--trusted-artifacts)
    # A fresh repository each run, so each push uploads.
    read -r s r < <(measure_runs "$stepkit" -q workspace push "$tree" --to "$registry/bench/$form-$size-{i}:run" \
      --insecure-registry "$registry" --result "$work/ref-$form" "${flags[@]}")
    push_s=$s; row "stepkit $form: push" "$actual" "$s" "$r"
    read -r s r < <(measure_runs "$stepkit" -q workspace pull "$(cat "$work/ref-$form")" "$work/out-$form-$size-{i}" \
      --insecure-registry "$registry")
    pull_s=$s; row "stepkit $form: pull" "$actual" "$s" "$r"
    [ "$form" = zstd ] && zstd_push_s=$push_s
    diff -r "$tree" "$work/out-$form-$size-1" >/dev/null || { echo "stepkit $form: restored tree differs" >&2; exit 1; }
    rm -rf "$work"/out-*
    awk -v a="$ta_push_s" -v b="$ta_pull_s" -v c="$push_s" -v d="$pull_s" -v f="$form" \
      'BEGIN { printf "  round trip vs Trusted Artifacts by hand (%s): %.1fx faster\n", f, (a + b) / (c + d) }'
  done

  if [ -n "${BASELINE:-}" ]; then
    # Alternately, so this machine's drift in speed falls on both builds alike.
    base_times=(); this_times=()
    for i in $(seq "${RUNS:-1}"); do
      for build in base this; do
        binary=$stepkit; [ "$build" = base ] && binary=$BASELINE
        read -r s _ < <(measure "$binary" -q workspace push "$tree" --to "$registry/bench/$build-$size-$i:run" \
          --insecure-registry "$registry" --result "$work/ref-$build" --trusted-artifacts)
        if [ "$build" = base ]; then base_times+=("$s"); else this_times+=("$s"); fi
      done
    done
    median() { printf '%s\n' "$@" | sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'; }
    awk -v a="$(median "${base_times[@]}")" -v b="$(median "${this_times[@]}")" -v n="${RUNS:-1}" \
      'BEGIN { printf "  Trusted Artifacts form push, median of %d alternate runs: BASELINE %.2f s, this build %.2f s: %.2fx faster\n", n, a, b, a / b }'
  fi

  # A build-like step on the tree: pull (recording state), add 5% new bytes as new files, modify
  # 20 files, delete 20, push. The incremental push against a full push of the same tree; then
  # the three-Task chain clone -> build -> test, end to end, against Trusted Artifacts by hand.
  "$stepkit" -q workspace push "$tree" --to "$registry/bench/inc-$size:clone" --insecure-registry "$registry" \
    --result "$work/ref-clone" --no-state >/dev/null
  full_bytes=$(layer_bytes "$(cat "$work/ref-clone")")
  read -r pull_state_s r < <(measure "$stepkit" -q workspace pull "$(cat "$work/ref-clone")" "$work/build" \
    --insecure-registry "$registry")
  row "stepkit pull, recording state" "$actual" "$pull_state_s" "$r"
  build_step "$work/build" "$size"
  read -r inc_s r < <(measure "$stepkit" -q workspace push "$work/build" --to "$registry/bench/inc-$size:build" \
    --insecure-registry "$registry" --result "$work/ref-build")
  row "stepkit incremental push" "$actual" "$inc_s" "$r"
  inc_bytes=$(( $(layer_bytes "$(cat "$work/ref-build")") - full_bytes ))
  awk -v ib="$inc_bytes" -v fb="$full_bytes" -v is="$inc_s" -v fs="$zstd_push_s" \
    'BEGIN { printf "  incremental push: uploads %d of %d bytes (%.1f%%), takes %.1f%% of a full push'"'"'s wall time\n", ib, fb, 100 * ib / fb, 100 * is / fs }'
  read -r test_s r < <(measure "$stepkit" -q workspace pull "$(cat "$work/ref-build")" "$work/test" \
    --insecure-registry "$registry" --no-state)
  diff -r --no-dereference "$work/build" "$work/test" >/dev/null \
    || { echo "a fresh pull of the incremental push differs from the built tree" >&2; exit 1; }
  echo "  a fresh pull of it equals the built tree (diff -r)"
  # The same chain by hand: push clone, pull for build, push build's whole tree, pull for test.
  read -r ta1 _ < <(measure bash -c "ta_push '$tree' bench/chain-$size")
  read -r ta2 _ < <(measure bash -c "ta_pull bench/chain-$size '$work/ta-build'")
  build_step "$work/ta-build" "$size"
  read -r ta3 _ < <(measure bash -c "ta_push '$work/ta-build' bench/chain-$size")
  read -r ta4 _ < <(measure bash -c "ta_pull bench/chain-$size '$work/ta-test'")
  awk -v a="$ta1" -v b="$ta2" -v c="$ta3" -v d="$ta4" -v e="$zstd_push_s" -v f="$pull_state_s" -v g="$inc_s" -v h="$test_s" \
    'BEGIN { ta = a + b + c + d; sk = e + f + g + h; printf "  chain clone -> build -> test: Trusted Artifacts by hand %.2f s, stepkit %.2f s: %.1fx faster\n", ta, sk, ta / sk }'
  rm -rf "$tree" "$work"/out-* "$work"/ta-out-* "$work/ta.tgz" "$work/build" "$work/test" "$work"/ta-build "$work"/ta-test \
    "$work"/.build.stepkit-state.json
done
