#!/usr/bin/env bash
# Builds github.com/goccy/bigquery-emulator (the BigQuery store driver's test server) into a cache
# directory outside the repository, once: it needs clang (Debian package clang) and takes about
# 15-30 minutes and 7 GB of memory on 2 cores (the cgo C++ compile of go-zetasql runs on one
# core), so it runs at the lowest CPU priority. Prints the binary's path on stdout; the build's
# output goes to build.log beside the binary, and its tail to stderr if the build fails. Does
# nothing but print the path when the binary is already there. Works on a cold machine: it
# downloads the emulator's modules through the module proxy and ignores the caller's GOFLAGS,
# go.work and toolchain switching.
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

Prints the binary's path. The build log is DIR/build.log. The BigQuery store's tests
(go test ./io/store/bigquerystore/ ./pipelines/batch/) find the binary in the default DIR, or
through BIGQUERY_EMULATOR_BIN (or BEAMLINE_BQ_EMULATOR_DIR); without it they skip, or fail when
BEAMLINE_REQUIRE_BIGQUERY_EMULATOR=1 (as in CI).
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
for tool in go clang clang++; do
  command -v "$tool" >/dev/null || die "$tool is required to build the BigQuery emulator (Debian: apt-get install clang)"
done
mkdir -p "$dir" || die "cannot create $dir"
dir=$(cd "$dir" && pwd)
bin=$dir/bigquery-emulator
log=$dir/build.log

# One build at a time per directory: a second caller waits for the first and reuses its binary.
exec 9>"$dir/.lock"
flock 9 || die "cannot lock $dir/.lock"
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

# fail prints the log's tail and dies with message $1.
fail() {
  echo "---- last 40 lines of $log ----" >&2
  tail -n 40 "$log" >&2 || true
  echo "----" >&2
  die "$1 (full log: $log)"
}

echo "building bigquery-emulator $version into $dir (15-30 minutes on 2 cores; log: $log)" >&2
start=$(date +%s)
: >"$log"
# A wrapper module pins the version: "go install module@version" asks the proxy for the
# module's version list, which it refuses for this module. -mod=mod lets go build fill in the
# wrapper's go.sum (and download the modules) on a cold machine.
src=$dir/src
mkdir -p "$src"
cat >"$src/go.mod" <<MOD
module beamline.local/bigquery-emulator

go 1.21

require github.com/goccy/bigquery-emulator $version
MOD
# (set -e does not apply inside a command whose status || tests, hence the &&s.)
(
  cd "$src" &&
    export GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off GOTOOLCHAIN=local \
      CGO_ENABLED=1 CC=clang CXX=clang++ &&
    go version &&
    nice -n 19 go build -o "$bin.tmp" github.com/goccy/bigquery-emulator/cmd/bigquery-emulator
) >>"$log" 2>&1 || fail "go build github.com/goccy/bigquery-emulator@$version failed"
"$bin.tmp" --version >>"$log" 2>&1 || fail "the built emulator does not run"
mv "$bin.tmp" "$bin"
echo "built bigquery-emulator in $(($(date +%s) - start)) s" | tee -a "$log" >&2
echo "$bin"
