#!/usr/bin/env bash
# Load benchmark of the serving API: builds the server and the load generator, fills a sqlite store
# with a day of batch data (published) plus speed rows after it, starts the server on loopback and
# drives it with a fixed number of 1-hour page_views queries that span the batch cutoff (so every
# answer merges both layers), with the response cache on and then off. Prints req/s, p50/p90/p99.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench-serving.sh [--requests N] [--slow_requests N] [--concurrency C] [--keys K] [--port P]
                                [--modes "cached nocache uncached"] [--keep]

  --requests N     measured requests in mode cached (default 50000)
  --slow_requests N  measured requests in the modes without a cache (default 10000)
  --concurrency C  requests in flight (default 16)
  --keys K         page_views keys in the store; the load rotates over all of them (default 50)
  --port P         loopback port for the server (default 18080)
  --modes M        which server modes to run (default all three):
                     cached    the server's defaults (response cache, state re-read every second)
                     nocache   --cache_entries=0: every request queries both layers
                     uncached  --cache_entries=0 --state_refresh=0: every request also reads the
                               publications and the speed watermark
  --keep           keep the temporary directory (binaries, store, server logs)

Target on 2 cores: >= 10k req/s with p99 <= 10 ms. Load generator and server share the machine.
EOF
}

requests=50000 slow_requests=10000 concurrency=16 keys=50 port=18080 modes="cached nocache uncached" keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --slow_requests) slow_requests="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --keys) keys="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --modes) modes="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-serving: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

command -v go >/dev/null || { echo "bench-serving: needs go" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench-serving: needs curl (to wait for /healthz)" >&2; exit 1; }
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [[ "$keep" == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

day=2026-11-20
echo "== build"
go build -o "$tmp/serving" ./serving
go build -o "$tmp/loadgen" ./serving/internal/loadgen
echo "== fill"
"$tmp/loadgen" fill --store="sqlite://$tmp/views.db" --day="$day" --keys="$keys"

for mode in $modes; do
  case "$mode" in
    cached) flags=(--cache_entries=10000) n="$requests" ;;
    nocache) flags=(--cache_entries=0) n="$slow_requests" ;;
    uncached) flags=(--cache_entries=0 --state_refresh=0) n="$slow_requests" ;;
    *) echo "bench-serving: unknown mode $mode" >&2; exit 2 ;;
  esac
  "$tmp/serving" --store="sqlite://$tmp/views.db" --addr="127.0.0.1:$port" --log_level=WARN "${flags[@]}" \
    2>"$tmp/serving-$mode.log" &
  server_pid=$!
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serving-$mode.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "== $mode: $n requests, concurrency $concurrency, 1h page_views queries spanning the cutoff, $(nproc) cores"
  "$tmp/loadgen" run --base="http://127.0.0.1:$port" --day="$day" --keys="$keys" \
    --requests="$n" --concurrency="$concurrency"
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=""
done
