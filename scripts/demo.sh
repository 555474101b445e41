#!/usr/bin/env bash
# demo.sh: run the whole beamline loop locally on embedded defaults, no cloud account needed.
#
# Usage: scripts/demo.sh [--out DIR] [--port N] [--run_for D] [--rate N]
#   --out DIR     where the store, archive, dead letters and logs go (env OUT, default out/demo;
#                 wiped first)
#   --port N      port of the serving API on 127.0.0.1 (env PORT, default 8080)
#   --run_for D   how long the generated stream lasts at --rate, in seconds or minutes (env
#                 RUN_FOR, default 60s); the streaming job runs until it has processed all of it
#   --rate N      generated events per second (env RATE, default 200)
#
# The loop: the generator (synthetic clickstream with duplicates, late events, bots and garbage)
# feeds the streaming job on the embedded Prism runner, which keeps the speed views in a SQLite
# store and archives every raw record to a local lake; the serving API answers from the speed
# layer; then the batch job backfills the closed day from that lake into the same store and
# publishes it, and the API answers the same query across the batch cutoff: batch rows before
# midnight, speed rows after it. The stream is sped up (event time from 23:00 of yesterday,
# UTC, into today) so that yesterday has closed, in event time and by the clock, when the
# backfill runs: a day is never published while it is still open.
set -euo pipefail

out=${OUT:-out/demo}
port=${PORT:-8080}
run_for=${RUN_FOR:-60s}
rate=${RATE:-200}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --run_for) run_for=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --help|-h) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$rate" in '' | *[!0-9]*) echo "demo.sh: --rate=$rate: want a whole number of events per second" >&2; exit 2 ;; esac
case "$run_for" in
  *[0-9]m) run_secs=$((${run_for%m} * 60)) ;;
  *[0-9]s) run_secs=${run_for%s} ;;
  *) run_secs=x ;;
esac
case "$run_secs" in '' | *[!0-9]* | 0) echo "demo.sh: --run_for=$run_for: want whole seconds or minutes, such as 60s or 2m" >&2; exit 2 ;; esac

cd "$(dirname "$0")/.."
rm -rf "$out"
mkdir -p "$out/bin"
out=$(cd "$out" && pwd)
store="sqlite://$out/views.db"
reference=testdata/reference/categories.csv

echo "== building (the first build downloads modules and takes a few minutes)"
go build -o "$out/bin/streaming" ./pipelines/streaming
go build -o "$out/bin/batch" ./pipelines/batch
go build -o "$out/bin/serving" ./serving
go build -o "$out/bin/compact" ./scripts/compact

# The closed day: yesterday (UTC), or the day before while yesterday's allowed lateness (10 min)
# is still running. Event time runs from 23:00 of it for 90 minutes, whatever --run_for is. The
# stream is finite (count), so the job processes all of it, its watermark passes the day's close
# (00:10) however slow the machine, and then the job ends.
day=$(date -u -d '-10 minutes -1 day' +%F)
next=$(date -u -d "$day + 1 day" +%F)
speedup=$(((90 * 60 + run_secs - 1) / run_secs))
source_url="generator://?rate=$rate&count=$((rate * run_secs))&dup=0.02&late=0.03&bad=0.01&bots=0.02&users=500&max_late=2m&start=${day}T23:00:00Z&speedup=$speedup"
from=${day}T23:00:00Z
to=${next}T00:30:00Z
echo "== speed layer: the streaming job reads $source_url ($run_for at $rate events/s)"
echo "   (event time runs ${speedup}x faster than the clock: $from to about ${next}T00:30:00Z)"
"$out/bin/streaming" --source="$source_url" --store="$store" --archive="$out/lake" \
  --deadletter="$out/deadletter" --reference="$reference" 2>"$out/streaming.log"
echo "(job log: $out/streaming.log; raw archive: $out/lake; dead letters: $out/deadletter)"
echo "== serving API on 127.0.0.1:$port (store $store, opened read-only)"
"$out/bin/serving" --store="$store" --addr="127.0.0.1:$port" 2>"$out/serving.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
base="http://127.0.0.1:$port"
echo "   (console while the demo runs: $base/ui/)"
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$server" 2>/dev/null || { echo "demo.sh: the serving API did not start; see $out/serving.log" >&2; exit 1; }
  sleep 0.2
done

# get prints the API's answer to GET $1 (with curl, or bash's /dev/tcp where curl is missing).
get() {
  echo "GET $1"
  if command -v curl >/dev/null; then
    curl -sS "$base$1"
  else
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
    sed '1,/^\r*$/d' <&3
    exec 3<&-
  fi
  echo
}

query="/v1/views/country_activity/top?from=$from&to=$to&metric=events&n=5"
get "/v1/status"
get "$query"

if [ ! -d "$out/lake/raw/dt=$day" ]; then
  echo "demo.sh: the streaming job archived nothing for $day under $out/lake/raw; see $out/streaming.log" >&2
  exit 1
fi
echo "== compact the archive: each closed hour's many small files (one per bundle) become a few"
"$out/bin/compact" --archive="$out/lake" --from="$day" --to="$next" --grace=0 | tail -4
echo "== batch layer: backfill the closed day $day from the archive ($out/lake) into the same store"
echo "   (it also reads the neighbouring days' partitions: sessions that cross midnight count whole)"
"$out/bin/batch" --lake="$out/lake" --from="$day" --to="$day" --store="$store" \
  --deadletter="$out/deadletter" --reference="$reference" 2>"$out/batch.log"
echo "(job log: $out/batch.log)"
echo "== the same query across the batch cutoff (${next}T00:00:00Z): windows before it now come"
echo "   from the batch layer, later ones still from the speed layer"
get "/v1/status"
get "$query"
echo "== the batch runs the store has recorded (GET /v1/runs/{run} adds each one's report)"
get "/v1/runs"
echo "== the catalog of views: key, window, metrics and what each layer covers"
get "/v1/views"
echo "== done: the store is $out/views.db; run the API yourself with:"
echo "   go run ./serving --store=$store --addr=127.0.0.1:$port"
echo "   and open the console at http://127.0.0.1:$port/ui/"
