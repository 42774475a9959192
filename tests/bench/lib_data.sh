#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Sourced by the benchmark scripts. bench_data MODE: the benchmark image of
# gen.sh for MODE (quick|full), generated once under $BENCH_CACHE (default
# /var/tmp/stratafs-bench) behind a lock, so concurrent scripts share it;
# prints its directory (layout/, meta.json, tree.squashfs).
bench_data() {
	local cache=${BENCH_CACHE:-/var/tmp/stratafs-bench} here data
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	data="$cache/v1-$1"
	if [ ! -f "$data/meta.json" ]; then
		mkdir -p "$cache"
		(
			flock 9
			[ -f "$data/meta.json" ] || bash "$here/gen.sh" "$1" "$data" >&2
		) 9>"$cache/.lock"
	fi
	printf '%s\n' "$data"
}

# bench_paths: SRCDIR (this checkout), BUILDDIR (default $SRCDIR/build), and
# the binaries measured, STRATA and STRATAFS (default: BUILDDIR's), exported.
bench_paths() {
	SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	BUILDDIR=${BUILDDIR:-$SRCDIR/build}
	STRATA=${STRATA:-$BUILDDIR/tools/strata}
	STRATAFS=${STRATAFS:-$BUILDDIR/fs/stratafs}
	export SRCDIR BUILDDIR STRATA STRATAFS
}

# bench_args "$@": the options the side-by-side scripts share, --full (MODE=full,
# default quick), --quick, --runs N (RUNS, default 3) and --only A,B (ONLY,
# the names space-separated); anything else: usage, exit 2.
bench_args() {
	MODE=quick
	RUNS=3
	ONLY=
	while [ $# -gt 0 ]; do
		case "$1" in
		--full) MODE=full ;;
		--quick) MODE=quick ;;
		--runs) RUNS=$2; shift ;;
		--only) ONLY=${2//,/ }; shift ;;
		*) echo "usage: ${0##*/} [--quick|--full] [--runs N] [--only A,B]" >&2; exit 2 ;;
		esac
		shift
	done
}
