#!/usr/bin/env bash
# Submits a beamline job to Google Cloud Dataflow: the batch backfill, or the streaming job as
# one job (--stage=all) or one job per stage (ingest, score, aggregate), each with its own
# machine type and autoscaling, and GPUs only for the score stage. Also updates (--update) and
# drains (--drain) streaming jobs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<'USAGE'
usage: scripts/submit-dataflow.sh batch|streaming [options] [-- job or Beam runner flags]

Job settings (passed to the job as its flags when set):
  --lake URL            BEAMLINE_LAKE          batch: gs://bucket/path of the raw lake
  --from DAY, --to DAY  BEAMLINE_FROM/_TO      batch: days to backfill (YYYY-MM-DD, --to inclusive)
  --source URL          BEAMLINE_SOURCE        streaming: pubsub://projects/P/subscriptions/S
  --archive URL         BEAMLINE_ARCHIVE       streaming: gs:// raw archive (the lake)
  --store URL           BEAMLINE_STORE         view store, e.g. bigquery://project/dataset
  --deadletter URL      BEAMLINE_DEADLETTER    gs:// path for dead letters
  --reference URL       BEAMLINE_REFERENCE     url_prefix,category CSV (gs:// path)
  --model URL           BEAMLINE_MODEL         ML model URL, e.g. logreg+gs://bucket/spam.json or
                                               kserve+http://host:8080/v2/models/spam (batch; streaming
                                               stages all and score)
  --stage S             BEAMLINE_STAGE         streaming: all|ingest|score|aggregate (default all)
  --output_topic URL    BEAMLINE_OUTPUT_TOPIC  streaming ingest and score: the topic they publish their
                                               events to, pubsub://projects/P/topics/T (required for them)

Dataflow settings:
  --project P           BEAMLINE_PROJECT       GCP project (required)
  --region R            BEAMLINE_REGION        Dataflow region (required)
  --staging_location U  BEAMLINE_STAGING       gs:// staging location (required)
  --temp_location U     BEAMLINE_TEMP          default: <staging>/tmp
  --job_name N          BEAMLINE_JOB_NAME      default: beamline-batch, beamline-streaming-<stage>
  --machine_type T      BEAMLINE_MACHINE_TYPE  default per job/stage: batch n2-standard-4,
                                               ingest n2-standard-2, score n1-standard-4,
                                               aggregate n2-highmem-2, all n2-standard-4
  --max_num_workers N   BEAMLINE_MAX_WORKERS   default per job/stage: 20, 10, 4, 10, 10
  --num_workers N       BEAMLINE_NUM_WORKERS   initial workers (default: Dataflow's)
  --autoscaling_algorithm A  BEAMLINE_AUTOSCALING  THROUGHPUT_BASED (default) or NONE
  --sdk_container_image I    BEAMLINE_SDK_IMAGE    custom Go SDK worker image (e.g. with CUDA for score)
  --service_account E   BEAMLINE_SERVICE_ACCOUNT   worker service account
  --subnetwork S        BEAMLINE_SUBNETWORK    worker subnetwork (regions/R/subnetworks/S)
  --gpu TYPE            BEAMLINE_GPU           score stage: accelerator type (default nvidia-tesla-t4;
                                               none for CPU scoring); other stages may not ask
  --gpu_count N         BEAMLINE_GPU_COUNT     GPUs per worker (default 1)
  --update                                     streaming: replace the running job of the same name
  --dry_run                                    print the job instead of submitting it (offline)
  --drain                                      streaming: drain the running job of that name and exit
                                               (needs gcloud); --cancel cancels it instead
  --binary FILE         BEAMLINE_BIN           prebuilt linux/amd64 job binary (default: go build)
  -h, --help

Streaming Engine is on for streaming jobs. The stages are chained by Pub/Sub topics: ingest
publishes to its --output_topic, score reads a subscription of it (--source) and publishes to
its own, aggregate reads a subscription of that (or of ingest's topic when nothing is scored).
Read the stage topics with ?timestamp_attribute=ts. Each stage gets only the job settings it uses
(ingest: source, archive, store, reference, output_topic; score: source, model, output_topic;
aggregate: source, store; all: source, archive, store, reference, model; and deadletter); the
others are left out, with a note. Flags after -- go to the job unchanged (Beam runner
flags such as --labels, --dataflow_service_options, --experiments, --transform_name_mapping).
Credentials are the usual Application Default Credentials (gcloud auth application-default login,
or a service account on the machine that submits).

Examples:
  scripts/submit-dataflow.sh batch --project=my-proj --region=europe-west1 \
    --staging_location=gs://my-bucket/staging --lake=gs://my-bucket/lake \
    --from=2026-11-20 --to=2026-11-20 --store=bigquery://my-proj/views --deadletter=gs://my-bucket/dead
  scripts/submit-dataflow.sh streaming --stage=ingest --source=pubsub://projects/my-proj/subscriptions/raw \
    --archive=gs://my-bucket/lake --store=bigquery://my-proj/views --deadletter=gs://my-bucket/dead \
    --reference=gs://my-bucket/categories.csv --output_topic=pubsub://projects/my-proj/topics/ingested ...
  scripts/submit-dataflow.sh streaming --stage=score --gpu=nvidia-l4 --machine_type=g2-standard-8 \
    --sdk_container_image=europe-docker.pkg.dev/my-proj/beamline/go-sdk-cuda:2.77.0 \
    --source='pubsub://projects/my-proj/subscriptions/ingested-score?timestamp_attribute=ts' \
    --model=logreg+gs://my-bucket/spam.json --output_topic=pubsub://projects/my-proj/topics/scored ...
  scripts/submit-dataflow.sh streaming --stage=aggregate --store=bigquery://my-proj/views \
    --source='pubsub://projects/my-proj/subscriptions/scored-aggregate?timestamp_attribute=ts&idle=30s' ...
  scripts/submit-dataflow.sh streaming --stage=ingest --update ...
  scripts/submit-dataflow.sh streaming --stage=ingest --drain --project=my-proj --region=europe-west1
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
project=${BEAMLINE_PROJECT:-} region=${BEAMLINE_REGION:-} staging=${BEAMLINE_STAGING:-}
temp=${BEAMLINE_TEMP:-} job_name=${BEAMLINE_JOB_NAME:-} machine=${BEAMLINE_MACHINE_TYPE:-}
max_workers=${BEAMLINE_MAX_WORKERS:-} num_workers=${BEAMLINE_NUM_WORKERS:-}
autoscaling=${BEAMLINE_AUTOSCALING:-THROUGHPUT_BASED} image=${BEAMLINE_SDK_IMAGE:-}
service_account=${BEAMLINE_SERVICE_ACCOUNT:-} subnetwork=${BEAMLINE_SUBNETWORK:-}
gpu=${BEAMLINE_GPU:-} gpu_count=${BEAMLINE_GPU_COUNT:-1} binary=${BEAMLINE_BIN:-}
update=0 dry_run=0 action=submit
extra=()

while [[ $# -gt 0 ]]; do
  arg=$1
  if [[ "$arg" == --*=* ]]; then
    set -- "${arg%%=*}" "${arg#*=}" "${@:2}"
    arg=$1
  fi
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --update) update=1; shift; continue ;;
    --dry_run) dry_run=1; shift; continue ;;
    --drain) action=drain; shift; continue ;;
    --cancel) action=cancel; shift; continue ;;
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
    --project) project=$2 ;;
    --region) region=$2 ;;
    --staging_location) staging=$2 ;;
    --temp_location) temp=$2 ;;
    --job_name) job_name=$2 ;;
    --machine_type) machine=$2 ;;
    --max_num_workers) max_workers=$2 ;;
    --num_workers) num_workers=$2 ;;
    --autoscaling_algorithm) autoscaling=$2 ;;
    --sdk_container_image) image=$2 ;;
    --service_account) service_account=$2 ;;
    --subnetwork) subnetwork=$2 ;;
    --gpu) gpu=$2 ;;
    --gpu_count) gpu_count=$2 ;;
    --binary) binary=$2 ;;
    *) usage_error "unknown option $arg (job and runner flags go after --)" ;;
  esac
  shift 2
done

if [[ "$job" == batch ]]; then
  stage=${stage:-batch}
  [[ $update == 0 && $action == submit ]] || usage_error "--update, --drain and --cancel are for streaming jobs"
else
  stage=${stage:-all}
  [[ -n "$gpu" || "$stage" != score ]] || gpu=nvidia-tesla-t4
fi
check_job "$job" "$stage"
[[ -n "$project" ]] || usage_error "--project (BEAMLINE_PROJECT) is required"
[[ -n "$region" ]] || usage_error "--region (BEAMLINE_REGION) is required"
if [[ -z "$job_name" ]]; then
  job_name=beamline-$job
  [[ "$job" == batch ]] || job_name=beamline-streaming-$stage
fi

# running_job_id prints the ID of the active job called $job_name.
running_job_id() {
  command -v gcloud >/dev/null || die "--$action needs gcloud (Google Cloud CLI)"
  gcloud dataflow jobs list --project="$project" --region="$region" --status=active \
    --filter="name=$job_name" --format='value(JOB_ID)' | head -n1
}

if [[ $action != submit ]]; then
  id=$(running_job_id)
  [[ -n "$id" ]] || die "no active Dataflow job named $job_name in $project/$region"
  echo "${action}ing Dataflow job $job_name ($id)" >&2
  exec gcloud dataflow jobs "$action" "$id" --project="$project" --region="$region"
fi

[[ "$staging" == gs://* ]] || usage_error "--staging_location (BEAMLINE_STAGING) must be a gs:// path (got '$staging')"
machine=${machine:-$(stage_default machine "$stage")}
max_workers=${max_workers:-$(stage_default workers "$stage")}
hint=$(gpu_hint "$stage" "$gpu" "$gpu_count")
[[ "$job" == batch || -n "$output_topic" || ! "$stage" =~ ^(ingest|score)$ ]] ||
  usage_error "--output_topic (BEAMLINE_OUTPUT_TOPIC) is required for --stage=$stage: the topic it publishes its events to (pubsub://projects/P/topics/T)"

if [[ -z "$binary" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  binary=$tmp/$job
  build_job "$job" linux amd64 "$binary"
fi
[[ -x "$binary" ]] || die "--binary $binary is not an executable file"

flags=(--runner=dataflow "--project=$project" "--region=$region" "--staging_location=$staging"
  "--temp_location=${temp:-${staging%/}/tmp}" "--job_name=$job_name" "--worker_binary=$binary"
  "--worker_machine_type=$machine" "--max_num_workers=$max_workers"
  "--autoscaling_algorithm=$autoscaling")
add() { [[ -z "$2" ]] || flags+=("--$1=$2"); }
add num_workers "$num_workers"
add sdk_container_image "$image"
add service_account_email "$service_account"
add subnetwork "$subnetwork"
add deadletter "$deadletter"
if [[ "$job" == batch ]]; then
  add lake "$lake"; add from "$from"; add to "$to"; add store "$store"; add reference "$reference"; add model "$model"
else
  add source "$source_url"; add stage "$stage"
  mapfile -t settings < <(stage_settings "$stage" archive store reference model output_topic)
  flags+=(${settings[@]+"${settings[@]}"})
  flags+=(--experiments=enable_streaming_engine)
fi
[[ -z "$hint" ]] || flags+=("$hint")
[[ $update == 0 ]] || flags+=(--update)
[[ $dry_run == 0 ]] || flags+=(--dry_run)

echo "submitting $job_name to Dataflow ($project/$region): $binary ${flags[*]} ${extra[*]}" >&2
"$binary" "${flags[@]}" "${extra[@]}"
