#!/usr/bin/env bash
# The nightly batch: backfills yesterday (UTC) and re-runs the day before, or the days
# --from..--to, on any runner, and publishes each run to the view store. Day by day by default
# (bounded work per run, and a failed day never holds back the others' publication), or the
# whole range as one run (--range). Each run reads what it needs from the neighbouring days, so
# the days can run in any order and give the views of one run over the whole range. Exits
# non-zero if any day failed, and says which and why.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<'USAGE'
usage: scripts/backfill.sh [options] [-- Beam runner flags]

  --lake URL          BEAMLINE_LAKE        raw lake: a directory, gs://bucket/path or s3://bucket/path (required)
  --store URL         BEAMLINE_STORE       view store: sqlite://, postgres://, bigquery:// (required)
  --deadletter URL    BEAMLINE_DEADLETTER  where dead letters go (required)
  --reference URL     BEAMLINE_REFERENCE   url_prefix,category CSV (optional)
  --from DAY          BEAMLINE_FROM        first day, YYYY-MM-DD (default: the nightly days, see below)
  --to DAY            BEAMLINE_TO          last day, inclusive (default: --from)
  --range             BEAMLINE_RANGE=1     one run for the whole range instead of one per day
  --keep_going        BEAMLINE_KEEP_GOING=1  after a failed day, go on with the next ones
  --retries N         BEAMLINE_RETRIES     extra attempts for a failed day (default 0)
  --log_dir DIR       BEAMLINE_LOG_DIR     keep each run's output in DIR/backfill-<from>_<to>.log
                                           (default: a temporary directory, removed on success)
  --binary FILE       BEAMLINE_BATCH_BIN   prebuilt batch job binary (default: go build ./pipelines/batch)
  -h, --help

Runner flags go after -- (or in BEAMLINE_RUNNER_FLAGS, split on spaces) and reach every run,
e.g. -- --runner=dataflow --project=P --region=R --staging_location=gs://B/staging
         --worker_binary=/path/to/linux-amd64-batch --worker_machine_type=n2-standard-4
     -- --runner=flink --endpoint=flink-jobserver:8099 --environment_type=DOCKER
Without runner flags the job runs on Prism in this process. Batch job flags go there too
(e.g. -- --lookahead=6h --dedupe_ttl=24h --allowed_lateness=10m).

Without --from it is the nightly run: yesterday (UTC), then the day before again. A session
that starts late on a day can go on into the next one, which has not landed when that day
is first published; the next night's re-run counts it whole. Each day is published only once
it has closed (its end plus the allowed lateness), so run it after that.

Cron (03:15 UTC, after the day's late data has landed; the machine's clock in UTC):
  15 3 * * * BEAMLINE_LAKE=gs://B/lake BEAMLINE_STORE=bigquery://P/views BEAMLINE_DEADLETTER=gs://B/dead /opt/beamline/scripts/backfill.sh --binary=/opt/beamline/bin/batch >>/var/log/beamline-backfill.log 2>&1
USAGE
}

lake=${BEAMLINE_LAKE:-} store=${BEAMLINE_STORE:-} deadletter=${BEAMLINE_DEADLETTER:-}
reference=${BEAMLINE_REFERENCE:-} from=${BEAMLINE_FROM:-} to=${BEAMLINE_TO:-}
range=${BEAMLINE_RANGE:-0} keep_going=${BEAMLINE_KEEP_GOING:-0} retries=${BEAMLINE_RETRIES:-0}
log_dir=${BEAMLINE_LOG_DIR:-} binary=${BEAMLINE_BATCH_BIN:-}
read -r -a runner_flags <<<"${BEAMLINE_RUNNER_FLAGS:-}"

while [[ $# -gt 0 ]]; do
  arg=$1
  if [[ "$arg" == --*=* ]]; then
    set -- "${arg%%=*}" "${arg#*=}" "${@:2}"
    arg=$1
  fi
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --range) range=1; shift; continue ;;
    --keep_going) keep_going=1; shift; continue ;;
    --) shift; runner_flags+=("$@"); break ;;
  esac
  need_value "$arg" "${2:-}"
  case "$arg" in
    --lake) lake=$2 ;;
    --store) store=$2 ;;
    --deadletter) deadletter=$2 ;;
    --reference) reference=$2 ;;
    --from) from=$2 ;;
    --to) to=$2 ;;
    --retries) retries=$2 ;;
    --log_dir) log_dir=$2 ;;
    --binary) binary=$2 ;;
    *) usage_error "unknown option $arg (runner flags go after --)" ;;
  esac
  shift 2
done

[[ -n "$lake" ]] || usage_error "--lake (BEAMLINE_LAKE) is required"
[[ -n "$store" ]] || usage_error "--store (BEAMLINE_STORE) is required"
[[ -n "$deadletter" ]] || usage_error "--deadletter (BEAMLINE_DEADLETTER) is required"
[[ "$retries" =~ ^[0-9]+$ ]] || usage_error "--retries=$retries is not a number"
days=()
if [[ -z "$from" ]]; then
  [[ -z "$to" ]] || usage_error "--to needs --from"
  # The nightly run: yesterday first, then the day before again (see --help).
  days=("$(date -u -d yesterday +%F)" "$(date -u -d '2 days ago' +%F)")
  from=${days[1]} to=${days[0]}
else
  to=${to:-$from}
fi
check_day --from "$from"
check_day --to "$to"
[[ ! "$from" > "$to" ]] || usage_error "--from $from is after --to $to"
if ((${#days[@]} == 0)); then
  for ((d = 0; ; d++)); do
    day=$(date -u -d "$from + $d day" +%F)
    [[ ! "$day" > "$to" ]] || break
    days+=("$day")
  done
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -z "$log_dir" ]]; then
  log_dir=$work/logs
fi
mkdir -p "$log_dir"
if [[ -z "$binary" ]]; then
  binary=$work/batch
  echo "building pipelines/batch" >&2
  (cd "$(repo_root)" && go build -o "$binary" ./pipelines/batch) || die "go build ./pipelines/batch failed"
fi
[[ -x "$binary" ]] || die "--binary $binary is not an executable file"

# run_once backfills $1..$2 once, its output to the terminal and to log file $3.
run_once() {
  local args=("--lake=$lake" "--from=$1" "--to=$2" "--store=$store" "--deadletter=$deadletter")
  [[ -z "$reference" ]] || args+=("--reference=$reference")
  "$binary" "${args[@]}" "${runner_flags[@]}" 2>&1 | tee "$3"
}

# run_days backfills $1..$2 with up to $retries retries; on failure it says why and returns 1.
run_days() {
  local log=$log_dir/backfill-$1_$2.log attempt status
  for ((attempt = 0; attempt <= retries; attempt++)); do
    ((attempt == 0)) || echo "backfill $1..$2: retry $attempt of $retries" >&2
    status=0
    run_once "$1" "$2" "$log" || status=$?
    ((status != 0)) || return 0
  done
  echo "backfill: FAILED $(span "$1" "$2") (exit $status); log: $log; last error:" >&2
  { grep -E 'level=ERROR|^batch: |panic:' "$log" || tail -n 5 "$log"; } | tail -n 5 | sed 's/^/  /' >&2
  return 1
}

span() { if [[ "$1" == "$2" ]]; then echo "day $1"; else echo "days $1..$2"; fi; }

failed=()
if [[ "$range" == 1 ]]; then
  run_days "$from" "$to" || failed+=("$from..$to")
else
  for day in "${days[@]}"; do
    if ! run_days "$day" "$day"; then
      failed+=("$day")
      [[ "$keep_going" == 1 ]] || break
    fi
  done
fi

if ((${#failed[@]} > 0)); then
  trap - EXIT
  [[ "$log_dir" != "$work/logs" ]] || echo "backfill: logs kept in $log_dir" >&2
  die "failed: ${failed[*]} (of $(span "$from" "$to"))"
fi
if [[ "$range" == 1 ]]; then
  echo "backfill: published $(span "$from" "$to")" >&2
else
  echo "backfill: published ${days[*]/#/day }" >&2
fi
