#!/usr/bin/env bash
# Load benchmark of the serving API: builds the server and the load generator, fills a sqlite store
# with 7 days of batch data (published; the last day also has 50k sparse page_views keys) plus
# speed rows after them, starts the server on loopback in each mode and drives it with a fixed
# number of queries of each kind (loadgen's doc): 1-hour page_views queries that span the batch
# cutoff (so every answer merges both layers), 1 day at 1h, 7 days at 1d, and top over the day of
# 50k keys. Prints req/s, p50/p90/p99 for each.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench-serving.sh [--requests N] [--slow_requests N] [--top_requests N] [--concurrency C]
                                [--keys K] [--sparse_keys K] [--port P] [--modes "cached nocache noindex uncached"] [--keep]

  --requests N     measured requests in mode cached (default 50000)
  --slow_requests N  measured 1-hour requests in the modes without a cache (default 10000; a
                   quarter of it for the 1-day and the 7-day queries)
  --top_requests N measured top requests in mode nocache, 4 in flight (default 500; mode
                   noindex sends 20, 2 in flight: each reads the whole day from the store)
  --sparse_keys K  page_views keys with 10 rows each on the last day (default 50000)
  --concurrency C  requests in flight (default 16)
  --keys K         page_views keys in the store; the load rotates over all of them (default 50)
  --port P         loopback port for the server (default 18080)
  --modes M        which server modes to run (default all four):
                     cached    the server's defaults (response cache, batch index, state re-read
                               every second)
                     nocache   --cache_entries=0: every request reads the speed layer from the
                               store, the batch layer from the batch index
                     noindex   --cache_entries=0 --batch_index_rows=0: every request queries both
                               layers in the store (the path before the batch index)
                     uncached  --cache_entries=0 --state_refresh=0: every request also reads the
                               publications and the speed watermark
  --keep           keep the temporary directory (binaries, store, server logs)

Targets on 2 cores (issue 19): without the response cache >= 10k req/s with p99 <= 10 ms for the
1-hour query, top over the day of 50k keys p99 <= 50 ms; with the cache >= 30k req/s. Load
generator and server share the machine.
EOF
}

requests=50000 slow_requests=10000 top_requests=500 sparse_keys=50000 concurrency=16 keys=50 port=18080 modes="cached nocache noindex uncached" keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --slow_requests) slow_requests="$2"; shift 2 ;;
    --top_requests) top_requests="$2"; shift 2 ;;
    --sparse_keys) sparse_keys="$2"; shift 2 ;;
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
"$tmp/loadgen" fill --store="sqlite://$tmp/views.db" --day="$day" --days=7 --keys="$keys" --sparse_keys="$sparse_keys"

# drive QUERY N C: N requests of kind QUERY (see loadgen's doc), C in flight.
drive() {
  echo "-- $1: $2 requests, concurrency $3"
  "$tmp/loadgen" run --base="http://127.0.0.1:$port" --day="$day" --keys="$keys" --query="$1" \
    --requests="$2" --warmup="$(( $2 < 2000 ? $2 / 10 : 2000 ))" --concurrency="$3"
}

for mode in $modes; do
  case "$mode" in
    cached) flags=(--cache_entries=10000) ;;
    nocache) flags=(--cache_entries=0) ;;
    noindex) flags=(--cache_entries=0 --batch_index_rows=0) ;;
    uncached) flags=(--cache_entries=0 --state_refresh=0) ;;
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
  echo "== $mode ($(nproc) cores)"
  case "$mode" in
    cached) drive hour "$requests" "$concurrency" ;;
    uncached) drive hour "$slow_requests" "$concurrency" ;;
    nocache|noindex)
      drive hour "$slow_requests" "$concurrency"
      drive day1h "$(( slow_requests / 4 ))" "$concurrency"
      drive week1d "$(( slow_requests / 4 ))" "$concurrency"
      if [[ "$mode" == nocache ]]; then drive top "$top_requests" 4
      else drive top 20 2 || echo "(noindex top: the old path, reading the whole day from the store per query)"; fi ;;
  esac
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=""
done
