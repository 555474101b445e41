#!/usr/bin/env bash
# chaos.sh: the fault tests as one command. It runs, with go test, the tests that inject faults
# and compare what users see against the independent reference:
#   - the streaming job killed with SIGKILL mid-stream, with sessions open for over an hour,
#     and before its first window closed, each restarted with the same flags on the same
#     Pub/Sub subscription (pipelines/streaming, TestCrash*);
#   - backfills killed at six points of their run, then two backfills of the same days at once,
#     under a reader loop (pipelines/batch, TestKilledAndConcurrentBackfills);
#   - 300 concurrent 31-day top queries against the serving API, with cheap queries meanwhile
#     (serving/api, TestShedsExpensiveQueries);
# and prints, per test, the faults injected, the answers compared, the rows lost or counted
# twice against the reference, the served rows that went down, and the 504s. It fails when a
# test fails or any of those is not 0.
#
# Usage: scripts/chaos.sh [--keep-log]
set -euo pipefail

keep=0
case "${1:-}" in
  --keep-log) keep=1 ;;
  --help|-h) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "chaos.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
log=$(mktemp)
if [ "$keep" = 0 ]; then trap 'rm -f "$log"' EXIT; fi
status=0
run() { # package, test pattern
  echo "running go test $1 -run '$2' ..." >&2
  go test "$1" -run "$2" -count=1 -v -timeout 20m >>"$log" 2>&1 || status=1
}
run ./pipelines/streaming '^TestCrash'
run ./pipelines/batch '^TestKilledAndConcurrentBackfills$'
run ./serving/api '^TestShedsExpensiveQueries$'

echo
echo "== chaos: faults injected and what users saw"
grep -o 'CHAOS .*' "$log" | sed 's/^CHAOS //' || true
grep -E '^(--- FAIL|FAIL|ok )' "$log" || true
bad=$(grep -o 'CHAOS .*' "$log" | grep -oE '(lost|twice|down|timeouts|deadletters_wrong)=[0-9]+' | grep -vc '=0$' || true)
tests=$(grep -c 'CHAOS ' "$log" || true)
echo "== $tests fault tests reported; $bad non-zero losses, double counts, rows gone down or timeouts"
if [ "$keep" = 1 ]; then echo "full log: $log"; fi
if [ "$status" != 0 ] || [ "$bad" != 0 ] || [ "$tests" -lt 5 ]; then
  echo "chaos: FAILED" >&2
  exit 1
fi
echo "chaos: PASS"
