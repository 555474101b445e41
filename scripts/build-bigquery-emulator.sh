#!/usr/bin/env bash
# Builds github.com/goccy/bigquery-emulator (the BigQuery store driver's test server) into a cache
# directory outside the repository, once: it needs clang (Debian package clang) and takes about
# 15 minutes and 7 GB of memory on 2 cores, so it runs at the lowest CPU priority. Prints the
# binary's path. Does nothing but print it when it is already there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

version=${BEAMLINE_BQ_EMULATOR_VERSION:-v0.6.6}
dir=${BEAMLINE_BQ_EMULATOR_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/beamline/bigquery-emulator-$version}

usage() {
  cat <<USAGE
usage: scripts/build-bigquery-emulator.sh [--dir DIR] [--version V]

  --dir DIR      BEAMLINE_BQ_EMULATOR_DIR      where the binary goes (default $dir)
  --version V    BEAMLINE_BQ_EMULATOR_VERSION  module version (default $version)
  -h, --help

The BigQuery store's tests (go test -tags bigquery_emulator ./io/store/bigquerystore) find the
binary there, or through BIGQUERY_EMULATOR_BIN.
USAGE
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dir=*) dir=${1#*=}; shift ;;
    --dir) need_value "$1" "${2:-}"; dir=$2; shift 2 ;;
    --version=*) version=${1#*=}; shift ;;
    --version) need_value "$1" "${2:-}"; version=$2; shift 2 ;;
    *) usage_error "unknown option $1" ;;
  esac
done

bin=$dir/bigquery-emulator
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi
command -v clang >/dev/null || die "clang is required (Debian: apt-get install clang)"
mkdir -p "$dir"
echo "building bigquery-emulator $version into $dir (about 15 minutes)" >&2
start=$(date +%s)
# A wrapper module pins the version: "go install module@version" asks the proxy for the
# module's version list, which it refuses for this module.
src=$dir/src
mkdir -p "$src"
cat >"$src/go.mod" <<MOD
module beamline.local/bigquery-emulator

go 1.21

require github.com/goccy/bigquery-emulator $version
MOD
(cd "$src" && GOFLAGS=-mod=mod CGO_ENABLED=1 CC=clang CXX=clang++ \
  nice -n 19 go build -o "$bin.tmp" github.com/goccy/bigquery-emulator/cmd/bigquery-emulator >&2) ||
  die "go build bigquery-emulator@$version failed"
mv "$bin.tmp" "$bin"
echo "built bigquery-emulator in $(($(date +%s) - start)) s" >&2
echo "$bin"
