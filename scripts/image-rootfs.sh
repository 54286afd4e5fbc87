#!/usr/bin/env bash
# Lays out the files of the stepkit step image under DEST: what the Containerfile's final stage
# copies onto its distroless base, and what tests/image.rs runs with podman.
#
#   scripts/image-rootfs.sh [--base] DEST BINARY
#
# DEST gets the binary as /usr/local/bin/stepkit, the Kratix GitHub sign-off image's command
# names as links to it (Promises run `command: ["create-issue"]`), and shell completions and man
# pages made by the binary itself. --base also adds what the distroless base provides, for an
# image without it: the shared libraries BINARY needs, CA certificates, the nonroot user (65532)
# and /tmp.
set -euo pipefail

base=false
if [ "${1:-}" = --base ]; then
  base=true
  shift
fi
if [ $# -ne 2 ]; then
  echo "usage: $0 [--base] DEST BINARY" >&2
  exit 2
fi
dest=$1
binary=$2

install -D -m 0755 "$binary" "$dest/usr/local/bin/stepkit"
for name in create-issue wait-approval; do
  ln -sfn stepkit "$dest/usr/local/bin/$name"
done

share="$dest/usr/share"
mkdir -p "$share/bash-completion/completions" "$share/zsh/vendor-completions" \
  "$share/fish/vendor_completions.d" "$share/man/man1"
"$binary" --quiet completions bash --out-dir "$share/bash-completion/completions"
"$binary" --quiet completions zsh --out-dir "$share/zsh/vendor-completions"
"$binary" --quiet completions fish --out-dir "$share/fish/vendor_completions.d"
"$binary" --quiet completions man --out-dir "$share/man/man1"

if $base; then
  # The dynamic loader and the libraries, at the paths the binary asks for.
  ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
    while read -r library; do
      install -D -m 0755 "$(readlink -f "$library")" "$dest$library"
    done
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$dest/etc" "$dest/home/nonroot" "$dest/tmp"
  chmod 1777 "$dest/tmp"
  chown 65532:65532 "$dest/home/nonroot" 2>/dev/null || true
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    > "$dest/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' > "$dest/etc/group"
fi
