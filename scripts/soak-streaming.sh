#!/usr/bin/env bash
# soak-streaming.sh: run the streaming job on Prism with the generator source for a long time
# and print, every --every, its resident memory (RSS) next to its counters: records read,
# processed, dedupe IDs evicted over the state budget (--dedupe_max_ids) and copies of evicted
# IDs that passed again (duplicates_expired). A job whose memory is bounded levels off once
# the budget is reached; one whose memory grows with every event climbs for ever.
#
# Usage: scripts/soak-streaming.sh [--rate 40000] [--duration 30m] [--every 60] [-- JOB FLAGS]
#   --rate R      target events/s (env RATE, default 40000)
#   --duration D  how long the job runs (env DURATION, default 30m)
#   --every S     seconds between samples (env EVERY, default 60)
# Extra flags after -- go to the streaming job (e.g. -- --dedupe_max_ids=4000000).
set -euo pipefail

rate=${RATE:-40000}
duration=${DURATION:-30m}
every=${EVERY:-60}
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --help|-h) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "soak-streaming.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "$job" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/streaming" ./pipelines/streaming
port=$((20000 + RANDOM % 20000))
"$work/streaming" --source="generator://?rate=$rate&dup=0.01&bad=0.005&bots=0.01&seed=7" \
  --store="sqlite://$work/views.db" --archive="$work/lake" --deadletter="$work/deadletter" \
  --reference=testdata/reference/categories.csv --run_for="$duration" \
  --metrics_addr="127.0.0.1:$port" "${extra[@]}" >"$work/job.log" 2>&1 &
job=$!
echo "== soak: $rate events/s for $duration on Prism ($(nproc) cores), a sample every ${every}s"
printf '%8s %9s %12s %12s %10s %10s\n' elapsed rss_mib read processed evicted expired
metric() { awk -v m="beamline_$1_total" '$1 == m { printf "%d\n", $2 }' "$work/metrics" | head -1; }
start=$(date +%s)
peak=0
while kill -0 "$job" 2>/dev/null; do
  sleep "$every"
  rss=$(awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$job/status" 2>/dev/null) || break
  [ -n "$rss" ] || break
  curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics" 2>/dev/null || : >"$work/metrics"
  (( rss > peak )) && peak=$rss
  printf '%7ss %9s %12s %12s %10s %10s\n' $(( $(date +%s) - start )) "$rss" \
    "$(metric read)" "$(metric processed)" "$(metric dedupe_evicted)" "$(metric duplicates_expired)"
done
wait "$job" || { tail -20 "$work/job.log"; exit 1; }
grep -E '^(read|job|cpu) ' "$work/job.log" || true
echo "peak sampled RSS: $peak MiB"
