#!/usr/bin/env bash
# Submits a beamline job to an Apache Flink cluster through Beam's Flink job server (the job API
# on port 8099): the batch backfill, or the streaming job as one job (--stage=all) or one job per
# stage (ingest, score, aggregate). Any server of the same job API works, e.g. a standalone
# Prism job server for a local check.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<'USAGE'
usage: scripts/submit-flink.sh batch|streaming [options] [-- job or Beam runner flags]

Job settings (passed to the job as its flags when set):
  --lake URL            BEAMLINE_LAKE          batch: raw lake (s3://, gs:// or a path the workers see)
  --from DAY, --to DAY  BEAMLINE_FROM/_TO      batch: days to backfill (YYYY-MM-DD, --to inclusive)
  --source URL          BEAMLINE_SOURCE        streaming: kafka://HOST:PORT[,HOST:PORT...]/TOPIC?group=G,
                                               pubsub://projects/P/subscriptions/S or sqs://...
  --archive URL         BEAMLINE_ARCHIVE       streaming: raw archive (the lake)
  --store URL           BEAMLINE_STORE         view store, e.g. postgres://beamline@db/views
  --deadletter URL      BEAMLINE_DEADLETTER    where dead letters go
  --reference URL       BEAMLINE_REFERENCE     url_prefix,category CSV
  --model URL           BEAMLINE_MODEL         ML model URL, e.g. logreg+gs://bucket/spam.json or
                                               kserve+http://host:8080/v2/models/spam (batch; streaming
                                               stages all and score)
  --stage S             BEAMLINE_STAGE         streaming: all|ingest|score|aggregate (default all)
  --output_topic URL    BEAMLINE_OUTPUT_TOPIC  streaming ingest and score: the topic they publish their
                                               events to, kafka://HOST:PORT/TOPIC or
                                               pubsub://projects/P/topics/T (required for them)

Flink settings:
  --endpoint HOST:PORT  BEAMLINE_FLINK_ENDPOINT  Beam Flink job server (required), e.g. flink-jobserver:8099
  --environment_type T  BEAMLINE_ENVIRONMENT_TYPE  where SDK workers run: DOCKER (default), PROCESS,
                                               EXTERNAL, or LOOPBACK (in this process: local tests only)
  --environment_config C  BEAMLINE_ENVIRONMENT_CONFIG  DOCKER: the Go SDK image (default
                                               apache/beam_go_sdk:2.77.0, or a custom one);
                                               EXTERNAL: the worker pool address
  --job_name N          BEAMLINE_JOB_NAME      default: beamline-batch, beamline-streaming-<stage>
  --gpu TYPE            BEAMLINE_GPU           score stage only: accelerator resource hint (default none)
  --gpu_count N         BEAMLINE_GPU_COUNT     GPUs per worker (default 1)
  --binary FILE         BEAMLINE_BIN           prebuilt job binary for this machine and the workers
                                               (default: go build for linux/amd64)
  -h, --help

The streaming stages are chained by Kafka or Pub/Sub topics: ingest publishes to its
--output_topic, score reads it (--source: kafka://.../TOPIC?group=score, or a Pub/Sub
subscription with ?timestamp_attribute=ts) and publishes to its own, aggregate reads that. A Kafka
source reads each partition through its own restriction, so Flink spreads partitions over its
workers; the group's offsets are committed only once the raw archive holds the records. Each
stage gets only the job settings it uses (see submit-dataflow.sh --help); the others are left
out, with a note.

Flags after -- go to the job unchanged. Parallelism, checkpointing and savepoints are the Flink
cluster's settings; to stop a streaming job keeping its state, take a savepoint with Flink's CLI
(flink stop --savepointPath=... JOB_ID) and resubmit.

Examples:
  scripts/submit-flink.sh batch --endpoint=flink-jobserver:8099 --lake=s3://my-bucket/lake \
    --from=2026-11-20 --to=2026-11-20 --store=postgres://beamline@db/views --deadletter=s3://my-bucket/dead
  scripts/submit-flink.sh streaming --endpoint=flink-jobserver:8099 \
    --source='kafka://kafka-1:9092,kafka-2:9092/clickstream?group=beamline-speed' \
    --archive=s3://my-bucket/lake --store=postgres://beamline@db/views --deadletter=s3://my-bucket/dead
USAGE
}

job=${1:-}
case "$job" in
  -h|--help) usage; exit 0 ;;
  batch|streaming) shift ;;
  *) usage_error "first argument: batch or streaming (got '${job}')" ;;
esac

lake=${BEAMLINE_LAKE:-} from=${BEAMLINE_FROM:-} to=${BEAMLINE_TO:-} source_url=${BEAMLINE_SOURCE:-}
archive=${BEAMLINE_ARCHIVE:-} store=${BEAMLINE_STORE:-} deadletter=${BEAMLINE_DEADLETTER:-}
reference=${BEAMLINE_REFERENCE:-} stage=${BEAMLINE_STAGE:-} model=${BEAMLINE_MODEL:-}
output_topic=${BEAMLINE_OUTPUT_TOPIC:-}
endpoint=${BEAMLINE_FLINK_ENDPOINT:-} env_type=${BEAMLINE_ENVIRONMENT_TYPE:-DOCKER}
env_config=${BEAMLINE_ENVIRONMENT_CONFIG:-} job_name=${BEAMLINE_JOB_NAME:-}
gpu=${BEAMLINE_GPU:-} gpu_count=${BEAMLINE_GPU_COUNT:-1} binary=${BEAMLINE_BIN:-}
extra=()

while [[ $# -gt 0 ]]; do
  arg=$1
  if [[ "$arg" == --*=* ]]; then
    set -- "${arg%%=*}" "${arg#*=}" "${@:2}"
    arg=$1
  fi
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --) shift; extra+=("$@"); break ;;
  esac
  need_value "$arg" "${2:-}"
  case "$arg" in
    --lake) lake=$2 ;;
    --from) from=$2 ;;
    --to) to=$2 ;;
    --source) source_url=$2 ;;
    --archive) archive=$2 ;;
    --store) store=$2 ;;
    --deadletter) deadletter=$2 ;;
    --reference) reference=$2 ;;
    --stage) stage=$2 ;;
    --model) model=$2 ;;
    --output_topic) output_topic=$2 ;;
    --endpoint) endpoint=$2 ;;
    --environment_type) env_type=$2 ;;
    --environment_config) env_config=$2 ;;
    --job_name) job_name=$2 ;;
    --gpu) gpu=$2 ;;
    --gpu_count) gpu_count=$2 ;;
    --binary) binary=$2 ;;
    *) usage_error "unknown option $arg (job and runner flags go after --)" ;;
  esac
  shift 2
done

if [[ "$job" == batch ]]; then stage=${stage:-batch}; else stage=${stage:-all}; fi
check_job "$job" "$stage"
[[ -n "$endpoint" ]] || usage_error "--endpoint (BEAMLINE_FLINK_ENDPOINT) is required: the Flink job server, HOST:8099"
env_type=$(echo "$env_type" | tr '[:lower:]' '[:upper:]')
[[ "$env_type" =~ ^(DOCKER|PROCESS|EXTERNAL|LOOPBACK)$ ]] || usage_error "--environment_type=$env_type: want DOCKER, PROCESS, EXTERNAL or LOOPBACK"
[[ "$env_type" != DOCKER || -n "$env_config" ]] || env_config=apache/beam_go_sdk:2.77.0
if [[ -z "$job_name" ]]; then
  job_name=beamline-$job
  [[ "$job" == batch ]] || job_name=beamline-streaming-$stage
fi
hint=$(gpu_hint "$stage" "$gpu" "$gpu_count")
[[ "$job" == batch || -n "$output_topic" || ! "$stage" =~ ^(ingest|score)$ ]] ||
  usage_error "--output_topic (BEAMLINE_OUTPUT_TOPIC) is required for --stage=$stage: the topic it publishes its events to (kafka://HOST:PORT/TOPIC or pubsub://projects/P/topics/T)"

if [[ -z "$binary" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  binary=$tmp/$job
  build_job "$job" linux amd64 "$binary"
fi
[[ -x "$binary" ]] || die "--binary $binary is not an executable file"

flags=(--runner=flink "--endpoint=$endpoint" "--environment_type=$env_type" "--job_name=$job_name")
add() { [[ -z "$2" ]] || flags+=("--$1=$2"); }
add environment_config "$env_config"
[[ "$env_type" == LOOPBACK ]] || flags+=("--worker_binary=$binary")
add deadletter "$deadletter"
if [[ "$job" == batch ]]; then
  add lake "$lake"; add from "$from"; add to "$to"; add store "$store"; add reference "$reference"; add model "$model"
else
  add source "$source_url"; add stage "$stage"
  mapfile -t settings < <(stage_settings "$stage" archive store reference model output_topic)
  flags+=(${settings[@]+"${settings[@]}"})
fi
[[ -z "$hint" ]] || flags+=("$hint")

echo "submitting $job_name to $endpoint: $binary ${flags[*]} ${extra[*]}" >&2
"$binary" "${flags[@]}" "${extra[@]}"
