#!/usr/bin/env bash
# bench-batch.sh: backfill generated events with the batch job on Prism and compute the same
# views with the plain-Go reference in the same run; check that the store's rows equal the
# reference's, and print events/s, CPU per event, peak RSS and their ratios, one line per size.
#
# Usage: scripts/bench-batch.sh [--events "N ..."] [--days D] [--seed S] [--bad F] [--keep]
#   --events N  events per day, or several sizes in quotes for a growth table (env EVENTS,
#               default 1000000; e.g. --events "1000000 3000000 10000000")
#   --days D    days of events (env DAYS, default 1); the middle day is backfilled, so with 3
#               its run also reads both neighbouring days as context (the nightly cost)
#   --seed S    generator seed (env SEED, default 7)
#   --bad F     fraction of malformed records (env BAD, default 0.02)
#   --keep      keep the generated lakes and outputs (printed at the end)
# Extra flags after -- go to the batch job (e.g. -- --runner=prism).
set -euo pipefail

sizes=${EVENTS:-1000000}
days=${DAYS:-1}
seed=${SEED:-7}
bad=${BAD:-0.02}
keep=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --events) sizes=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --bad) bad=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --help|-h) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
go build -o "$work/genlake" ./scripts/genlake

rate() { grep -oE '\(([0-9.]+) events/s\)' "$1" | tr -dc '0-9.\n' | tail -1; }
rss() { grep -oE 'peak RSS [0-9]+' "$1" | grep -oE '[0-9]+$'; }
cpu() { grep -oE 'CPU [0-9.]+ s' "$1" | grep -oE '[0-9.]+'; }
table=()
for events in $sizes; do
  dir="$work/$events"
  mkdir -p "$dir"
  "$work/genlake" --out="$dir/lake" --seed="$seed" --events="$((events * days))" --from="$first" --days="$days" --bad="$bad" 2>&1 | tail -1
  echo "== $events events: batch job (Prism, embedded)"
  "$work/batch" --lake="$dir/lake" --from="$day" --to="$day" --store="sqlite://$dir/views.db" \
    --deadletter="$dir/deadletter" --reference=testdata/reference/categories.csv "${extra[@]}" 2>"$dir/batch.log" | tee "$dir/batch.out"
  echo "== $events events: reference (plain Go, one goroutine), then the store's rows against it"
  if ! "$work/refviews" --lake="$dir/lake" --from="$day" --to="$day" --reference=testdata/reference/categories.csv \
    --compare="sqlite://$dir/views.db" > "$dir/ref.out"; then
    cat "$dir/ref.out"
    echo "MISMATCH: the batch job's rows differ from the reference's ($events events)" >&2
    exit 1
  fi
  cat "$dir/ref.out"
  if ! diff <(grep '^read ' "$dir/ref.out") <(grep '^read ' "$dir/batch.out") >/dev/null; then
    echo "MISMATCH: the batch job's counts differ from the reference's ($events events)" >&2
    exit 1
  fi
  table+=("$events $(rate "$dir/batch.out") $(cpu "$dir/batch.out") $(rss "$dir/batch.out") $(rate "$dir/ref.out") $(cpu "$dir/ref.out") $(rss "$dir/ref.out")")
  rm -rf "$dir/lake"
done

echo "== summary (day $day, $days days in the lake, $(nproc) cores; rows and counts equal the reference's at every size)"
printf '%s\n' "${table[@]}" | awk '
  BEGIN { printf "%10s | %10s %8s %8s | %10s %8s %8s | %6s %6s %6s\n", "events", "job ev/s", "us/ev", "RSS MiB", "ref ev/s", "us/ev", "RSS MiB", "wall x", "CPU x", "RSS x" }
  {
    n = $1; jr = $2; jc = $3; js = $4; rr = $5; rc = $6; rs = $7
    printf "%10d | %10.0f %8.1f %8d | %10.0f %8.1f %8d | %6.1f %6.1f %6.1f\n", n, jr, jc * 1e6 / n, js, rr, rc * 1e6 / n, rs, rr / jr, jc / rc, js / rs
    if (NR == 1) { first = jr }
    last = jr; lastn = n; lastrss = js
    if (n == 1000000) { t1 = sprintf("1M: >= 100000 events/s %s; CPU <= 2x the reference %s; peak RSS <= 1536 MiB %s", (jr >= 100000 ? "met" : "MISSED"), (jc / rc <= 2 ? "met" : "MISSED"), (js <= 1536 ? "met" : "MISSED")) }
    if (n == 10000000) { t10 = sprintf("10M: peak RSS <= 4096 MiB %s", (js <= 4096 ? "met" : "MISSED")) }
  }
  END {
    if (t1 != "") print "targets:   " t1
    if (t10 != "") print "targets:   " t10
    if (NR > 1) printf "growth:    events/s at %d is %.0f%% of the first size'"'"'s (target: within 20%%)\n", lastn, 100 * last / first
  }'
[ "$keep" = 1 ] && echo "kept in $work"
exit 0
