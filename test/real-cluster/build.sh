#!/usr/bin/env bash
# Builds the real control plane the tests run against, from the Go module proxy with plain
# `go build`: kube-apiserver and kube-proxy (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3,
# in a module of its own so its client libraries stay apart from the apiserver's) and kubelet-sim
# (client-go and component-helpers' lease controller, as kubelet uses them).
#
# Binaries go to $KLB_CLUSTER_CACHE (default /root/.cache/kube-local-lb), one directory per
# binary and version, e.g. kube-apiserver-v1.37.2/kube-apiserver; a binary already there is not
# rebuilt, so a second run takes seconds. Each directory keeps build.txt: the command, wall time
# and the largest process's peak memory.
#
#   test/real-cluster/build.sh            build what is missing, print the directory of each
#   test/real-cluster/build.sh --print    print where the binaries are (built or not)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"
cache="${KLB_CLUSTER_CACHE:-/root/.cache/kube-local-lb}"
k8s_minor="${KUBERNETES_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
sim_hash="$(cat "$here/k8s/go.mod" "$here/k8s/go.sum" "$here/k8s/kubelet-sim/"*.go | sha256sum | cut -c1-12)"

declare -A dir=(
  [kube-apiserver]="$cache/kube-apiserver-$KUBERNETES_VERSION"
  [kube-proxy]="$cache/kube-proxy-$KUBERNETES_VERSION"
  [kubelet-sim]="$cache/kubelet-sim-$KUBERNETES_VERSION-$sim_hash"
  [etcd]="$cache/etcd-$ETCD_VERSION"
)
order=(kube-apiserver kube-proxy kubelet-sim etcd)

if [ "${1:-}" = "--print" ]; then
  for name in "${order[@]}"; do echo "$name=${dir[$name]}/$name"; done
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: go is not installed (needs Go $(sed -n 's/^go //p' "$here/k8s/go.mod") or newer)" >&2; exit 1; }
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor"

build() { # name module-dir package [ldflags]
  local name="$1" mod="$2" pkg="$3" flags="${4:-}" out="${dir[$1]}"
  if [ -x "$out/$name" ]; then echo "$name: cached in $out"; return; fi
  mkdir -p "$out"
  echo "$name: building $pkg (module $mod) into $out"
  local t0=$SECONDS tmp="$out/.$name.partial"
  ( cd "$here/$mod" && CGO_ENABLED=0 /usr/bin/time -f '%e %M' -o "$out/.time" \
      go build -trimpath -ldflags "$flags" -o "$tmp" "$pkg" )
  mv "$tmp" "$out/$name"
  read -r wall rss < "$out/.time"; rm -f "$out/.time"
  printf 'go build -trimpath -ldflags "%s" %s (module test/real-cluster/%s)\nwall %ss, largest process %s MB\n' \
    "$flags" "$pkg" "$mod" "$wall" "$((rss / 1024))" > "$out/build.txt"
  echo "$name: built in $((SECONDS - t0)) s, largest process $((rss / 1024)) MB"
}

build kube-apiserver k8s k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
build kube-proxy k8s k8s.io/kubernetes/cmd/kube-proxy "$ldflags"
build kubelet-sim k8s ./kubelet-sim
build etcd etcd go.etcd.io/etcd/server/v3 "-s -w"
for name in "${order[@]}"; do echo "$name=${dir[$name]}/$name"; done
