#!/usr/bin/env bash
# demo.sh: run beamline locally on embedded defaults, no cloud account needed.
#
# Usage: scripts/demo.sh [--out DIR] [--port N]
#   --out DIR  where the store, dead letters and logs go (env OUT, default out/demo; wiped first)
#   --port N   port of the serving API on 127.0.0.1 (env PORT, default 8080)
#
# It backfills the committed sample lake (testdata/lake, two days) with the batch job on the
# embedded Prism runner into a SQLite view store, prints the views and the conservation counts,
# then starts the serving API on that store, queries it, and stops it.
set -euo pipefail

out=${OUT:-out/demo}
port=${PORT:-8080}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --help|-h) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
rm -rf "$out"
mkdir -p "$out/bin"
out=$(cd "$out" && pwd)
store="sqlite://$out/views.db"

echo "== building (the first build downloads modules and takes a few minutes)"
go build -o "$out/bin/batch" ./pipelines/batch
go build -o "$out/bin/serving" ./serving

echo "== batch layer: backfill 2026-11-20..2026-11-21 of testdata/lake into $store"
"$out/bin/batch" --lake=testdata/lake --from=2026-11-20 --to=2026-11-21 --store="$store" \
  --deadletter="$out/deadletter" --reference=testdata/reference/categories.csv \
  --blocked_users=u-blocked 2>"$out/batch.log"
echo "(job log: $out/batch.log; dead letters: $out/deadletter)"

echo "== serving API on 127.0.0.1:$port"
"$out/bin/serving" --store="$store" --addr="127.0.0.1:$port" 2>"$out/serving.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.2
done

get() {
  echo "GET $1"
  if command -v curl >/dev/null; then
    curl -sS "$base$1"
    echo
  else
    echo "(install curl to see the answer)"
  fi
}
get "/v1/status"
get "/v1/views/country_activity/top?from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z&metric=events&n=5"
get "/v1/views/country_activity?key=DE&from=2026-11-20T12:00:00Z&to=2026-11-20T15:00:00Z&granularity=1h"
get "/v1/views/sessions?key=US&from=2026-11-21T00:00:00Z&to=2026-11-22T00:00:00Z&granularity=1d"
echo "== done: the store is $out/views.db; run the API yourself with:"
echo "   go run ./serving --store=$store --addr=127.0.0.1:$port"
