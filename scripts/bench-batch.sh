#!/usr/bin/env bash
# bench-batch.sh: backfill N generated events with the batch job on Prism and compute the same
# views with the plain-Go reference in the same run; print events/s, peak RSS and their ratio.
#
# Usage: scripts/bench-batch.sh [--events N] [--days D] [--seed S] [--bad F] [--keep]
#   --events N  events to generate per day (env EVENTS, default 1000000)
#   --days D    days of events (env DAYS, default 1); the middle day is backfilled, so with 3
#               its run also reads both neighbouring days as context (the nightly cost)
#   --seed S    generator seed (env SEED, default 7)
#   --bad F     fraction of malformed records (env BAD, default 0.02)
#   --keep      keep the generated lake and outputs (printed at the end)
# Extra flags after -- go to the batch job (e.g. -- --runner=prism).
set -euo pipefail

events=${EVENTS:-1000000}
days=${DAYS:-1}
seed=${SEED:-7}
bad=${BAD:-0.02}
keep=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --bad) bad=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --help|-h) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench-batch.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
work=$(mktemp -d)
if [ "$keep" = 0 ]; then trap 'rm -rf "$work"' EXIT; fi
first=2026-11-20
day=$(date -u -d "$first + $((days / 2)) day" +%F)

echo "building binaries..."
go build -o "$work/batch" ./pipelines/batch
go build -o "$work/refviews" ./scripts/refviews
go run ./scripts/genlake --out="$work/lake" --seed="$seed" --events="$((events * days))" --from="$first" --days="$days" --bad="$bad" 2>&1 | tail -1

echo "== reference (plain Go, one goroutine)"
"$work/refviews" --lake="$work/lake" --from="$day" --to="$day" --reference=testdata/reference/categories.csv | tee "$work/ref.out"
echo "== batch job (Prism, embedded)"
"$work/batch" --lake="$work/lake" --from="$day" --to="$day" --store="sqlite://$work/views.db" \
  --deadletter="$work/deadletter" --reference=testdata/reference/categories.csv "${extra[@]}" 2>"$work/batch.log" | tee "$work/batch.out"

rate() { grep -oE '\(([0-9.]+) events/s\)' "$1" | tr -dc '0-9.\n' | tail -1; }
rss() { grep -oE 'peak RSS [0-9]+' "$1" | grep -oE '[0-9]+$'; }
cpu() { grep -oE 'CPU [0-9.]+ s' "$1" | grep -oE '[0-9.]+'; }
ref_rate=$(rate "$work/ref.out"); job_rate=$(rate "$work/batch.out")
ref_rss=$(rss "$work/ref.out"); job_rss=$(rss "$work/batch.out")
ref_cpu=$(cpu "$work/ref.out"); job_cpu=$(cpu "$work/batch.out")
if ! diff <(grep '^read ' "$work/ref.out") <(grep '^read ' "$work/batch.out") >/dev/null; then
  echo "MISMATCH: the batch job's counts differ from the reference's" >&2
  exit 1
fi
echo "== summary ($events events of day $day, $days days in the lake, $(nproc) cores; $(grep -oE '^context [0-9]+' "$work/batch.out") records read as context)"
awk -v jr="$job_rate" -v rr="$ref_rate" -v js="$job_rss" -v rs="$ref_rss" -v jc="$job_cpu" -v rc="$ref_cpu" -v n="$events" 'BEGIN {
  printf "batch job: %8.0f events/s  peak RSS %6d MiB  CPU %7.1f s (%.1f us/event)\n", jr, js, jc, jc * 1e6 / n
  printf "reference: %8.0f events/s  peak RSS %6d MiB  CPU %7.1f s (%.1f us/event)\n", rr, rs, rc, rc * 1e6 / n
  printf "ratio:     reference is %.1fx faster (wall), %.1fx less CPU; the job uses %.1fx the memory\n", rr / jr, jc / rc, js / rs
  printf "targets:   >= 100000 events/s: %s; within 4x of the reference: %s; peak RSS <= 1536 MiB: %s\n",
    (jr >= 100000 ? "met" : "MISSED"), (rr / jr <= 4 ? "met" : "MISSED"), (js <= 1536 ? "met" : "MISSED")
}'
[ "$keep" = 1 ] && echo "kept in $work"
exit 0
