#!/usr/bin/env bash
# bench-streaming.sh: run the streaming job on Prism with the generator source at each target
# rate and print the sustained events/s and the delay from a 1-minute window's end to its row
# being final in the view store (p50/p99), the same for every early and on-time pane, with the
# job's CPU time and peak RSS.
#
# Usage: scripts/bench-streaming.sh [--rates "5000 20000"] [--sources "generator kafka"] [--duration 150s] [--keep]
#   --rates R     target events/s, space-separated (env RATES, default "5000 20000")
#   --sources S   the job's sources, space-separated, each run at each rate one after the other
#                 (env SOURCES, default "generator"): generator (the generator source, in the
#                 job) or kafka (a Kafka protocol server, kfake, in the bench process, fed at
#                 the rate; the job reads its topic of 4 partitions); --source S is one of them
#   --duration D  how long each run lasts (env DURATION, default 150s); windows that end in
#                 the first 30 s or the last 30 s of a run are not measured
#   --keep        keep each run's store, archive and log (printed at the end)
# Extra flags after -- go to the streaming job (e.g. -- --early_firing=2s).
# Targets (issue 4): 20k events/s sustained, p99 <= 2 s.
set -euo pipefail

rates=${RATES:-"5000 20000"}
sources=${SOURCES:-generator}
duration=${DURATION:-150s}
keep=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rates) rates=$2; shift 2 ;;
    --sources|--source) sources=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --help|-h) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench-streaming.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
work=$(mktemp -d)
if [ "$keep" = 0 ]; then trap 'rm -rf "$work"' EXIT; fi

echo "building binaries..."
go build -o "$work/streaming" ./pipelines/streaming
go build -o "$work/benchstream" ./scripts/benchstream
for rate in $rates; do
  for source in $sources; do
    echo "== $source, $rate events/s for $duration on Prism ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
    "$work/benchstream" --bin="$work/streaming" --source="$source" --rate="$rate" --duration="$duration" \
      --out="$work/run-$source-$rate" --reference=testdata/reference/categories.csv -- "${extra[@]}"
  done
done
if [ "$keep" = 1 ]; then echo "runs kept in $work"; fi
