#!/usr/bin/env bash
# Prints the directory of a `go` new enough for the modules here (the `go` line of k8s/go.mod).
# The machine's go if it is; otherwise the toolchain module golang.org/toolchain of that version,
# fetched from the Go module proxy with the go there is (Debian's golang-go will do).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
want="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$here/k8s/go.mod")"
newer() { # is $1 >= $2 (dotted versions)
  [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$2" ]
}
have="$(go env GOVERSION 2>/dev/null | sed 's/^go//' || true)"
if [ -n "$have" ] && newer "$have" "$want"; then dirname "$(command -v go)"; exit 0; fi
command -v go >/dev/null || { echo "ensure-go: no go at all; install golang-go" >&2; exit 1; }
# The newest patch release of that minor on the proxy.
minor="${want%.*}"
mod="golang.org/toolchain"
ver="$(GOFLAGS=-mod=mod GOTOOLCHAIN=local go list -m -versions "$mod" 2>/dev/null | tr ' ' '\n' |
  grep -E "^v0\.0\.1-go${minor//./\\.}\.[0-9]+\.linux-amd64$" | sort -V | tail -1)"
[ -n "$ver" ] || { echo "ensure-go: no $mod for go$minor on the module proxy" >&2; exit 1; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
dir="$(cd "$tmp" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$dir" ] || { echo "ensure-go: download of $mod@$ver failed" >&2; exit 1; }
# Older go versions unpack modules without execute bits.
chmod u+w "$dir/bin" "$dir/pkg/tool"/* 2>/dev/null || true
chmod +x "$dir/bin/"* "$dir/pkg/tool/"*/* 2>/dev/null || true
echo "$dir/bin"
