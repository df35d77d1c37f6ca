#!/usr/bin/env bash
# kube-local-lb and HAProxy side by side on this machine: bench/run.sh --help, bench/README.md.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! command -v node >/dev/null 2>&1; then
  echo "bench: node is not installed: Node.js 20 or later is needed (and npm ci && npm run build)" >&2
  exit 1
fi
# 2,000 held connections take 4,000 descriptors in a proxy: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec node "$here/lib/main.mjs" "$@"
