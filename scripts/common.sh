# Helpers shared by the beamline job scripts (backfill.sh, submit-dataflow.sh, submit-flink.sh).
# Sourced, not run. Every setting is an environment variable that a flag overrides.

# die prints its arguments to stderr, prefixed by the script's name, and exits 1.
die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# usage_error prints a message and a hint to stderr, and exits 2.
usage_error() {
  echo "$(basename "$0"): $*" >&2
  echo "run $(basename "$0") --help for usage" >&2
  exit 2
}

# need_value fails unless flag $1 has a non-empty value $2.
need_value() {
  [[ -n "${2:-}" && "$2" != --* ]] || usage_error "$1 needs a value"
}

# check_day fails unless $2 (named by $1) is a valid YYYY-MM-DD day.
check_day() {
  local norm
  norm=$(date -u -d "$2" +%F 2>/dev/null) || usage_error "$1=$2 is not a day: use YYYY-MM-DD"
  [[ "$norm" == "$2" ]] || usage_error "$1=$2 is not a day: use YYYY-MM-DD"
}


# repo_root prints the repository that holds these scripts (BEAMLINE_REPO overrides it).
repo_root() {
  echo "${BEAMLINE_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
}

# build_job builds ./pipelines/$1 for GOOS/GOARCH $2/$3 into file $4, statically (no cgo) so the
# binary runs in any worker container.
build_job() {
  local job=$1 goos=$2 goarch=$3 out=$4
  echo "building pipelines/$job for $goos/$goarch" >&2
  (cd "$(repo_root)" && CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -o "$out" "./pipelines/$job") ||
    die "go build ./pipelines/$job failed"
}

# stage_default prints the default of setting $1 (machine, workers) for job stage $2.
stage_default() {
  case "$1/$2" in
    machine/batch) echo n2-standard-4 ;;
    machine/ingest) echo n2-standard-2 ;;
    machine/score) echo n1-standard-4 ;;     # T4 GPUs attach to N1 machine types
    machine/aggregate) echo n2-highmem-2 ;;
    machine/all) echo n2-standard-4 ;;
    workers/batch) echo 20 ;;
    workers/ingest) echo 10 ;;
    workers/score) echo 4 ;;
    workers/aggregate) echo 10 ;;
    workers/all) echo 10 ;;
    *) die "no default $1 for stage $2" ;;
  esac
}

# check_job fails unless $1 is batch or streaming and $2 a stage that job has.
check_job() {
  case "$1" in
    batch) [[ "$2" == batch ]] || usage_error "the batch job has no stages (got --stage=$2)" ;;
    streaming) [[ "$2" =~ ^(all|ingest|score|aggregate)$ ]] || usage_error "--stage=$2: want all, ingest, score or aggregate" ;;
    *) usage_error "first argument: batch or streaming (got '$1')" ;;
  esac
}

# stage_uses succeeds when streaming stage $2 takes setting $1 (archive, store, reference, model,
# output_topic); every stage takes source, stage and deadletter.
stage_uses() {
  case "$1/$2" in
    archive/all | archive/ingest) return 0 ;;
    store/all | store/ingest | store/aggregate) return 0 ;; # ingest: the speed watermark, for its warm restart
    reference/all | reference/ingest) return 0 ;;
    model/all | model/score) return 0 ;;
    output_topic/ingest | output_topic/score) return 0 ;;
  esac
  return 1
}

# stage_settings prints, one per line, the flags --NAME=VALUE of the settings named $2... that
# streaming stage $1 takes and that are set (in variables of the same names), and says on stderr
# which set ones it leaves out.
stage_settings() {
  local stage=$1 name
  shift
  for name in "$@"; do
    [[ -n "${!name}" ]] || continue
    if stage_uses "$name" "$stage"; then
      echo "--$name=${!name}"
    else
      echo "$(basename "$0"): --stage=$stage does not use --$name; not passed" >&2
    fi
  done
}

# gpu_hint prints the --resource_hints flag that asks for GPU $2 (count $3) when stage $1 is
# score and $2 is not "none"; Go SDK resource hints apply to the whole job, so only the score
# stage asks for one.
gpu_hint() {
  local stage=$1 type=$2 count=$3
  if [[ "$type" == none || -z "$type" ]]; then
    return
  fi
  [[ "$stage" == score ]] || usage_error "--gpu applies to the whole job: only --stage=score may ask for GPUs (got --stage=$stage)"
  echo "--resource_hints=accelerator=type:$type;count:$count;install-nvidia-driver"
}
